"""Runs made by separate processes or machines (`run --shard I/N`, CI jobs) combined into one run.

Each part is a run directory (`reports/runs/<id>/`, what a CI job keeps as its artifact) or a reports
directory holding run directories. The merged run holds every part's cell results and their logs, and a
run.json that is complete only when every part completed. A cell found in two parts is an error: which one
is the night's result cannot be decided here.

With the parts a pipeline expects (compat.ci.jobs.Plan), every expected cell is accounted for: one that no part
holds, because its job died before it wrote its run, or was interrupted before that cell ended, becomes that
cell's `error (runner)` naming the job and why, and the merged run is complete. So a lost job makes the night
red for its own reason, and never hides another cell's regression.
"""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path

from compat.ci.jobs import Plan
from compat.errors import ConfigError
from compat.matrix import Matrix
from compat.outcome import Outcome
from compat.results import CellResult, RunRecord, copy_log, judge_again, load_run, read_run_record, store, write_run
from compat.status import Status
from compat.stored import clean


def run_dirs(parts: list[Path], expected: bool = False) -> list[Path]:
    """The run directories the parts name: a run directory itself, or every run under a reports directory.
    When the parts are `expected`, a directory that does not exist, or holds no run, is parts that never arrived."""
    found: list[Path] = []
    for part in parts:
        if expected and not part.exists() and not part.is_symlink():
            continue
        if part.is_symlink():
            raise ConfigError(f"{part}: a symlink; give the run or reports directory itself")
        if (part / "run.json").is_file():
            found.append(part)
        elif expected and part.is_dir() and not (part / "runs").exists():
            continue  # an artifact directory that received nothing
        elif (part / "runs").is_dir():
            found += sorted(d for d in (part / "runs").iterdir() if not d.is_symlink() and (d / "run.json").is_file())
        else:
            raise ConfigError(f"{part}: neither a run directory (with run.json) nor a reports directory (with runs/)")
    if not found and not expected:
        raise ConfigError("nothing to merge: give run directories or reports directories")
    return found


def merge(parts: list[Path], into: Path, run_id: str, m: Matrix | None = None, expect: Plan | None = None,
          digest: str = "", version: str = "") -> tuple[RunRecord, list[str]]:
    """Write the merged run to `into`/runs/`run_id`; its record and the results that could not be read. With
    `expect` (and the matrix `m` whose file's `digest` it names), every expected cell no part holds is its job's
    `error (runner)`; `version` is the tool's, for a run no part arrived of."""
    target = into / "runs" / run_id
    if target.exists():
        raise ConfigError(f"{target}: run {run_id!r} exists already; give another --run-id")
    records: list[RunRecord] = []
    owner: dict[str, Path] = {}
    results: list[tuple[CellResult, Path]] = []
    unreadable: list[str] = []
    for run_dir in run_dirs(parts, expected=expect is not None):
        try:
            record = read_run_record(run_dir)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{run_dir}/run.json: unreadable ({clean(str(exc), 300)}); a part must be a run this "
                              "tool wrote") from None
        records.append(record)
        found = load_run(run_dir, unreadable)
        if unreadable:
            # Names in a part become paths here: a part that breaks the rules is refused whole.
            raise ConfigError(f"{unreadable[0]}; a part must hold only cells this tool wrote")
        for result in found:
            if result.key in owner:
                raise ConfigError(f"cell {result.key} is in {owner[result.key]} and in {run_dir}: merge each cell once")
            owner[result.key] = run_dir
            results.append((result, run_dir))
    expected_digests = {expect.matrix_digest} if expect is not None else set()
    for what, values in (("kinds", {r.kind for r in records}),
                         ("matrix files", {r.matrix_digest for r in records} | expected_digests)):
        if len(values) > 1:
            raise ConfigError(f"the parts are runs of different {what} ({', '.join(sorted(v[:12] for v in values))}): "
                              "merge the parts of one run")
    for result, run_dir in results:
        for relative in result.logs.values():
            copy_log(run_dir, target, relative)
        store(target, replace(result, run_id=run_id))
    if expect is not None and m is not None:
        merged = _accounted(records, expect, run_id, digest, version)
        for key, why in missing(expect, records, set(owner), run_id).items():
            store(target, lost_cell(m, key, why, target, merged.started))
    else:
        merged = _merged_record(records, run_id)
    write_run(target, merged)
    return merged, unreadable


def _merged_record(records: list[RunRecord], run_id: str) -> RunRecord:
    """Complete only when every part completed."""
    finished = [record.finished for record in records]
    complete = all(finished) and not any(record.interrupted for record in records)
    return RunRecord(
        run_id, records[0].kind, records[0].matrix_digest, _version(records, ""),
        min(record.started for record in records), max(f for f in finished if f) if complete else None,
        interrupted=not complete,
        reason=None if complete else "a part did not complete: " + ", ".join(
            record.run_id for record in records if record.interrupted or not record.finished),
        cells=sorted({cell for record in records for cell in record.cells}))


def _accounted(records: list[RunRecord], expect: Plan, run_id: str, digest: str, version: str) -> RunRecord:
    """Complete: every expected cell has a result, its own or its job's error."""
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    cells = {cell for record in records for cell in record.cells} | {cell for job in expect.jobs for cell in job.cells}
    return RunRecord(run_id, records[0].kind if records else "matrix", digest or expect.matrix_digest,
                     _version(records, version), min((r.started for r in records), default=now),
                     max([r.finished for r in records if r.finished] + [now]), cells=sorted(cells))


def _version(records: list[RunRecord], default: str) -> str:
    versions = {r.tool_version for r in records}
    return versions.pop() if len(versions) == 1 else "mixed" if versions else default


def missing(expect: Plan, records: list[RunRecord], delivered: set[str], run_id: str) -> dict[str, str]:
    """Each expected cell no part holds, and why, naming its job."""
    arrived = {record.run_id: record for record in records}
    found = {}
    for job in expect.jobs:
        part = f"{run_id}-{job.part}"
        record = arrived.get(part)
        if record is None:
            why = (f"job '{job.name}' delivered no result for this cell: its run {part} never reached the report job "
                   "(the job failed before it wrote its run, timed out or lost its runner; see that job's log)")
        elif record.interrupted or not record.finished:
            why = (f"job '{job.name}' did not finish this cell: its run {part} ended before it "
                   f"({record.reason or 'interrupted'})")
        else:
            why = f"job '{job.name}' delivered no result for this cell: its run {part} does not hold it"
        found.update({key: why for key in job.cells if key not in delivered})
    return found


def lost_cell(m: Matrix, key: str, why: str, run_dir: Path, started: str) -> CellResult:
    """A cell its job did not deliver: the runner's error, judged like every cell from its outcome."""
    toolchain, source, flavor = key.split("--")
    outcome = Outcome(soname=m.flavors[flavor].soname if flavor in m.flavors else "", runner_error=why,
                      suite=m.toolchains[toolchain].suite if toolchain in m.toolchains else "")
    result = CellResult(toolchain, source, flavor, status=Status.ERROR, run_id=run_dir.name, started=started,
                        outcome=outcome)
    judge_again(result, run_dir)
    return result
