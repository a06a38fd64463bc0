"""`merge`: runs of separate processes or machines as one run of this reports directory: the parts file
read, the parts merged under the lock, the reports written, the exit code reduced (the nightly's with
--nightly)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from compat import matrix as matrix_module
from compat.commands.found import cells_found
from compat.commands.lock import lock_reports
from compat.commands.nightly import close_night
from compat.commands.record import matrix_digest, new_run_id, tool_version
from compat.commands.reports import write_matrix_reports
from compat.commands.run import on_ci
from compat.errors import ConfigError
from compat.exits import EXIT_ERRORS, reduce
from compat.matrix import Matrix
from compat.results import CellResult, load_run
from compat.summary import write_summary

if TYPE_CHECKING:
    from compat.ci.jobs import Plan


def cmd_merge(args: argparse.Namespace) -> int:
    """Runs of separate processes or machines as one run of this reports directory, and its reports; with
    --expect, every cell a job did not deliver is its `error (runner)`; with --nightly, the night's exit code
    and retention."""
    from compat.merge import merge

    m = matrix_module.load(args.matrix)
    expect = expected_parts(args) if args.expect else None
    run_id = args.run_id or new_run_id()
    with lock_reports(args.reports):  # released also when a part is refused
        record, unreadable = merge(args.parts, args.reports, run_id, m, expect, matrix_digest(args.matrix),
                                   tool_version())
        print(f"merged {len(record.cells)} cell(s) of {len(args.parts)} part(s) into {args.reports / 'runs' / run_id}",
              file=sys.stderr)
        results = write_merged_reports(args, m, run_id)
        if args.nightly:
            return close_night(args.reports, m, run_id)
        code = reduce(replace(cells_found(results, m.expected, unreadable), errors=record.interrupted))
        if code == EXIT_ERRORS:
            print(f"ganeti-compat: run {run_id} is incomplete: {record.reason}", file=sys.stderr)
        return code


def expected_parts(args: argparse.Namespace) -> Plan:
    """The parts file `export` wrote beside the pipeline, refused when it is of another matrix file."""
    from compat.ci.jobs import read_parts

    try:
        expect = read_parts(args.expect)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{args.expect}: unreadable parts file ({exc}); write it with `python -m compat export`"
                          ) from None
    if expect.matrix_digest != matrix_digest(args.matrix):
        raise ConfigError(f"{args.expect}: exported from another {args.matrix.name} than this one; re-export the "
                          f"pipeline (python -m compat export --ci {expect.ci or 'gitlab'})")
    return expect


def write_merged_reports(args: argparse.Namespace, m: Matrix, run_id: str) -> list[CellResult]:
    """The merged run's summary, the matrix's reports, and the CI's annotations of its cells; those cells."""
    write_summary(args.reports / "runs" / run_id)
    paths, _, _ = write_matrix_reports(args.reports, m)
    for path in paths:
        print(f"wrote {path}", file=sys.stderr)
    results = load_run(args.reports / "runs" / run_id)
    on_ci(args.reports, results, m)
    return results
