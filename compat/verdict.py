"""The one judge: a cell's status, cause, evidence, flags and SSL recommendation, from its own outcomes only.

Every outcome proposes a verdict and the worst wins (README "Verdicts"; tests/test_verdict.py, one test per
rule). Evidence is text written by code the tool does not control: it is cut, cleaned and bounded here
(MAX_LINES, MAX_LINE, MAX_TEST_NAMES) before any report sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from compat.analysis.failures import MAX_SCAN, classify_build, crash_evidence, log_lines
from compat.analysis.junit import TestCounts, parse_junit
from compat.analysis.probe import NOT_RUN, ProbeOutcome
from compat.facts import Verdicts
from compat.parts import FaultInjection
from compat.pins import HASKELL_LIBRARY
from compat.pins import PROBLEM as PINS_PROBLEM
from compat.status import Status

PROBE_UNMEASURED = "probe:unmeasured"  # the grid shows it: a pass whose SSL line no runtime evidence supports
BUILD_STEPS = ("prepare", "configure", "build")
NOT_FOUND = re.compile(r"^not (?:found|executable): (\S+)")  # Engine.run's line for a command it cannot exec
APT_DEPENDENCY = re.compile(  # '[^']*', not '.*': linear on a line that repeats the message (see failures.py)
    r"E: Unable to locate package|E: Package '[^']*' has no installation candidate|unmet dependencies|"
    r"E: Unable to correct problems|held broken packages|but it is not (going to be )?installable|"
    r"E: Version '[^']*' for '[^']*' was not found")
# apt refusing a suite's signature (an archived suite whose keys expired: pin it as frozen in matrix.yaml), as
# apt 2.x and jessie's apt 1.0 say it.
APT_SIGNATURE = re.compile(r"KEYEXPIRED|EXPKEYSIG|NO_PUBKEY|signatures were invalid|is not signed|"
                           r"There are problems and -y was used without --force-yes")
MAX_FAILED_NAMES = 7
MAX_EVIDENCE = 8
MAX_LINE = 500  # characters of an evidence line (see the module's docstring)
MAX_LINES = 20  # lines of evidence of a verdict, and of each flag
MAX_TEST_NAMES = 2000  # failing tests named in a cell's result; Ganeti's suite has about 460 tests
CUT = "… [cut: {} more characters]"
# CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC backslash), other ESC sequences, then C0/C1 controls but tab.
CONTROL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~])?|[\x00-\x08\x0a-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Step:
    """One step as it ended: its exit code (None when killed at its limit) and its log."""

    name: str
    exit_code: int | None
    log: str = ""
    limit: float | None = None
    out_of_memory: int | None = None  # the memory limit (MiB) at which the kernel killed a process of it


@dataclass(frozen=True)
class CellOutcome:
    """Everything that happened in one cell; the judge reads nothing else."""

    unavailable: str | None = None  # why the toolchain cannot be had
    runner_error: str | None = None  # the tool's own failure, one line
    engine_lost: str | None = None  # the Docker engine stopped answering during the cell
    steps: tuple[Step, ...] = ()  # in the order they ran; only the last may have failed
    expects_tests: bool = True  # the recipe has a test step
    junit_name: str | None = None  # the recipe's JUnit file, None when it writes none
    junit: str | None = None  # this cell's JUnit text, read after its own test run; None when not written
    facts: Verdicts | None = None  # inspected in this cell's container; None when nothing was inspected
    incomplete: tuple[str, ...] = ()  # inspect commands that failed or timed out
    own_sources: tuple[str, ...] | None = None  # the project's Haskell source files, for Could not find module
    probe: ProbeOutcome | None = None
    missing_packages: tuple[str, ...] = ()  # packages the suite does not have (left out of the image)
    pinned_by: str | None = None  # a bindist toolchain: missing_packages are Haskell libraries none of its pins provide
    suite: str = ""


@dataclass(frozen=True)
class Verdict:
    status: Status
    cause: str | None = None
    evidence: tuple[str, ...] = ()
    flags: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tests: TestCounts | None = None
    recommendation: str = ""
    fault_injection: FaultInjection | None = None

    def __post_init__(self) -> None:
        # Here rather than where each piece of evidence is taken, so that no path can skip it.
        object.__setattr__(self, "evidence", evidence_lines(self.evidence))
        object.__setattr__(self, "flags", tuple((name, evidence_lines(lines)) for name, lines in self.flags))
        object.__setattr__(self, "recommendation", printable(self.recommendation))
        if self.tests is not None:
            names = tuple(printable(name) for name in self.tests.failed_names[:MAX_TEST_NAMES])
            object.__setattr__(self, "tests", replace(self.tests, failed_names=names))


def printable(line: str) -> str:
    """The line without escape sequences and control characters (a tab stays), at most MAX_LINE characters:
    a longer one is cut, and the marker counts the characters of the line as written that were left out."""
    if len(line) <= MAX_LINE:
        return CONTROL.sub("", line)
    # Cut before cleaning, so that a line of 100 MB costs what its first characters cost.
    keep = MAX_LINE - len(CUT.format(len(line)))  # the marker's count is at most the line's length
    return CONTROL.sub("", line[:keep]) + CUT.format(len(line) - keep)


def evidence_lines(lines: tuple[str, ...]) -> tuple[str, ...]:
    """At most MAX_LINES printable lines, the last saying how many more there were."""
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES - 1] + (f"… [cut: {len(lines) - MAX_LINES + 1} more lines]",)
    return tuple(printable(line) for line in lines)


@dataclass(frozen=True)
class _Candidate:
    status: Status
    cause: str | None = None
    evidence: tuple[str, ...] = field(default=())


def judge(outcome: CellOutcome) -> Verdict:
    """The cell's verdict: the worst candidate of all its outcomes (see the module's docstring)."""
    if outcome.unavailable is not None:
        return Verdict(Status.UNAVAILABLE, None, tuple(outcome.unavailable.splitlines()))
    candidates: list[_Candidate] = []
    if outcome.engine_lost is not None:
        candidates.append(_Candidate(Status.ERROR, "engine", (outcome.engine_lost,)))
    elif outcome.runner_error is not None:
        candidates.append(_Candidate(Status.ERROR, "runner", (outcome.runner_error,)))
    for step in outcome.steps:
        candidates += _step(step, outcome)
    counts, test_candidates = _tests(outcome)
    candidates += test_candidates
    candidates += _facts(outcome)
    candidates += _probe(outcome.probe)
    if not candidates:
        tested = any(s.name == "test" and s.exit_code == 0 for s in outcome.steps)
        if _built(outcome) and (tested or not outcome.expects_tests):
            candidates.append(_Candidate(Status.PASS))
        else:
            candidates.append(_Candidate(Status.ERROR, "runner", ("the cell ended without a build and test outcome",)))
    chosen = min(candidates, key=lambda c: c.status.rank)  # min keeps the first of equal rank
    if chosen.status is Status.PASS and (gap := _facts_gap(outcome)):
        chosen = gap  # a fact a pass needs went unanswered; it never outranks a build or test failure
    flags = _flags(outcome)
    return Verdict(chosen.status, chosen.cause, chosen.evidence, flags, counts,
                   ssl_recommendation(outcome, flags), _fault_injection(outcome.probe))


def _step(step: Step, outcome: CellOutcome) -> list[_Candidate]:
    if step.out_of_memory and step.exit_code is not None:
        # Even when the step exited 0: a process it ran was killed, so what it did is not what it would do.
        killed = (f"step {step.name}: the kernel killed a process at the memory limit of {step.out_of_memory} MiB "
                  "(limits.memory_mib in matrix.yaml)")
        return [_Candidate(Status.CRASH, "memory", (killed,) + crash_evidence(step.log, step.exit_code))]
    if step.exit_code == 0:
        return []
    lines = log_lines(step.log)
    if step.exit_code is None:
        limit = f" of {step.limit:.0f} s" if step.limit else ""
        return [_Candidate(Status.TIMEOUT, None, (f"step {step.name} ran past its timeout{limit}",) + tuple(lines[-3:]))]
    if step.name == "image":
        # The pins of a bindist toolchain that cannot be installed offline, else apt's refusal.
        wanted = tuple(line for line in lines if line.startswith(PINS_PROBLEM))[:MAX_EVIDENCE] or _apt_evidence(lines)
        if wanted:
            return [_Candidate(Status.BUILD_FAIL, "deps", wanted)]
        refused = tuple(dict.fromkeys(line.rstrip() for line in lines if APT_SIGNATURE.search(line, 0, MAX_SCAN)))
        return [_Candidate(Status.ERROR, "image", refused[:MAX_EVIDENCE] or tuple(lines[-6:]))]
    if step.name == "fetch":
        said = [line for line in lines if line.startswith(("compat-fetch:", "E:", "curl:", "sha256sum:", "fatal:"))]
        return [_Candidate(Status.ERROR, "fetch", tuple(said[-6:] or lines[-6:]))]
    crash = crash_evidence(step.log, step.exit_code)
    if crash:
        return [_Candidate(Status.CRASH, None, (f"step {step.name}:",) + crash)]
    missing = next((m.group(1) for line in lines if (m := NOT_FOUND.match(line))), None)
    if step.exit_code in (126, 127) and missing:
        evidence: tuple[str, ...] = (
            f"step {step.name}: {'not found' if step.exit_code == 127 else 'not executable'}: {missing}",)
        if step.name == "test":
            return [_Candidate(Status.TEST_FAIL, None, evidence)]
        # A bare command name is a tool the image lacks; a path is something the source should have had.
        return [_Candidate(Status.BUILD_FAIL, "deps" if "/" not in missing else "unknown", evidence)]
    if step.name == "test":
        return []  # judged with the JUnit file in _tests
    diagnosis = classify_build(step.log, outcome.own_sources)
    if diagnosis.cause == "ghc-panic":
        return [_Candidate(Status.CRASH, "ghc-panic", diagnosis.evidence)]
    evidence = tuple(diagnosis.evidence)
    if diagnosis.cause == "deps" and outcome.missing_packages:
        # On a bindist toolchain a Haskell library comes from the pins; anything else from the suite.
        unpinned = [p for p in outcome.missing_packages if outcome.pinned_by and HASKELL_LIBRARY.fullmatch(p)]
        unpackaged = [p for p in outcome.missing_packages if p not in unpinned]
        said = ([f"no pinned Hackage sdist of {outcome.pinned_by}: {', '.join(unpinned)}"] if unpinned else []) + (
            [f"not packaged in {outcome.suite}: {', '.join(unpackaged)}"] if unpackaged else [])
        evidence = tuple(said) + evidence
    return [_Candidate(Status.BUILD_FAIL, diagnosis.cause or "unknown", evidence)]


def _tests(outcome: CellOutcome) -> tuple[TestCounts | None, list[_Candidate]]:
    """This cell's own test run: its exit and the JUnit file it wrote (removed before it started)."""
    test = next((s for s in outcome.steps if s.name == "test"), None)
    if test is None or test.exit_code is None or test.out_of_memory or crash_evidence(test.log, test.exit_code):
        return None, []
    lines = log_lines(test.log)
    if test.exit_code in (126, 127) and any(NOT_FOUND.match(line) for line in lines):
        return None, []
    tail = tuple(lines[-4:])
    if outcome.junit_name is None:
        if test.exit_code:
            return None, [_Candidate(Status.TEST_FAIL, None, (f"the tests exited with {test.exit_code}",) + tail)]
        return None, []
    if outcome.junit is None:
        said = f"the tests exited with {test.exit_code} and wrote no JUnit file {outcome.junit_name}"
        return None, [_Candidate(Status.TEST_FAIL, "no-junit", (said,) + tail)]
    try:
        counts = parse_junit(outcome.junit)
    except ValueError as exc:
        return None, [_Candidate(Status.TEST_FAIL, "no-junit", (f"the JUnit file {outcome.junit_name} is unreadable: {exc}",))]
    if counts.failed:
        return counts, [_Candidate(Status.TEST_FAIL, None, (f"{counts.failed} of {counts.total} tests failed",)
                                   + counts.failed_names[:MAX_FAILED_NAMES])]
    if counts.total == 0:
        return counts, [_Candidate(Status.TEST_FAIL, "no-junit", (f"the JUnit file {outcome.junit_name} holds no test cases",))]
    if test.exit_code:
        return counts, [_Candidate(Status.TEST_FAIL, None, ((f"the tests exited with {test.exit_code} although the JUnit "
                                                       f"file reports {counts.total} passed"),) + tail)]
    return counts, []


