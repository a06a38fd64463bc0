from __future__ import annotations

from pathlib import Path

import pytest

from compat.analysis.probe import parse_probe
from compat.verdict import unmeasured


def test_gnutls_flavor_feeds_gmp_and_dies_under_a_hostile_hook(data: Path) -> None:
    outcome = parse_probe((data / "probe/trixie-gnutls-hostile.txt").read_text(), 20)
    assert outcome.verdict("plain") == "pass"
    assert outcome.allocations == {"counting": 700}
    assert outcome.per_request() == 35.0
    assert outcome.verdict("hostile") == "crash (SIGSEGV)"
    assert "Segmentation fault" in outcome.lines


def test_openssl_flavor_never_touches_gmp_and_survives_the_hostile_hook(data: Path) -> None:
    outcome = parse_probe((data / "probe/trixie-openssl-hostile.txt").read_text(), 20)
    assert outcome.allocations == {"counting": 0, "hostile": 0}
    assert outcome.per_request() == 0.0
    assert outcome.as_dict()["hostile"] == "pass"


def test_probe_that_did_not_build_is_not_a_verdict() -> None:
    outcome = parse_probe("Probe.hs:3:8: error: Could not find module 'Network.Curl'\nprobe-exit build 1\n", 20)
    assert outcome.as_dict()["built"] is False
    assert outcome.verdict("plain") == "not run"
    assert outcome.per_request() is None


def test_bullseye_gnutls_flavor_also_feeds_gmp(data: Path) -> None:
    outcome = parse_probe((data / "probe/bullseye-gnutls.txt").read_text(), 20)
    assert outcome.verdict("plain") == "pass" and outcome.verdict("hostile") == "not run"
    assert outcome.per_request() == 33.0


def test_a_run_past_its_limit_is_a_timeout() -> None:
    # run-probe limits each run with timeout(1), which exits 124.
    limited = parse_probe("probe-exit plain 0\nprobe-exit counting 124\n", 20)
    assert limited.verdict("plain") == "pass" and limited.verdict("counting") == "timeout"
    # The container itself killed at the probe's limit: the first run without an exit line hung.
    killed = parse_probe("probe-exit plain 0\n", 20, timed_out=True)
    assert killed.verdict("counting") == "timeout" and killed.verdict("hostile") == "not run"
    assert killed.as_dict()["timed_out"] is True
    assert parse_probe("probe-exit plain 0\n", 20).verdict("counting") == "not run"


def shim_line(run: str, tls: int, other: int, unknown: int = 0, poisoned: int = 0, by: str = "-") -> str:
    """The counting shim's last line, as images/scripts/probe/gmpshim.c prints it."""
    return (f"gmp-shim: allocations {tls + other + unknown} ({run}) tls {tls} other {other} unknown {unknown} "
            f"poisoned {poisoned} by {by}\n")


def test_the_allocations_of_tls_are_told_from_the_programs_integers_by_who_asked() -> None:
    # GHC 7.8's runtime hooks GMP and every big Integer allocates through it: 300 allocations of the program's.
    text = ("probe-exit plain 0\n" + shim_line("counting", 140, 300, by="libhogweed.so.6=120,libgnutls.so.30=20,"
                                                "probe=300") + "probe-exit counting 0\n"
            + shim_line("baseline", 0, 300, by="probe=300") + "probe-exit baseline 0\n")
    outcome = parse_probe(text, 20)
    assert outcome.allocations == {"counting": 440, "baseline": 300}
    assert outcome.attributed["counting"] == {"tls": 140, "other": 300, "unknown": 0, "poisoned": 0}
    assert outcome.callers["counting"] == "libhogweed.so.6=120,libgnutls.so.30=20,probe=300"
    assert outcome.per_request() == 7.0  # TLS's alone; the old probe said 22.0
    assert outcome.verdict("baseline") == "pass"


