"""A cold run (no toolchain image yet) against the sum of its cells' steps: what image builds still add.

    python bench/cold.py [--toolchain ghc88,ghc90] [--source ganeti-3.1] [--matrix matrix.yaml] [--jobs N]

Removes the tool's images of the named toolchains (toolchain and flavor images; base images stay), then
runs their cells once, as the first night on a new machine does. Images of later groups are prepared
while earlier groups compile, so only what could not be hidden shows up as the cells' image waits. Prints
the wall time, the sum of the fetch, prepare, configure, build, test and probe steps of every cell, the
image waits, and wall / steps (goal: at most 1.15; 1.28 with every image built in series). With the
defaults it takes about 20 minutes on 2 cores. Needs a Docker engine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compat.engine import LABEL, Engine

STEPS = ("fetch", "prepare", "configure", "build", "test", "probe")


def remove_images(toolchains: list[str]) -> int:
    engine = Engine()
    removed = 0
    for toolchain in toolchains:
        tagged = engine.images_labelled(f"{LABEL}.toolchain={toolchain}")
        # Flavor layers first: they sit on the toolchain image.
        for tag, _, _ in sorted(tagged, key=lambda item: f"{LABEL}.flavor" not in item[2]):
            engine.remove_image(tag)
            removed += 1
    return removed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=ROOT / "matrix.yaml")
    parser.add_argument("--toolchain", default="ghc88,ghc90")
    parser.add_argument("--source", default="ganeti-3.1")
    parser.add_argument("--jobs", default="1")
    args = parser.parse_args()
    print(f"removed {remove_images(args.toolchain.split(','))} image(s) of {args.toolchain}")
    with tempfile.TemporaryDirectory(prefix="ganeti-compat-bench-") as tmp:
        reports = Path(tmp)
        command = [sys.executable, "-m", "compat", "--matrix", str(args.matrix), "--reports", str(reports), "run",
                   "--toolchain", args.toolchain, "--source", args.source, "--run-id", "cold", "--fresh",
                   "--jobs", args.jobs]
        start = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, check=False)
        wall = time.monotonic() - start
        cells = [json.loads(path.read_text()) for path in (reports / "runs" / "cold" / "cells").glob("*.json")]
    if done.returncode not in (0, 1) or not cells:
        sys.exit(f"bench/cold: the run exited {done.returncode} with {len(cells)} cell(s)")
    steps = sum(cell["timings"].get(step, 0.0) for cell in cells for step in STEPS)
    waits = sum(cell["timings"].get("image", 0.0) for cell in cells)
    print(f"{len(cells)} cells: wall {wall:.0f} s, steps {steps:.0f} s, image waits {waits:.0f} s")
    print(f"a cold run costs {wall / steps:.3f} x the sum of its steps (goal <= 1.15)")


if __name__ == "__main__":
    main()
