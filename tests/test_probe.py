from __future__ import annotations

from pathlib import Path

from compat.analysis.probe import parse_probe


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
