from __future__ import annotations

import time
from pathlib import Path

import pytest

from compat.analysis.junit import MAX_CHARS, case_states, parse_junit
from compat.analysis.probe import parse_probe
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


# The JUnit file is written by the code under test: read, never trusted.

def test_junit_counts_only_failures_and_errors_that_are_children_of_a_test_case() -> None:
    text = ('<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="s">'
            '<testcase classname="A" name="ok"><system-out><failure/></system-out></testcase>'
            '<testcase classname="A" name="bad"><failure message="x"/></testcase>'
            '<testcase name="err"><error/></testcase></testsuite></testsuites>')
    counts = parse_junit(text)
    assert (counts.total, counts.passed, counts.failed, counts.failed_names) == (3, 1, 2, ("A/bad", "err"))
    assert case_states(text) == {"A/ok": True, "A/bad": False, "err": False}


def test_case_states_of_the_real_file(data: Path) -> None:
    states = case_states((data / "ganeti/3.1-trixie-htest-without-generated-python.jxml.xml").read_text())
    assert len(states) == 454 and sum(not passed for passed in states.values()) == 10  # two names appear twice


def external(tmp_path: Path) -> list[str]:
    secret = tmp_path / "secret"
    secret.write_text("the-secret-content")
    return [f'<!DOCTYPE t [<!ENTITY x SYSTEM "{secret.as_uri()}">]><testsuite><testcase name="&x;"/></testsuite>',
            f'<!DOCTYPE t [<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;]><testsuite><testcase name="a"/></testsuite>',
            f'<!DOCTYPE testsuite SYSTEM "{secret.as_uri()}"><testsuite><testcase name="a"/></testsuite>']


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
          + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
          + ']><testsuite><testcase name="&lol9;"/></testsuite>')


def test_junit_refuses_a_doctype_before_reading_its_declarations(tmp_path: Path) -> None:
    for text in [LAUGHS, '<!DOCTYPE t [<!ENTITY n "prop">]><testsuite><testcase name="&n;"/></testsuite>',
                 "<!DOCTYPE testsuite><testsuite/>", *external(tmp_path)]:
        for read in (parse_junit, case_states):
            with pytest.raises(ValueError, match="declares a DOCTYPE") as refused:
                read(text)
            assert "secret-content" not in str(refused.value)


@pytest.mark.parametrize("text", [
    pytest.param('<?xml version="1.0"?><testsuites><testsuite><testcase name="a"/>', id="truncated"),
    pytest.param(bytes(range(256)).decode(errors="replace"), id="binary garbage"),
    pytest.param("\x00\x01<testsuite/>", id="control characters"),
    pytest.param('<testsuite><testcase name="caf\udce9"/></testsuite>', id="non-UTF-8 read with surrogateescape"),
    pytest.param('<testsuite><testcase name="a"/></testsuite>'.encode("utf-16").decode(errors="replace"), id="UTF-16"),
    pytest.param("", id="empty"),
    pytest.param("<testsuite><testcase name='a'/></testsuite><testsuite/>", id="two roots"),
])
def test_junit_that_is_no_xml_is_a_value_error(text: str) -> None:
    for read in (parse_junit, case_states):
        with pytest.raises(ValueError):
            read(text)


def test_junit_larger_than_max_chars_is_not_parsed() -> None:
    text = "<testsuite>" + '<testcase name="a"/>' * (MAX_CHARS // 20) + "</testsuite>"
    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"more than the {MAX_CHARS} read"):
        parse_junit(text)
    assert time.perf_counter() - start < 1


def test_probe_output_with_numbers_no_exit_code_can_hold() -> None:
    outcome = parse_probe(f"probe-exit plain {'9' * 5000}\ngmp-shim: allocations {'1' * 5000} (counting)\n"
                          "probe-exit hostile 1234567890\nprobe-exit plain 139\ngmp-shim: allocations 700 (counting)\n", 20)
    assert outcome.exits == {"plain": 139}
    assert outcome.allocations == {"counting": 700}
    assert outcome.verdict("plain") == "crash (SIGSEGV)"
