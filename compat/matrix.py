"""matrix.yaml: load, validate with the path of each error, and hand out frozen dataclasses.

The file is distrusted input: a mistake, or a trick played on the YAML reader, ends as one ConfigError line
that names the file, where, and what to do; never a traceback, a hang or gigabytes of memory."""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from compat import toolchains
from compat.errors import ConfigError
from compat.status import Status
from compat.yamlsafe import MAX_DEPTH, MAX_ITEMS, MAX_TEXT, error, read_yaml, show

STEPS = ("prepare", "configure", "build", "test")
SOURCE_KINDS = ("debian", "git", "tarball", "path")
# What one step's container may use: a Ganeti build needs about 2 GiB; the rest is room for -j and the tests.
DEFAULT_LIMITS = {"memory_mib": 8192, "pids": 4096}
DEFAULT_INVESTIGATE = {"max_cells": 3, "max_minutes": 60}  # regressions a nightly investigates, and for how long
MAX_LIMITS = {"memory_mib": 1024 * 1024, "pids": 4 * 1024 * 1024}
DEFAULT_TIMEOUTS = {"fetch": 900, "prepare": 1800, "configure": 1800, "build": 5400, "test": 1800, "probe": 600}
PLACEHOLDERS = ("jobs", "out", "version", "flavor")

# Toolchain, source, recipe and flavor names become cell keys (toolchain--source--flavor), Docker image names
# (`ganeti-compat/<toolchain>--<flavor>`), volume, nox session and file names: Docker's grammar for an image
# name component, made stricter (one separator at a time, so a name never holds the "--" that joins them).
NAME = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
NAME_RULE = ("a name is 1 to 63 characters: a-z and 0-9, joined by single '.', '_' or '-' "
             "(it starts and ends with a letter or digit)")
# --run-id: a directory name under reports/runs/; never split at "--", so it may use capitals.
RUN_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}"  # also part of a Docker volume name: no '+'
# A download becomes a file name in an image's build context (Hackage sdists keep theirs: HUnit-1.2.5.2.tar.gz).
DOWNLOAD_NAME = r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,127}"
DEFAULT_FETCH_SUITE = "bookworm"
# The tool's own names: a toolchain of that name would replace a nox session, or share the fetch helper's image.
RESERVED_TOOLCHAINS = ("matrix", "report", "nightly", "tests", "fetch")
SELECT_ALL = "all"  # --toolchain all, --source all, --flavor all: never a name of its own
# A Debian package name (Policy 5.6.1): packages.txt reaches apt-get through xargs, so never an option or two words.
PACKAGE = r"[a-z0-9][a-z0-9.+-]+"
SUITE = r"[a-z][a-z0-9.-]{0,62}"
PACKAGE_WHAT = "a Debian package name (a-z 0-9 . + -, starting with a letter or digit)"
# apt.conf and mmdebstrap --aptopt get `Key "value";`: nothing may close the quotes or start another statement.
APT_OPTION = r"[A-Za-z0-9:_-]+=[A-Za-z0-9.:/_+-]*"
# One sources.list line, "deb [opt=value ...] URI SUITE [COMPONENT ...]": no quotes, ';', '#' or line breaks.
APT_SOURCE = (r"deb(-src)? (\[[A-Za-z0-9.:/_+=,-]+( [A-Za-z0-9.:/_+=,-]+)*\] )?"
              r"[a-z][a-z0-9+]*://[A-Za-z0-9.:/_+~%@-]+ [A-Za-z0-9.:/_+~-]+( [A-Za-z0-9._+/-]+)*")
# A git ref or commit as fetch-source passes it to git (after "--"): a tag, branch or refs/... path, or a hash.
GIT_REF = r"(?!.*\.\.)(?!.*//)[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}(?<![./])"
_CELL_PART = r"[A-Za-z0-9.+_*?\[\]~-]{1,127}"

# Limits far above any real matrix (the shipped one: 20 KB, 7 levels, 1,400 values with its aliases expanded)
# that bound what a hostile file costs (under a second each, measured): the bytes read and scanned, the
# nesting (PyYAML's composer recurses once per level), the values counted as if every alias were expanded
# (the reader walks each use; a "billion laughs" file is a few hundred bytes) and the length of one string.
MAX_TIMEOUT = 86_400  # seconds for one step of one cell: a day
MAX_COUNT = 100_000  # runs kept, status flips, runs looked at
_SURROGATE = re.compile(r"[\ud800-\udfff]")

