"""The runtime probe's output: did HTTPS through the curl binding survive, and how much GMP did TLS use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from compat.analysis.failures import signal_of
from compat.status import Status

RUNS = ("plain", "counting", "hostile")
NOT_RUN = "not run"
TIMEOUT_EXIT = 124  # coreutils timeout(1): run-probe limits each run


@dataclass
class ProbeOutcome:
    requests: int
    exits: dict[str, int] = field(default_factory=dict)  # run (plain, counting, hostile, build) -> exit code
    allocations: dict[str, int] = field(default_factory=dict)  # run -> GMP allocations the shim counted
    lines: list[str] = field(default_factory=list)
    timed_out: bool = False  # the probe's container was killed at its limit

    def verdict(self, run: str) -> str:
        if run not in self.exits:
            # The container was killed in the first run that reported no exit: that run hung.
            hung = next((r for r in RUNS if r not in self.exits), None) if self.timed_out and self.built() else None
            return Status.TIMEOUT if run == hung else NOT_RUN
        code = self.exits[run]
        if code == TIMEOUT_EXIT:
            return Status.TIMEOUT
        signal = signal_of(code)
        return Status.PASS if code == 0 else f"{Status.CRASH} ({signal})" if signal else f"fail (exit {code})"

    def built(self) -> bool:
        return "build" not in self.exits and "shim" not in self.exits

    def per_request(self) -> float | None:
        count = self.allocations.get("counting")
        return round(count / self.requests, 1) if count is not None and self.requests else None

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "plain": self.verdict("plain"), "counting": self.verdict("counting"),
                "hostile": self.verdict("hostile"), "gmp_allocations_per_request": self.per_request(),
                "built": self.built(), "timed_out": self.timed_out}


# Bounded numbers: the output is the probe's, whatever it prints; int() refuses more than 4300 digits, and a
# longer number is no count or exit code of ours, so its line is no such line.
ALLOCATIONS = re.compile(r"gmp-shim: allocations (\d{1,18}) \((\w+)\)")
EXIT = re.compile(r"probe-exit (\w+) (-?\d{1,9})(?!\d)")


def parse_probe(text: str, requests: int, timed_out: bool = False) -> ProbeOutcome:
    """Read images/scripts/run-probe's output: exit lines, and shim counts named by their run. Any text is
    read without an error: a line that is none of these is only kept as evidence when it looks like one."""
    outcome = ProbeOutcome(requests, timed_out=timed_out)
    for line in text.splitlines():
        if match := ALLOCATIONS.match(line):
            outcome.allocations[match.group(2)] = int(match.group(1))
        elif match := EXIT.match(line):
            outcome.exits[match.group(1)] = int(match.group(2))
        if line.startswith(("probe", "gmp-shim", "Segmentation", "Aborted")) or "internal error" in line:
            outcome.lines.append(line.rstrip())
    return outcome
