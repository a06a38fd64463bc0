"""Tell build and test failures apart by the evidence in their logs."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_EVIDENCE = 8

# Checked in this order: a dependency failure explains the compile errors that may follow it, and an
# interface mismatch shows up as a GHC error too, so the more specific causes come first.
PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("deps", (
        r"rejecting: .*\(conflict:",
        r"Could not resolve dependencies",
        r"Encountered missing or private dependencies",
        r"There is no package named",
        r"cannot satisfy -package",
        r"Could not (find|load) module",
        r"configure: error: .*(librar|module|package|Haskell)",
        r"E: Unable to locate package",
        r"E: Unable to correct problems, you have held broken packages",
    )),
    ("abi", (
        r"Bad interface file",
        r"mismatched interface file",
        r"compiled with a different (ABI|version)",
        r"interface hash",
        r"There are problems in package",
        r"dependency \"\S+\" doesn't exist",
    )),
    ("link", (
        r"undefined reference to",
        r"cannot find -l\S+",
        r"collect2: error: ld returned",
        r"failed in phase `Linker'",
        r"relocation .* against .* can not be used",
    )),
    ("compile", (
        r"^\S+\.(hs|lhs|hsc|chs|c)(:\d+)+: error",
        r"^\S+\.(hs|lhs)(:\d+)+:\s*$",
        r"error: \[GHC-\d+\]",
    )),
)
CRASH_PATTERNS = (
    r"internal error: ",
    r"Segmentation fault",
    r"\(core dumped\)",
    r"Aborted",
    r"scavenge_stack: weird activation record",
    r"killed by signal",
)
SIGNALS = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"}


@dataclass(frozen=True)
class Diagnosis:
    cause: str | None
    evidence: tuple[str, ...]


def _with_continuation(lines: list[str], index: int, cause: str) -> list[str]:
    """The matching line and what belongs to it: a wrapped solver line, or a GHC message body."""
    taken = [lines[index].rstrip()]
    depth = lines[index].count("(") - lines[index].count(")")
    # GHC messages and cabal's lists of missing dependencies continue on the following lines.
    follow = 4 if cause in ("compile", "abi") or lines[index].rstrip().endswith(":") else 0
    for line in lines[index + 1:index + 1 + max(follow, 3)]:
        if depth > 0:
            taken.append(line.rstrip())
            depth += line.count("(") - line.count(")")
        elif follow and line.strip() and not line.lstrip().startswith("|"):
            taken.append(line.rstrip())
            follow -= 1
        else:
            break
    return taken


def classify_build(log: str) -> Diagnosis:
    """Cause of a failed configure/build step, with the lines that show it."""
    lines = log.splitlines()
    for cause, patterns in PATTERNS:
        regex = re.compile("|".join(f"(?:{p})" for p in patterns))
        evidence: list[str] = []
        for index, line in enumerate(lines):
            if regex.search(line):
                evidence += [piece for piece in _with_continuation(lines, index, cause) if piece not in evidence]
            if len(evidence) >= MAX_EVIDENCE:
                break
        if evidence:
            return Diagnosis(cause, tuple(evidence[:MAX_EVIDENCE]))
    return Diagnosis(None, tuple(line.rstrip() for line in lines if line.strip())[-5:])


def signal_of(exit_code: int) -> str | None:
    """The signal that ended a process, from a container's exit code (128 + n) or a shell's."""
    number = exit_code - 128 if exit_code > 128 else -exit_code if exit_code < 0 else 0
    return SIGNALS.get(number, f"signal {number}") if number else None


def crash_evidence(log: str, exit_code: int) -> tuple[str, ...]:
    """Lines showing a crash (RTS internal error, signal), empty when it was no crash."""
    regex = re.compile("|".join(CRASH_PATTERNS))
    evidence = [line.rstrip() for line in log.splitlines() if regex.search(line)][:MAX_EVIDENCE - 1]
    signal = signal_of(exit_code)
    if signal:
        evidence.append(f"exit code {exit_code}: killed by {signal}")
    return tuple(evidence)
