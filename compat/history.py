"""What changed: regressions and fixes with their likely cause beside them.

`nights` compares each cell of a run with that cell's own baseline (its last meaningful result, in any
earlier complete ordinary run); `diff` compares two named runs cell by cell. Both are pure functions of
the cells' facts (compat.summary), their tests' states and, for a change they show, the two manifests;
`complete_runs` reads them from reports/runs/ (compat.reader).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compat import expected
from compat.analysis.junit import MAX_CHARS, case_states
from compat.findings import said
from compat.markdown import inline
from compat.matrix import Expectation
from compat.outcome import read_inside
from compat.reader import RunReader
from compat.results import CellResult, RunRecord, load_run_record, run_records
from compat.status import Status
from compat.summary import CellFacts

JUNIT_TEXTS = 8  # distinct JUnit texts whose test states are kept: a reused cell's file is its earlier run's
JUNIT_KEPT = 1 << 20  # characters of the largest JUnit text kept


@dataclass(frozen=True)
class RunResults:
    """A run of the history: its record and its cells' facts; a manifest is read when a change shows it."""

    record: RunRecord
    cells: dict[str, CellFacts]
    run_dir: Path
    reader: RunReader = field(default_factory=RunReader, compare=False, repr=False)

    def manifest(self, cell: CellFacts) -> dict[str, str]:
        return self.reader.manifest(self.run_dir, cell)


@dataclass(frozen=True)
class CellChange:
    key: str
    before: str  # status (cause)
    after: str
    why: str  # the new verdict's first evidence line
    tests: dict[str, list[str]] = field(default_factory=dict)  # newly failing/passing, added, removed
    manifest: list[tuple[str, str, str]] = field(default_factory=list)  # package, before, after
    since: str = ""  # the result compared with, when each cell is compared with its own: "2026-12-03, run X"
    investigation: str = ""  # what investigating it found (compat.findings.said), when it was investigated


@dataclass(frozen=True)
class RunDiff:
    old: str  # the run compared with; "" when each cell was compared with its own baseline
    new: str
    regressions: list[CellChange] = field(default_factory=list)
    fixes: list[CellChange] = field(default_factory=list)
    newly_unavailable: list[CellChange] = field(default_factory=list)
    available: list[CellChange] = field(default_factory=list)  # back from unavailable
    infrastructure: list[CellChange] = field(default_factory=list)  # the tool or its surroundings failed
    changed: list[CellChange] = field(default_factory=list)  # another status or cause, neither better nor worse
    expected: list[CellChange] = field(default_factory=list)  # failures matrix.yaml expects (reason in `why`)
    unexpected_passes: list[CellChange] = field(default_factory=list)  # expected to fail, and passed
    tests: list[CellChange] = field(default_factory=list)  # same status, tests that changed state
    flags: list[tuple[str, str, str]] = field(default_factory=list)  # cell, "appeared"/"went away", flag
    new_cells: list[str] = field(default_factory=list)  # no earlier meaningful result to compare with

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)


def status_text(result: CellResult | CellFacts) -> str:
    return f"{result.status} ({result.cause})" if result.cause else result.status


def manifest_changes(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str]]:
    """(package, old version, new version) for every package that moved, appeared ("-") or went away."""
    if before == after:
        return []
    moved = {name for name, _ in before.items() ^ after.items()}  # the few that differ, found without a sort
    return [(name, before.get(name, "-"), after.get(name, "-")) for name in sorted(moved)]


def changed_tests(before: dict[str, bool] | None, after: dict[str, bool] | None) -> dict[str, list[str]]:
    """Tests that changed state between two runs of a cell; empty when either run has no test results."""
    if before is None or after is None:
        return {}
    changes = {
        "newly failing": sorted(name for name, ok in after.items() if not ok and before.get(name, False)),
        "newly passing": sorted(name for name, ok in after.items() if ok and before.get(name) is False),
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
    }
    return {kind: names for kind, names in changes.items() if names}


TestsOf = Callable[[RunResults, CellFacts], dict[str, bool] | None]


def no_tests(run: RunResults, cell: CellFacts) -> None:
    """For comparisons that need no test states (the feed, the nightly's exit)."""
    return


@dataclass(frozen=True)
class Earlier:
    """What a cell is compared with: its baseline (its last meaningful result) and its previous result."""

    baseline: tuple[RunResults, CellFacts] | None
    previous: CellFacts | None


def diff(old: RunResults, new: RunResults, tests_of: TestsOf, known: tuple[Expectation, ...] = ()) -> RunDiff:
    """Two named runs, cell by cell: every cell both ran."""
    earlier = {key: Earlier((old, cell), cell) for key, cell in old.cells.items()}
    return _compare(new, earlier, tests_of, known, old.record.run_id)


