"""Command line: the parser and the dispatch to compat.commands. Expected failures end as one line and a
documented exit code (compat.exits)."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import NoReturn

from compat.commands.arguments import (
    DOWNLOADS_HELP,
    JOBS_HELP,
    KEEP_FAILED_HELP,
    cell_argument,
    jobs_argument,
    probe_requests,
    run_id_argument,
    shard_argument,
)
from compat.commands.export import cmd_export
from compat.commands.investigate import cmd_investigate, cmd_repro, cmd_shell
from compat.commands.merge import cmd_merge
from compat.commands.nightly import cmd_nightly
from compat.commands.report import cmd_diff, cmd_report
from compat.commands.run import cmd_run
from compat.commands.upkeep import KEPT_MAX_AGE, cmd_clean, cmd_list, cmd_validate
from compat.errors import CompatError
from compat.exits import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_STORAGE
from compat.results import RUN_KINDS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MATRIX = ROOT / "matrix.yaml"
DEFAULT_REPORTS = ROOT / "reports"
STORAGE_ERRORS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES)
PATH_ERRORS = (errno.EISDIR, errno.ENOTDIR, errno.EEXIST)


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
