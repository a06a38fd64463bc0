"""Command line: validate, run, report. Expected failures end as one line and a documented exit code."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import errno
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import secrets
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, NoReturn

from compat import expected, history, schedule
from compat import matrix as matrix_module
from compat.analysis.crosscell import focus_packages
from compat.ci import logs as ci_logs
from compat.errors import (
    EXIT_BAD_INPUT,
    EXIT_CELL_FAILED,
    EXIT_ERRORS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STORAGE,
    EXIT_UNAVAILABLE,
    CompatError,
    ConfigError,
    EngineUnavailable,
)
from compat.findings import reproducible
from compat.matrix import Expectation, Matrix
from compat.outputs.context import ReportContext
from compat.outputs.write import write_reports
from compat.progress import Progress
from compat.reader import RunReader, latest_cells
from compat.report_text import cell_text
from compat.results import (
    ORDINARY,
    RUN_KINDS,
    CellResult,
    RunRecord,
    load_run,
    load_run_record,
    prune,
    run_records,
    store,
    write_atomic,
    write_run,
)
from compat.runner import Cell, plan
from compat.status import Status
from compat.summary import CellFacts, write_summary

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MATRIX = ROOT / "matrix.yaml"
DEFAULT_REPORTS = ROOT / "reports"
LATEST_TITLE = "the latest result of every cell"
FEED_RUNS = 30  # runs whose regressions and fixes the feed lists
KEPT_MAX_AGE = 7 * 86400  # seconds a volume `--keep-failed` kept stays before `clean` removes it


def exit_code(results: list[CellResult], known: tuple[Expectation, ...] = (), unreadable: list[str] | None = None
              ) -> int:
    """1 if any cell failed unexpectedly, else 6 if a result could not be read, else 4 if any toolchain was
    unavailable, else 0: never "every cell passed" when a result was not understood."""
    if any(r.status.failed and not expected.explained(known, r) for r in results):
        return EXIT_CELL_FAILED
    if unreadable:
        return EXIT_STORAGE
    if any(r.status is Status.UNAVAILABLE for r in results):
        return EXIT_UNAVAILABLE
    return EXIT_OK


def _names(given: list[str] | None, known: Mapping[str, object], default: list[str], what: str, file: Path) -> list[str]:
    names = []
    for item in given or []:
        names += [name for name in item.split(",") if name]
    if given is not None and not names:
        raise ConfigError(f"--{what} {' '.join(map(repr, given))} names no {what}; give one of: {', '.join(known)}")
    if names == [matrix_module.SELECT_ALL]:
        return list(known)
    for name in names:
        matrix_module.pick(known, name, what, file)
    return names or default


def cmd_validate(args: argparse.Namespace) -> int:
    m = matrix_module.load(args.matrix)
    for entry in expected.unmatched(m.expected, expected.matrix_cells(m)):
        print(f"ganeti-compat: {args.matrix}: warning: expected entry '{entry.cell}' matches no cell of the matrix",
              file=sys.stderr)
    print(f"{args.matrix}: ok: {len(m.toolchains)} toolchains, {len(m.sources)} sources, {len(m.flavors)} flavors, "
          f"{len(m.recipes)} recipes")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """The cells of the matrix, selected like `run` (by default: every source, not only the default ones)."""
    m = matrix_module.load(args.matrix)
    toolchains = _names(args.toolchain, m.toolchains, list(m.toolchains), "toolchain", args.matrix)
    source_names = _names(args.source, m.sources, list(m.sources), "source", args.matrix)
    flavors = _names(args.flavor, m.flavors, list(m.flavors), "flavor", args.matrix)
    cells = [cell for group in shard(plan(m, toolchains, source_names, flavors), args.shard) for cell in group]
    if args.json:
        print(json.dumps([{"toolchain": c.toolchain.name, "source": c.source.name, "flavor": c.flavor,
                           "tags": c.toolchain.tags + (["default"] if c.source.name in m.sources_of(c.toolchain.name)
                                                        else [])}
                          for c in cells], indent=2))
    else:
        for c in cells:
            print(f"{c.key}\t{c.toolchain.description}")
    return EXIT_OK


def shard_argument(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count) <= 1000):
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not I/N with 1 <= I <= N <= 1000 (e.g. 2/4)")
    return int(index), int(count)


def shard(groups: list[list[Cell]], which: tuple[int, int] | None) -> list[list[Cell]]:
    """Shard I of N: every Nth group from the Ith, in the order of the plan. A group (the flavors of one
    toolchain and source) is never split, since its further flavors relink the first one's tree; every
    machine given the same matrix and selection gets the same slice, and the N slices are the whole plan."""
    if which is None:
        return groups
    index, count = which
    return groups[index - 1::count]


def select(m: Matrix, toolchains: list[str], source_names: list[str] | None, flavors: list[str] | None, file: Path,
           say: Callable[[str], None], primary_only: bool = False) -> list[list[Cell]]:
    """The planned groups; a flavor a toolchain does not list is said, and no cell at all is bad input."""
    groups = plan(m, toolchains, source_names, flavors, primary_only)
    for name in toolchains:
        unlisted = [f for f in flavors or [] if f not in m.toolchains[name].flavors]
        if unlisted:
            say(f"{name} does not list flavor {', '.join(unlisted)} (its flavors: "
                f"{', '.join(m.toolchains[name].flavors)}): no such cell")
    if not groups:
        raise ConfigError(f"{file}: no cell selected: toolchain(s) {', '.join(toolchains)} list none of the flavor(s) "
                          f"{', '.join(flavors or [])}; pick one a toolchain lists")
    return groups


def run_kind(args: argparse.Namespace) -> str:
    """What a run is, for run.json: fault injection is never an ordinary run."""
    if args.probe_fault:
        return "fault-injection"
    return args.kind or ("session" if args.toolchain else "matrix")


def cmd_run(args: argparse.Namespace) -> int:
    from compat.engine import LABEL, Engine  # only the commands that need Docker import it
    from compat.images import ImageBuilder
    from compat.investigate import to_keep
    from compat.kept import SourceStore
    from compat.runner import CellRunner, EngineLost, ProbeSettings

    m: Matrix = matrix_module.load(args.matrix)
    mirrors = download_places(args.downloads)
    toolchains = _names(args.toolchain, m.toolchains, list(m.toolchains), "toolchain", args.matrix)
    # No --source: each toolchain's default sources; named toolchains (a nox session) build only the primary one.
    source_names = _names(args.source, m.sources, [], "source", args.matrix) or None
    flavors = _names(args.flavor, m.flavors, list(m.flavors), "flavor", args.matrix)
    say = Progress()
    groups = select(m, toolchains, source_names, flavors, args.matrix, say, primary_only=bool(args.toolchain))
    if args.shard:
        groups = shard(groups, args.shard)
        say(f"shard {args.shard[0]}/{args.shard[1]}: {len(groups)} group(s) of toolchain x source")
        if not groups:
            raise ConfigError(f"shard {args.shard[0]}/{args.shard[1]} holds no group: the selection has fewer groups "
                              "than shards")
    lock = lock_reports(args.reports)
    results: list[CellResult] = []
    if args.resume:
        run_id, run_dir = args.resume, args.reports / "runs" / args.resume
        record = load_run_record(run_dir)
        if record is None:
            raise ConfigError(f"{run_dir}: no run to resume there; give the id of a run under "
                              f"{args.reports}/runs/")
        # What finished stays; a cell the tool or the engine failed is run again.
        results = [r for r in load_run(run_dir) if not r.status.infrastructure]
        kept = {r.key for r in results}
        groups = [left for group in groups if (left := [cell for cell in group if cell.key not in kept])]
        record.finished, record.interrupted, record.reason = None, False, None
        say(f"resuming run {run_id}: {len(kept)} cell(s) kept, {sum(len(g) for g in groups)} to run")
    else:
        run_id = args.run_id or new_run_id()
        run_dir = args.reports / "runs" / run_id
        if run_dir.exists():
            raise ConfigError(f"{run_dir}: run {run_id!r} exists already; give another --run-id, or --resume it")
        record = RunRecord(run_id, run_kind(args), matrix_digest(args.matrix), tool_version(), now(),
                           cells=[cell.key for group in groups for cell in group])
    engine = Engine()
    if args.resume:
        engine.remove_labelled(f"{LABEL}.run", run_id)  # the containers and volumes of the attempt that stopped
    write_run(run_dir, record)
    say(f"run {run_id} ({record.kind}): {len(record.cells)} cell(s), results in {run_dir}")
    images = ImageBuilder(engine, args.reports / "cache", say, mirrors=mirrors)
    images.protected = to_keep(args.reports, m.retention)[0]  # baselines' images: kept for investigations
    cpus = engine.cpus()
    jobs = schedule.choose_jobs(args.jobs, cpus, engine.memory(), m.limits.memory_mib, len(groups), say)
    runner = CellRunner(engine, m, run_dir, say, images, keep=args.keep,
                        probe=ProbeSettings(args.probe_requests, args.probe_fault),
                        reuse=not args.fresh and record.kind in ORDINARY, cores=schedule.cores_per_group(cpus, jobs),
                        history=tuple(args.history or ()), keep_failed=args.keep_failed,
                        kept=SourceStore(args.reports / "cache" / "sources"))
    if jobs > 1:
        say(f"{jobs} groups at once, make -j{runner.jobs} each")

    def done(result: CellResult) -> None:
        store(run_dir, result)
        results.append(result)

    scheduled = schedule.Schedule(groups, lambda group: runner.run_group(group, done), runner.prepare_images, jobs)
    try:
        with terminate_as_interrupt():
            try:
                scheduled.run()
            finally:
                scheduled.stop()  # whatever ended the run, no group starts another step
                runner.stop()
    except Interrupted as stop:
        say(f"{stop.why}: removing this run's containers and volumes")
        engine.remove_labelled(f"{LABEL}.run", run_id)
        scheduled.wait_stopped()  # a group between two steps when told may have started one more
        engine.remove_labelled(f"{LABEL}.run", run_id)
        record.interrupted, record.finished, record.reason = True, now(), stop.why
        write_run(run_dir, record)
        lock.close()
        return stop.exit_code
    except EngineLost as lost:
        # Every finished cell is on disk; this run is incomplete and never "the previous run".
        record.interrupted, record.finished, record.reason = True, now(), str(lost)
        write_run(run_dir, record)
        lock.close()
        raise EngineUnavailable(f"{lost}; run {run_id} is incomplete: `python -m compat run --resume {run_id}` "
                                "once an engine answers") from None
    record.finished = now()
    write_run(run_dir, record)
    write_summary(run_dir)
    if summary := reuse_summary(results):
        say(summary)
    for path in write_matrix_reports(args.reports, m)[0]:
        say(f"wrote {path}")
    on_ci(args.reports, results, m)
    for r in sorted(results, key=lambda r: record.cells.index(r.key) if r.key in record.cells else len(record.cells)):
        print(f"{r.toolchain:8} {r.source:14} {cell_text(r)}" + (f" (relinked {r.compiled_by})" if r.compiled_by else ""))
    if record.kind == "fault-injection":
        say("a fault-injection run: its cells are shown in the report's fault-injection section, never in the grid")
    return exit_code(results, m.expected)


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


EXIT_TERMINATED = 143  # 128 + SIGTERM


class Interrupted(BaseException):
    """Like KeyboardInterrupt, not an Exception: a cell's `except Exception` must not swallow it."""

    def __init__(self, why: str, exit_code: int) -> None:
        super().__init__(why)
        self.why, self.exit_code = why, exit_code


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Ctrl-C and SIGTERM (systemd stopping the nightly, a CI cancel) both end the run cleanly."""
    def terminated(signum: int, frame: object) -> None:
        raise Interrupted("terminated", EXIT_TERMINATED)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("interrupted", EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def new_run_id() -> str:
    """UTC time to the second and a random suffix: two runs started in the same second never share an id
    (nor the label by which an interrupted run removes its containers)."""
    return f"{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def lock_reports(reports: Path) -> IO[str]:
    """One run at a time writes a reports directory (its cache, its reports); a second one is told so."""
    if reports.exists() and not reports.is_dir():
        raise ConfigError(f"{reports}: not a directory; give --reports a directory")
    try:
        reports.mkdir(parents=True, exist_ok=True)
        handle = (reports / ".lock").open("a+")
    except OSError as exc:
        raise ConfigError(f"{reports}: cannot write there ({exc.strerror}); give --reports a writable directory") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another run"
        handle.close()
        raise ConfigError(f"{reports}: {holder} is using it; wait for it to end, or give --reports another directory"
                          ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"run pid {os.getpid()} (started {now()})")
    handle.flush()
    return handle


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def matrix_digest(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def tool_version() -> str:
    try:
        return importlib.metadata.version("ganeti-compat")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


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


def cmd_nightly(args: argparse.Namespace) -> int:
    """The whole matrix as an ordinary run, every report, old runs pruned; non-zero only for regressions (1)
    or cells the tool or its surroundings failed (5)."""
    m = matrix_module.load(args.matrix)
    for name, value in (("toolchain", None), ("source", None), ("flavor", None), ("kind", "matrix"),
                        ("probe_fault", None), ("run_id", None), ("keep", False), ("resume", None), ("shard", None),
                        ("history", None)):
        setattr(args, name, value)
    args.run_id = new_run_id()
    code = cmd_run(args)
    if code in (EXIT_INTERRUPTED, EXIT_BAD_INPUT):
        return code
    return close_night(args.reports, m, args.run_id, lambda runs: investigate_night(runs, m, args))


def close_night(reports: Path, m: Matrix, run_id: str,
                investigate: Callable[[list[history.RunResults]], bool] | None = None) -> int:
    """The night's exit code (nightly_exit) after investigating its regressions (when given a way to), then
    retention: the last `retention:` complete ordinary runs and whatever is newer stay, and the source trees
    they name; the reports are written again when a run went or a result gained its investigation."""
    runs = history.complete_runs(reports, m.retention)
    investigated = investigate is not None and investigate(runs)
    if investigated:
        runs = history.complete_runs(reports, m.retention)  # the night's results now hold their investigations
    code = nightly_exit(runs, m, run_id)
    removed = prune(reports, m.retention)
    for run_dir in removed:
        print(f"ganeti-compat: pruned {run_dir} (retention: {m.retention} runs)", file=sys.stderr)
    prune_kept_sources(reports, m)
    if removed or investigated:
        write_matrix_reports(reports, m)  # the reports link only to runs that are still there
    return code


def investigate_night(runs: list[history.RunResults], m: Matrix, args: argparse.Namespace) -> bool:
    """Each regression of the night's run, within matrix.yaml's budget (investigate:); whether any was."""
    from compat.engine import Engine
    from compat.investigate import Investigator, locate_subject, within_budget

    if not runs or runs[-1].record.run_id != args.run_id:
        return False
    regressed = [change.key for change in history.nights(runs, m.expected)[-1].regressions]
    if not regressed:
        return False
    say = Progress()
    say(f"investigating {len(regressed)} regression(s): {', '.join(regressed)}")
    subjects = [locate_subject(args.reports, key, args.run_id, m.retention) for key in regressed]
    investigator = Investigator(Engine(), m, args.reports, say, matrix_digest=matrix_digest(args.matrix),
                                tool_version=tool_version(), jobs=args.jobs or 1)
    within_budget(investigator, subjects, m.investigate, say)
    return True


def prune_kept_sources(reports: Path, m: Matrix) -> None:
    """Keep the source trees the window's results name; remove the rest."""
    from compat.investigate import to_keep
    from compat.kept import SourceStore

    for path in SourceStore(reports / "cache" / "sources").prune(to_keep(reports, m.retention)[1]):
        print(f"ganeti-compat: removed the kept source tree {path.name} (no result of the window names it)",
              file=sys.stderr)


