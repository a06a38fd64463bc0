"""A run with nothing changed against the same run from cold: what an unchanged night costs.

    python bench/rerun.py [--toolchain ghc96] [--source ganeti-3.1] [--pairs 1] [--matrix matrix.yaml]

Each pair is a run with `--fresh` (every cell built, tested and probed; the images already exist, as on
any night but the first) and then the same run without it (every cell unchanged, so taken from the run
before). Pairs alternate in one process on one machine; the figure is the median of the pairs' ratios
rerun / fresh (goal: at most 0.05). The default is the real Ganeti cell, both flavors (about 12 minutes a
pair here): on the fixture (`--matrix tests/fixtures/matrix.yaml --source curlint`) a cell costs 25 s and the
fixed costs of a run (Python, the image's freshness check, the reports) are a tenth of it, which says
nothing about a night of real cells. The runs go to a temporary reports directory. Needs a Docker engine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(matrix: Path, reports: Path, run_id: str, toolchain: str, source: str, fresh: bool) -> float:
    """Wall seconds of one `compat run` of the cells; fails loudly when a cell did not do what is measured."""
    command = [sys.executable, "-m", "compat", "--matrix", str(matrix), "--reports", str(reports), "run",
               "--toolchain", toolchain, "--source", source, "--run-id", run_id, *(["--fresh"] if fresh else [])]
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    cells = [json.loads(path.read_text()) for path in (reports / "runs" / run_id / "cells").glob("*.json")]
    if done.returncode != 0 or not cells:
        sys.exit(f"bench/rerun: run {run_id} exited {done.returncode}:\n{done.stderr[-2000:]}")
    if any(bool(cell["reused_from"]) == fresh for cell in cells):
        sys.exit(f"bench/rerun: run {run_id}: expected every cell {'run' if fresh else 'reused'}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=ROOT / "matrix.yaml")
    parser.add_argument("--toolchain", default="ghc96")
    parser.add_argument("--source", default="ganeti-3.1")
    parser.add_argument("--pairs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ganeti-compat-bench-") as tmp:
        reports = Path(tmp)
        # Outside the timing: the images, and a first result to take.
        one_run(args.matrix, reports, "warm", args.toolchain, args.source, fresh=True)
        pairs = []
        for n in range(args.pairs):
            fresh = one_run(args.matrix, reports, f"fresh-{n}", args.toolchain, args.source, fresh=True)
            rerun = one_run(args.matrix, reports, f"rerun-{n}", args.toolchain, args.source, fresh=False)
            pairs.append((fresh, rerun))
            print(f"pair {n + 1}: fresh {fresh:.1f} s, unchanged {rerun:.1f} s, ratio {rerun / fresh:.3f}")
    ratio = statistics.median(rerun / fresh for fresh, rerun in pairs)
    print(f"{args.toolchain} x {args.source}: an unchanged run costs {ratio:.3f} of a fresh one "
          f"(median of {len(pairs)} pairs; goal <= 0.05)")


if __name__ == "__main__":
    main()
