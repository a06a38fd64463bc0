"""`run`: select the cells, lock the reports and record the run, schedule its groups, finalize the record,
write the reports, reduce to an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compat import expected, history, schedule
from compat import matrix as matrix_module
from compat.ci import logs as ci_logs
from compat.commands.arguments import download_places
from compat.commands.found import exit_code
from compat.commands.lock import lock_reports
from compat.commands.record import matrix_digest, new_run_id, now, tool_version
from compat.commands.reports import write_matrix_reports
from compat.commands.selection import names, select, shard
from compat.commands.signals import Interrupted, terminate_as_interrupt
from compat.errors import ConfigError, EngineUnavailable
from compat.matrix import Matrix
from compat.progress import Progress
from compat.report_text import cell_text
from compat.results import ORDINARY, CellResult, RunRecord, load_run, load_run_record, store, write_run
from compat.runner import Cell
from compat.status import Status
from compat.summary import write_summary

if TYPE_CHECKING:
    from compat.engine import Engine


@dataclass
class Run:
    """A run as recorded: its directory, its record, the groups left to run and the results it holds."""

    run_id: str
    run_dir: Path
    record: RunRecord
    groups: list[list[Cell]]
    results: list[CellResult]


def cmd_run(args: argparse.Namespace) -> int:
    from compat.engine import Engine  # only the commands that need Docker import it

    m: Matrix = matrix_module.load(args.matrix)
    mirrors = download_places(args.downloads)
    say = Progress()
    groups = selected_groups(args, m, say)
    with lock_reports(args.reports):
        run = resumed(args, groups, say) if args.resume else recorded(args, groups)
        engine = Engine()
        start(engine, run, bool(args.resume), say)
        stopped = scheduled(args, m, engine, run, mirrors, say)
        if stopped is not None:
            return stopped
        finalize(run, say)
        write_run_reports(args.reports, m, run, say)
        return exit_code(run.results, m.expected)


def selected_groups(args: argparse.Namespace, m: Matrix, say: Progress) -> list[list[Cell]]:
    """The groups of toolchain x source to run, of this shard when given one."""
    toolchains = names(args.toolchain, m.toolchains, list(m.toolchains), "toolchain", args.matrix)
    # No --source: each toolchain's default sources; named toolchains (a nox session) build only the primary one.
    source_names = names(args.source, m.sources, [], "source", args.matrix) or None
    flavors = names(args.flavor, m.flavors, list(m.flavors), "flavor", args.matrix)
    groups = select(m, toolchains, source_names, flavors, args.matrix, say, primary_only=bool(args.toolchain))
    if args.shard:
        groups = shard(groups, args.shard)
        say(f"shard {args.shard[0]}/{args.shard[1]}: {len(groups)} group(s) of toolchain x source")
        if not groups:
            raise ConfigError(f"shard {args.shard[0]}/{args.shard[1]} holds no group: the selection has fewer groups "
                              "than shards")
    return groups


def run_kind(args: argparse.Namespace) -> str:
    """What a run is, for run.json: fault injection is never an ordinary run."""
    if args.probe_fault:
        return "fault-injection"
    return args.kind or ("session" if args.toolchain else "matrix")


def recorded(args: argparse.Namespace, groups: list[list[Cell]]) -> Run:
    """A new run's record, not yet written."""
    run_id = args.run_id or new_run_id()
    run_dir = args.reports / "runs" / run_id
    if run_dir.exists():
        raise ConfigError(f"{run_dir}: run {run_id!r} exists already; give another --run-id, or --resume it")
    record = RunRecord(run_id, run_kind(args), matrix_digest(args.matrix), tool_version(), now(),
                       cells=[cell.key for group in groups for cell in group])
    return Run(run_id, run_dir, record, groups, [])


def resumed(args: argparse.Namespace, groups: list[list[Cell]], say: Progress) -> Run:
    """An incomplete run gone on with: what finished stays; a cell the tool or the engine failed runs again."""
    run_id, run_dir = args.resume, args.reports / "runs" / args.resume
    record = load_run_record(run_dir)
    if record is None:
        raise ConfigError(f"{run_dir}: no run to resume there; give the id of a run under "
                          f"{args.reports}/runs/")
    results = [r for r in load_run(run_dir) if not r.status.infrastructure]
    kept = {r.key for r in results}
    groups = [left for group in groups if (left := [cell for cell in group if cell.key not in kept])]
    record.finished, record.interrupted, record.reason = None, False, None
    say(f"resuming run {run_id}: {len(kept)} cell(s) kept, {sum(len(g) for g in groups)} to run")
    return Run(run_id, run_dir, record, groups, results)


def start(engine: Engine, run: Run, resuming: bool, say: Progress) -> None:
    """run.json written; a resumed run's containers and volumes of the attempt that stopped removed first."""
    from compat.engine import LABEL

    if resuming:
        engine.remove_labelled(f"{LABEL}.run", run.run_id)
    write_run(run.run_dir, run.record)
    say(f"run {run.run_id} ({run.record.kind}): {len(run.record.cells)} cell(s), results in {run.run_dir}")