def nightly_exit(runs: list[history.RunResults], m: Matrix, run_id: str) -> int:
    """1 when a cell of the night's run regressed against its own baseline, else 5 when a cell of it is an
    error (or the run did not complete), else 0: a cell that was already failing does not fail the night."""
    if not runs or runs[-1].record.run_id != run_id:
        return EXIT_ERRORS
    # A regression its investigation found not reproducible (flaky) is no toolchain regression: said, not exit 1.
    night = runs[-1].cells
    if any(reproducible(night[change.key].investigation) for change in history.nights(runs, m.expected)[-1].regressions):
        return EXIT_CELL_FAILED
    return EXIT_ERRORS if any(cell.status.infrastructure for cell in runs[-1].cells.values()) else EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    """What killed runs left behind (stopped containers, unused volumes, partial downloads), and with
    --images the tool's images that no toolchain of the matrix uses."""
    from compat.engine import LABEL, Engine
    from compat.images import FETCH_TOOLCHAIN, unused_images
    from compat.investigate import to_keep
    from compat.kept import SourceStore

    m = matrix_module.load(args.matrix)
    engine = Engine()
    removed = engine.remove_leftovers(args.min_age, args.kept_max_age)
    for partial in (args.reports / "cache" / "downloads").glob("*.part"):
        partial.unlink()
        removed.append(f"partial download {partial}")
    kept_images, kept_digests = to_keep(args.reports, m.retention)
    for path in SourceStore(args.reports / "cache" / "sources").prune(kept_digests):
        removed.append(f"kept source tree {path.name}")
    if args.images:
        images = engine.images_labelled(f"{LABEL}=1")
        toolchains = set(m.toolchains) | {FETCH_TOOLCHAIN}
        suites = {t.suite for t in m.toolchains.values()} | {m.fetch_suite}
        for tag in unused_images(images, toolchains, suites):
            if tag in kept_images:
                continue  # a baseline's image, kept for investigations
            if engine.remove_image(tag):
                removed.append(f"image {tag}")
    for thing in removed:
        print(f"removed {thing}")
    print(f"ganeti-compat: removed {len(removed)} thing(s)", file=sys.stderr)
    return EXIT_OK


