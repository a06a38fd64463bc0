"""Ctrl-C and SIGTERM as one exception that a run ends cleanly on."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from compat.exits import EXIT_INTERRUPTED, EXIT_TERMINATED


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
