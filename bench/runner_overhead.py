"""The tool's wall time for one cell against the same steps run by hand with the docker CLI.

    python bench/runner_overhead.py [--toolchain ghc96] [--source ganeti-3.1]

Both use the same toolchain image (built first, outside the timing); "by hand" is one `docker run` of a
shell script with the recipe's commands, as a packager would type them in a chroot. Prints seconds per
step and the ratio tool / by hand, measured in this one run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compat import matrix as matrix_module
from compat import sources
from compat.engine import Engine
from compat.images import ImageBuilder
from compat.matrix import STEPS
from compat.runner import OUT, PROBE_RUNS, expand


def by_hand_script(m: matrix_module.Matrix, toolchain: str, source: str, jobs: str) -> str:
    """A shell script doing the cell's steps in order, printing the time each one ends."""
    src = m.sources[source]
    fetch = sources.fetch_command(src)
    assert fetch, "the benchmark needs a fetched source"
    lines = ["set -e", "stamp() { echo \"STEP $1 $(date +%s.%N)\"; }", "stamp start", shlex.join(fetch),
             "stamp fetch", "cd /build/src", "version=$(cat /build/meta/version)", f"mkdir -p {OUT}"]
    values = {"jobs": jobs, "out": OUT, "flavor": m.toolchains[toolchain].default_flavor, "version": "@VERSION@"}
    for step in STEPS:
        for argv in m.recipes[src.recipe].steps[step]:
            command = shlex.join(expand(argv, values)).replace("@VERSION@", '"$version"')
            lines.append(command + (" || true" if step == "test" else ""))
        lines.append(f"stamp {step}")
    lines += [f"sh /build/.compat/run-probe 20 {m.timeouts['probe'] // PROBE_RUNS}", "stamp probe"]
    return "\n".join(lines) + "\n"


def run_by_hand(image: str, script: str, log_path: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cell.sh").write_text(script)
        Path(tmp).chmod(0o755)  # the script runs as the image's unprivileged build user
        volume = "ganeti-compat-bench"
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "create", volume], check=True, capture_output=True)
        try:
            subprocess.run(["docker", "run", "--rm", "-v", f"{volume}:/build", image, "chown", "builder", "/build"],
                           check=True, capture_output=True)
            with log_path.open("w") as log:
                subprocess.run(["docker", "run", "--rm", "-v", f"{volume}:/build", "-v", f"{tmp}:/bench:ro",
                                "-v", f"{ROOT / 'images' / 'scripts'}:/build/.compat:ro", "-u", "builder",
                                "-w", "/build", image, "sh", "/bench/cell.sh"],
                               check=True, stdout=log, stderr=subprocess.STDOUT)
            stamps = [line.split() for line in log_path.read_text().splitlines() if line.startswith("STEP ")]
        finally:
            subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True, check=False)
    times = {name: float(at) for _, name, at in stamps}
    order = ["start", "fetch", *STEPS, "probe"]
    return {step: times[step] - times[previous] for previous, step in itertools.pairwise(order) if step in times}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--toolchain", default="ghc96")
    parser.add_argument("--source", default="ganeti-3.1")
    args = parser.parse_args()
    m = matrix_module.load(ROOT / "matrix.yaml")
    toolchain = m.toolchains[args.toolchain]
    engine = Engine()
    builder = ImageBuilder(engine, ROOT / "reports" / "cache", lambda line: print(line, file=sys.stderr))
    log = Path(tempfile.mkdtemp()) / "image.log"
    image = builder.ensure(toolchain, m.recipes[m.sources[args.source].recipe], log)
    flavor = m.flavors[toolchain.default_flavor]
    image = builder.flavored(image, toolchain, flavor.name, flavor.soname, log)

    start = time.monotonic()
    by_hand_log = ROOT / "reports" / "bench-by-hand.log"
    print(f"by hand: one docker run, log in {by_hand_log}", file=sys.stderr)
    manual = run_by_hand(image.tag, by_hand_script(m, args.toolchain, args.source, str(engine.cpus())), by_hand_log)
    manual_total = time.monotonic() - start

    run_id = f"bench-{time.strftime('%Y%m%dT%H%M%S')}"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "compat", "run", "--toolchain", args.toolchain, "--source",
                           args.source, "--run-id", run_id, "--kind", "bench"], cwd=ROOT, check=False, stderr=subprocess.PIPE, text=True)
    tool_total = time.monotonic() - start
    sys.stderr.write(done.stderr)
    cells = {json.loads(p.read_text())["flavor"]: json.loads(p.read_text())
             for p in (ROOT / "reports" / "runs" / run_id / "cells").glob("*.json")}
    first = cells[toolchain.default_flavor]
    first_done = finished_at(done.stderr, f"{args.toolchain}--{args.source}--{toolchain.default_flavor}")

    print(f"\n{args.toolchain} x {args.source} [{toolchain.default_flavor}]: status {first['status']}, "
          f"tests {first['tests']['passed'] if first['tests'] else '-'}/{first['tests']['total'] if first['tests'] else '-'}")
    print(f"{'step':10} {'by hand':>9} {'tool':>9} {'ratio':>7}")
    for step in ["fetch", *STEPS, "probe"]:
        if step in manual and step in first["timings"]:
            ratio = first["timings"][step] / manual[step] if manual[step] else float("nan")
            print(f"{step:10} {manual[step]:9.1f} {first['timings'][step]:9.1f} {ratio:7.2f}")
    print(f"{'cell':10} {manual_total:9.1f} {first_done:9.1f} {first_done / manual_total:7.2f}")
    for flavor, cell in cells.items():
        if flavor != toolchain.default_flavor:
            cost = sum(cell["timings"].values())
            print(f"\n{flavor} flavor (relinked, {cell['status']}): {cost:.1f} s of steps, "
                  f"{cost / sum(first['timings'].values()):.2f} of the first flavor's; whole run {tool_total:.1f} s")


def finished_at(progress: str, key: str) -> float:
    """Seconds into the run at which the tool reported the cell's status (its progress line)."""
    for line in progress.splitlines():
        match = re.match(rf"\[\s*(\d+):(\d\d)\] {re.escape(key)}: (?!image|fetch|prepare|configure|build|test|probe)", line)
        if match:
            return int(match.group(1)) * 60 + int(match.group(2))
    raise SystemExit(f"no status line for {key} in the tool's progress")


if __name__ == "__main__":
    main()