def feed(runs: list[history.RunResults], m: Matrix, last: int = FEED_RUNS) -> list[tuple[history.RunDiff, str]]:
    """The regressions and fixes of each of the last complete runs, each cell against its own baseline."""
    found = history.nights(runs, m.expected, last=min(last, len(runs) - 1)) if len(runs) >= 2 else []
    return [(changes, run.record.finished or run.record.started) for changes, run in zip(found, runs[-len(found):])]


def cmd_report(args: argparse.Namespace) -> int:
    m = matrix_module.load(args.matrix)
    paths, results, unreadable = write_matrix_reports(args.reports, m, args.run)
    for path in paths:
        print(f"wrote {path}")
    return exit_code(results, m.expected, unreadable)


def cmd_merge(args: argparse.Namespace) -> int:
    """Runs of separate processes or machines as one run of this reports directory, and its reports; with
    --expect, every cell a job did not deliver is its `error (runner)`; with --nightly, the night's exit code
    and retention."""
    from compat.ci.jobs import read_parts
    from compat.merge import merge

    m = matrix_module.load(args.matrix)
    expect = None
    if args.expect:
        try:
            expect = read_parts(args.expect)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{args.expect}: unreadable parts file ({exc}); write it with `python -m compat export`"
                              ) from None
        if expect.matrix_digest != matrix_digest(args.matrix):
            raise ConfigError(f"{args.expect}: exported from another {args.matrix.name} than this one; re-export the "
                              f"pipeline (python -m compat export --ci {expect.ci or 'gitlab'})")
    run_id = args.run_id or new_run_id()
    with lock_reports(args.reports):  # released also when a part is refused
        record, unreadable = merge(args.parts, args.reports, run_id, m, expect, matrix_digest(args.matrix),
                                   tool_version())
        print(f"merged {len(record.cells)} cell(s) of {len(args.parts)} part(s) into {args.reports / 'runs' / run_id}",
              file=sys.stderr)
        write_summary(args.reports / "runs" / run_id)
        paths, _, _ = write_matrix_reports(args.reports, m)
        for path in paths:
            print(f"wrote {path}", file=sys.stderr)
        results = load_run(args.reports / "runs" / run_id)
        on_ci(args.reports, results, m)
        if args.nightly:
            return close_night(args.reports, m, run_id)
        code = exit_code(results, m.expected, unreadable)
        if code == EXIT_OK and record.interrupted:
            print(f"ganeti-compat: run {run_id} is incomplete: {record.reason}", file=sys.stderr)
            code = EXIT_ERRORS
        return code


