"""`investigate`, `repro` and `shell`: one cell looked at again, after a run: why it regressed, a script
that reproduces it, a shell where it failed."""

from __future__ import annotations

import argparse
import sys

from compat import matrix as matrix_module
from compat.commands.lock import lock_reports
from compat.commands.record import matrix_digest, tool_version
from compat.commands.reports import write_matrix_reports
from compat.exits import EXIT_OK
from compat.progress import Progress


def cmd_investigate(args: argparse.Namespace) -> int:
    """Investigate one regressed cell now: rerun, then swap what changed; the finding is written into its result."""
    from compat.engine import Engine
    from compat.investigate import Investigator, locate_subject

    m = matrix_module.load(args.matrix)
    subject = locate_subject(args.reports, args.cell, args.run, m.retention)
    with lock_reports(args.reports):
        investigator = Investigator(Engine(), m, args.reports, Progress(), matrix_digest=matrix_digest(args.matrix),
                                    tool_version=tool_version(), jobs=args.jobs or 1)
        found = investigator.investigate(subject)
        write_matrix_reports(args.reports, m)
    print(f"{subject.tonight.key} (run {subject.tonight.run_id}, against run {subject.baseline.run_id}): {found.says}")
    for line in found.evidence:
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


def cmd_shell(args: argparse.Namespace) -> int:
    """A shell in a container of the cell's exact image where its failing command failed; the shell's exit code."""
    from compat.engine import Engine
    from compat.kept import SourceStore
    from compat.repro import locate
    from compat.shell import open_shell

    m = matrix_module.load(args.matrix)
    found = locate(args.reports, args.cell, args.run)
    return open_shell(Engine(), found, m, SourceStore(args.reports / "cache" / "sources"), Progress())