T = TypeVar("T")


@dataclass(frozen=True)
class Download:
    name: str
    url: str
    sha256: str | None = None
    sha1: str | None = None


@dataclass(frozen=True)
class Flavor:
    name: str
    dev_package: str
    soname: str


@dataclass(frozen=True)
class Frozen:
    """A suite that can no longer change (an archived release): trusted by the sha256 of the Release file apt
    reads from its mirror, not by a signature (an archived suite's keys have expired)."""

    release: str  # InRelease, or Release where the mirror serves no InRelease
    sha256: str | None  # None: not pinned yet; the tool then says the file's hash and builds nothing


RELEASE_FILES = ("InRelease", "Release")


@dataclass(frozen=True)
class Toolchain:
    name: str
    description: str
    kind: str
    suite: str
    ghc: str
    flavors: tuple[str, ...]
    default_flavor: str
    mirror: str | None = None
    keyring: str | None = None  # the keyring mmdebstrap verifies the suite with (an archived suite's removed keys)
    sources: tuple[str, ...] = ()  # its default sources, the primary first (default: the matrix's default_sources)
    apt_options: tuple[str, ...] = ()
    apt_sources: tuple[str, ...] = ()  # extra sources.list lines, e.g. experimental on top of sid
    packages: tuple[str, ...] = ()
    downloads: tuple[Download, ...] = ()
    frozen: Frozen | None = None  # the suite at `mirror` is trusted by its pinned Release file, not a keyring

    @property
    def tags(self) -> list[str]:
        """Its tags, the same for its nox session (`nox -t trixie`, `nox -t bindist`) and `list --json`."""
        return ["toolchain", self.kind, self.suite]


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    kind: str
    recipe: str
    package: str | None = None
    suite: str | None = None
    version: str | None = None
    patches: bool = True
    url: str | None = None
    ref: str | None = None  # git: the tag, branch or commit the matrix names (recorded as the source version)
    commit: str | None = None  # git: the commit `ref` is pinned to (fetched by it; `ref` is then its name)
    sha256: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    packages: tuple[str, ...]
    steps: dict[str, tuple[tuple[str, ...], ...]]
    junit: str | None
    binaries: tuple[str, ...]
    relink: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Expectation:
    """A known failure: cells matching `cell` (a shell-style pattern over toolchain--source--flavor) are
    expected to end in `status` (with `cause`, if given), or, with `test`, that test is expected to fail."""

    cell: str
    reason: str
    test: str | None = None
    bug: str | None = None
    status: Status = Status.TEST_FAIL
    cause: str | None = None


@dataclass(frozen=True)
class Limits:
    """What each step's container may use: memory in MiB (no swap beyond it) and processes."""

    memory_mib: int
    pids: int


@dataclass(frozen=True)
class Budget:
    """What a nightly spends investigating its regressions (compat.investigate): at most this many cells, and
    no cell started after this many minutes. max_cells 0: none."""

    max_cells: int = DEFAULT_INVESTIGATE["max_cells"]
    max_minutes: int = DEFAULT_INVESTIGATE["max_minutes"]


@dataclass(frozen=True)
class Matrix:
    path: Path
    toolchains: dict[str, Toolchain]
    flavors: dict[str, Flavor]
    sources: dict[str, Source]
    recipes: dict[str, Recipe]
    timeouts: dict[str, int]
    default_sources: tuple[str, ...] = field(default=())
    abi_baseline: str | None = None
    expected: tuple[Expectation, ...] = ()
    flaky_flips: int = 2  # a cell is flaky when its status flipped more than this ...
    flaky_window: int = 10  # ... in its last this many runs
    retention: int = 60  # complete ordinary runs the nightly keeps and the reports read
    limits: Limits = field(default_factory=lambda: Limits(**DEFAULT_LIMITS))
    fetch_suite: str = DEFAULT_FETCH_SUITE  # the current suite whose container fetches and verifies sources
    investigate: Budget = field(default_factory=Budget)

    def sources_of(self, toolchain: str) -> tuple[str, ...]:
        """The sources a toolchain builds when none is named, its primary one first."""
        return self.toolchains[toolchain].sources or self.default_sources


