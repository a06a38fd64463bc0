"""How long the reports and `diff` take over a long history: N synthetic runs x 72 cells.

    python bench/report.py [--runs 30] [--runs 365] [--case report|diff|never-run]

Each run is stored as the tool stores it (run.json, its summary, cell JSON with the real 229-package trixie manifest,
the real 456-test htest JUnit file per cell), with statuses and versions that change from night to night.
Three things are timed, each over its own history:

- report: `write_matrix_reports` (what `python -m compat report` does: read the window, the diff, the
  states, Markdown, JSON, HTML, JUnit, Atom, badge);
- diff: `python -m compat diff` in this process (the newest run, each cell against its own baseline);
- never-run: the report of a matrix with one cell that never ran (its search stops at the window).

Prints seconds, peak Python heap (tracemalloc, a second pass), and each as a ratio of the goal (1 s,
200 MiB); no assertion: these machines are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import io
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compat import matrix as matrix_module
from compat.cli import main as compat_main
from compat.commands.reports import write_matrix_reports
from compat.facts import manifest
from compat.results import CellResult, RunRecord, store, write_run
from compat.summary import write_summary

DATA = ROOT / "tests" / "data" / "ganeti"
GOAL_SECONDS, GOAL_MIB = 1.0, 200
CASES = ("report", "diff", "never-run")


def synthetic_matrix(directory: Path) -> Path:
    """The default matrix with twelve Debian toolchains: 12 x 3 sources x 2 flavors = 72 cells."""
    data = yaml.safe_load((ROOT / "matrix.yaml").read_text())
    template = data["toolchains"]["ghc96"]
    data["toolchains"] = {f"ghc96x{i:02d}": dict(template) for i in range(12)}
    data["abi_baseline"] = "ghc96x00"
    path = directory / "matrix.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def store_runs(reports: Path, m: matrix_module.Matrix, count: int, never: str | None = None) -> None:
    """`count` nights of every cell but `never`."""
    rng = random.Random(7)
    packages = manifest((DATA / "3.1-trixie-dpkg-all.tsv").read_text())
    junit = {"pass": (DATA / "3.1-trixie-htest.jxml.xml").read_text(),
             "test-fail": (DATA / "3.1-trixie-htest-without-generated-python.jxml.xml").read_text()}
    start = datetime.datetime(2025, 11, 25, 2, tzinfo=datetime.UTC)
    for night in range(count):
        when = (start + datetime.timedelta(days=night)).isoformat()
        run_id = f"n{night:04d}"
        run_dir = reports / "runs" / run_id
        keys = []
        for toolchain in m.toolchains.values():
            for source in m.sources:
                for flavor in toolchain.flavors:
                    status = rng.choices(["pass", "test-fail", "build-fail"], [8, 1, 1])[0]
                    cell = CellResult(toolchain.name, source, flavor, status=status, run_id=run_id, started=when,
                                      cause="deps" if status == "build-fail" else None,
                                      timings={"build": 200 + rng.random() * 60, "test": 50.0},
                                      manifest=packages | {"libghc-lens-dev": f"5.2.{night % 7}-1"})
                    if cell.key == never:
                        continue
                    if status in junit:
                        path = run_dir / "cells" / cell.key / "junit.xml"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(junit[status])
                        cell.logs["junit"] = str(path.relative_to(run_dir))
                        failed = 10 if status == "test-fail" else 0
                        cell.tests = {"total": 456, "passed": 456 - failed, "failed": failed, "failed_names": []}
                    store(run_dir, cell)
                    keys.append(cell.key)
        write_run(run_dir, RunRecord(run_id, "matrix", "bench", "bench", when, finished=when, cells=keys))
        write_summary(run_dir)


def diff(reports: Path, matrix_file: Path) -> None:
    """`python -m compat diff`, its text kept from the terminal."""
    with contextlib.redirect_stdout(io.StringIO()):
        compat_main(["--matrix", str(matrix_file), "--reports", str(reports), "diff"])


def measure(what: Callable[[], object]) -> tuple[float, float]:
    """Seconds of one call, then peak MiB of another: tracemalloc slows what it watches, so it is not timed."""
    started = time.perf_counter()
    what()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    what()
    peak = tracemalloc.get_traced_memory()[1] / (1 << 20)
    tracemalloc.stop()
    return seconds, peak


def bench(case: str, count: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="ganeti-compat-bench-") as tmp:
        matrix_file = synthetic_matrix(Path(tmp))
        m = matrix_module.load(matrix_file)
        reports = Path(tmp) / "reports"
        store_runs(reports, m, count, f"ghc96x11--{list(m.sources)[-1]}--openssl" if case == "never-run" else None)
        if case == "diff":
            return measure(functools.partial(diff, reports, matrix_file))
        return measure(functools.partial(write_matrix_reports, reports, m))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, action="append", help="runs of history (default: 30 and 365)")
    parser.add_argument("--case", choices=CASES, action="append", help="what to time (default: each)")
    args = parser.parse_args()
    rows = [(count, case, *bench(case, count)) for count in args.runs or [30, 365] for case in args.case or CASES]
    print(f"{'runs x 72 cells':>16} {'':>9} {'seconds':>8} {'/ goal':>7} {'peak MiB':>9} {'/ goal':>7}")
    for count, case, seconds, peak in rows:
        print(f"{count:>16} {case:>9} {seconds:8.2f} {seconds / GOAL_SECONDS:7.2f} {peak:9.0f} {peak / GOAL_MIB:7.2f}")


if __name__ == "__main__":
    main()