def cmd_export(args: argparse.Namespace) -> int:
    """The matrix (what `run` runs without a selection) as a CI pipeline file, and beside it the parts file:
    which job must deliver which cells."""
    from compat.ci.jobs import Options
    from compat.export import default_output, export

    if args.ci != "gitlab" and (args.gitlab_engine or args.gitlab_tag or args.image):
        raise ConfigError("--image, --gitlab-engine and --gitlab-tag are for --ci gitlab; a GitHub job runs on its "
                          "runner's own engine")
    m = matrix_module.load(args.matrix)
    groups = plan(m, list(m.toolchains), None)
    output = args.output or default_output(args.ci, args.matrix.resolve().parent)
    options = Options(image=args.image, engine=args.gitlab_engine or "dind", tags=tuple(args.gitlab_tag or ()))
    for path, text in export(args.ci, m, matrix_digest(args.matrix), groups, output, options).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
        print(f"wrote {path}", file=sys.stderr)
    print(f"ganeti-compat: {len(groups)} job(s) of toolchain x source, then the merged report", file=sys.stderr)
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    """Without OLD: each cell of the newest (or the NEW) complete run against its own baseline; with OLD: two
    named runs, cell by cell."""
    m = matrix_module.load(args.matrix)
    unreadable: list[str] = []
    records = history.complete_records(args.reports, unreadable=unreadable)
    ids = [record.run_id for record, _ in records]
    for name in (args.old, args.new):
        if name and name not in ids:
            raise ConfigError(f"{args.reports}/runs/{name}: no complete matrix or session run of that id; the newest "
                              f"complete runs: {', '.join(ids[-10:]) or 'none'}")
    if not records:
        raise CompatError(f"{args.reports}/runs: no complete matrix or session run to compare")
    upto = ids.index(args.new) + 1 if args.new else len(ids)
    reader = RunReader(unreadable)
    if args.old:
        old, new = (history.read_results(*records[ids.index(name)], reader) for name in (args.old, ids[upto - 1]))
        found = history.diff(old, new, history.junit_states, m.expected)
    else:  # the window that ends with NEW: what the report would read
        window = [history.read_results(*item, reader) for item in records[max(0, upto - m.retention):upto]]
        found = history.nights(window, m.expected, history.junit_states)[-1]
    print("\n".join(history.render(found)))
    say_unreadable(unreadable)  # never "nothing changed" about a cell that could not be read
    if found.regressed:
        return EXIT_CELL_FAILED
    return EXIT_STORAGE if unreadable else EXIT_OK


