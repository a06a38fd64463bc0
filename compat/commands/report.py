"""`report` and `diff`: what the runs under a reports directory say, without running anything."""

from __future__ import annotations

import argparse

from compat import history
from compat import matrix as matrix_module
from compat.commands.found import exit_code
from compat.commands.reports import say_unreadable, write_matrix_reports
from compat.errors import CompatError, ConfigError
from compat.exits import Found, reduce
from compat.matrix import Matrix
from compat.reader import RunReader


def cmd_report(args: argparse.Namespace) -> int:
    m = matrix_module.load(args.matrix)
    paths, results, unreadable = write_matrix_reports(args.reports, m, args.run)
    for path in paths:
        print(f"wrote {path}")
    return exit_code(results, m.expected, unreadable)


def cmd_diff(args: argparse.Namespace) -> int:
    """Without OLD: each cell of the newest (or the NEW) complete run against its own baseline; with OLD: two
    named runs, cell by cell."""
    m = matrix_module.load(args.matrix)
    unreadable: list[str] = []
    found = compared(args, m, unreadable)
    print("\n".join(history.render(found)))
    say_unreadable(unreadable)  # never "nothing changed" about a cell that could not be read
    return reduce(Found(failed=found.regressed, unreadable=bool(unreadable)))


def compared(args: argparse.Namespace, m: Matrix, unreadable: list[str]) -> history.RunDiff:
    """The runs named (or the window that ends with NEW) read and compared; what could not be read is added
    to `unreadable`."""
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
        return history.diff(old, new, history.junit_states, m.expected)
    # the window that ends with NEW: what the report would read
    window = [history.read_results(*item, reader) for item in records[max(0, upto - m.retention):upto]]
    return history.nights(window, m.expected, history.junit_states)[-1]
