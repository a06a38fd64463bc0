"""What happened in a cell, kept beside its verdict: exits, signals, limits and the paths of the texts the
judge reads. The verdict is derived from it, here, both when the cell ran and when a later run takes the
cell unchanged: so a reused result is judged by today's judge, and the judge is no input of a cell.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compat import facts
from compat.analysis.junit import MAX_CHARS
from compat.analysis.probe import ProbeOutcome, parse_probe
from compat.analysis.toolchain import GhcFacts as Toolchain
from compat.parts import FaultInjection, Flag, GhcFacts, HaskellTests, ProbeFacts, SslFacts
from compat.status import Status
from compat.stored import (
    FLAG,
    NUMBER,
    OPTIONAL_TEXT,
    TEXT,
    TEXTS,
    WHOLE,
    Fields,
    ListOf,
    Made,
    MapOf,
    Optional,
    Text,
    read_bytes,
)
from compat.verdict import CellOutcome, Step, judge

JUDGE_FILES = ("verdict.py", "outcome.py", "parts.py", "facts.py", "status.py", "analysis")


@functools.cache
def judge_version() -> str:
    """sha256 (12 digits) of the judge's code: which judge said what a stored cell says."""
    top = Path(__file__).parent
    digest = hashlib.sha256()
    for name in JUDGE_FILES:
        paths = sorted((top / name).rglob("*.py")) if (top / name).is_dir() else [top / name]
        for path in paths:
            digest.update(f"{path.relative_to(top)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class StepRecord:
    name: str
    exit_code: int | None  # None: killed at its timeout
    log: str | None  # relative to the run directory
    limit: float | None = None
    out_of_memory: int | None = None  # the memory limit (MiB) at which the kernel killed a process of it
    commands: tuple[tuple[str, ...], ...] = ()  # the argument lists it ran, in order: the last one is how it ended


@dataclass(frozen=True)
class Outcome:
    """A cell's outcome as stored: plain values and paths relative to its run directory."""

    soname: str  # the flavor's libcurl, which the linkage facts are checked against
    unavailable: str | None = None
    runner_error: str | None = None
    engine_lost: str | None = None
    steps: tuple[StepRecord, ...] = ()
    expects_tests: bool = True
    junit_name: str | None = None
    junit: str | None = None  # this cell's own JUnit file, copied out after its own test run
    texts: dict[str, str] = field(default_factory=dict)  # inspected facts: file name -> log path
    incomplete: tuple[str, ...] = ()  # inspect commands that failed or timed out
    binaries: tuple[str, ...] = ()
    probe: str | None = None  # the probe's log
    probe_requests: int = 0
    probe_timed_out: bool = False
    missing_packages: tuple[str, ...] = ()
    pinned_by: str | None = None
    suite: str = ""

    def built(self) -> bool:
        return any(s.name == "build" and s.exit_code == 0 and not s.out_of_memory for s in self.steps)



ARGUMENT = Text(lines=True)  # an argument may hold a shell script of several lines
STEP = Made(Fields({"name": Text(40), "exit_code": Optional(WHOLE), "log": OPTIONAL_TEXT, "limit": Optional(NUMBER),
                    "out_of_memory": Optional(WHOLE), "commands": Made(ListOf(Made(ListOf(ARGUMENT, 10_000), tuple), 1000),
                                                                        tuple)},
                   required=("name", "exit_code")), lambda v: StepRecord(**v))
OUTCOME = Made(Fields({
    "soname": TEXT, "unavailable": Optional(Text(lines=True)), "runner_error": OPTIONAL_TEXT,
    "engine_lost": OPTIONAL_TEXT, "steps": Made(ListOf(STEP, 100), tuple), "expects_tests": FLAG,
    "junit_name": OPTIONAL_TEXT, "junit": OPTIONAL_TEXT, "texts": MapOf(TEXT, 100),
    "incomplete": Made(TEXTS, tuple), "binaries": Made(TEXTS, tuple), "probe": OPTIONAL_TEXT,
    "probe_requests": WHOLE, "probe_timed_out": FLAG, "missing_packages": Made(TEXTS, tuple),
    "pinned_by": OPTIONAL_TEXT, "suite": TEXT}, required=("soname",)), lambda v: Outcome(**v))


def read_inside(run_dir: Path, relative: str | None, limit: int = -1) -> str | None:
    """A text a result names, only from inside its run directory (a stored path is data, never a way out),
    at most `limit` bytes of it (-1: all); None when it is not there."""
    if not relative:
        return None
    path = run_dir / relative
    try:
        if not path.resolve().is_relative_to(run_dir.resolve()):
            return None
        return read_bytes(path, limit).decode(errors="replace")
    except (OSError, ValueError):
        return None


def reread(outcome: Outcome, run_dir: Path) -> CellOutcome:
    """The judge's input, read back from the run directory."""
    texts = {name: read_inside(run_dir, path) or "" for name, path in outcome.texts.items()}
    incomplete = list(outcome.incomplete)
    if "linkage.txt" in texts:
        incomplete += facts.linkage_gaps(outcome.binaries, texts["linkage.txt"])
    probe_text = read_inside(run_dir, outcome.probe)
    return CellOutcome(
        unavailable=outcome.unavailable, runner_error=outcome.runner_error, engine_lost=outcome.engine_lost,
        steps=tuple(Step(s.name, s.exit_code, read_inside(run_dir, s.log) or "", s.limit, s.out_of_memory)
                    for s in outcome.steps),
        expects_tests=outcome.expects_tests, junit_name=outcome.junit_name,
        junit=read_inside(run_dir, outcome.junit, MAX_CHARS + 1),
        facts=facts.verdicts(texts, outcome.soname) if texts else None, incomplete=tuple(incomplete),
        own_sources=facts.own_sources(texts["haskell-sources.txt"]) if "haskell-sources.txt" in texts else None,
        probe=parse_probe(probe_text or "", outcome.probe_requests, outcome.probe_timed_out)
        if outcome.probe is not None else None,
        missing_packages=outcome.missing_packages, pinned_by=outcome.pinned_by, suite=outcome.suite)


@dataclass(frozen=True)
class Judged:
    """What the judge and the facts say of a cell: every field of a result that is derived, not measured."""

    status: Status
    cause: str | None
    evidence: list[str]
    flags: list[Flag]
    tests: HaskellTests | None
    ssl_recommendation: str
    fault_injection: FaultInjection | None
    ghc: GhcFacts | None
    packages: dict[str, list[str]]
    ssl: SslFacts | None
    probe: ProbeFacts | None
    manifest: dict[str, str]
    judge: str


def judged(outcome: Outcome, run_dir: Path, source_version: str | None) -> Judged:
    """Today's verdict on a stored outcome."""
    seen = reread(outcome, run_dir)
    verdict = judge(seen)
    found = seen.facts
    ssl = _ssl(found.ssl, seen.probe) if found is not None and outcome.built() else None
    texts = {name: read_inside(run_dir, path) for name, path in outcome.texts.items()}
    manifest = facts.manifest(texts["dpkg-all.tsv"] or "") if "dpkg-all.tsv" in texts else {}
    if source_version:
        manifest["source"] = source_version
    tests = verdict.tests
    return Judged(
        verdict.status, verdict.cause, list(verdict.evidence), [Flag(name, evidence) for name, evidence in verdict.flags],
        HaskellTests(tests.total, tests.passed, tests.failed, tuple(tests.failed_names)) if tests else None,
        verdict.recommendation, verdict.fault_injection,
        _ghc(found.ghc) if found is not None else None, found.packages if found is not None else {}, ssl,
        ProbeFacts(**seen.probe.as_dict()) if seen.probe is not None else None, manifest, judge_version())


def _ghc(ghc: Toolchain) -> GhcFacts:
    return GhcFacts(ghc.version, ghc.integer_library, ghc.integer_library_version, ghc.bignum_backend,
                    ghc.replaces_gmp_allocator)


def _ssl(summary: dict[str, Any], probe: ProbeOutcome | None) -> SslFacts:
    """The SSL facts of a built cell; the allocations per request are left out when no probe ran."""
    per_request = probe.per_request() if probe is not None else None
    return SslFacts(tuple(summary["binaries"]), tuple(summary["curl_flavors"]),
                    {name: tuple(chain) for name, chain in summary["tls_stacks"].items()}, summary["gmp_loaded"],
                    summary["gmp_hook"], per_request,
                    absent=frozenset() if probe is not None else frozenset({"gmp_allocations_per_request"}))
