"""The tool against the same containers typed as a plain docker CLI script: what the tool itself costs.

    python bench/overhead.py [--toolchain ghc96] [--source curlint] [--pairs 5] [--matrix tests/fixtures/matrix.yaml]
    python bench/ganeti.py                                  # the real ghc96 x Ganeti 3.1 cell, both flavors

"By hand" is a shell script of `docker` commands doing what the tool does for the group, container for
container: a volume, the scripts and the source copied in (`docker create` + `docker cp`), the image's
freshness check, each step's commands (one `docker run` each, without network after the fetch, as the
build user), the test set-up, every inspection question, the probe, and for each further flavor the
relink in that flavor's image. "The tool" is `python -m compat run --fresh` of the same cells, its
reports included. Both use the same images, built before the timing. Pairs alternate; the figure is the
median of tool / by hand (goal: at most 1.05). Needs a Docker engine and the docker CLI.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compat import facts, sources
from compat import matrix as matrix_module
from compat.engine import Engine
from compat.images import IMAGES_DIR, ImageBuilder
from compat.runner import BUILD_ENV, MOUNT, OUT, PROBE_RUNS, PROBE_SCRIPT, RELINK_SCRIPT, SRC, expand, plan

VOLUME = "ganeti-compat-bench-by-hand"


def by_hand_script(m: matrix_module.Matrix, toolchain: str, source: str, images: dict[str, str], jobs: str,
                   scripts: Path) -> str:
    """The group's containers as docker CLI commands, one per line; `images` maps flavor -> image tag."""
    src = m.sources[source]
    recipe = m.recipes[src.recipe]
    env = [arg for key, value in BUILD_ENV.items() for arg in ("-e", f"{key}={value}")]
    first_image = images[next(iter(images))]

    def run(image: str, argv: list[str], *, workdir: str = SRC, network: bool = False, root: bool = False,
            quiet: bool = False) -> str:
        options = ["--rm", "-v", f"{VOLUME}:{MOUNT}", "-w", workdir, "-u", "root" if root else "builder", *env,
                   "--security-opt", "no-new-privileges", "--network", "bridge" if network else "none"]
        return shlex.join(["docker", "run", *options, image, *argv]) + (" >/dev/null" if quiet else "")

    def copy_in(path: Path, dest: str) -> list[str]:
        return ["cid=$(docker create -v " + shlex.quote(f"{VOLUME}:{MOUNT}") + f" {shlex.quote(first_image)} true)",
                f"docker cp {shlex.quote(str(path))} \"$cid:{dest}\" >/dev/null", "docker rm \"$cid\" >/dev/null"]

    freshness = (IMAGES_DIR / "scripts" / "check-freshness").read_text()
    lines = ["set -e", f"docker volume rm -f {VOLUME} >/dev/null 2>&1 || true", f"docker volume create {VOLUME} >/dev/null",
             shlex.join(["docker", "run", "--rm", first_image, "sh", "-c", freshness, "check-freshness"]) + " >/dev/null || true",
             *copy_in(scripts, f"{MOUNT}/.compat")]
    fetch = sources.fetch_command(src)
    if not fetch:
        lines += copy_in(sources.local_path(src, m.path), SRC)
    # docker cp leaves root the owner; the tool's archives name the build user.
    lines.append(run(first_image, ["chown", "-R", "builder:", MOUNT], workdir=MOUNT, root=True))
    if fetch:
        lines.append(run(first_image, fetch, workdir=MOUNT, network=True, quiet=True))
    for n, (flavor, image) in enumerate(images.items()):
        values = {"jobs": jobs, "out": OUT, "flavor": flavor, "version": "bench"}
        steps = [("prepare", recipe.steps["prepare"]), ("configure", recipe.steps["configure"]),
                 ("build", recipe.steps["build"])] if n == 0 else \
            [("build", ((("sh", RELINK_SCRIPT, SRC),) + recipe.relink + recipe.steps["build"]))]
        for step, commands in steps:
            for argv in commands:
                lines.append(run(image, expand(tuple(argv), values), root=step == "prepare",
                                 network=step == "prepare", quiet=True))
        if recipe.steps["test"]:
            lines += [run(image, ["rm", "-f", f"{OUT}/{recipe.junit}"]), run(image, ["mkdir", "-p", OUT])]
            lines += [run(image, expand(tuple(argv), values), quiet=True) + " || true" for argv in recipe.steps["test"]]
        questions = {**facts.toolchain_commands(), **facts.source_commands(), **facts.binary_commands(recipe.binaries)}
        lines += [run(image, question.argv, quiet=True) + " || true" for question in questions.values()]
        lines.append(run(image, ["sh", PROBE_SCRIPT, "20", str(m.timeouts["probe"] // PROBE_RUNS)], workdir=MOUNT,
                         quiet=True))
    lines.append(f"docker volume rm {VOLUME} >/dev/null")
    return "\n".join(lines) + "\n"


def further_flavors(cells: list[dict]) -> str:
    """Each relinked flavor's steps against the compiling flavor's (as bench/flavors.py counts them)."""
    cost = {c["flavor"]: sum(v for k, v in c["timings"].items() if k != "image") for c in cells}
    first = next((c["flavor"] for c in cells if not c["compiled_by"]), None)
    return "".join(f"; {c['flavor']} costs {cost[c['flavor']] / cost[first]:.2f} of {first}"
                   for c in cells if c["compiled_by"] and first and cost[first])


def timed(command: list[str]) -> float:
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if done.returncode not in (0, 1):
        sys.exit(f"bench/overhead: {shlex.join(command[:6])} ... exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def main(matrix: Path | None = None, source: str | None = None, pairs: int | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=matrix or ROOT / "tests" / "fixtures" / "matrix.yaml")
    parser.add_argument("--toolchain", default="ghc96")
    parser.add_argument("--source", default=source or "curlint")
    parser.add_argument("--pairs", type=int, default=pairs or 5)
    args = parser.parse_args()
    m = matrix_module.load(args.matrix)
    engine = Engine()
    (group,) = plan(m, [args.toolchain], [args.source])
    with tempfile.TemporaryDirectory(prefix="ganeti-compat-bench-") as tmp:
        reports = Path(tmp) / "reports"
        builder = ImageBuilder(engine, reports / "cache", lambda line: print(line, file=sys.stderr))
        log = Path(tmp) / "image.log"
        images = {}
        for cell in group:  # outside the timing
            flavor = m.flavors[cell.flavor]
            image = builder.ensure(cell.toolchain, m.recipes[cell.source.recipe], log)
            images[cell.flavor] = builder.flavored(image, cell.toolchain, flavor.name, flavor.soname, log).tag
        builder.release()  # the runs below hold them for themselves
        script = Path(tmp) / "by-hand.sh"
        script.write_text(by_hand_script(m, args.toolchain, args.source, images, str(engine.cpus()),
                                         IMAGES_DIR / "scripts"))
        tool = [sys.executable, "-m", "compat", "--matrix", str(args.matrix), "--reports", str(reports), "run",
                "--toolchain", args.toolchain, "--source", args.source, "--fresh"]
        ratios = []
        for n in range(args.pairs):
            by_hand = timed(["sh", str(script)])
            ours = timed([*tool, "--run-id", f"pair-{n}"])
            cells = [json.loads(p.read_text()) for p in (reports / "runs" / f"pair-{n}" / "cells").glob("*.json")]
            statuses = ", ".join(sorted(f"{c['flavor']} {c['status']}" for c in cells))
            ratios.append(ours / by_hand)
            print(f"pair {n + 1}: by hand {by_hand:.1f} s, the tool {ours:.1f} s ({statuses}), ratio {ratios[-1]:.3f}"
                  f"{further_flavors(cells)}")
    print(f"{args.toolchain} x {args.source}, {len(group)} flavor(s): the tool costs {statistics.median(ratios):.3f} "
          f"of the same containers typed by hand (median of {len(ratios)} pairs; goal <= 1.05)")


if __name__ == "__main__":
    main()