def _facts(outcome: CellOutcome) -> list[_Candidate]:
    """Facts that lower a verdict: binaries missing after the build, another libcurl, unreadable linkage."""
    found = outcome.facts
    if not _built(outcome):
        return []
    candidates = []
    if found is not None and found.missing_binaries:
        candidates.append(_Candidate(Status.BUILD_FAIL, "link", tuple(f"missing after the build: {b}"
                                                                 for b in found.missing_binaries)))
    if found is not None and found.wrong_flavor:
        candidates.append(_Candidate(Status.BUILD_FAIL, "link", found.wrong_flavor))
    return candidates


def _facts_gap(outcome: CellOutcome) -> _Candidate | None:
    """What stops a pass: the linkage of the binaries went uninspected, so which libcurl they link is unknown."""
    linkage_gaps = [line for line in outcome.incomplete if line.startswith("linkage")]
    if not (linkage_gaps or outcome.facts is None):
        return None
    said = tuple(linkage_gaps) or ("no facts were inspected",)
    said = ("the linkage facts of the binaries are incomplete: which libcurl they link is unknown", *said)
    return _Candidate(Status.ERROR, "facts", said)


def _probe(probe: ProbeOutcome | None) -> list[_Candidate]:
    """Only the plain run speaks for the cell; the counting and hostile runs carry a shim of ours."""
    if probe is None:
        return []
    plain = probe.verdict("plain")
    lines = tuple(probe.lines[-4:])
    if plain.startswith(Status.CRASH):
        return [_Candidate(Status.CRASH, None, (f"runtime probe, plain run (HTTPS through the curl binding): {plain}",) + lines)]
    if plain == Status.TIMEOUT:
        return [_Candidate(Status.TIMEOUT, None, ("runtime probe, plain run (HTTPS through the curl binding): timeout",) + lines)]
    if plain.startswith("fail"):
        return [_Candidate(Status.TEST_FAIL, "probe", (f"runtime probe, plain run (HTTPS through the curl binding): {plain}",)
                           + lines)]
    return []