def cmd_investigate(args: argparse.Namespace) -> int:
    """Investigate one regressed cell now: rerun, then swap what changed; the finding is written into its result."""
    from compat.engine import Engine
    from compat.investigate import Investigator, locate_subject

    m = matrix_module.load(args.matrix)
    subject = locate_subject(args.reports, args.cell, args.run, m.retention)
    lock = lock_reports(args.reports)
    investigator = Investigator(Engine(), m, args.reports, Progress(), matrix_digest=matrix_digest(args.matrix),
                                tool_version=tool_version(), jobs=args.jobs or 1)
    found = investigator.investigate(subject)
    write_matrix_reports(args.reports, m)
    lock.close()
    print(f"{subject.tonight.key} (run {subject.tonight.run_id}, against run {subject.baseline.run_id}): {found['says']}")
    for line in found["evidence"]:
        print(f"  {line}")
    return EXIT_OK


def cmd_repro(args: argparse.Namespace) -> int:
    """A shell script that reproduces a cell with docker alone (no Docker needed to write it)."""
    from compat.kept import SourceStore
    from compat.repro import locate, script

    m = matrix_module.load(args.matrix)
    found = locate(args.reports, args.cell, args.run)
    command = " ".join(["python -m compat repro", args.cell, *(["--run", args.run] if args.run else [])])
    sys.stdout.write(script(found, m, SourceStore(args.reports / "cache" / "sources"), command, args.embed_source))
    return EXIT_OK