class _Reader:
    """Walks the parsed YAML and raises ConfigError naming the file and the field path."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> ConfigError:
        return error(self.file, path, message)

    def key(self, key: Any, path: str) -> str:
        # YAML reads `96:` as a number and `on:` as true: such a key would clash with, or miss, its quoted twin.
        if not isinstance(key, str):
            raise self.fail(path, f"key {show(key)} is read as {type(key).__name__}, not text: quote it")
        return key

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if self.key(key, path) not in allowed:
                raise self.fail(_at(path, key), f"unknown key{_did_you_mean(key, allowed)}; expected one of: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                raise self.fail(path, f"missing required key '{key}'")
        return value

    def string(self, value: Any, path: str, pattern: str | None = None, what: str = "") -> str:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**64:
            value = str(value)  # `version: 3`, `flavors: [96]`: the digits are the text meant
        if isinstance(value, float):  # `ghc: 9.10` would silently be 9.1
            raise self.fail(path, f"{show(value)} is read as a number: quote it")
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected a non-empty string, got {_kind(value)}")
        if len(value) > MAX_TEXT:
            raise self.fail(path, f"{show(value)} is longer than {MAX_TEXT} characters: shorten it")
        if _SURROGATE.search(value):  # only a YAML escape makes one: no UTF-8 file or command line can hold it
            raise self.fail(path, f"{show(value)} holds a lone surrogate (\\ud800-\\udfff): remove it")
        if pattern and not re.fullmatch(pattern, value):
            raise self.fail(path, f"{show(value)} is not {what or 'valid'}")
        return value

    def spliced(self, items: Any, path: str, depth: int = 0) -> list[tuple[Any, str]]:
        """Items with their paths; a list inside the list is spliced in (so YAML anchors can share pins)."""
        if not isinstance(items, list):
            return [(items, path)]
        if depth == MAX_DEPTH:
            raise self.fail(path, f"lists nested more than {MAX_DEPTH} deep: splice fewer lists into each other")
        out: list[tuple[Any, str]] = []
        for i, item in enumerate(items):
            out += self.spliced(item, f"{path}[{i}]", depth + 1) if isinstance(item, list) else [(item, f"{path}[{i}]")]
            if len(out) > MAX_ITEMS:  # parse() may be handed Python lists that share sublists
                raise self.fail(path, f"more than {MAX_ITEMS} items once nested lists are spliced in: list fewer")
        return out

    def strings(self, value: Any, path: str, pattern: str | None = None, what: str = "") -> tuple[str, ...]:
        """A list of strings; a list inside it (a YAML alias) is spliced in."""
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list of strings, got {_kind(value)}")
        return tuple(self.string(item, item_path, pattern, what) for item, item_path in self.spliced(value, path))

    def name(self, value: Any, path: str, known: dict[str, Any] | tuple[str, ...], what: str) -> str:
        text = self.string(value, path)
        if text not in known:
            raise self.fail(path, f"unknown {what} {show(text)}{_did_you_mean(text, tuple(known))}")
        return text

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        text = self.string(value, path)
        if text not in choices:
            raise self.fail(path, f"{show(text)} is not one of: {', '.join(choices)}{_did_you_mean(text, choices)}")
        return text

    def positive_int(self, value: Any, path: str, unit: str = "seconds", maximum: int = MAX_COUNT) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= maximum:
            raise self.fail(path, f"expected a whole number of {unit} from 1 to {maximum}, got {show(value)}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {show(value)}")
        return value

    def each(self, value: Any, path: str, parse: Callable[[str, Any, str], T], reserved: tuple[str, ...] = ()
             ) -> dict[str, T]:
        """A mapping of names (toolchains, sources, recipes, flavors) to what each names."""
        if not isinstance(value, dict) or not value:
            raise self.fail(path, f"expected a non-empty mapping of names, got {_kind(value)}")
        for key in value:
            if not valid_name(self.key(key, path)):
                raise self.fail(_at(path, key), f"not a valid name: {NAME_RULE}")
            if key == SELECT_ALL:
                raise self.fail(_at(path, key), f"'{SELECT_ALL}' selects every name on the command line "
                                                f"(--toolchain all): choose another name")
            if key in reserved:
                raise self.fail(_at(path, key), f"'{key}' is one of the tool's own names (nox sessions, the fetch "
                                                f"helper's image: {', '.join(reserved)}): choose another name")
        return {key: parse(key, item, f"{path}.{key}") for key, item in value.items()}


def valid_name(text: object) -> bool:
    """True when text may name a toolchain, source, recipe or flavor (NAME_RULE)."""
    return isinstance(text, str) and len(text) <= 63 and re.fullmatch(NAME, text) is not None


def _at(path: str, key: str) -> str:
    """The path of a key: path.key for a plain key, path['key'] quoted and cut for anything else."""
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z0-9_.+-]{1,64}", key) else f"{path}[{show(key)}]"


def _kind(value: Any) -> str:
    if isinstance(value, str) and not value:
        return "an empty string"
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(type(value), type(value).__name__)


def _did_you_mean(word: str, options: tuple[str, ...]) -> str:
    if len(word) > 100:  # difflib's cost grows with the word; nothing that long is a typo of a short name
        return ""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


HEX = {"sha256": 64, "sha1": 40}


def _download(r: _Reader, value: Any, path: str) -> Download:
    d = r.mapping(value, path, ("name", "url", "sha256", "sha1"), ("name", "url"))
    sums = {k: r.string(d[k], f"{path}.{k}", f"[0-9a-f]{{{n}}}", f"a {n}-digit lowercase hex {k}") for k, n in HEX.items() if k in d}
    if not sums:
        raise r.fail(path, "a download must be pinned: give sha256 (or sha1)")
    url = r.string(d["url"], f"{path}.url", r"(https?|file)://\S+", "an http(s) or file URL")
    name = r.string(d["name"], f"{path}.name", DOWNLOAD_NAME,
                    "a file name: 1 to 128 of A-Z a-z 0-9 . + _ -, starting with a letter or digit")
    return Download(name, url, sums.get("sha256"), sums.get("sha1"))


def _toolchain(r: _Reader, flavors: dict[str, Flavor], name: str, value: Any, path: str) -> Toolchain:
    keys = ("description", "kind", "suite", "ghc", "flavors", "default_flavor", "mirror", "keyring", "frozen",
            "apt_options", "apt_sources", "packages", "downloads", "sources")
    t = r.mapping(value, path, keys, ("kind", "suite", "ghc", "flavors"))
    kind = r.choice(t["kind"], f"{path}.kind", toolchains.names())
    suite = r.string(t["suite"], f"{path}.suite", SUITE, "a Debian suite name")
    ghc = r.string(t["ghc"], f"{path}.ghc", r"\d+(\.\d+)+", "a GHC version like 9.6.6")
    names = r.strings(t["flavors"], f"{path}.flavors")
    if not names:
        raise r.fail(f"{path}.flavors", "list at least one SSL flavor")
    for i, flavor in enumerate(names):
        r.name(flavor, f"{path}.flavors[{i}]", flavors, "flavor")
    default = r.name(t.get("default_flavor", names[0]), f"{path}.default_flavor", names, "flavor of this toolchain")
    downloads: dict[str, Download] = {}
    for item, item_path in r.spliced(t.get("downloads") or [], f"{path}.downloads"):
        download = _download(r, item, item_path)
        if download.name in downloads:  # each is one file of the build context: the second would replace the first
            raise r.fail(f"{item_path}.name", f"a second download named '{download.name}': give each its own name")
        downloads[download.name] = download
    problem = toolchains.named(kind).matrix_problem(set(downloads))
    if problem:
        raise r.fail(f"{path}.downloads", problem)
    frozen = _frozen(r, t, path) if "frozen" in t else None
    return Toolchain(
        name=name,
        description=r.string(t.get("description", f"GHC {ghc} ({kind}, {suite})"), f"{path}.description"),
        kind=kind,
        suite=suite,
        ghc=ghc,
        flavors=names,
        default_flavor=default,
        mirror=r.string(t["mirror"], f"{path}.mirror", r"https?://\S+", "an http(s) URL") if "mirror" in t else None,
        keyring=r.string(t["keyring"], f"{path}.keyring", r"/[A-Za-z0-9._/-]{1,255}", "an absolute path on the host, "
                         "like /usr/share/keyrings/debian-archive-removed-keys.gpg") if "keyring" in t else None,
        apt_options=r.strings(t.get("apt_options"), f"{path}.apt_options", APT_OPTION,
                              "an apt option Key::Sub=value (key: A-Z a-z 0-9 : _ -; value: A-Z a-z 0-9 . : / _ + -)"),
        apt_sources=r.strings(t.get("apt_sources"), f"{path}.apt_sources", APT_SOURCE,
                              "a one-line apt source like 'deb http://deb.debian.org/debian experimental main' "
                              "(no quotes, ';' or '#')"),
        packages=_packages(r, t.get("packages"), f"{path}.packages"),
        downloads=tuple(downloads.values()),
        sources=r.strings(t.get("sources"), f"{path}.sources"),
        frozen=frozen,
    )


def _frozen(r: _Reader, t: dict[str, Any], path: str) -> Frozen:
    """`frozen: {release: InRelease, sha256: ...}`: the suite at `mirror`, trusted by that file's hash alone."""
    f = r.mapping(t["frozen"], f"{path}.frozen", ("release", "sha256"))
    if "mirror" not in t:
        raise r.fail(f"{path}.frozen", "a frozen suite is fetched from its mirror: give 'mirror' too")
    if "keyring" in t:
        raise r.fail(f"{path}.keyring", "a frozen suite is trusted by its pinned Release file, not a keyring "
                     "(its keys have expired): remove 'keyring'")
    release = r.choice(f.get("release", RELEASE_FILES[0]), f"{path}.frozen.release", RELEASE_FILES)
    sha256 = (r.string(f["sha256"], f"{path}.frozen.sha256", "[0-9a-f]{64}", "a 64-digit lowercase hex sha256")
              if f.get("sha256") is not None else None)
    return Frozen(release, sha256)


