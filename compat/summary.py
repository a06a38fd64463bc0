"""A run's summary, reports/runs/<id>/summary.json: the few facts of each cell that the history needs (its
status over the runs, the charts, what changed and why), written when the run ends, so that a report reads
a window of 60 runs as 60 small files and reads a cell file whole only where it shows it.

The cells stay the truth. The summary names each cell file as it was when summarised (size, modification
and change times); a cell file that differs from that (rewritten by a resumed run, edited, copied) or that
the summary does not name is read itself, and a summary that is missing, unreadable or of another schema is
no summary: every cell is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compat.findings import Investigation
from compat.parts import HaskellTests, plain
from compat.results import CELL, CellResult, cell_key, read_cell, write_atomic
from compat.results import NAME as CELL_NAME
from compat.status import Status
from compat.stored import NUMBER, TEXT, WHOLE, Check, Fields, ListOf, Optional, Text, load_json

SCHEMA = 2  # 2: the investigation
NAME = "summary.json"
Identity = tuple[int, int, int]  # size, modification and change time (ns) of a cell file


@dataclass(frozen=True)
class CellFacts:
    """What the history needs of one stored result, without its manifest, package database and outcome."""

    toolchain: str
    source: str
    flavor: str
    status: Status
    cause: str | None
    started: str
    why: str  # the first evidence line
    tests: HaskellTests | None  # expected failures need the names
    build: float | None  # seconds of the build step
    compiled_by: str | None
    flags: tuple[str, ...]  # the flags' names
    junit: str | None  # the JUnit file, relative to the run directory
    manifest: str  # the manifest's digest: a manifest is read once, and only for a change that shows it
    investigation: Investigation | None = None  # what investigating a regression found

    @property
    def key(self) -> str:
        return cell_key(self.toolchain, self.source, self.flavor)


def manifest_digest(manifest: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def facts_of(result: CellResult) -> CellFacts:
    """A result's facts: what a summary keeps of it."""
    return CellFacts(result.toolchain, result.source, result.flavor, result.status, result.cause, result.started,
                     result.evidence[0] if result.evidence else "", result.tests, result.timings.get("build"),
                     result.compiled_by, tuple(flag.name for flag in result.flags), result.logs.get("junit"),
                     manifest_digest(result.manifest), result.investigation)


def identity(path: Path) -> Identity | None:
    """What tells a cell file from a changed one without reading it; None for what is no regular file."""
    found = os.lstat(path)
    return (found.st_size, found.st_mtime_ns, found.st_ctime_ns) if stat.S_ISREG(found.st_mode) else None


def write_summary(run_dir: Path) -> None:
    """Summarise the run's cells as they are stored now. A cell that cannot be read, or that changes while it
    is read, is left out: a report reads it itself (and names it when it cannot)."""
    files: list[Identity] = []
    facts: list[CellFacts] = []
    for path in sorted((run_dir / "cells").glob("*.json")):
        try:
            before = identity(path)
            found = facts_of(read_cell(path))
            if before is None or identity(path) != before:
                continue
        except (OSError, ValueError, TypeError, RecursionError):
            continue
        files.append(before)
        facts.append(found)
    columns = {name: [plain(getattr(cell, name)) for cell in facts] for name in COLUMNS}
    write_atomic(run_dir / NAME, json.dumps({"schema": SCHEMA, "cells": [cell.key for cell in facts], "file": files}
                                            | columns, sort_keys=True) + "\n")


def _cell_key(key: str) -> str | None:
    parts = key.split("--")
    return None if len(parts) == 3 and all(map(CELL_NAME.pattern.fullmatch, parts)) else f"{key!r} is no cell"


def _statuses(found: list[str]) -> str | None:
    return next((f"unknown status {status!r}" for status in found if status not in STATUSES), None)


def _columns(data: dict[str, Any]) -> str | None:
    return None if len({len(column) for name, column in data.items() if name != "schema"}) == 1 else \
        "columns of different lengths"


# One list per fact, in the order of "cells" (a list checks its texts at once: the window's summaries are
# read on every report). A fact is read as the cell's own spec reads it, so a summary says what its cells
# say, cleaned alike.
COLUMNS = ("status", "cause", "started", "why", "tests", "build", "compiled_by", "flags", "junit", "manifest",
           "investigation")
STATUSES = frozenset(Status)
SUMMARY = Check(Fields({
    "schema": WHOLE, "cells": Check(ListOf(Text(200), 10_000), lambda keys: next(filter(None, map(_cell_key, keys)),
                                                                               None)),
    "file": ListOf(Check(ListOf(WHOLE), lambda found: None if len(found) == 3 else "not [size, mtime, ctime]"), 10_000),
    "status": Check(ListOf(Text(40), 10_000), _statuses), "cause": ListOf(CELL.fields["cause"], 10_000),
    "started": ListOf(TEXT, 10_000), "why": ListOf(TEXT, 10_000), "tests": ListOf(CELL.fields["tests"], 10_000),
    "build": ListOf(Optional(NUMBER), 10_000), "compiled_by": ListOf(CELL.fields["compiled_by"], 10_000),
    "flags": ListOf(ListOf(Text(100), 1000), 10_000), "junit": ListOf(Optional(TEXT), 10_000),
    "manifest": ListOf(Text(64), 10_000), "investigation": ListOf(CELL.fields["investigation"], 10_000)},
    required=("schema", "cells", "file", *COLUMNS)), _columns)


def read_summary(run_dir: Path) -> dict[str, tuple[Identity, CellFacts]]:
    """The run's summary: each summarised cell's file identity and facts, by key; empty when there is no
    summary this version can use (a missing, unreadable or other schema's file is no summary)."""
    try:
        data = SUMMARY.read(load_json(run_dir / NAME), "")
    except (OSError, ValueError):
        return {}
    if data["schema"] != SCHEMA:
        return {}
    found = {}
    for key, (size, mtime, ctime), *facts in zip(data["cells"], data["file"], *(data[name] for name in COLUMNS),
                                                  strict=True):
        toolchain, source, flavor = key.split("--")
        status, cause, started, why, tests, build, compiled_by, flags, junit, manifest, investigation = facts
        found[key] = (size, mtime, ctime), CellFacts(toolchain, source, flavor, Status(status), cause, started, why,
                                                     tests, build, compiled_by, tuple(flags), junit, manifest,
                                                     investigation)
    return found