def nights(runs: list[RunResults], known: tuple[Expectation, ...] = (), tests_of: TestsOf = no_tests,
           last: int = 1) -> list[RunDiff]:
    """What changed in each of the last `last` runs (oldest first), each cell against its own baseline: its
    last meaningful result (not error or unavailable) in any earlier run, so that a bad night or a session
    run between two nights never hides a regression. `runs`: complete ordinary runs, oldest first."""
    baseline: dict[str, tuple[RunResults, CellFacts]] = {}
    previous: dict[str, CellFacts] = {}
    found = []
    for index, run in enumerate(runs):
        if index >= len(runs) - last:
            earlier = {key: Earlier(baseline.get(key), previous.get(key)) for key in run.cells}
            found.append(_compare(run, earlier, tests_of, known, ""))
        for key, cell in run.cells.items():
            previous[key] = cell
            if cell.status.meaningful:
                baseline[key] = (run, cell)
    return found


def _compare(new: RunResults, earlier: dict[str, Earlier], tests_of: TestsOf, known: tuple[Expectation, ...],
             old: str) -> RunDiff:
    result = RunDiff(old, new.record.run_id)
    passes = expected.unexpected_passes(known, list(new.cells.values()), lambda cell: tests_of(new, cell))
    for key, entry in passes:
        result.unexpected_passes.append(CellChange(key, expected.describe(entry), status_text(new.cells[key]),
                                                   "remove its expected: entry from matrix.yaml"))
    for key in sorted(new.cells):
        after, before = new.cells[key], earlier.get(key, Earlier(None, None))
        base_run, base = before.baseline or (None, None)
        reasons = expected.explained(known, after)
        where = "expected" if reasons and (base is None or base.status != after.status) else \
            _where(base, before.previous, after)
        if where == "new_cells":
            result.new_cells.append(key)
        elif where is not None:
            # The details are read only for a cell that is shown: a long history compares thousands.
            tests = changed_tests(tests_of(base_run, base), tests_of(new, after)) if base_run and base else {}
            if where == "tests" and not tests:
                continue
            why = "; ".join(expected.describe(entry) for entry in reasons) if where == "expected" else after.why
            since = "" if old or base_run is None else f"{base_run.record.started[:10]}, run {base_run.record.run_id}"
            moved = manifest_changes(base_run.manifest(base), new.manifest(after)) if base_run and base else []
            getattr(result, where).append(CellChange(
                key, status_text(base) if base else "no meaningful result", status_text(after), why, tests, moved,
                since, said(after.investigation)))
        if base is not None:
            old_flags, new_flags = set(base.flags), set(after.flags)
            result.flags.extend((key, "appeared", name) for name in sorted(new_flags - old_flags))
            result.flags.extend((key, "went away", name) for name in sorted(old_flags - new_flags))
    return result


def _where(base: CellFacts | None, previous: CellFacts | None, after: CellFacts) -> str | None:
    """Which list of a RunDiff one cell's change goes to; regressions and fixes first, whatever happened in
    between; "tests" when only its tests may have changed state; None when it is no news."""
    was_unavailable = previous is not None and previous.status is Status.UNAVAILABLE
    if after.status.infrastructure:
        return "infrastructure"
    if after.status is Status.UNAVAILABLE:
        return None if was_unavailable else "newly_unavailable"
    if base is None:
        return "new_cells"
    if base.status is Status.PASS and after.status.problem:
        return "regressions"
    if base.status.problem and after.status is Status.PASS:
        return "fixes"
    if was_unavailable:
        return "available"
    if (base.status, base.cause) != (after.status, after.cause):
        return "changed"
    return "tests"


def load_run_results(run_dir: Path) -> RunResults | None:
    record = load_run_record(run_dir)
    if record is None:
        return None
    return read_results(record, run_dir)


def complete_records(reports: Path, records: list[tuple[RunRecord, Path]] | None = None,
                     unreadable: list[str] | None = None) -> list[tuple[RunRecord, Path]]:
    """Every complete ordinary run, oldest first, from its run.json alone: an interrupted run is never one.
    `records`: every run's, when they were read already (results.run_records); a run.json that cannot be
    trusted is named in `unreadable`."""
    return [(record, run_dir) for record, run_dir in (run_records(reports, unreadable) if records is None else records)
            if record.complete_ordinary]


def read_results(record: RunRecord, run_dir: Path, reader: RunReader | None = None) -> RunResults:
    reader = reader or RunReader()
    return RunResults(record, reader.facts(run_dir), run_dir, reader)


def complete_runs(reports: Path, last: int | None = None, reader: RunReader | None = None,
                  records: list[tuple[RunRecord, Path]] | None = None) -> list[RunResults]:
    """The last complete ordinary runs with their cells' facts, oldest first (only those are read)."""
    reader = reader or RunReader()
    complete = complete_records(reports, records)
    return [read_results(record, run_dir, reader) for record, run_dir in (complete[-last:] if last else complete)]