def _packages(r: _Reader, value: Any, path: str) -> tuple[str, ...]:
    return r.strings(value, path, PACKAGE, PACKAGE_WHAT)


SOURCE_FIELDS = {
    "debian": ("package", "suite"),
    "git": ("url", "ref"),
    "tarball": ("url", "sha256"),
    "path": ("path",),
}


def _source(r: _Reader, recipes: dict[str, Recipe], name: str, value: Any, path: str) -> Source:
    keys = ("description", "kind", "recipe", "package", "suite", "version", "patches", "url", "ref", "commit", "sha256",
            "path")
    s = r.mapping(value, path, keys, ("kind", "recipe"))
    kind = r.choice(s["kind"], f"{path}.kind", SOURCE_KINDS)
    for needed in SOURCE_FIELDS[kind]:
        if needed not in s:
            raise r.fail(path, f"a '{kind}' source needs '{needed}'")
    if "commit" in s and kind != "git":
        raise r.fail(f"{path}.commit", "only a 'git' source is pinned by commit")
    text: dict[str, str] = {k: r.string(s[k], f"{path}.{k}") for k in ("suite", "version", "url", "ref", "path") if k in s}
    if "package" in s:  # an argument of apt-get source
        text["package"] = r.string(s["package"], f"{path}.package", PACKAGE, PACKAGE_WHAT)
    if "sha256" in s:
        text["sha256"] = r.string(s["sha256"], f"{path}.sha256", "[0-9a-f]{64}", "a 64-digit lowercase hex sha256")
    if "commit" in s:  # fetched by it: a ref may move, a commit may not
        text["commit"] = r.string(s["commit"], f"{path}.commit", "[0-9a-f]{40}", "a 40-digit lowercase hex commit")
    if "ref" in s and kind == "git" and not re.fullmatch(GIT_REF, text["ref"]):
        raise r.fail(f"{path}.ref", f"{show(text['ref'])} is not a git ref or commit (A-Z a-z 0-9 . _ / -, "
                     "no '..', not starting with '-' or '/')")
    return Source(
        name=name,
        description=r.string(s.get("description", f"{kind} source {name}"), f"{path}.description"),
        kind=kind,
        recipe=r.name(s["recipe"], f"{path}.recipe", recipes, "recipe"),
        patches=r.boolean(s.get("patches", True), f"{path}.patches"),
        **text,
    )


