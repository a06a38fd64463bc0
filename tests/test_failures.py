from __future__ import annotations

from pathlib import Path

from compat.analysis.failures import classify_build, crash_evidence, signal_of


def read(data: Path, name: str) -> str:
    return (data / name).read_text()


def test_ganeti_302_on_bookworm_is_a_dependency_failure_with_the_lens_bound(data: Path) -> None:
    diagnosis = classify_build(read(data, "ganeti/3.0.2-bookworm-build.log"))
    assert diagnosis.cause == "deps"
    joined = "\n".join(diagnosis.evidence)
    assert "rejecting: lens-5.0.1" in joined
    assert "lens>=3.10 && <5.0" in joined


def test_compile_error_keeps_location_and_message(data: Path) -> None:
    diagnosis = classify_build(read(data, "errors/compile-error.log"))
    assert diagnosis.cause == "compile"
    assert diagnosis.evidence[0] == "Bad.hs:3:22: error: [GHC-83865]"
    assert "Couldn't match type `Bool' with `[Char]'" in diagnosis.evidence[1]


def test_interface_version_mismatch_is_abi_not_compile(data: Path) -> None:
    diagnosis = classify_build(read(data, "errors/mismatched-interface.log"))
    assert diagnosis.cause == "abi"
    assert any('wanted "9002", got "9066"' in line for line in diagnosis.evidence)


def test_link_errors(data: Path) -> None:
    missing = classify_build(read(data, "errors/link-error-cannot-find-lcurl.log"))
    assert missing.cause == "link"
    assert missing.evidence[0] == "/usr/bin/ld: cannot find -lcurl: No such file or directory"
    static = classify_build(read(data, "errors/link-error-missing-libcurl.log"))
    assert static.cause == "link"
    assert "undefined reference to `gss_unwrap'" in static.evidence[0]
    assert len(static.evidence) <= 8


def test_broken_package_database_is_abi(data: Path) -> None:
    diagnosis = classify_build(read(data, "errors/ghc-pkg-check-broken.txt"))
    assert diagnosis.cause == "abi"
    assert diagnosis.evidence[0] == "There are problems in package network-bsd-2.8.1.0:"


def test_a_clean_build_log_has_no_cause(data: Path) -> None:
    assert classify_build(read(data, "ganeti/3.1-trixie-build.log")).cause is None


def test_crash_evidence_from_rts_message_and_signal() -> None:
    log = "ok 1\nhtest: internal error: scavenge_stack: weird activation record found on stack: 0\n"
    evidence = crash_evidence(log, 134)
    assert evidence[0].startswith("htest: internal error: scavenge_stack")
    assert evidence[-1] == "exit code 134: killed by SIGABRT"
    assert crash_evidence("1 test failed\n", 1) == ()
    assert signal_of(139) == "SIGSEGV"
    assert signal_of(1) is None
