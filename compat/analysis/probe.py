"""The runtime probe's output: did HTTPS through the curl binding survive, and how much GMP did TLS use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from compat.analysis.failures import signal_of
from compat.status import Status

RUNS = ("plain", "counting", "baseline", "hostile")
NOT_RUN = "not run"
TIMEOUT_EXIT = 124  # coreutils timeout(1): run-probe limits each run


@dataclass
class ProbeOutcome:
    requests: int
    exits: dict[str, int] = field(default_factory=dict)  # run (plain, counting, hostile, build) -> exit code
    allocations: dict[str, int] = field(default_factory=dict)  # run -> GMP allocations the shim counted
    # run -> those allocations by who asked: tls (GnuTLS, nettle, hogweed), other (the program's Integers...),
    # unknown (the stack did not show), and poisoned (the hostile run's, TLS only); absent from older shims
    attributed: dict[str, dict[str, int]] = field(default_factory=dict)
    callers: dict[str, str] = field(default_factory=dict)  # run -> "libhogweed.so.6=650,probe=35"
    tls_only: bool = False  # the hostile shim poisons only what TLS libraries allocate (it said so at start)
    first_poisoned: str | None = None  # the library whose allocation the hostile shim poisoned first
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
        """GMP allocations the TLS libraries make per request: counted by caller; where the stack did not show
        every caller, what the counting run made beyond its baseline (the same program and Integer work
        without a request); None when neither can tell. A shim older than the attribution counted everything."""
        count, by = self.allocations.get("counting"), self.attributed.get("counting")
        if count is None or not self.requests:
            return None
        if by is not None and not by["unknown"]:
            return round(by["tls"] / self.requests, 1)
        baseline = self.allocations.get("baseline")
        if baseline is not None and self.verdict("baseline") == Status.PASS:
            return round(max(count - baseline, 0) / self.requests, 1)
        return None if by is not None else round(count / self.requests, 1)

    def hostile_says(self) -> str:
        """What the hostile run shows about TLS: it poisons only what the TLS libraries allocate, and says when
        it could not tell who allocated."""
        said = self.verdict("hostile")
        by = self.attributed.get("hostile")
        if by is None and not self.tls_only:  # a shim before issue 19: it poisoned every GMP allocation
            return (f"the hostile hook poisoned every GMP allocation, the program's own too ({said}): it cannot tell "
                    "TLS's part")
        # A run that crashed never printed its counts at exit: the line it printed at the first poisoning says it.
        poisoned = by["poisoned"] if by else int(self.first_poisoned is not None)
        unknown = f"; {by['unknown']} allocation(s) of unknown callers were not poisoned" if by and by["unknown"] else ""
        if said.startswith(Status.CRASH) and poisoned:
            what = (f"{by['poisoned']} TLS allocation(s) poisoned" if by else
                    f"it died after poisoning an allocation of {self.first_poisoned}")
            return (f"GnuTLS crashes under a hostile GMP allocator hook ({said}): TLS in this process allocates "
                    f"through GMP ({what}{unknown})")
        if said.startswith(Status.CRASH):
            return (f"the hostile run crashed ({said}) with no TLS allocation poisoned{unknown}: "
                    + ("it could not tell who allocated" if unknown else "not GnuTLS's doing"))
        if by is None:
            return f"the hostile run ended without its counts ({said})"
        if not by["poisoned"]:
            return (f"TLS made no GMP allocation: nothing was poisoned ({said}){unknown}" if not unknown else
                    f"it could not tell: no TLS allocation was seen to poison ({said}){unknown}")
        return f"GnuTLS does not crash under a hostile GMP allocator hook ({said}; {by['poisoned']} poisoned{unknown})"

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "plain": self.verdict("plain"), "counting": self.verdict("counting"),
                "hostile": self.verdict("hostile"), "gmp_allocations_per_request": self.per_request(),
                "built": self.built(), "timed_out": self.timed_out}


# Bounded numbers: the output is the probe's, whatever it prints; int() refuses more than 4300 digits, and a
# longer number is no count or exit code of ours, so its line is no such line.
ALLOCATIONS = re.compile(r"gmp-shim: allocations (\d{1,18}) \((\w+)\)")
EXIT = re.compile(r"probe-exit (\w+) (-?\d{1,9})(?!\d)")
FIRST_POISONED = re.compile(r"gmp-shim: first poisoned allocation, by (\S{1,200}) \(hostile\)")
ATTRIBUTED = re.compile(r"gmp-shim: allocations \d{1,18} \((\w+)\) tls (\d{1,18}) other (\d{1,18}) unknown (\d{1,18}) "
                        r"poisoned (\d{1,18}) by (\S{1,700})")


def parse_probe(text: str, requests: int, timed_out: bool = False) -> ProbeOutcome:
    """Read images/scripts/run-probe's output: exit lines, and shim counts named by their run. Any text is
    read without an error: a line that is none of these is only kept as evidence when it looks like one."""
    outcome = ProbeOutcome(requests, timed_out=timed_out)
    for line in text.splitlines():
        if match := ALLOCATIONS.match(line):
            outcome.allocations[match.group(2)] = int(match.group(1))
            if by := ATTRIBUTED.match(line):
                outcome.attributed[by.group(1)] = dict(zip(("tls", "other", "unknown", "poisoned"),
                                                           map(int, by.group(2, 3, 4, 5)), strict=True))
                outcome.callers[by.group(1)] = by.group(6)
        elif match := EXIT.match(line):
            outcome.exits[match.group(1)] = int(match.group(2))
        if line.startswith("gmp-shim: allocator hook installed (hostile: TLS libraries only)"):
            outcome.tls_only = True
        elif match := FIRST_POISONED.match(line):
            outcome.first_poisoned = match.group(1)
        if line.startswith(("probe", "gmp-shim", "Segmentation", "Aborted")) or "internal error" in line:
            outcome.lines.append(line.rstrip())
    return outcome