def stored_states(reports: Path) -> Callable[[CellResult], dict[str, bool] | None]:
    """The states of a cell's tests from the JUnit file of the run that holds it."""
    runs = reports / "runs"

    def states(cell: CellResult) -> dict[str, bool] | None:
        run_dir = runs / cell.run_id
        if not cell.run_id or not run_dir.resolve().is_relative_to(runs.resolve()):
            return None
        return _junit_states(run_dir, cell.logs.get("junit"))
    return states


def junit_states(run: RunResults, cell: CellFacts) -> dict[str, bool] | None:
    """The states of a cell's tests from the JUnit file its run kept; None when it has none."""
    return _junit_states(run.run_dir, cell.junit)


def _junit_states(run_dir: Path, path: str | None) -> dict[str, bool] | None:
    if not path:
        return None
    text = read_inside(run_dir, path, MAX_CHARS + 1)  # a larger file is refused, never read whole
    if text is None:
        return None
    found = _parsed(text) if len(text) <= JUNIT_KEPT else _parsed.__wrapped__(text)
    return dict(found) if found is not None else None


@functools.lru_cache(maxsize=JUNIT_TEXTS)
def _parsed(text: str) -> dict[str, bool] | None:
    """case_states, once for the cells whose JUnit file is the same text (a reused cell's is copied)."""
    try:
        return case_states(text)
    except ValueError:
        return None


def render(d: RunDiff) -> list[str]:
    """The "what changed" section, as Markdown lines (most important first; empty parts left out)."""
    lines = [f"## {heading(d)}", ""]
    parts = (("Regressions", d.regressions), ("Fixes", d.fixes), ("Newly unavailable", d.newly_unavailable),
             ("Available again", d.available), ("Infrastructure problems (not the toolchain)", d.infrastructure),
             ("Other changes", d.changed), ("Expected failures (matrix.yaml)", d.expected),
             ("Unexpected passes", d.unexpected_passes), ("Tests that changed state", d.tests))
    for title, changes in parts:
        if not changes:
            continue
        lines += [f"### {title}", ""]
        for change in changes:
            said = f"{change.before} -> {change.after}" + (f": {change.why}" if change.why else "")
            lines.append(f"- `{change.key}`: {inline(said)}" + (f" (compared with {change.since})" if change.since else ""))
            for kind, names in change.tests.items():
                shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                lines.append(f"  - tests {kind} ({len(names)}): {inline(shown)}")
            if change.manifest:
                moved = [f"{name} {old} -> {new}" for name, old, new in change.manifest]
                shown = ", ".join(moved[:12]) + (f" and {len(moved) - 12} more" if len(moved) > 12 else "")
                lines.append(f"  - changed beside it: {inline(shown)}")
            if change.investigation:
                lines.append(f"  - {inline(change.investigation)}")
        lines.append("")
    if d.flags:
        lines += ["### Flags", ""] + [f"- `{key}`: {inline(name)} {what}" for key, what, name in d.flags] + [""]
    if d.new_cells:
        lines += ["### New cells (no earlier meaningful result)", "", ", ".join(f"`{key}`" for key in d.new_cells), ""]
    if len(lines) == 2:
        lines += ["Nothing changed in the cells both runs ran." if d.old else "Nothing changed.", ""]
    return lines


def heading(d: RunDiff) -> str:
    if d.old:
        return f"What changed since run {d.old} (this run: {d.new})"
    return f"What changed in run {d.new} (each cell against its own last meaningful result)"


@dataclass(frozen=True)
class CellState:
    """A cell over the runs that ran it, as debci names it: pass, always-failing, regressed, fixed, flaky, new."""

    state: str
    since: str | None = None  # for regressed: the start of the last run that passed ...
    since_run: str | None = None  # ... and its id


def cell_state(statuses: list[tuple[Status, str, str]], flips: int = 2, window: int = 10) -> CellState:
    """statuses: (status, started, run id) of the runs that ran the cell, oldest first. Infrastructure
    outcomes (error, unavailable) say nothing about the toolchain and are left out."""
    seen = [(status, started, run) for status, started, run in statuses if status.meaningful]
    if not seen:
        return CellState("unknown")
    if len(seen) == 1:
        return CellState("new")
    recent = [status is Status.PASS for status, _, _ in seen[-window:]]
    if sum(a != b for a, b in itertools.pairwise(recent)) > flips:
        return CellState("flaky")
    passed_now, passed_before = seen[-1][0] is Status.PASS, seen[-2][0] is Status.PASS
    if passed_now:
        return CellState(Status.PASS if passed_before else "fixed")
    last_pass = next(((started, run) for status, started, run in reversed(seen) if status is Status.PASS), None)
    return CellState("regressed", *last_pass) if last_pass else CellState("always-failing")


def states(runs: list[RunResults], flips: int = 2, window: int = 10) -> dict[str, CellState]:
    """The state of every cell the runs ran."""
    history: dict[str, list[tuple[Status, str, str]]] = {}
    for run in runs:
        for key, result in run.cells.items():
            history.setdefault(key, []).append((result.status, run.record.started, run.record.run_id))
    return {key: cell_state(statuses, flips, window) for key, statuses in history.items()}