def test_where_the_stack_hides_a_caller_the_baseline_run_tells_the_tls_part_or_nothing_does() -> None:
    counted = "probe-exit plain 0\n" + shim_line("counting", 100, 250, unknown=90) + "probe-exit counting 0\n"
    with_baseline = parse_probe(counted + shim_line("baseline", 0, 250, unknown=40) + "probe-exit baseline 0\n", 20)
    assert with_baseline.per_request() == 7.5  # (440 - 290) / 20: what the requests added to the same program
    without = parse_probe(counted + "probe-exit baseline 1\n", 20)
    assert without.per_request() is None
    assert unmeasured(without) == ("the runtime probe could not tell who made 90 of its GMP allocations, and its "
                                   "baseline run (the same Integer work without TLS) did not measure: fail (exit 1)")


@pytest.mark.parametrize("hostile, says", [
    (shim_line("hostile", 140, 300, poisoned=140) + "probe-exit hostile 139\n",
     ("GnuTLS crashes under a hostile GMP allocator hook (crash (SIGSEGV)): TLS in this process allocates through GMP "
     "(140 TLS allocation(s) poisoned)")),
    (shim_line("hostile", 0, 300) + "probe-exit hostile 0\n", "TLS made no GMP allocation: nothing was poisoned (pass)"),
    (shim_line("hostile", 0, 300) + "probe-exit hostile 139\n",
     "the hostile run crashed (crash (SIGSEGV)) with no TLS allocation poisoned: not GnuTLS's doing"),
    (shim_line("hostile", 0, 200, unknown=100) + "probe-exit hostile 0\n",
     ("it could not tell: no TLS allocation was seen to poison (pass); 100 allocation(s) of unknown callers were not "
     "poisoned")),
    (shim_line("hostile", 0, 200, unknown=100) + "probe-exit hostile 134\n",
     ("the hostile run crashed (crash (SIGABRT)) with no TLS allocation poisoned; 100 allocation(s) of unknown callers "
     "were not poisoned: it could not tell who allocated")),
    (shim_line("hostile", 140, 300, poisoned=140) + "probe-exit hostile 0\n",
     "GnuTLS does not crash under a hostile GMP allocator hook (pass; 140 poisoned)"),
])
def test_the_hostile_run_poisons_only_tls_and_blames_gnutls_only_for_what_it_poisoned(hostile: str, says: str) -> None:
    assert parse_probe("probe-exit plain 0\n" + hostile, 20).hostile_says() == says


def test_captured_with_a_program_that_hooks_gmp_as_ghc_7_8_did_tls_is_counted_apart(data: Path) -> None:
    # trixie's GHC 9.6, GnuTLS flavor, tests/fixtures/gmphook (docker test_probe_docker.py): 20 requests and 20
    # rounds of Integer work through the program's own GMP hook.
    outcome = parse_probe((data / "probe/trixie-gnutls-gmphook-hostile.txt").read_text(), 20)
    assert outcome.allocations["counting"] == 740  # what the old probe divided: 37.0 a request
    assert outcome.per_request() == 35.0  # TLS's own: as the real probe measures on this GHC, which hooks nothing
    assert outcome.attributed["baseline"] == {"tls": 0, "other": 40, "unknown": 0, "poisoned": 0}
    assert outcome.hostile_says() == ("GnuTLS crashes under a hostile GMP allocator hook (crash (SIGSEGV)): TLS in "
                                      "this process allocates through GMP (it died after poisoning an allocation of "
                                      "libhogweed.so.6)")
    real = parse_probe((data / "probe/trixie-gnutls-attributed-hostile.txt").read_text(), 20)
    assert real.per_request() == 35.0 and real.attributed["counting"]["other"] == 0
    openssl = parse_probe((data / "probe/trixie-openssl-attributed-hostile.txt").read_text(), 20)
    assert openssl.per_request() == 0.0
    assert openssl.hostile_says() == "TLS made no GMP allocation: nothing was poisoned (pass)"
