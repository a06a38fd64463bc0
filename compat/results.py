"""Cell results: the data every report is rendered from, stored as one JSON file per cell."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("pass", "test-fail", "build-fail", "crash", "timeout", "unavailable", "error")
FAILED = ("test-fail", "build-fail", "crash", "timeout", "error")
SCHEMA_VERSION = 2


@dataclass
class CellResult:
    toolchain: str
    source: str
    flavor: str
    status: str = "error"
    cause: str | None = None
    evidence: list[str] = field(default_factory=list)
    tests: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    ghc: dict[str, Any] | None = None
    image: str | None = None
    image_reused: bool | None = None
    compiled_by: str | None = None  # the cell whose compiled tree this one relinked (another flavor)
    source_version: str | None = None
    source_digest: str | None = None
    logs: dict[str, str] = field(default_factory=dict)
    flags: list[dict[str, Any]] = field(default_factory=list)  # {"name": "ssl:...", "evidence": [...]}
    ssl: dict[str, Any] | None = None
    probe: dict[str, Any] | None = None
    packages: dict[str, list[str]] = field(default_factory=dict)  # Haskell package -> [version, abi]
    run_id: str = ""
    started: str = ""
    schema: int = SCHEMA_VERSION

    @property
    def key(self) -> str:
        return cell_key(self.toolchain, self.source, self.flavor)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellResult:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


def cell_key(toolchain: str, source: str, flavor: str) -> str:
    return f"{toolchain}--{source}--{flavor}"


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store(run_dir: Path, result: CellResult) -> Path:
    path = run_dir / "cells" / f"{result.key}.json"
    write_atomic(path, result.to_json())
    return path


def load_run(run_dir: Path) -> list[CellResult]:
    """Every cell result of a run, in a stable order."""
    results = []
    for path in sorted((run_dir / "cells").glob("*.json")):
        results.append(CellResult.from_dict(json.loads(path.read_text())))
    return results


def latest_cells(reports: Path) -> list[CellResult]:
    """For every cell ever run, its most recent result: what `nox -s ghc96` then `nox -s ghc90` add up to."""
    newest: dict[str, CellResult] = {}
    for run_dir in sorted((reports / "runs").glob("*")) if (reports / "runs").is_dir() else []:
        for result in load_run(run_dir):
            if result.key not in newest or result.started >= newest[result.key].started:
                newest[result.key] = result
    return sorted(newest.values(), key=lambda r: r.key)
