"""What a run record says about where it came from: its id, its times, the matrix and the tool."""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import secrets
from pathlib import Path


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    """UTC time to the second and a random suffix: two runs started in the same second never share an id
    (nor the label by which an interrupted run removes its containers)."""
    return f"{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def matrix_digest(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def tool_version() -> str:
    try:
        return importlib.metadata.version("ganeti-compat")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"
