"""What changed between two runs: regressions and fixes with their likely cause beside them.

`diff` is a pure function of two runs' cell results and their tests' states; `load_run_results` and
`complete_runs` read them from reports/runs/. Only cells that both runs ran are compared: a session run
of one toolchain says nothing about the others.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from compat import expected
from compat.analysis.junit import case_states
from compat.matrix import Expectation
from compat.results import ORDINARY, CellResult, RunRecord, load_run, load_run_record, run_records

PROBLEMS = ("test-fail", "build-fail", "crash", "timeout")  # what a toolchain can be blamed for
INFRASTRUCTURE = ("error",)  # the tool, the engine or the mirror: never a regression of a toolchain


@dataclass(frozen=True)
class RunResults:
    record: RunRecord
    cells: dict[str, CellResult]
    run_dir: Path


@dataclass(frozen=True)
class CellChange:
    key: str
    before: str  # status (cause)
    after: str
    why: str  # the new verdict's first evidence line
    tests: dict[str, list[str]] = field(default_factory=dict)  # newly failing/passing, added, removed
    manifest: list[tuple[str, str, str]] = field(default_factory=list)  # package, before, after


@dataclass(frozen=True)
class RunDiff:
    old: str
    new: str
    regressions: list[CellChange] = field(default_factory=list)
    fixes: list[CellChange] = field(default_factory=list)
    unavailable: list[CellChange] = field(default_factory=list)  # newly unavailable
    available: list[CellChange] = field(default_factory=list)  # back from unavailable
    infrastructure: list[CellChange] = field(default_factory=list)  # the tool or its surroundings failed
    changed: list[CellChange] = field(default_factory=list)  # another status or cause, neither better nor worse
    expected: list[CellChange] = field(default_factory=list)  # failures matrix.yaml expects (reason in `why`)
    unexpected_passes: list[CellChange] = field(default_factory=list)  # expected to fail, and passed
    tests: list[CellChange] = field(default_factory=list)  # same status, tests that changed state
    flags: list[tuple[str, str, str]] = field(default_factory=list)  # cell, "appeared"/"went away", flag
    new_cells: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)


def status_text(result: CellResult) -> str:
    return f"{result.status} ({result.cause})" if result.cause else result.status


def manifest_changes(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str]]:
    """(package, old version, new version) for every package that moved, appeared ("-") or went away."""
    return [(name, before.get(name, "-"), after.get(name, "-")) for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)]


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


def diff(old: RunResults, new: RunResults, tests_of: Callable[[RunResults, CellResult], dict[str, bool] | None],
         known: tuple[Expectation, ...] = ()) -> RunDiff:
    """Every cell both runs ran, sorted into what a packager reads first: regressions, then fixes, then the rest.
    A failure matrix.yaml expects is never a regression; a pass it expected to fail is said."""
    result = RunDiff(old.record.run_id, new.record.run_id)
    for key, entry in expected.unexpected_passes(known, list(new.cells.values())):
        after = new.cells[key]
        result.unexpected_passes.append(CellChange(key, expected.describe(entry), status_text(after),
                                                   "remove its expected: entry from matrix.yaml"))
    for key in sorted(new.cells):
        after = new.cells[key]
        before = old.cells.get(key)
        if before is None:
            result.new_cells.append(key)
            continue
        change = CellChange(key, status_text(before), status_text(after), after.evidence[0] if after.evidence else "",
                            changed_tests(tests_of(old, before), tests_of(new, after)),
                            manifest_changes(before.manifest, after.manifest))
        reasons = expected.explained(known, after)
        if reasons and before.status != after.status:
            result.expected.append(replace(change, why="; ".join(expected.describe(entry) for entry in reasons)))
        else:
            _sort(result, before, after, change)
        old_flags = {flag["name"] for flag in before.flags}
        new_flags = {flag["name"] for flag in after.flags}
        result.flags.extend((key, "appeared", name) for name in sorted(new_flags - old_flags))
        result.flags.extend((key, "went away", name) for name in sorted(old_flags - new_flags))
    return result


def _sort(result: RunDiff, before: CellResult, after: CellResult, change: CellChange) -> None:
    if after.status in INFRASTRUCTURE and before.status not in INFRASTRUCTURE:
        result.infrastructure.append(change)
    elif after.status == "unavailable" and before.status != "unavailable":
        result.unavailable.append(change)
    elif before.status == "unavailable" and after.status != "unavailable":
        result.available.append(change)
    elif before.status == "pass" and after.status in PROBLEMS:
        result.regressions.append(change)
    elif before.status in PROBLEMS and after.status == "pass":
        result.fixes.append(change)
    elif (before.status, before.cause) != (after.status, after.cause):
        result.changed.append(change)
    elif change.tests:
        result.tests.append(change)


def load_run_results(run_dir: Path) -> RunResults | None:
    record = load_run_record(run_dir)
    if record is None:
        return None
    return RunResults(record, {r.key: r for r in load_run(run_dir)}, run_dir)


def complete_runs(reports: Path, last: int | None = None) -> list[RunResults]:
    """The last complete ordinary runs, oldest first: an interrupted run is never "the previous run"."""
    records = [(record, run_dir) for record, run_dir in run_records(reports)
               if record.kind in ORDINARY and record.finished and not record.interrupted]
    return [RunResults(record, {r.key: r for r in load_run(run_dir)}, run_dir)
            for record, run_dir in (records[-last:] if last else records)]


def junit_states(run: RunResults, cell: CellResult) -> dict[str, bool] | None:
    """The states of a cell's tests from the JUnit file its run kept; None when it has none."""
    path = cell.logs.get("junit")
    if not path:
        return None
    try:
        return case_states((run.run_dir / path).read_text(errors="replace"))
    except (OSError, ValueError):
        return None


