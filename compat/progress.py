"""One progress line per cell and step, with the time since the run started; on CI, each cell step ends as a
collapsible section holding its log (compat.ci.logs)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from compat.ci import logs


class Progress:
    def __init__(self, environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> None:
        self.start = time.monotonic()
        self.ci = logs.detect(os.environ if environ is None else environ)
        self.out = out

    def line(self, message: str) -> str:
        elapsed = int(time.monotonic() - self.start)
        return f"[{elapsed // 60:3d}:{elapsed % 60:02d}] {message}"

    def __call__(self, message: str) -> None:
        print(self.line(message), file=self.out or sys.stderr, flush=True)

    def step(self, name: str, message: str, log: Path, started: float, failed: bool) -> None:
        """A cell step that ended: on CI a section holding its log's tail, else the line alone."""
        if self.ci is None:
            self(message)
            return
        # Workflow commands are read from a step's standard output: sections go there, beside the cells' lines.
        logs.section(self.ci, self.out or sys.stdout, name, self.line(message), logs.tail(log), started, failed)


def step_ended(say: Callable[[str], None], name: str, message: str | None, log: Path, started: float,
               failed: bool) -> None:
    """What a runner says when a step ends: a section on CI (named `name`, from wall time `started`); elsewhere
    `message` as before, or nothing when the step never said one (the probe, the image)."""
    if isinstance(say, Progress) and say.ci is not None:
        say.step(name, message or name, log, started, failed)
    elif message is not None:
        say(message)
