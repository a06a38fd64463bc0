"""What a further SSL flavor costs against the first one of the same toolchain and source.

    python bench/flavors.py [--toolchain NAME ...] [--source ganeti-3.1] [--runs 1] [--matrix matrix.yaml]

The goal holds on every toolchain, so by default each toolchain of the matrix that builds the source is
measured in turn; one whose cells cannot be had here (a GHC 7.x bindist offline) is named and left out.
Each run builds every flavor of the cells afresh (`--fresh`). The first flavor fetches, configures,
builds, tests, inspects and probes; each further one relinks the binaries that link libcurl, then tests,
inspects and probes. A cell's cost is the sum of its step times (the image wait excluded: images are
built once per toolchain, not per flavor). The figure is the median over the runs of further / first
(goal: at most 0.30). A real Ganeti cell is the default, since on the small fixture the compile the
second flavor saves takes 2 s: about 6 minutes a toolchain and run on 2 cores. Needs a Docker engine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compat import matrix


def cell_costs(matrix_file: Path, reports: Path, run_id: str, toolchain: str,
               source: str) -> list[tuple[str, dict]] | str:
    """(flavor, step timings) of each cell of one fresh run, the compiling flavor first; or why there are none."""
    command = [sys.executable, "-m", "compat", "--matrix", str(matrix_file), "--reports", str(reports), "run",
               "--toolchain", toolchain, "--source", source, "--run-id", run_id, "--fresh"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    cells = [json.loads(path.read_text()) for path in (reports / "runs" / run_id / "cells").glob("*.json")]
    if cells and all(cell["status"] == "unavailable" for cell in cells):
        return f"unavailable here: {(cells[0]['evidence'] or ['no reason given'])[0]}"
    if done.returncode not in (0, 1) or len(cells) < 2 or any(cell["status"] == "error" for cell in cells):
        sys.exit(f"bench/flavors: run {run_id} exited {done.returncode} with {len(cells)} cell(s) "
                 f"(two flavors that build are needed):\n{done.stderr[-2000:]}")
    if not any(cell["compiled_by"] for cell in cells):
        sys.exit(f"bench/flavors: run {run_id}: no flavor was relinked (did the first one fail to build?)")
    cells.sort(key=lambda cell: bool(cell["compiled_by"]))
    return [(cell["flavor"], {k: v for k, v in cell["timings"].items() if k != "image"}) for cell in cells]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=ROOT / "matrix.yaml")
    parser.add_argument("--toolchain", action="append", help="repeatable (default: every toolchain with the source)")
    parser.add_argument("--source", default="ganeti-3.1")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    loaded = matrix.load(args.matrix)
    toolchains = args.toolchain or [name for name in loaded.toolchains if args.source in loaded.sources_of(name)]
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ganeti-compat-bench-") as tmp:
        reports = Path(tmp)
        for toolchain in toolchains:
            ratios = []
            for n in range(args.runs):
                costs = cell_costs(args.matrix, reports, f"{toolchain}-{n}", toolchain, args.source)
                if isinstance(costs, str):
                    print(f"{toolchain}: {costs}")
                    break
                (first, first_steps), *further = costs
                first_cost = sum(first_steps.values())
                for flavor, steps in further:
                    ratios.append(sum(steps.values()) / first_cost)
                    print(f"{toolchain} run {n + 1}: {first} {first_cost:.1f} s {first_steps}; {flavor} "
                          f"{sum(steps.values()):.1f} s {steps}; ratio {ratios[-1]:.3f}", flush=True)
            if ratios:
                figures[toolchain] = statistics.median(ratios)
    if not figures:
        sys.exit(f"bench/flavors: no toolchain of {', '.join(toolchains)} could build {args.source} here")
    for toolchain, figure in figures.items():
        print(f"{toolchain} x {args.source}: a further flavor costs {figure:.3f} of the first (goal <= 0.30)")
    print(f"every toolchain measured: at most {max(figures.values()):.3f} (goal <= 0.30)")


if __name__ == "__main__":
    main()
