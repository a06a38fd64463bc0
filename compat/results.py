"""Cell results: the data every report is rendered from, stored as one JSON file per cell."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from compat import matrix as matrix_names
from compat.findings import Investigation
from compat.outcome import OUTCOME, Outcome, judged
from compat.parts import FaultInjection, Flag, GhcFacts, HaskellTests, ProbeFacts, SslFacts, Stored, plain
from compat.status import Status
from compat.stored import (
    FLAG,
    NUMBER,
    OPTIONAL_TEXT,
    TEXT,
    WHOLE,
    Check,
    Fields,
    ListOf,
    MapOf,
    Name,
    Optional,
    Text,
    clean,
    load_json,
    one_of,
)

RUN_KINDS = ("matrix", "session", "fault-injection", "bench", "test", "investigation")
ORDINARY = ("matrix", "session")  # the runs a matrix report is made of
SCHEMA_VERSION = 5  # 4: fingerprint, reused_from; 5: outcome, judge


@dataclass
class CellResult:
    toolchain: str
    source: str
    flavor: str
    status: Status = Status.ERROR
    cause: str | None = None
    evidence: list[str] = field(default_factory=list)
    tests: HaskellTests | None = None
    timings: dict[str, float] = field(default_factory=dict)
    ghc: GhcFacts | None = None
    image: str | None = None
    image_reused: bool | None = None
    image_freshness: str | None = None  # "up to date with SUITE as of DATE", "rebuilt: ...", or why unknown
    image_id: str | None = None  # the engine's id of `image` (sha256:...): what `repro` and `shell` run
    compiled_by: str | None = None  # the cell whose compiled tree this one relinked (another flavor)
    source_version: str | None = None
    source_digest: str | None = None
    logs: dict[str, str] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    ssl: SslFacts | None = None
    probe: ProbeFacts | None = None
    packages: dict[str, list[str]] = field(default_factory=dict)  # Haskell package -> [version, abi]
    manifest: dict[str, str] = field(default_factory=dict)  # Debian package -> installed version; "source"
    ssl_recommendation: str = ""
    fault_injection: FaultInjection | None = None  # the hostile GMP hook's outcome, never the cell's verdict
    run_id: str = ""
    started: str = ""
    fingerprint: str | None = None  # the cell's inputs (compat.reuse): an equal one may take this result
    reused_from: str | None = None  # the run that measured this result, when this run took it unchanged
    outcome: Outcome | None = None  # what happened, from which the verdict is derived; None before schema 5
    judge: str | None = None  # the version of the judge that said this (compat.outcome.judge_version)
    kept_volume: str | None = None  # with --keep-failed: the volume this failed cell left, for `shell`
    investigation: Investigation | None = None  # what rerunning and swapping found (compat.investigate)
    schema: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.status = Status(self.status)  # a ValueError for a status this version does not know

    @property
    def key(self) -> str:
        return cell_key(self.toolchain, self.source, self.flavor)

    def to_json(self) -> str:
        return json.dumps(self.data(), indent=2, sort_keys=True) + "\n"

    def data(self) -> dict[str, Any]:
        """The result as the JSON it is stored as; its values are the result's own (asdict would copy them all:
        a manifest, a package database), so they are only to be read. Each part writes itself (compat.parts)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["outcome"] = asdict(self.outcome) if self.outcome is not None else None
        for name in (*PARTS, "flags"):
            values[name] = plain(values[name])
        return values

    @classmethod
    def from_dict(cls, data: Any) -> CellResult:
        """A result read back; ValueError naming the field when it is not one this version can trust."""
        values = CELL.read(data, "")
        if values.get("schema", SCHEMA_VERSION) > SCHEMA_VERSION:
            raise ValueError(f"schema {values['schema']} is newer than this version's {SCHEMA_VERSION}: upgrade "
                             "ganeti-compat")
        return cls(**values)