def _command(r: _Reader, value: Any, path: str) -> tuple[str, ...]:
    argv = r.strings(value, path)
    if not argv:
        raise r.fail(path, "a command is a non-empty list of arguments")
    for i, arg in enumerate(argv):
        problem = _template_problem(arg)
        if problem:
            raise r.fail(f"{path}[{i}]", problem)
    return argv


def _template_problem(arg: str) -> str | None:
    """What is wrong with an argument as runner.expand fills it (str.format_map), or None. Only a bare
    placeholder may appear, and {{ }} for literal braces: str.format would also follow an attribute
    ({jobs.__class__}) or an index ({jobs[0]}), and a format spec ({out:>2147483647}) builds a 2 GB argument."""
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(arg)
                  if name is not None]
    except ValueError as exc:  # a lone { or }
        return f"{show(arg)}: {exc}; write {{{{ and }}}} for a literal brace"
    for name, spec, conversion in fields:
        base = re.split(r"[.\[]", name, maxsplit=1)[0]
        if base not in PLACEHOLDERS:
            return (f"unknown placeholder {show('{' + name + '}')}{_did_you_mean(base, PLACEHOLDERS)}; known: {known} "
                    "(write {{ and }} for a literal brace)")
        if spec or conversion or name != base:
            return f"{show(arg)}: write the placeholder {{{base}}} alone, without attribute, index, conversion or format spec"
    return None