def render(d: RunDiff) -> list[str]:
    """The "what changed" section, as Markdown lines (most important first; empty parts left out)."""
    lines = [f"## What changed since run {d.old} (this run: {d.new})", ""]
    parts = (("Regressions", d.regressions), ("Fixes", d.fixes), ("Newly unavailable", d.unavailable),
             ("Available again", d.available), ("Infrastructure problems (not the toolchain)", d.infrastructure),
             ("Other changes", d.changed), ("Expected failures (matrix.yaml)", d.expected),
             ("Unexpected passes", d.unexpected_passes), ("Tests that changed state", d.tests))
    for title, changes in parts:
        if not changes:
            continue
        lines += [f"### {title}", ""]
        for change in changes:
            lines.append(f"- `{change.key}`: {change.before} -> {change.after}" + (f": {change.why}" if change.why else ""))
            for kind, names in change.tests.items():
                shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                lines.append(f"  - tests {kind} ({len(names)}): {shown}")
            if change.manifest:
                moved = [f"{name} {old} -> {new}" for name, old, new in change.manifest]
                shown = ", ".join(moved[:12]) + (f" and {len(moved) - 12} more" if len(moved) > 12 else "")
                lines.append(f"  - changed beside it: {shown}")
        lines.append("")
    if d.flags:
        lines += ["### Flags", ""] + [f"- `{key}`: {name} {what}" for key, what, name in d.flags] + [""]
    if d.new_cells:
        lines += ["### New cells", "", ", ".join(f"`{key}`" for key in d.new_cells), ""]
    if len(lines) == 2:
        lines += ["Nothing changed in the cells both runs ran.", ""]
    return lines


@dataclass(frozen=True)
class CellState:
    """A cell over the runs that ran it, as debci names it: pass, always-failing, regressed, fixed, flaky, new."""

    state: str
    since: str | None = None  # for regressed: the start of the last run that passed ...
    since_run: str | None = None  # ... and its id


def cell_state(statuses: list[tuple[str, str, str]], flips: int = 2, window: int = 10) -> CellState:
    """statuses: (status, started, run id) of the runs that ran the cell, oldest first. Infrastructure
    outcomes (error, unavailable) say nothing about the toolchain and are left out."""
    seen = [(status, started, run) for status, started, run in statuses
            if status not in INFRASTRUCTURE + ("unavailable",)]
    if not seen:
        return CellState("unknown")
    if len(seen) == 1:
        return CellState("new")
    recent = [status == "pass" for status, _, _ in seen[-window:]]
    if sum(a != b for a, b in itertools.pairwise(recent)) > flips:
        return CellState("flaky")
    passed_now, passed_before = seen[-1][0] == "pass", seen[-2][0] == "pass"
    if passed_now:
        return CellState("pass" if passed_before else "fixed")
    last_pass = next(((started, run) for status, started, run in reversed(seen) if status == "pass"), None)
    return CellState("regressed", *last_pass) if last_pass else CellState("always-failing")


def states(runs: list[RunResults], flips: int = 2, window: int = 10) -> dict[str, CellState]:
    """The state of every cell the runs ran."""
    history: dict[str, list[tuple[str, str, str]]] = {}
    for run in runs:
        for key, result in run.cells.items():
            history.setdefault(key, []).append((result.status, run.record.started, run.record.run_id))
    return {key: cell_state(statuses, flips, window) for key, statuses in history.items()}