NAME = Name(re.compile(rf"(?=.{{1,63}}$){matrix_names.NAME}"))
PARTS = ("tests", "ghc", "ssl", "probe", "fault_injection", "investigation")  # each None or a compat.parts.Part
CELL = Fields({
    "toolchain": NAME, "source": NAME, "flavor": NAME,
    "status": one_of(Status, "status"),
    "cause": Optional(Text(40)), "evidence": ListOf(TEXT, 1000), "tests": Optional(Stored(HaskellTests)),
    "timings": MapOf(NUMBER, 100),
    "ghc": Optional(Stored(GhcFacts)),
    "image": OPTIONAL_TEXT, "image_reused": Optional(FLAG), "image_freshness": OPTIONAL_TEXT,
    "compiled_by": OPTIONAL_TEXT, "source_version": OPTIONAL_TEXT, "source_digest": OPTIONAL_TEXT,
    "logs": MapOf(TEXT, 1000),
    "flags": ListOf(Stored(Flag), 1000), "ssl": Optional(Stored(SslFacts)), "probe": Optional(Stored(ProbeFacts)),
    "packages": MapOf(Check(ListOf(TEXT), lambda pair: None if len(pair) == 2 else "not [version, abi]")),
    "manifest": MapOf(TEXT), "ssl_recommendation": TEXT,
    "fault_injection": Optional(Stored(FaultInjection)),
    "run_id": TEXT, "started": TEXT, "fingerprint": OPTIONAL_TEXT, "reused_from": OPTIONAL_TEXT,
    "outcome": Optional(OUTCOME), "judge": OPTIONAL_TEXT, "schema": WHOLE, "image_id": OPTIONAL_TEXT,
    "kept_volume": OPTIONAL_TEXT, "investigation": Optional(Stored(Investigation)),
}, required=("toolchain", "source", "flavor", "status"))


@dataclass
class RunRecord:
    """reports/runs/<id>/run.json: what a run was, so a report only uses runs of the right kind."""

    run_id: str
    kind: str  # one of RUN_KINDS
    matrix_digest: str  # sha256 of the matrix file the run read
    tool_version: str
    started: str
    finished: str | None = None  # None while running, or when the run was interrupted
    interrupted: bool = False
    reason: str | None = None  # why it did not complete (interrupted, terminated, the engine lost)
    cells: list[str] = field(default_factory=list)  # the cells the run planned

    @property
    def complete_ordinary(self) -> bool:
        """A matrix or session run that completed: what reuse, baselines, states and retention count."""
        return self.kind in ORDINARY and bool(self.finished) and not self.interrupted


def write_run(run_dir: Path, record: RunRecord) -> None:
    write_atomic(run_dir / "run.json", json.dumps(asdict(record), indent=2, sort_keys=True) + "\n")


RUN = Fields({"run_id": Name(re.compile(matrix_names.RUN_ID)),
              "kind": Check(Text(40), lambda text: None if text in RUN_KINDS else f"unknown kind {text!r}"),
              "matrix_digest": Text(128),
              "tool_version": Text(100), "started": Text(40), "finished": Optional(Text(40)), "interrupted": FLAG,
              "reason": OPTIONAL_TEXT, "cells": ListOf(Name(re.compile(r"(?=.{1,200}$)[a-z0-9._-]+")))},
             required=("run_id", "kind", "matrix_digest", "tool_version", "started"))


def read_run_record(run_dir: Path) -> RunRecord:
    """run.json of a run directory; OSError or ValueError saying why it cannot be trusted. The directory is
    the truth: a record naming another run is refused."""
    record = RunRecord(**RUN.read(load_json(run_dir / "run.json"), ""))
    if record.run_id != run_dir.name:
        raise ValueError(f"run_id: {record.run_id!r}, but the run's directory is {clean(run_dir.name, 80)!r}")
    return record


def load_run_record(run_dir: Path, unreadable: list[str] | None = None) -> RunRecord | None:
    """The run's record; None for a run without one (made by an older version: its kind is unknown) or with
    one that cannot be trusted (named in `unreadable`)."""
    if run_dir.is_symlink() or not (run_dir / "run.json").exists():
        return None
    try:
        return read_run_record(run_dir)
    except (OSError, ValueError) as exc:
        if unreadable is not None:
            unreadable.append(f"{run_dir / 'run.json'}: {_why(exc)}")
        return None


def _why(exc: Exception) -> str:
    return clean(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 300)


