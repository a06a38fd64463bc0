"""The matrix's reports written from the runs under a reports directory: of one run, or of the latest
result of every cell."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from compat import expected, history
from compat.analysis.crosscell import focus_packages
from compat.errors import CompatError
from compat.matrix import Matrix
from compat.outputs.context import ReportContext
from compat.outputs.write import write_reports
from compat.reader import RunReader, latest_cells
from compat.results import CellResult, run_records
from compat.summary import CellFacts

LATEST_TITLE = "the latest result of every cell"
FEED_RUNS = 30  # runs whose regressions and fixes the feed lists


def defined_by(m: Matrix) -> Callable[[CellFacts], bool]:
    """Whether the current matrix still defines a result's cell."""
    def defined(r: CellFacts) -> bool:
        toolchain = m.toolchains.get(r.toolchain)
        return toolchain is not None and r.source in m.sources and r.flavor in toolchain.flavors
    return defined


def in_matrix_order(m: Matrix, results: list[CellResult]) -> list[CellResult]:
    """Toolchains and sources in the order matrix.yaml lists them; cells it no longer names go last."""
    toolchains, sources = list(m.toolchains), list(m.sources)

    def rank(r: CellResult) -> tuple[int, int, str]:
        t = toolchains.index(r.toolchain) if r.toolchain in toolchains else len(toolchains)
        s = sources.index(r.source) if r.source in sources else len(sources)
        return t, s, r.key

    return sorted(results, key=rank)


def write_matrix_reports(reports: Path, m: Matrix, run: str | None = None
                         ) -> tuple[list[Path], list[CellResult], list[str]]:
    """The reports, in matrix order, with ABI drift against the matrix's baseline over the recipes' packages:
    of one run, or of the latest ordinary result of every cell the matrix defines; those results, and the
    result files that could not be read (named in the reports too)."""
    unreadable: list[str] = []
    reader = RunReader(unreadable)  # each run's facts once, each problem once, a cell whole where it is shown
    records = run_records(reports, unreadable)
    cells = set(expected.matrix_cells(m))
    if run:
        run_dir = reports / "runs" / run
        found = (reader.result(run_dir, key) for key in reader.facts(run_dir))
        results, title = [result for result in found if result is not None], f"run {run}"
    else:
        results = latest_cells(records, defined_by(m), reader, wanted=cells, window=m.retention)
        title = LATEST_TITLE
    faults = latest_cells(records, defined_by(m), reader, ("fault-injection",), cells, m.retention)
    if not results and not faults and not unreadable:
        raise CompatError(f"{reports}/runs: no cell results{f' in run {run}' if run else ' of an ordinary run'}; "
                          "run `python -m compat run` first")
    focus = set().union(*(focus_packages(recipe.packages) for recipe in m.recipes.values()))
    runs = history.complete_runs(reports, m.retention, reader, records)
    changes = history.nights(runs, m.expected, history.junit_states)[-1] if len(runs) >= 2 and not run else None
    context = ReportContext(
        in_matrix_order(m, results), title, baseline=m.abi_baseline, focus=focus, faults=in_matrix_order(m, faults),
        changes=changes, known=m.expected, states=history.states(runs, m.flaky_flips, m.flaky_window), runs=runs,
        feed=feed(runs, m), unreadable=unreadable,
        passes=expected.unexpected_passes(m.expected, results, history.stored_states(reports)))
    paths = write_reports(reports, context)
    say_unreadable(unreadable)
    return paths, results, unreadable


def say_unreadable(unreadable: list[str]) -> None:
    for problem in unreadable:
        print(f"ganeti-compat: unreadable result, skipped: {problem}", file=sys.stderr)


def feed(runs: list[history.RunResults], m: Matrix, last: int = FEED_RUNS) -> list[tuple[history.RunDiff, str]]:
    """The regressions and fixes of each of the last complete runs, each cell against its own baseline."""
    found = history.nights(runs, m.expected, last=min(last, len(runs) - 1)) if len(runs) >= 2 else []
    return [(changes, run.record.finished or run.record.started) for changes, run in zip(found, runs[-len(found):])]