CELL_KEY = r"(?=.{1,200}$)[a-z0-9._]+(?:-[a-z0-9._]+)*(?:--[a-z0-9._]+(?:-[a-z0-9._]+)*){2}"
STORAGE_ERRORS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES)
PATH_ERRORS = (errno.EISDIR, errno.ENOTDIR, errno.EEXIST)


def cmd_shell(args: argparse.Namespace) -> int:
    """A shell in a container of the cell's exact image where its failing command failed; the shell's exit code."""
    from compat.engine import Engine
    from compat.kept import SourceStore
    from compat.repro import locate
    from compat.shell import open_shell

    m = matrix_module.load(args.matrix)
    found = locate(args.reports, args.cell, args.run)
    return open_shell(Engine(), found, m, SourceStore(args.reports / "cache" / "sources"), Progress())


def cell_argument(text: str) -> str:
    if not re.fullmatch(CELL_KEY, text):
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a cell (TOOLCHAIN--SOURCE--FLAVOR, as `list` names them)")
    return text


def run_id_argument(text: str) -> str:
    if not re.fullmatch(matrix_module.RUN_ID, text):
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a plain name ({matrix_module.RUN_ID})")
    return text


DOWNLOADS_HELP = ("a directory, or an http(s) URL, holding bindist toolchains' files under their upstream names: "
                  "asked before upstream, every file verified against its pin; repeatable (default: $COMPAT_DOWNLOADS, "
                  "space-separated)")


def download_places(given: list[str] | None) -> tuple[str, ...]:
    """--downloads, else COMPAT_DOWNLOADS: directories must exist, so that a typo is not taken for a missing file."""
    places = given if given is not None else os.environ.get("COMPAT_DOWNLOADS", "").split()
    for place in places:
        if not place.startswith(("http://", "https://")) and not Path(place).is_dir():
            origin = "--downloads" if given is not None else "COMPAT_DOWNLOADS"
            raise ConfigError(f"{origin} {place}: not a directory; give a directory or an http(s) URL of the "
                              "toolchains' downloads")
    return tuple(places)


KEEP_FAILED_HELP = ("keep the volume of each cell that fails, as it was, for `python -m compat shell CELL --run ID` "
                    "(`clean` removes kept volumes older than --kept-max-age)")
JOBS_HELP = ("groups of toolchain x source at once, each with its share of the cores (default: one per two cores, "
             "as the engine's memory allows: limits.memory_mib each, at least 2 GiB)")