def judge_again(result: CellResult, run_dir: Path) -> None:
    """Today's verdict, from the outcome the result stored in `run_dir`; one stored before outcomes were
    kept (schema < 5) keeps the verdict it recorded."""
    if result.outcome is None:
        return
    found = judged(result.outcome, run_dir, result.source_version)
    result.status, result.cause, result.evidence, result.flags = found.status, found.cause, found.evidence, found.flags
    result.tests, result.ssl_recommendation, result.fault_injection = found.tests, found.ssl_recommendation, \
        found.fault_injection
    if found.ghc is not None:
        result.ghc, result.packages = found.ghc, found.packages
    result.ssl, result.probe, result.manifest, result.judge = found.ssl, found.probe, found.manifest, found.judge


def cell_key(toolchain: str, source: str, flavor: str) -> str:
    return f"{toolchain}--{source}--{flavor}"


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp makes 0600; results are shared like any file the user writes.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def store(run_dir: Path, result: CellResult) -> Path:
    path = run_dir / "cells" / f"{result.key}.json"
    write_atomic(path, result.to_json())
    return path


def load_run(run_dir: Path, unreadable: list[str] | None = None) -> list[CellResult]:
    """Every readable cell result of a run, in a stable order; each file that cannot be trusted (truncated,
    empty, not UTF-8, wrongly typed, an unknown status, a newer schema) is skipped and named in
    `unreadable` ("path: why")."""
    results = []
    cells = run_dir / "cells"
    if run_dir.is_symlink() or cells.is_symlink():
        return []  # never read outside reports/
    for path in sorted(cells.glob("*.json")):
        try:
            result = read_cell(path)
        except (OSError, ValueError, TypeError, RecursionError) as exc:
            if unreadable is not None:
                unreadable.append(f"{path}: {_why(exc)}")
            continue
        result.run_id = run_dir.name  # the directory is the truth, whatever the file says
        results.append(result)
    return results


def read_cell(path: Path) -> CellResult:
    """One cell result file; OSError or ValueError when it cannot be trusted (see load_run). Its name must
    be its cell's key: a file that claims another cell is refused."""
    result = CellResult.from_dict(load_json(path))
    if path.name != f"{result.key}.json":
        raise ValueError(f"it holds cell {result.key}, not the one its name says")
    return result


def copy_log(from_run: Path, to_run: Path, relative: str) -> bool:
    """Copy a log of one run directory into another at the same relative path, if it exists inside the first:
    a log path read from a result file is data, never a way out of the run directory."""
    source, target = from_run / relative, to_run / relative
    if not (source.is_file() and source.resolve().is_relative_to(from_run.resolve())
            and target.resolve().is_relative_to(to_run.resolve())):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(source, target)
    return True


def run_records(reports: Path, unreadable: list[str] | None = None) -> list[tuple[RunRecord, Path]]:
    """Every run that has a record, oldest first (reading only the small run.json files)."""
    found = []
    for run_dir in (reports / "runs").glob("*") if (reports / "runs").is_dir() else []:
        record = load_run_record(run_dir, unreadable)
        if record is not None:
            found.append((record, run_dir))
    return sorted(found, key=lambda item: (item[0].started, item[0].run_id))


def prune(reports: Path, keep: int) -> list[Path]:
    """Keep the newest `keep` complete ordinary runs (the reports' history window) and every run newer than
    the oldest of them; remove the older runs of any kind. Runs of other kinds (tests, benchmarks, fault
    injection) and failed nights never crowd a night out. Returns what was removed."""
    runs = []
    for run_dir in (reports / "runs").glob("*") if (reports / "runs").is_dir() else []:
        if run_dir.is_symlink() or not run_dir.is_dir():
            continue  # only real run directories are ever removed
        record = load_run_record(run_dir)
        runs.append((record.started if record else run_dir.name, record, run_dir))
    complete = sorted(started for started, record, _ in runs if record and record.complete_ordinary)
    if keep <= 0 or len(complete) <= keep:
        return []
    oldest_kept = complete[-keep]
    removed = []
    for started, _, run_dir in sorted(runs, key=lambda item: item[0]):
        if started < oldest_kept:
            shutil.rmtree(run_dir)
            removed.append(run_dir)
    return removed
