"""`export`: the matrix as a CI pipeline file and, beside it, the parts file (which job delivers which cells)."""

from __future__ import annotations

import argparse
import sys

from compat import matrix as matrix_module
from compat.commands.record import matrix_digest
from compat.errors import ConfigError
from compat.exits import EXIT_OK
from compat.results import write_atomic
from compat.runner import plan


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

