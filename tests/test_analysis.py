from __future__ import annotations

from pathlib import Path

import pytest

from compat.analysis.junit import parse_junit
from compat.analysis.toolchain import ghc_facts, parse_package_list


def test_htest_junit_all_pass(data: Path) -> None:
    counts = parse_junit((data / "ganeti/3.1-trixie-htest.jxml.xml").read_text())
    assert (counts.total, counts.passed, counts.failed) == (456, 456, 0)


def test_htest_junit_without_generated_python_names_the_ten_failures(data: Path) -> None:
    counts = parse_junit((data / "ganeti/3.1-trixie-htest-without-generated-python.jxml.xml").read_text())
    assert (counts.total, counts.passed, counts.failed) == (456, 446, 10)
    assert "JQueue/JobStatusPri_py_equiv" in counts.failed_names
    assert len(set(counts.failed_names)) == 10


@pytest.mark.parametrize("suite, version, library, library_version", [
    ("bullseye", "8.8.4", "integer-gmp", "1.0.2.0"),
    ("bookworm", "9.0.2", "ghc-bignum", "1.1"),
    ("trixie", "9.6.6", "ghc-bignum", "1.3"),
    ("sid", "9.10.3", "ghc-bignum", "1.3"),
])
def test_ghc_facts_of_four_debian_ghcs(data: Path, suite: str, version: str, library: str, library_version: str) -> None:
    folder = data / "toolchains" / suite
    facts = ghc_facts((folder / "ghc-info.txt").read_text(), (folder / "ghc-pkg-list.txt").read_text())
    assert (facts.version, facts.integer_library, facts.integer_library_version) == (version, library, library_version)
    assert facts.replaces_gmp_allocator is False


def test_old_integer_gmp_is_the_one_that_replaces_the_allocator() -> None:
    facts = ghc_facts('[("Project version","7.8.4")]', "base-4.7.0.2 integer-gmp-0.5.1.0 rts-1.0")
    assert facts.integer_library_version == "0.5.1.0"
    assert facts.replaces_gmp_allocator is True


def test_package_list_keeps_hyphenated_names() -> None:
    assert parse_package_list("ghc-bignum-1.3 test-framework-0.8.2.0 (broken-1.0)") == {
        "ghc-bignum": "1.3", "test-framework": "0.8.2.0", "broken": "1.0"}
