"""Everything a report format may say, gathered once (cli.write_matrix_reports) so that a format is a
function of one value and adding one threads nothing through."""

from __future__ import annotations

from dataclasses import dataclass, field

from compat.history import CellState, RunDiff, RunResults
from compat.matrix import Expectation
from compat.results import CellResult


@dataclass(frozen=True)
class ReportContext:
    results: list[CellResult]  # the cells shown, in matrix order
    title: str
    baseline: str | None = None  # the toolchain ABI drift is measured against
    focus: set[str] = field(default_factory=set)  # the packages drift is shown for
    faults: list[CellResult] = field(default_factory=list)  # fault-injection cells, never in the grid
    changes: RunDiff | None = None  # the last night against the one before
    known: tuple[Expectation, ...] = ()  # the matrix's expected: entries
    states: dict[str, CellState] = field(default_factory=dict)
    runs: list[RunResults] = field(default_factory=list)  # the history the charts draw
    feed: list[tuple[RunDiff, str]] = field(default_factory=list)  # each night's changes and when it ended
    unreadable: list[str] = field(default_factory=list)
    passes: list[tuple[str, Expectation]] = field(default_factory=list)  # unexpected passes
