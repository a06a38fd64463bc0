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
        # On CI everything goes to standard output, where workflow commands are read, in the order it was said.
        self.out = out

    def line(self, message: str) -> str:
        elapsed = int(time.monotonic() - self.start)
        return f"[{elapsed // 60:3d}:{elapsed % 60:02d}] {message}"

    @property
    def stream(self) -> TextIO:
        return self.out or (sys.stderr if self.ci is None else sys.stdout)

    def __call__(self, message: str) -> None:
        print(self.line(message), file=self.stream, flush=True)

    def step(self, name: str, message: str, log: Path, started: float, failed: bool) -> None:
        """A cell step that ended, on CI: a section holding its log's tail."""
        assert self.ci is not None
        logs.section(self.ci, self.stream, name, self.line(message), logs.tail(log), started, failed)


def step_ended(say: Callable[[str], None], name: str, message: str, log: Path, started: float, failed: bool,
               plain: bool = True) -> None:
    """What a runner says when a step ends: on CI a section (named `name`, from wall time `started`) headed by
    `message`; elsewhere `message` as before, or nothing for a step a terminal never showed the end of (`plain`
    false: the image, the probe)."""
    if isinstance(say, Progress) and say.ci is not None:
        say.step(name, message, log, started, failed)
    elif plain:
        say(message)