def scheduled(args: argparse.Namespace, m: Matrix, engine: Engine, run: Run, mirrors: tuple[str, ...],
              say: Progress) -> int | None:
    """The groups run, each result stored as it comes; the exit code of an interrupted run, else None."""
    from compat.engine import LABEL
    from compat.images import ImageBuilder
    from compat.investigate import to_keep
    from compat.kept import SourceStore
    from compat.runner import CellRunner, EngineLost, ProbeSettings

    images = ImageBuilder(engine, args.reports / "cache", say, mirrors=mirrors)
    images.protected = to_keep(args.reports, m.retention)[0]  # baselines' images: kept for investigations
    cpus = engine.cpus()
    jobs = schedule.choose_jobs(args.jobs, cpus, engine.memory(), m.limits.memory_mib, len(run.groups), say)
    runner = CellRunner(engine, m, run.run_dir, say, images, keep=args.keep,
                        probe=ProbeSettings(args.probe_requests, args.probe_fault),
                        reuse=not args.fresh and run.record.kind in ORDINARY, cores=schedule.cores_per_group(cpus, jobs),
                        history=tuple(args.history or ()), keep_failed=args.keep_failed,
                        kept=SourceStore(args.reports / "cache" / "sources"))
    if jobs > 1:
        say(f"{jobs} groups at once, make -j{runner.jobs} each")

    def done(result: CellResult) -> None:
        store(run.run_dir, result)
        run.results.append(result)

    groups = schedule.Schedule(run.groups, lambda group: runner.run_group(group, done), runner.prepare_images, jobs)
    try:
        with terminate_as_interrupt():
            try:
                groups.run()
            finally:
                groups.stop()  # whatever ended the run, no group starts another step
                runner.stop()
    except Interrupted as stop:
        say(f"{stop.why}: removing this run's containers and volumes")
        engine.remove_labelled(f"{LABEL}.run", run.run_id)
        groups.wait_stopped()  # a group between two steps when told may have started one more
        engine.remove_labelled(f"{LABEL}.run", run.run_id)
        stopped(run, stop.why)
        return stop.exit_code
    except EngineLost as lost:
        # Every finished cell is on disk; this run is incomplete and never "the previous run".
        stopped(run, str(lost))
        raise EngineUnavailable(f"{lost}; run {run.run_id} is incomplete: `python -m compat run --resume "
                                f"{run.run_id}` once an engine answers") from None
    return None


def stopped(run: Run, why: str) -> None:
    run.record.interrupted, run.record.finished, run.record.reason = True, now(), why
    write_run(run.run_dir, run.record)


def finalize(run: Run, say: Progress) -> None:
    """The record finished, the run's summary written, what was reused said."""
    run.record.finished = now()
    write_run(run.run_dir, run.record)
    write_summary(run.run_dir)
    if summary := reuse_summary(run.results):
        say(summary)


def write_run_reports(reports: Path, m: Matrix, run: Run, say: Progress) -> None:
    """The matrix's reports, the CI's annotations, and one line per cell in the order of the plan."""
    for path in write_matrix_reports(reports, m)[0]:
        say(f"wrote {path}")
    on_ci(reports, run.results, m)
    cells = run.record.cells
    for r in sorted(run.results, key=lambda r: cells.index(r.key) if r.key in cells else len(cells)):
        print(f"{r.toolchain:8} {r.source:14} {cell_text(r)}" + (f" (relinked {r.compiled_by})" if r.compiled_by else ""))
    if run.record.kind == "fault-injection":
        say("a fault-injection run: its cells are shown in the report's fault-injection section, never in the grid")


def on_ci(reports: Path, results: list[CellResult], m: Matrix) -> None:
    """As a CI job: an error annotation for each cell that failed unexpectedly, and the report's head (what
    changed, the grid) on the job's summary page. Elsewhere nothing."""
    ci = ci_logs.detect(os.environ)
    if ci is None:
        return
    for r in results:
        if r.status.failed and not expected.explained(m.expected, r):
            ci_logs.annotate(ci, sys.stdout, f"{r.key}: {history.status_text(r)}",
                             r.evidence[0] if r.evidence else "no evidence recorded")
    if (reports / "summary.md").is_file():
        ci_logs.summary(ci, os.environ, (reports / "summary.md").read_text())


def reuse_summary(results: list[CellResult]) -> str | None:
    """How many cells an earlier run gave; None when none did."""
    reused = sum(1 for r in results if r.reused_from)
    if not reused:
        return None
    said = "every cell was" if reused == len(results) else f"{reused} of {len(results)} cells were"
    # Unavailable cells are never taken from an earlier night: whether a toolchain can be had is tonight's fact.
    unavailable = sum(1 for r in results if not r.reused_from and r.status is Status.UNAVAILABLE)
    rest = f"; the other {unavailable} are unavailable, asked again" if reused + unavailable == len(results) > reused else ""
    return f"{said} unchanged since an earlier run and reused (`--fresh` runs them again){rest}"
