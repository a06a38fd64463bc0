"""One writer per reports directory."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from compat.commands.record import now
from compat.errors import ConfigError


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
