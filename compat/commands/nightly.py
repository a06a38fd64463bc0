"""`nightly`: the whole matrix as an ordinary run, then the night closed: its regressions investigated,
its exit code reduced, old runs and source trees pruned, the reports written again."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from compat import history
from compat import matrix as matrix_module
from compat.commands.found import nightly_exit
from compat.commands.record import matrix_digest, new_run_id, tool_version
from compat.commands.reports import write_matrix_reports
from compat.commands.run import cmd_run
from compat.exits import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from compat.matrix import Matrix
from compat.progress import Progress
from compat.results import prune

NIGHT = (("toolchain", None), ("source", None), ("flavor", None), ("kind", "matrix"), ("probe_fault", None),
         ("run_id", None), ("keep", False), ("resume", None), ("shard", None), ("history", None))


def cmd_nightly(args: argparse.Namespace) -> int:
    """The whole matrix as an ordinary run, every report, old runs pruned; non-zero only for regressions (1)
    or cells the tool or its surroundings failed (5)."""
    m = matrix_module.load(args.matrix)
    for name, value in NIGHT:
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