def _flags(outcome: CellOutcome) -> tuple[tuple[str, tuple[str, ...]], ...]:
    flags: list[tuple[str, tuple[str, ...]]] = []
    for flag in outcome.facts.flags if outcome.facts else ():
        evidence = flag.evidence
        fed = outcome.probe.per_request() if outcome.probe else None
        if flag.name == "ssl:mixed-tls-stacks" and fed is not None:
            evidence += ((f"GnuTLS {'used' if fed else 'loaded but not used'} for TLS: {fed} GMP allocations per "
                         "request (runtime probe)"),)
        flags.append((flag.name, evidence))
    if outcome.incomplete:
        flags.append(("facts:incomplete", outcome.incomplete))
    if _built(outcome) and (why := unmeasured(outcome.probe)):
        flags.append((PROBE_UNMEASURED, (why,)))
    return tuple(flags)


def unmeasured(probe: ProbeOutcome | None) -> str | None:
    """Why the runtime probe measured no GMP allocations per TLS request; None when it did."""
    if probe is None:
        return "the runtime probe did not run"
    if probe.per_request() is not None:
        return None
    failed = next((f"probe-exit {run} {probe.exits[run]}" for run in ("build", "shim") if run in probe.exits), None)
    if failed:
        return f"the runtime probe did not build ({failed})"
    for run in ("plain", "counting"):
        said = probe.verdict(run)
        if said == NOT_RUN:
            return f"the runtime probe ended without the exit line of its {run} run (killed, or out of memory)"
        if said != Status.PASS:
            return f"the runtime probe's {run} run: {said}"
    by = probe.attributed.get("counting")
    if by is not None and by["unknown"]:
        return (f"the runtime probe could not tell who made {by['unknown']} of its GMP allocations, and its baseline "
                f"run (the same Integer work without TLS) did not measure: {probe.verdict('baseline')}")
    return "the runtime probe's counting run reported no GMP allocation count"


