"""A cell's steps as argument lists: what the runner runs, `repro` prints and `shell` replays (one plan, pure).

The first flavor of a group fetches, prepares, configures, builds and tests; a further flavor relinks the
first one's compiled tree (its executables only: every shared library keeps the first flavor's libcurl) and
tests. Where each step runs (working directory, root, network) is said here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from compat.matrix import Recipe

MOUNT = "/build"
SRC = "/build/src"
OUT = "/build/out"
SCRIPTS = "/build/.compat"
RELINK_SCRIPT = f"{SCRIPTS}/relink-curl-binaries"
FIRST_LIBRARIES = f"{SCRIPTS}/with-first-libraries"
PROBE_SCRIPT = f"{SCRIPTS}/run-probe"
BUILD_ENV = {"HOME": "/home/builder", "LANG": "C.UTF-8"}
ORDER = ("fetch", "prepare", "configure", "build", "test")


@dataclass(frozen=True)
class Where:
    """Where one step's containers run."""

    workdir: str
    root: bool
    network: bool


def where(step: str) -> Where:
    """Only fetch and prepare reach the network; prepare alone runs as root (apt-get build-dep)."""
    return Where(MOUNT if step == "fetch" else SRC, step == "prepare", step in ("fetch", "prepare"))


def expand(argv: tuple[str, ...] | list[str], values: dict[str, str]) -> list[str]:
    """Fill {placeholders} in each argument on its own: no argument is ever parsed by a shell."""
    return [arg.format_map(values) if "{" in arg or "}" in arg else arg for arg in argv]


def test_setup(recipe: Recipe) -> list[list[str]]:
    """Before the tests: an empty output directory, and no JUnit file left by another flavor's run."""
    setup = [["mkdir", "-p", OUT]]
    if recipe.junit:
        setup.insert(0, ["rm", "-f", f"{OUT}/{recipe.junit}"])
    return setup if recipe.steps["test"] else []


def commands(recipe: Recipe, values: dict[str, str], first_soname: str | None) -> list[tuple[str, list[list[str]]]]:
    """Every step after the fetch with its expanded commands, in order. `first_soname`: the libcurl of the
    flavor whose compiled tree this one relinks, or None when it compiles its own."""
    if first_soname is None:
        keep: list[str] = []
        plan: list[tuple[str, list[list[str]]]] = [("prepare", []), ("configure", []), ("build", [])]
    else:
        keep = ["sh", FIRST_LIBRARIES, first_soname]
        plan = [("build", [["sh", RELINK_SCRIPT, SRC]] + [keep + list(argv) for argv in recipe.relink])]
    found = []
    for step, before in plan + [("test", test_setup(recipe))]:
        own = [(keep if step == "build" else []) + list(argv) for argv in recipe.steps[step]]
        found.append((step, [expand(argv, values) for argv in before + own]))
    return found