def _recipe(r: _Reader, name: str, value: Any, path: str) -> Recipe:
    d = r.mapping(value, path, ("packages", "steps", "relink", "junit", "binaries"), ("steps",))
    steps_raw = r.mapping(d["steps"], f"{path}.steps", STEPS, ("build",))
    steps: dict[str, tuple[tuple[str, ...], ...]] = {}
    for step in STEPS:
        commands = steps_raw.get(step) or []
        if not isinstance(commands, list):
            raise r.fail(f"{path}.steps.{step}", f"expected a list of commands, got {_kind(commands)}")
        steps[step] = tuple(_command(r, c, f"{path}.steps.{step}[{i}]") for i, c in enumerate(commands))
    relink = d.get("relink") or []
    if not isinstance(relink, list):
        raise r.fail(f"{path}.relink", f"expected a list of commands, got {_kind(relink)}")
    return Recipe(
        name=name,
        packages=_packages(r, d.get("packages"), f"{path}.packages"),
        steps=steps,
        relink=tuple(_command(r, c, f"{path}.relink[{i}]") for i, c in enumerate(relink)),
        junit=r.string(d["junit"], f"{path}.junit") if "junit" in d else None,
        binaries=r.strings(d.get("binaries"), f"{path}.binaries"),
    )


EXPECTABLE = tuple(status for status in Status if status.failed)


def _expectation(r: _Reader, value: Any, path: str) -> Expectation:
    e = r.mapping(value, path, ("cell", "test", "status", "cause", "reason", "bug"), ("cell", "reason"))
    if "test" in e:
        if e.get("status", Status.TEST_FAIL) != Status.TEST_FAIL or "cause" in e:
            raise r.fail(f"{path}.status", f"a test entry expects {Status.TEST_FAIL} of that test: leave out status "
                         "and cause")
        status = Status.TEST_FAIL
    elif "status" not in e:
        raise r.fail(path, f"name the status the cell is expected to end in: status: one of {', '.join(EXPECTABLE)}")
    else:
        status = Status(r.choice(e["status"], f"{path}.status", EXPECTABLE))
    return Expectation(
        status=status, cause=r.string(e["cause"], f"{path}.cause", r"[a-z][a-z-]{0,39}", "a cause like deps") if "cause" in e
        else None,
        cell=r.string(e["cell"], f"{path}.cell", f"{_CELL_PART}--{_CELL_PART}--{_CELL_PART}",
                      "a cell pattern TOOLCHAIN--SOURCE--FLAVOR (each part may use * and ?)"),
        reason=r.string(e["reason"], f"{path}.reason"),
        test=r.string(e["test"], f"{path}.test") if "test" in e else None,
        bug=r.string(e["bug"], f"{path}.bug", r"https?://\S+", "an http(s) URL") if "bug" in e else None)


def _flavor(r: _Reader, name: str, value: Any, path: str) -> Flavor:
    d = r.mapping(value, path, ("dev_package", "soname"), ("dev_package", "soname"))
    return Flavor(name, r.string(d["dev_package"], f"{path}.dev_package"), r.string(d["soname"], f"{path}.soname"))