def ssl_recommendation(outcome: CellOutcome, flags: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """One line a packager can act on; "unknown" with the reason when a fact it needs is missing."""
    found = outcome.facts
    if found is None:
        return "unknown: nothing was inspected"
    names = {name for name, _ in flags}
    if "ssl:gmp-allocator-conflict" in names or found.ghc.replaces_gmp_allocator:
        return "GnuTLS unsafe with this GHC: its runtime hooks GMP's allocator; link OpenSSL libcurl"
    if found.wrong_flavor:
        return "the binaries link another libcurl than this flavor's: the cell answers nothing about this flavor"
    if found.ghc.integer_library is None:
        return "unknown: the integer library of this GHC could not be determined (ghc-pkg list)"
    if any(line.startswith("linkage") for line in outcome.incomplete):
        return "unknown: the binaries' linkage could not be inspected"
    if why := dict(flags).get(PROBE_UNMEASURED):
        return f"unknown: {why[0]}: no runtime evidence of what TLS does with GMP"
    library = f"{found.ghc.integer_library} {found.ghc.integer_library_version or ''}".strip()
    text = f"GnuTLS safe with this GHC ({library} does not hook GMP's allocator)"
    if found.declared_flavors:
        text += f"; note: {found.declared_flavors}"
    return text


def _fault_injection(probe: ProbeOutcome | None) -> FaultInjection | None:
    """The hostile GMP hook's run, as its own outcome: what it says about TLS, never about the toolchain."""
    if probe is None or probe.verdict("hostile") == NOT_RUN:
        return None
    return FaultInjection(probe.verdict("hostile"), probe.hostile_says(), probe.per_request())


def _apt_evidence(lines: list[str]) -> tuple[str, ...]:
    """apt's refusal: each matching line with the indented lines that explain it (which package, why)."""
    evidence: list[str] = []
    for index, line in enumerate(lines):
        if APT_DEPENDENCY.search(line, 0, MAX_SCAN):
            evidence.append(line.rstrip())
            for detail in lines[index + 1:index + 5]:
                if not detail.startswith(" ") or APT_DEPENDENCY.search(detail, 0, MAX_SCAN):
                    break
                evidence.append(detail.rstrip())
    return tuple(dict.fromkeys(evidence))[:MAX_EVIDENCE]


def _built(outcome: CellOutcome) -> bool:
    return any(s.name == "build" and s.exit_code == 0 for s in outcome.steps)

