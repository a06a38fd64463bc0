"""The runtime probe's output: did HTTPS through the curl binding survive, and how much GMP did TLS use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from compat.analysis.failures import signal_of
from compat.analysis.ssl import Flag


@dataclass
class ProbeOutcome:
    requests: int
    exits: dict[str, int] = field(default_factory=dict)  # run (plain, counting, hostile, build) -> exit code
    allocations: dict[str, int] = field(default_factory=dict)  # run -> GMP allocations the shim counted
    lines: list[str] = field(default_factory=list)

    def verdict(self, run: str) -> str:
        if run not in self.exits:
            return "not run"
        code = self.exits[run]
        signal = signal_of(code)
        return "pass" if code == 0 else f"crash ({signal})" if signal else f"fail (exit {code})"

    def per_request(self) -> float | None:
        count = self.allocations.get("counting")
        return round(count / self.requests, 1) if count is not None and self.requests else None

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "plain": self.verdict("plain"), "counting": self.verdict("counting"),
                "hostile": self.verdict("hostile"), "gmp_allocations_per_request": self.per_request(),
                "built": "build" not in self.exits and "shim" not in self.exits}


def parse_probe(text: str, requests: int) -> ProbeOutcome:
    """Read images/scripts/run-probe's output: exit lines, and shim counts named by their run."""
    outcome = ProbeOutcome(requests)
    for line in text.splitlines():
        if match := re.match(r"gmp-shim: allocations (\d+) \((\w+)\)", line):
            outcome.allocations[match.group(2)] = int(match.group(1))
        elif match := re.match(r"probe-exit (\w+) (-?\d+)", line):
            outcome.exits[match.group(1)] = int(match.group(2))
        if line.startswith(("probe", "gmp-shim", "Segmentation", "Aborted")) or "internal error" in line:
            outcome.lines.append(line.rstrip())
    return outcome


def injected_conflict(outcome: ProbeOutcome) -> Flag | None:
    """ssl:gmp-allocator-conflict shown at run time: a hostile allocator hook crashed the TLS process."""
    verdict = outcome.verdict("hostile")
    if not verdict.startswith("crash"):
        return None
    fed = outcome.per_request()
    return Flag("ssl:gmp-allocator-conflict", (
        f"runtime probe with an injected hostile GMP allocator hook: {verdict}",
        f"the same requests feed a GMP allocator hook {fed} allocations per TLS request" if fed is not None
        else "GMP allocations per request not measured"))