def parse(data: Any, file: Path) -> Matrix:
    """Validate parsed YAML into a Matrix; raise ConfigError naming the bad field."""
    r = _Reader(file)
    top = r.mapping(data, "matrix", ("toolchains", "flavors", "sources", "recipes", "timeouts", "default_sources",
                                     "abi_baseline", "expected", "flaky", "retention", "limits", "fetch_suite",
                                     "investigate"),
                    ("toolchains", "flavors", "sources", "recipes"))
    flavors = r.each(top["flavors"], "flavors", lambda n, v, p: _flavor(r, n, v, p))
    recipes = r.each(top["recipes"], "recipes", lambda n, v, p: _recipe(r, n, v, p))
    toolchains = r.each(top["toolchains"], "toolchains", lambda n, v, p: _toolchain(r, flavors, n, v, p),
                        RESERVED_TOOLCHAINS)
    sources = r.each(top["sources"], "sources", lambda n, v, p: _source(r, recipes, n, v, p))
    timeouts = dict(DEFAULT_TIMEOUTS)
    raw_timeouts = r.mapping(top.get("timeouts") or {}, "timeouts", tuple(DEFAULT_TIMEOUTS))
    timeouts.update({k: r.positive_int(v, f"timeouts.{k}", "seconds", MAX_TIMEOUT) for k, v in raw_timeouts.items()})
    defaults = r.strings(top.get("default_sources"), "default_sources") or tuple(sources)
    for i, name in enumerate(defaults):
        r.name(name, f"default_sources[{i}]", sources, "source")
    for toolchain in toolchains.values():
        for i, name in enumerate(toolchain.sources):
            r.name(name, f"toolchains.{toolchain.name}.sources[{i}]", sources, "source")
    baseline = r.name(top["abi_baseline"], "abi_baseline", toolchains, "toolchain") if "abi_baseline" in top else None
    raw_expected = top.get("expected") or []
    if not isinstance(raw_expected, list):
        raise r.fail("expected", f"expected a list of known failures, got {_kind(raw_expected)}")
    expected = tuple(_expectation(r, item, f"expected[{i}]") for i, item in enumerate(raw_expected))
    flaky = r.mapping(top.get("flaky") or {}, "flaky", ("flips", "window"))
    flips = r.positive_int(flaky["flips"], "flaky.flips", "status flips") if "flips" in flaky else 2
    window = r.positive_int(flaky["window"], "flaky.window", "runs") if "window" in flaky else 10
    retention = r.positive_int(top["retention"], "retention", "runs") if "retention" in top else 60
    raw_limits = r.mapping(top.get("limits") or {}, "limits", tuple(DEFAULT_LIMITS))
    limits = Limits(**{key: r.positive_int(raw_limits[key], f"limits.{key}", unit, MAX_LIMITS[key])
                       if key in raw_limits else DEFAULT_LIMITS[key]
                       for key, unit in (("memory_mib", "MiB"), ("pids", "processes"))})
    fetch_suite = (r.string(top["fetch_suite"], "fetch_suite", SUITE, "a Debian suite name") if "fetch_suite" in top
                   else DEFAULT_FETCH_SUITE)
    raw_budget = r.mapping(top.get("investigate") or {}, "investigate", tuple(DEFAULT_INVESTIGATE))
    budget = Budget(**{key: (0 if raw_budget[key] == 0 and type(raw_budget[key]) is int else
                             r.positive_int(raw_budget[key], f"investigate.{key}", unit, 10_000))
                       if key in raw_budget else DEFAULT_INVESTIGATE[key]
                       for key, unit in (("max_cells", "cells"), ("max_minutes", "minutes"))})
    return Matrix(file, toolchains, flavors, sources, recipes, timeouts, defaults, baseline, expected, flips, window,
                  retention, limits, fetch_suite, budget)


def load(file: Path) -> Matrix:
    """Read and validate a matrix file."""
    return parse(read_yaml(file, "a matrix is a few dozen", "pass the matrix file", "pass an existing matrix file"), file)


def pick(known: Mapping[str, T], name: str, what: str, file: Path) -> T:
    """Look a toolchain or source up by the name a user typed."""
    if name not in known:
        raise error(file, f"no {what} named {show(name)}{_did_you_mean(name, tuple(known))}; known: {', '.join(known)}")
    return known[name]
