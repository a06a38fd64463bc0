"""What a further SSL flavor costs against the first one of the same toolchain and source.

    python bench/flavors.py [--toolchain ghc96] [--source ganeti-3.1] [--runs 1] [--matrix matrix.yaml]

Each run builds every flavor of the cells afresh (`--fresh`). The first flavor fetches, configures,
builds, tests, inspects and probes; each further one relinks the binaries that link libcurl, then tests,
inspects and probes. A cell's cost is the sum of its step times (the image wait excluded: images are
built once per toolchain, not per flavor). The figure is the median over the runs of further / first
(goal: at most 0.30). A real Ganeti cell is the default, since on the small fixture the compile the
second flavor saves takes 2 s: about 6 minutes a run on 2 cores. Needs a Docker engine.
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


def cell_costs(matrix: Path, reports: Path, run_id: str, toolchain: str, source: str) -> list[tuple[str, dict]]:
    """(flavor, step timings) of each cell of one fresh run, the compiling flavor first."""
    command = [sys.executable, "-m", "compat", "--matrix", str(matrix), "--reports", str(reports), "run",
               "--toolchain", toolchain, "--source", source, "--run-id", run_id, "--fresh"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    cells = [json.loads(path.read_text()) for path in (reports / "runs" / run_id / "cells").glob("*.json")]
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
    parser.add_argument("--toolchain", default="ghc96")
    parser.add_argument("--source", default="ganeti-3.1")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory(prefix="ganeti-compat-bench-") as tmp:
        reports = Path(tmp)
        for n in range(args.runs):
            (first, first_steps), *further = cell_costs(args.matrix, reports, f"run-{n}", args.toolchain, args.source)
            first_cost = sum(first_steps.values())
            for flavor, steps in further:
                ratios.append(sum(steps.values()) / first_cost)
                print(f"run {n + 1}: {first} {first_cost:.1f} s {first_steps}; {flavor} {sum(steps.values()):.1f} s "
                      f"{steps}; ratio {ratios[-1]:.3f}")
    print(f"{args.toolchain} x {args.source}: a further flavor costs {statistics.median(ratios):.3f} of the first "
          f"(median of {len(ratios)}; goal <= 0.30)")


if __name__ == "__main__":
    main()