def jobs_argument(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number of groups from 1 to 64")
    return int(text)


def probe_requests(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number of requests from 1 to 1000")
    return int(text)


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes end as one line and exit 2, like every other expected failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"ganeti-compat: {self.prog}: {message}; see --help\n")


def parser() -> argparse.ArgumentParser:
    top = OneLineParser(prog="python -m compat", description="GHC toolchain compatibility matrix for Ganeti")
    top.add_argument("--matrix", type=Path, default=DEFAULT_MATRIX, help="matrix file (default: %(default)s)")
    top.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, help="output directory (default: %(default)s)")
    sub = top.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="check a matrix file and exit 2 on the first problem")
    validate.add_argument("file", nargs="?", type=Path, help="matrix file (default: --matrix)")
    validate.set_defaults(func=cmd_validate)
    listing = sub.add_parser("list", help="list the cells of the matrix, selected like run")
    for name in ("toolchain", "source", "flavor"):
        listing.add_argument(f"--{name}", action="append", help=f"{name} name(s), repeatable or comma-separated")
    listing.add_argument("--json", action="store_true", help="a JSON array of {toolchain, source, flavor, tags}")
    listing.add_argument("--shard", type=shard_argument, metavar="I/N", help="only shard I of N, as `run --shard`")
    listing.set_defaults(func=cmd_list)
    run = sub.add_parser("run", help="run cells and write their results and the report")
    run.add_argument("--toolchain", action="append", help="toolchain name(s), repeatable or comma-separated (default: all)")
    run.add_argument("--source", action="append", help="source name(s) or 'all' (default: with --toolchain the first of the matrix's "
                     "default_sources, else all of them)")
    run.add_argument("--flavor", action="append", help="SSL flavor(s) (default: every flavor of each toolchain)")
    run.add_argument("--resume", type=run_id_argument, metavar="RUN_ID",
                     help="go on with an incomplete run: its finished cells are kept, the rest (and its errors) run")
    run.add_argument("--run-id", type=run_id_argument, help="name of the run directory (default: UTC time and a random suffix)")
    run.add_argument("--probe-requests", type=probe_requests, default=20,
                     help="HTTPS requests per probe run, 1 to 1000 (default: %(default)s)")
    run.add_argument("--probe-fault", choices=["hostile-gmp"],
                     help="fault injection: also run the probe with a GMP allocator hook whose memory faults")
    run.add_argument("--keep", action="store_true", help="keep each cell's build volume for debugging")
    run.add_argument("--keep-failed", action="store_true", help=KEEP_FAILED_HELP)
    run.add_argument("--shard", type=shard_argument, metavar="I/N",
                     help="only every Nth group of toolchain x source from the Ith: one of N machines' share")
    run.add_argument("--fresh", action="store_true",
                     help="run every cell, even one whose inputs are those of an earlier complete run's result")
    run.add_argument("--history", type=Path, action="append", metavar="DIR",
                     help="another reports directory whose complete runs may give unchanged cells (a CI job's copy of "
                     "the pipeline's history); repeatable")
    run.add_argument("--jobs", type=jobs_argument, metavar="N", help=JOBS_HELP)
    run.add_argument("--downloads", action="append", metavar="DIR|URL", help=DOWNLOADS_HELP)
    run.add_argument("--kind", choices=[k for k in RUN_KINDS if k != "fault-injection"],
                     help="what the run is, recorded in run.json (default: session with --toolchain, else matrix; "
                     "--probe-fault makes it fault-injection); only matrix and session runs make the matrix report")
    run.set_defaults(func=cmd_run)
    clean = sub.add_parser("clean", help="remove what killed runs left behind (--images: also images no toolchain uses)")
    clean.add_argument("--images", action="store_true", help="also the tool's images no toolchain of the matrix uses")
    clean.add_argument("--min-age", type=float, default=600,
                       help="leave stopped containers younger than this many seconds (a live run's) (default: %(default)s)")
    clean.add_argument("--kept-max-age", type=float, default=KEPT_MAX_AGE,
                       help="remove volumes --keep-failed kept once older than this many seconds (default: "
                       "%(default)s, a week)")
    clean.set_defaults(func=cmd_clean)
    nightly = sub.add_parser("nightly", help="the whole matrix, every report, old runs pruned; exit 1 on regressions, "
                             "5 on errors")
    nightly.add_argument("--probe-requests", type=probe_requests, default=20, help="HTTPS requests per probe run")
    nightly.add_argument("--fresh", action="store_true", help="run every cell, even an unchanged one")
    nightly.add_argument("--keep-failed", action="store_true", help=KEEP_FAILED_HELP)
    nightly.add_argument("--jobs", type=jobs_argument, metavar="N", help=JOBS_HELP)
    nightly.add_argument("--downloads", action="append", metavar="DIR|URL", help=DOWNLOADS_HELP)
    nightly.set_defaults(func=cmd_nightly)
    merging = sub.add_parser("merge", help="combine runs of separate processes or machines into one run of --reports, "
                             "and write its reports")
    merging.add_argument("parts", nargs="+", type=Path, metavar="DIR",
                         help="a run directory (reports/runs/ID) or a reports directory (every run under it)")
    merging.add_argument("--run-id", type=run_id_argument, help="the merged run's id (default: UTC time and a suffix)")
    merging.add_argument("--expect", type=Path, metavar="FILE",
                         help="the parts file `export` wrote: every cell no part holds is its job's error (runner), and "
                         "a missing DIR is a part that never arrived")
    merging.add_argument("--nightly", action="store_true",
                         help="judge the merged run as the nightly does: exit 1 when a cell regressed against its own "
                         "baseline, else 5 for errors; keep the last `retention:` runs")
    merging.set_defaults(func=cmd_merge)
    exporting = sub.add_parser("export", help="the matrix as a CI pipeline: one job per toolchain x source, then a "
                               "merged report; and the parts file (which job delivers which cells)")
    exporting.add_argument("--ci", choices=["gitlab", "github"], required=True)
    exporting.add_argument("--output", type=Path, help="default: .gitlab-ci.yml or .github/workflows/ganeti-compat.yml "
                           "in the directory of --matrix; the parts file goes beside it (NAME.parts.json)")
    exporting.add_argument("--gitlab-engine", choices=["dind", "socket"],
                           help="the jobs' Docker engine: a docker:dind service (privileged runner; the default) or the "
                           "runner host's engine through /var/run/docker.sock")
    exporting.add_argument("--gitlab-tag", action="append", metavar="TAG", help="a runner tag every job carries; "
                           "repeatable")
    exporting.add_argument("--image", help="the GitLab jobs' image (default debian:trixie); one that holds a venv in "
                           "/opt/ganeti-compat skips the jobs' apt-get")
    exporting.set_defaults(func=cmd_export)
    diff = sub.add_parser("diff", help="what changed: each cell of the newest complete run against its own last "
                          "meaningful result, or two named runs cell by cell; exit 1 on regressions")
    diff.add_argument("old", nargs="?", help="the earlier run id (default: each cell's own baseline)")
    diff.add_argument("new", nargs="?", help="the later run id (default: the newest complete run)")
    diff.set_defaults(func=cmd_diff)
    investigating = sub.add_parser("investigate", help="run a regressed cell again, then with its baseline's image or "
                                   "source: toolchain, source, both, only together, not reproducible or cannot tell")
    investigating.add_argument("cell", type=cell_argument, help="TOOLCHAIN--SOURCE--FLAVOR")
    investigating.add_argument("--run", type=run_id_argument, help="the run whose regression to investigate (default: "
                               "the newest complete matrix or session run that ran the cell)")
    investigating.add_argument("--jobs", type=jobs_argument, metavar="N", help="jobs at once (default: 1)")
    investigating.set_defaults(func=cmd_investigate)
    repro = sub.add_parser("repro", help="print a shell script that reproduces a cell with docker alone, for a bug "
                           "report")
    repro.add_argument("cell", type=cell_argument, help="TOOLCHAIN--SOURCE--FLAVOR")
    repro.add_argument("--run", type=run_id_argument, help="the run whose result to reproduce (default: the newest "
                       "matrix or session run that ran the cell)")
    repro.add_argument("--embed-source", action="store_true", help="embed the kept source tree even when it could be "
                       "fetched (a path source's always is)")
    repro.set_defaults(func=cmd_repro)
    shell = sub.add_parser("shell", help="a shell in a container of a cell's exact image, its steps replayed up to the "
                           "command that failed (or the volume run --keep-failed kept)")
    shell.add_argument("cell", type=cell_argument, help="TOOLCHAIN--SOURCE--FLAVOR")
    shell.add_argument("--run", type=run_id_argument, help="the run whose result to open (default: the newest matrix or "
                       "session run that ran the cell)")
    shell.set_defaults(func=cmd_shell)
    report = sub.add_parser("report", help="write reports/latest.{md,json}: the newest result of every cell")
    report.add_argument("--run", help="only this run's cells")
    report.set_defaults(func=cmd_report)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "file", None):
        args.matrix = args.file
    try:
        return int(args.func(args))
    except CompatError as exc:
        print(f"ganeti-compat: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ganeti-compat: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`... | head`): nothing more to say, and nothing left to flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        if exc.errno in PATH_ERRORS:
            # A directory where a file goes (latest.html, --output), or a file where a directory goes.
            # os.replace names the temporary file first, and the file that is in the way second.
            print(f"ganeti-compat: cannot write {exc.filename2 or exc.filename or 'a report'}: {exc.strerror}; remove "
                  "what is in the way or give another path", file=sys.stderr)
            return EXIT_BAD_INPUT
        if exc.errno not in STORAGE_ERRORS:
            raise
        # A full or read-only disk: earlier reports are intact (every file is written atomically).
        print(f"ganeti-compat: cannot write {exc.filename or 'to reports'}: {exc.strerror}; free space or give "
              "--reports another directory", file=sys.stderr)
        return EXIT_STORAGE
