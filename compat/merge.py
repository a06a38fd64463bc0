"""Runs made by separate processes or machines (`run --shard I/N`, CI jobs) combined into one run.

Each part is a run directory (`reports/runs/<id>/`, what a CI job keeps as its artifact) or a reports
directory holding run directories. The merged run holds every part's cell results and their logs, and a
run.json that is complete only when every part completed. A cell found in two parts is an error: which one
is the night's result cannot be decided here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from compat.errors import ConfigError
from compat.results import CellResult, RunRecord, copy_log, load_run, read_run_record, store, write_run
from compat.stored import clean


def run_dirs(parts: list[Path]) -> list[Path]:
    """The run directories the parts name: a run directory itself, or every run under a reports directory."""
    found: list[Path] = []
    for part in parts:
        if part.is_symlink():
            raise ConfigError(f"{part}: a symlink; give the run or reports directory itself")
        if (part / "run.json").is_file():
            found.append(part)
        elif (part / "runs").is_dir():
            found += sorted(d for d in (part / "runs").iterdir() if not d.is_symlink() and (d / "run.json").is_file())
        else:
            raise ConfigError(f"{part}: neither a run directory (with run.json) nor a reports directory (with runs/)")
    if not found:
        raise ConfigError("nothing to merge: give run directories or reports directories")
    return found


def merge(parts: list[Path], into: Path, run_id: str) -> tuple[RunRecord, list[str]]:
    """Write the merged run to `into`/runs/`run_id`; its record and the results that could not be read."""
    target = into / "runs" / run_id
    if target.exists():
        raise ConfigError(f"{target}: run {run_id!r} exists already; give another --run-id")
    records: list[RunRecord] = []
    owner: dict[str, Path] = {}
    results: list[tuple[CellResult, Path]] = []
    unreadable: list[str] = []
    for run_dir in run_dirs(parts):
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
    for what, values in (("kinds", {r.kind for r in records}), ("matrix files", {r.matrix_digest for r in records})):
        if len(values) > 1:
            raise ConfigError(f"the parts are runs of different {what} ({', '.join(sorted(v[:12] for v in values))}): "
                              "merge the parts of one run")
    for result, run_dir in results:
        for relative in result.logs.values():
            copy_log(run_dir, target, relative)
        store(target, replace(result, run_id=run_id))
    finished = [record.finished for record in records]
    complete = all(finished) and not any(record.interrupted for record in records)
    merged = RunRecord(
        run_id, records[0].kind, records[0].matrix_digest,
        records[0].tool_version if len({r.tool_version for r in records}) == 1 else "mixed",
        min(record.started for record in records), max(f for f in finished if f) if complete else None,
        interrupted=not complete,
        reason=None if complete else "a part did not complete: " + ", ".join(
            record.run_id for record in records if record.interrupted or not record.finished),
        cells=sorted({cell for record in records for cell in record.cells}))
    write_run(target, merged)
    return merged, unreadable
