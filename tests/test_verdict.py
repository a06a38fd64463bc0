"""The one judge, as a table over real captured outcomes: each case changes one thing of a real passing
Ganeti 3.1 cell on trixie (or of a real failing one) and says what the cell's verdict must be."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from compat import matrix
from compat.analysis.probe import parse_probe
from compat.expected import explained
from compat.facts import manifest, own_sources, verdicts
from compat.matrix import Expectation
from compat.outputs.context import ReportContext
from compat.outputs.html import render_html
from compat.parts import Flag, HaskellTests
from compat.report_text import cell_text
from compat.results import CellResult
from compat.status import Status
from compat.verdict import MAX_LINE, MAX_LINES, MAX_TEST_NAMES, CellOutcome, Step, judge
from tests.conftest import DATA, ROOT

GNUTLS, OPENSSL = "libcurl-gnutls.so.4", "libcurl.so.4"
TOOLCHAIN_FILES = ("ghc-info.txt", "ghc-pkg-list.txt", "ghc-pkg-check.txt", "ghc-pkg-dump.txt", "dpkg-libghc.tsv")
ERRORS = Path(__file__).parent / "data" / "errors"
LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 "lol">\n'
          + "".join(f' <!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">\n' for n in range(1, 10))
          + ']>\n<testsuites><testsuite><testcase classname="lol" name="&lol9;"/></testsuite></testsuites>\n')
ONE_ENTITY = ('<!DOCTYPE t [<!ENTITY name "prop_ok">]>'
              '<testsuites><testsuite><testcase classname="t" name="&name;"/></testsuite></testsuites>')
PASSWD = ('<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
          '<testsuites><testsuite><testcase classname="t" name="&x;"/></testsuite></testsuites>')


def read(*parts: str) -> str:
    return DATA.joinpath(*parts).read_text()


def texts(suite: str = "trixie", linkage: str | None = None) -> dict[str, str]:
    found = {name: read("toolchains", suite, name) for name in TOOLCHAIN_FILES}
    found["linkage.txt"] = read("ganeti", "3.1-trixie-linkage.txt") if linkage is None else linkage
    return found


def ganeti(soname: str = GNUTLS, **changes: object) -> CellOutcome:
    """The real Ganeti 3.1 cell on trixie's GHC 9.6.6 (gnutls flavor) that passed 456 of 456."""
    passing = CellOutcome(
        steps=(Step("fetch", 0), Step("configure", 0, read("ganeti", "3.1-trixie-configure.log")),
               Step("build", 0, read("ganeti", "3.1-trixie-build.log")), Step("test", 0, "")),
        junit_name="htest.xml", junit=read("ganeti", "3.1-trixie-htest.jxml.xml"),
        facts=verdicts(texts(), soname), own_sources=own_sources(read("ganeti", "3.1-haskell-sources.txt")),
        probe=parse_probe(read("probe", "trixie-gnutls-hostile.txt").replace("probe-exit hostile 139", ""), 20),
        suite="trixie")
    return replace(passing, **changes)


def failed_step(name: str, exit_code: int | None, log: str, **changes: object) -> CellOutcome:
    """The Ganeti cell with one step failing and nothing after it."""
    order = ("fetch", "prepare", "configure", "build", "test")
    steps = tuple(s for s in ganeti().steps if order.index(s.name) < order.index(name))
    built = name == "test"
    base = ganeti(steps=steps + (Step(name, exit_code, log, 1800),), junit=None, probe=None,
                  facts=verdicts(texts(linkage="") if not built else texts(), GNUTLS))
    return replace(base, **changes)


def test_a_real_passing_cell_passes_with_its_facts() -> None:
    verdict = judge(ganeti())
    assert (verdict.status, verdict.cause, verdict.evidence) == ("pass", None, ())
    assert verdict.tests is not None and (verdict.tests.total, verdict.tests.failed) == (456, 0)
    assert [name for name, _ in verdict.flags] == ["ssl:mixed-tls-stacks"]
    assert verdict.recommendation == "GnuTLS safe with this GHC (ghc-bignum 1.3 does not hook GMP's allocator)"
    assert verdict.fault_injection is None


# Each row: what changed against the real passing cell, and the verdict the judge must give.
CASES = {
    # Tests: only this cell's JUnit file counts; a missing or empty one is never a pass.
    "tests exit 1 without a JUnit file": (
        lambda: ganeti(steps=ganeti().steps[:-1] + (Step("test", 1, "htest: user error\n"),), junit=None),
        ("test-fail", "no-junit", "the tests exited with 1 and wrote no JUnit file htest.xml")),
    "tests exit 0 without a JUnit file": (
        lambda: ganeti(junit=None), ("test-fail", "no-junit", "the tests exited with 0 and wrote no JUnit file htest.xml")),
    "a JUnit file without test cases": (
        lambda: ganeti(junit='<?xml version="1.0"?><testsuites></testsuites>'),
        ("test-fail", "no-junit", "the JUnit file htest.xml holds no test cases")),
    "a JUnit file cut off": (
        lambda: ganeti(junit=read("ganeti", "3.1-trixie-htest.jxml.xml")[:5000]),
        ("test-fail", "no-junit", "the JUnit file htest.xml is unreadable: ")),
    # The JUnit file is written by the code under test: anything but plain XML is a test outcome, never expanded.
    "a JUnit file of binary garbage": (
        lambda: ganeti(junit=bytes(range(256)).decode(errors="replace")),
        ("test-fail", "no-junit", "the JUnit file htest.xml is unreadable: ")),
    "a JUnit file that is not UTF-8": (
        lambda: ganeti(junit=read("ganeti", "3.1-trixie-htest.jxml.xml").encode("utf-16").decode(errors="replace")),
        ("test-fail", "no-junit", "the JUnit file htest.xml is unreadable: ")),
    "a JUnit file declaring an entity": (
        lambda: ganeti(junit=ONE_ENTITY), ("test-fail", "no-junit", "the JUnit file htest.xml is unreadable: it declares a DOCTYPE")),
    "a JUnit file of billion laughs": (
        lambda: ganeti(junit=LAUGHS), ("test-fail", "no-junit", "the JUnit file htest.xml is unreadable: it declares a DOCTYPE")),
    "a JUnit file with an external entity": (
        lambda: ganeti(junit=PASSWD), ("test-fail", "no-junit", "the JUnit file htest.xml is unreadable: it declares a DOCTYPE")),
    "the tests killed by a signal, their JUnit file cut off": (
        lambda: ganeti(steps=ganeti().steps[:-1] + (Step("test", 139, "Test.Ganeti.Objects:\n"),),
                       junit=read("ganeti", "3.1-trixie-htest.jxml.xml")[:5000]),
        ("crash", None, "step test:")),
    "ten failing tests (generated Python missing)": (
        lambda: ganeti(steps=ganeti().steps[:-1] + (Step("test", 1, ""),),
                       junit=read("ganeti", "3.1-trixie-htest-without-generated-python.jxml.xml")),
        ("test-fail", None, "10 of 456 tests failed")),
    "tests exit 1 though JUnit says all passed": (
        lambda: ganeti(steps=ganeti().steps[:-1] + (Step("test", 1, ""),)),
        ("test-fail", None, "the tests exited with 1 although the JUnit file reports 456 passed")),
    "a failing test named prop_Aborted is no crash": (
        lambda: ganeti(steps=ganeti().steps[:-1] + (Step("test", 1, "  prop_Aborted: [Failed]\n"),),
                       junit=read("ganeti", "3.1-trixie-htest-without-generated-python.jxml.xml")),
        ("test-fail", None, "10 of 456 tests failed")),
    "the test binary was never built (exit 127)": (
        lambda: ganeti(steps=ganeti().steps[:-1] + (Step("test", 127, "not found: exe/htest\nexec failed\n"),),
                       junit=None),
        ("test-fail", None, "step test: not found: exe/htest")),
    "an RTS crash during the tests": (
        lambda: ganeti(steps=ganeti().steps[:-1] + (Step("test", 134, (
            "htest: internal error: scavenge_stack: weird activation record found on stack: 0\n"
            "    (GHC version 7.8.4 for x86_64_unknown_linux)\n")),)),
        ("crash", None, "step test:")),
    "tests killed at their timeout": (
        lambda: ganeti(steps=ganeti().steps[:-1] + (Step("test", None, "Ganeti/Query\n", 1800),), junit=None),
        ("timeout", None, "step test ran past its timeout of 1800 s")),
    "exit 255 is not a signal": (
        lambda: ganeti(steps=ganeti().steps[:-1] + (Step("test", 255, "ssh: connect to host: refused\n"),),
                       junit=None),
        ("test-fail", "no-junit", "the tests exited with 255 and wrote no JUnit file htest.xml")),
    # Facts can only lower a verdict.
    "a binary the recipe lists is missing after the build": (
        lambda: ganeti(facts=verdicts(texts(linkage="== missing exe/htest\n" + read("ganeti", "3.1-trixie-linkage.txt")),
                                      GNUTLS)),
        ("build-fail", "link", "missing after the build: exe/htest")),
    "binaries of another flavor than the cell's": (
        lambda: ganeti(soname=OPENSSL, facts=verdicts(texts(), OPENSSL)),
        ("build-fail", "link", "exe/htools: asked for libcurl.so.4, links libcurl-gnutls.so.4")),
    "linkage facts lost to a timeout": (
        lambda: ganeti(facts=verdicts(texts(linkage=""), GNUTLS),
                       incomplete=("linkage.txt: `sh /build/.compat/inspect-build` timed out after 120 s",)),
        ("error", "facts", "the linkage facts of the binaries are incomplete: which libcurl they link is unknown")),
    # The plain probe run speaks for the cell; the fault-injection run never does.
    "the plain probe run crashes": (
        lambda: ganeti(probe=parse_probe("Segmentation fault\nprobe-exit plain 139\n", 20)),
        ("crash", None, "runtime probe, plain run (HTTPS through the curl binding): crash (SIGSEGV)")),
    "the plain probe run fails": (
        lambda: ganeti(probe=parse_probe("probe: request 1 failed: CurlSSLConnectError\nprobe-exit plain 2\n", 20)),
        ("test-fail", "probe", "runtime probe, plain run (HTTPS through the curl binding): fail (exit 2)")),
    "the probe hangs": (
        lambda: ganeti(probe=parse_probe("", 20, timed_out=True)),
        ("timeout", None, "runtime probe, plain run (HTTPS through the curl binding): timeout")),
    "a hostile GMP hook crashes GnuTLS: fault injection, not a verdict": (
        lambda: ganeti(probe=parse_probe(read("probe", "trixie-gnutls-hostile.txt"), 20)),
        ("pass", None, None)),
    # Build steps: the classifier's cause, with the project's own modules from its tree.
    "Ganeti 3.0.2's lens bound on bookworm": (
        lambda: failed_step("configure", 1, read("ganeti", "3.0.2-bookworm-build.log")),
        ("build-fail", "deps", None)),
    "a module of the project itself is missing": (
        lambda: failed_step("build", 1, (ERRORS / "missing-module-own.log").read_text(),
                            own_sources=("Main.hs", "Ganeti/Config.hs")),
        ("build-fail", "compile", None)),
    "a module of Ganeti itself is missing": (
        lambda: failed_step("build", 1, "src/Ganeti/Query/Server.hs:60:1: error:\n"
                                        "    Could not find module ‘Ganeti.Query.Missing’\n"),
        ("build-fail", "compile", None)),
    "test-framework is missing for Ganeti's tests": (
        lambda: failed_step("build", 1, "test/hs/htest.hs:29:1: error:\n    Could not find module ‘Test.Framework’\n"),
        ("build-fail", "deps", None)),
    "a module of another package is missing": (
        lambda: failed_step("build", 1, (ERRORS / "missing-module-other-package.log").read_text(),
                            own_sources=("Main.hs", "Ganeti/Config.hs")),
        ("build-fail", "deps", None)),
    "an installed package made unusable by a missing dependency": (
        lambda: failed_step("build", 1, (ERRORS / "unusable-package-ghc-flag.log").read_text()),
        ("build-fail", "abi", None)),
    "a GHC panic": (
        lambda: failed_step("build", 1, ("[12 of 186] Compiling Ganeti.THH\nghc: panic! (the 'impossible' happened)\n"
                                         "  (GHC version 9.6.6:\n\tlookupGlobal\n\nPlease report this as a GHC bug:"
                                         "  https://www.haskell.org/ghc/reportabug\n")),
        ("crash", "ghc-panic", None)),
    "make is not installed (exit 127)": (
        lambda: failed_step("build", 127, "not found: make\n"), ("build-fail", "deps", "step build: not found: make")),
    "the build killed at its timeout": (
        lambda: failed_step("build", None, "[ 99 of 186] Compiling Ganeti.Query.Server\n"),
        ("timeout", None, "step build ran past its timeout of 1800 s")),
    # The image: apt refusing what the suite has is a dependency failure; a lost mirror is no verdict on the GHC.
    "apt cannot install what sid has (a transition)": (
        lambda: CellOutcome(steps=(Step("image", 1, read("errors", "apt-unmet-dependencies.log")),)),
        ("build-fail", "deps", "The following packages have unmet dependencies:")),
    "the mirror was lost while building the image": (
        lambda: CellOutcome(steps=(Step("image", 1, (
            "Err:1 http://deb.debian.org/debian sid InRelease\n  Temporary failure resolving 'deb.debian.org'\n"
            "E: Failed to fetch http://deb.debian.org/debian/dists/sid/InRelease  Temporary failure resolving\n")),)),
        ("error", "image", None)),
    "a bindist toolchain lacks a Haskell library none of its pins provides": (
        lambda: failed_step("configure", 1, "checking for Haskell network library... no\n"
                            "configure: error: network library not found, compilation will not possible\n",
                            missing_packages=("libghc-network-dev", "libghc-zlib-dev"), pinned_by="ghc710",
                            suite="jessie"),
        ("build-fail", "deps", "no pinned Hackage sdist of ghc710: libghc-network-dev, libghc-zlib-dev")),
    "an old suite lacks a package a later Ganeti's recipe names, beside a library no pin provides": (
        lambda: failed_step("configure", 1, "checking for Haskell cryptonite library... no\n"
                            "configure: error: cryptonite library not found, compilation will not possible\n",
                            missing_packages=("libghc-cryptonite-dev", "python3-bitarray"), pinned_by="ghc710",
                            suite="jessie"),
        ("build-fail", "deps", "no pinned Hackage sdist of ghc710: libghc-cryptonite-dev")),
    "a bindist download that cannot be had": (
        lambda: CellOutcome(unavailable="download 'ghc' failed: https://downloads.haskell.org/x: no host"),
        ("unavailable", None, "download 'ghc' failed: https://downloads.haskell.org/x: no host")),
    "the source could not be fetched": (
        lambda: CellOutcome(steps=(Step("fetch", 2, "compat-fetch: the orig tarball of ganeti could not be "
                                                            "fetched from sid\n"),)),
        ("error", "fetch", "compat-fetch: the orig tarball of ganeti could not be fetched from sid")),
    "the runner failed after the tests passed": (
        lambda: ganeti(runner_error="ConnectionError: the engine went away"),
        ("error", "runner", "ConnectionError: the engine went away")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_judge(name: str) -> None:
    make, (status, cause, first) = CASES[name]
    verdict = judge(make())
    assert (verdict.status, verdict.cause) == (status, cause), verdict.evidence
    if first is not None:
        assert verdict.evidence and verdict.evidence[0].startswith(first), verdict.evidence


def test_the_worst_outcome_wins_whatever_the_order() -> None:
    assert sorted(Status, key=lambda s: s.rank)[:6] == ["error", "timeout", "crash", "build-fail", "test-fail", "pass"]
    # Failing tests, binaries of another flavor and a crashing probe at once: the crash decides.
    outcome = ganeti(soname=OPENSSL, facts=verdicts(texts(), OPENSSL),
                     junit=read("ganeti", "3.1-trixie-htest-without-generated-python.jxml.xml"),
                     probe=parse_probe("probe-exit plain 139\n", 20))
    assert judge(outcome).status == "crash"
    assert judge(replace(outcome, probe=None)).status == "build-fail"  # then the wrong flavor


def test_fault_injection_is_its_own_outcome() -> None:
    verdict = judge(ganeti(probe=parse_probe(read("probe", "trixie-gnutls-hostile.txt"), 20)))
    assert verdict.status == "pass"
    assert "ssl:gmp-allocator-conflict" not in [name for name, _ in verdict.flags]
    assert verdict.recommendation == judge(ganeti()).recommendation
    # Captured before the shim told callers apart: it poisoned the program's Integers too, so it blames no one.
    assert verdict.fault_injection is not None and verdict.fault_injection.to_dict() == {
        "hostile_gmp": "crash (SIGSEGV)", "gmp_allocations_per_request": 35.0,
        "says": "the hostile hook poisoned every GMP allocation, the program's own too (crash (SIGSEGV)): it cannot "
                "tell TLS's part"}
    openssl = judge(ganeti(probe=parse_probe(read("probe", "trixie-openssl-hostile.txt"), 20)))
    assert openssl.fault_injection is not None and "(pass)" in openssl.fault_injection.says


def test_a_dev_package_declaring_another_flavor_is_said_as_it_is() -> None:
    # bullseye's libghc-curl-dev: libcurl4-openssl-dev for development, libcurl3-gnutls at run time.
    verdict = judge(ganeti(facts=verdicts(texts("bullseye"), GNUTLS)))
    assert verdict.status == "pass"
    mismatch = dict(verdict.flags)["ssl:flavor-mismatch"]
    assert mismatch == (("libghc-curl-dev declares the openssl libcurl for development and depends on the gnutls "
                        "libcurl at run time; the binaries link gnutls"),)
    assert "asked for" not in verdict.recommendation
    assert verdict.recommendation == (
        "GnuTLS safe with this GHC (integer-gmp 1.0.2.0 does not hook GMP's allocator); note: libghc-curl-dev "
        "declares the openssl libcurl for development and depends on the gnutls libcurl at run time; the binaries "
        "link gnutls")


def test_gnutls_is_called_safe_only_on_known_facts() -> None:
    unknown_library = texts()
    unknown_library["ghc-pkg-list.txt"] = ""
    verdict = judge(ganeti(facts=verdicts(unknown_library, GNUTLS),
                           incomplete=("ghc-pkg-list.txt: `ghc-pkg list` exited with 1",)))
    assert verdict.recommendation == "unknown: the integer library of this GHC could not be determined (ghc-pkg list)"
    assert ("facts:incomplete", ("ghc-pkg-list.txt: `ghc-pkg list` exited with 1",)) in verdict.flags
    old = texts()
    old["ghc-pkg-list.txt"] = "base-4.7.0.2 ghc-prim-0.3.1.0 integer-gmp-0.5.1.0 rts-1.0"
    assert judge(ganeti(facts=verdicts(old, GNUTLS))).recommendation.startswith("GnuTLS unsafe with this GHC")


def test_the_manifest_names_every_installed_package_under_the_suites_names() -> None:
    installed = manifest(read("ganeti", "3.1-trixie-dpkg-all.tsv"))
    assert installed["ghc"] == "9.6.6-4"
    for package in ("libcurl3t64-gnutls", "libcurl4t64", "libgnutls30t64", "libnettle8t64", "libhogweed6t64",
                    "libssl3t64", "libgmp10", "libghc-curl-dev", "libghc-lens-dev"):
        assert package in installed, package
    assert all(version for version in installed.values())


# Evidence comes from what containers wrote: bounded and printable on every path (see compat.verdict).

def test_an_evidence_line_is_cut_to_max_line_characters() -> None:
    verdict = judge(failed_step("build", 1, f"Linking exe/htools ...\n{'x' * 100_000_000}\nmake: *** Error 1\n"))
    assert (verdict.status, verdict.cause) == ("build-fail", "unknown")
    assert verdict.evidence == ("Linking exe/htools ...", "x" * 466 + "… [cut: 99999534 more characters]",
                                "make: *** Error 1")
    compile_error = judge(failed_step("build", 1, "src/Ganeti/BasicTypes.hs:3:1: error:\n    " + "y" * 1_000_000 + "\n"))
    assert compile_error.cause == "compile"
    assert [len(line) for line in compile_error.evidence] == [len("src/Ganeti/BasicTypes.hs:3:1: error:"), 499]


def test_evidence_and_each_flag_hold_at_most_max_lines_lines() -> None:
    missing = "".join(f"== missing exe/bin{n}\n" for n in range(100))
    verdict = judge(ganeti(facts=verdicts(texts(linkage=missing + read("ganeti", "3.1-trixie-linkage.txt")), GNUTLS)))
    assert verdict.cause == "link"
    assert len(verdict.evidence) == MAX_LINES
    assert verdict.evidence[-2:] == ("missing after the build: exe/bin18", "… [cut: 81 more lines]")
    gaps = tuple(f"linkage.txt: line {n}: " + "z" * 10_000 for n in range(30))
    verdict = judge(ganeti(incomplete=gaps))
    assert verdict.cause == "facts"
    flag = dict(verdict.flags)["facts:incomplete"]
    assert len(flag) == MAX_LINES and flag[-1] == "… [cut: 11 more lines]"
    for lines in (verdict.evidence, flag):
        assert all(len(line) <= MAX_LINE for line in lines)


def test_escape_sequences_and_control_characters_are_removed_from_evidence() -> None:
    coloured = judge(failed_step("build", 1, "\x1b[1m\x1b[31msrc/Ganeti/Query.hs:3:1: error:\x1b[0m\n"))
    assert (coloured.cause, coloured.evidence) == ("compile", ("src/Ganeti/Query.hs:3:1: error:",))
    log = ("\x1b]0;make: building\x07[ 3 of 186] Compiling Ganeti.Query\n"
           "\x1b[2K\x1b[1Aprogress 50%\r100%\x08\x00\tdone\x9b\n"
           "\x1b]8;;file:///build/log\x1b\\make: *** [Makefile:5342: all] Error 1\x1b]8;;\x1b\\\n")
    verdict = judge(failed_step("build", 1, log))
    assert verdict.evidence[-4:] == ("[ 3 of 186] Compiling Ganeti.Query", "progress 50%", "100%\tdone",
                                     "make: *** [Makefile:5342: all] Error 1")
    probe = judge(ganeti(probe=parse_probe("probe: request 1: \x1b[31mCurlSSLConnectError\x1b[0m\nprobe-exit plain 2\n", 20)))
    assert probe.evidence[1:] == ("probe: request 1: CurlSSLConnectError", "probe-exit plain 2")
    assert judge(CellOutcome(unavailable="download 'ghc'\x1b[31m failed\r\n")).evidence == ("download 'ghc' failed",)
    assert judge(ganeti(runner_error="engine\x07 went away\x1bM")).evidence == ("engine went away",)
    assert judge(ganeti(incomplete=("linkage.txt: \x1b[1mtimed out\x1b[0m",))).flags[-1] == (
        "facts:incomplete", ("linkage.txt: timed out",))


@pytest.mark.parametrize("exit_code", [2, 0])
def test_a_build_that_met_its_memory_limit_is_a_crash_even_when_make_exited_0(exit_code: int) -> None:
    log = "[ 3 of 186] Compiling Ganeti.Query\ngcc: fatal error: Killed signal terminated program cc1\n"
    step = Step("build", exit_code, log, 5400, out_of_memory=2048)
    verdict = judge(ganeti(steps=ganeti().steps[:2] + (step,), junit=None, probe=None))
    assert (verdict.status, verdict.cause) == ("crash", "memory")
    assert verdict.evidence[0] == ("step build: the kernel killed a process at the memory limit of 2048 MiB "
                                   "(limits.memory_mib in matrix.yaml)")


def test_failing_test_names_are_cleaned_and_bounded_and_the_counts_stay_whole() -> None:
    cases = "".join(f'<testcase classname="\x9b31mT{n}\x7f" name="{"n" * 1_000}"><failure/></testcase>'
                    for n in range(MAX_TEST_NAMES + 500))
    verdict = judge(ganeti(junit=f"<testsuites><testsuite>{cases}</testsuite></testsuites>"))
    assert verdict.status == "test-fail" and verdict.tests is not None
    assert (verdict.tests.total, verdict.tests.failed) == (MAX_TEST_NAMES + 500, MAX_TEST_NAMES + 500)
    assert len(verdict.tests.failed_names) == MAX_TEST_NAMES
    assert verdict.tests.failed_names[0].startswith("31mT0/nnn") and len(verdict.tests.failed_names[0]) <= MAX_LINE
    assert not any("\x9b" in name or "\x7f" in name for name in verdict.tests.failed_names)
    result = CellResult("ghc96", "ganeti-3.1", "gnutls", status="test-fail", tests=HaskellTests.from_dict(verdict.tests.as_dict()))
    assert explained((Expectation("ghc96--*", "all of them", test="*"),), result) == []  # the rest were not seen


def test_a_huge_failing_build_log_is_judged_within_a_bound() -> None:
    log = "".join(f"{fragment * (2_000 // len(fragment))}\n" for fragment in (
        "relocation against ", "rejecting: ", "\x1b]", "E: Version '", "src/A.hs:1")) * 5_000 + "\n" * 10_000_000
    start = time.perf_counter()
    verdict = judge(failed_step("build", 1, log))
    assert time.perf_counter() - start < 5  # a bound against quadratic behaviour, not a benchmark
    assert verdict.status == "build-fail"


def test_on_a_bindist_toolchain_what_the_suite_lacks_is_not_blamed_on_the_pins() -> None:
    make, _ = CASES["an old suite lacks a package a later Ganeti's recipe names, beside a library no pin provides"]
    assert judge(make()).evidence[:2] == ("no pinned Hackage sdist of ghc710: libghc-cryptonite-dev",
                                         "not packaged in jessie: python3-bitarray")


def test_a_facts_gap_stops_only_a_pass_never_a_test_failure() -> None:
    gap = ("linkage.txt: `sh /build/.compat/inspect-build` timed out after 120 s",)
    failing = judge(ganeti(junit=read("ganeti", "3.1-trixie-htest-without-generated-python.jxml.xml"), incomplete=gap))
    assert (failing.status, failing.evidence[0]) == ("test-fail", "10 of 456 tests failed")
    assert ("facts:incomplete", gap) in failing.flags
    passing = judge(ganeti(incomplete=gap))
    assert (passing.status, passing.cause) == ("error", "facts")


@pytest.mark.parametrize("probe_output, why", [
    ("ghc: could not find module Network.Curl\nprobe-exit build 1\n", "did not build (probe-exit build 1)"),
    ("", "ended without the exit line of its plain run"),  # killed at the memory limit before it printed
    ("probe-exit plain 0\n", "ended without the exit line of its counting run"),
])
def test_a_probe_that_measured_nothing_leaves_the_ssl_answer_unknown(probe_output: str, why: str) -> None:
    verdict = judge(ganeti(probe=parse_probe(probe_output, 20)))
    assert verdict.status == "pass"  # the build and the tests passed
    assert verdict.recommendation.startswith("unknown: the runtime probe ") and why in verdict.recommendation
    assert [evidence for name, evidence in verdict.flags if name == "probe:unmeasured"] == [
        (verdict.recommendation.removeprefix("unknown: ").split(": no runtime evidence")[0],)]
    assert judge(ganeti()).recommendation.startswith("GnuTLS safe")
    result = CellResult("ghc96", "ganeti-3.1", "gnutls", status=verdict.status,
                        flags=[Flag(name, lines) for name, lines in verdict.flags])
    assert "(SSL unmeasured)" in cell_text(result) and "(SSL unmeasured)" in render_html(ReportContext([result], "t"))


def test_ganeti_2_16_0_failing_on_ghc_7_10_with_the_newname_evidence_is_the_matrixs_expected_history() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    log = ("src/Ganeti/Objects.hs:120:1:\n    Illegal variable name: ‘type’\n    When splicing a TH declaration:\n"
           "make: *** [src/Ganeti/Objects.o] Error 1\n")
    verdict = judge(CellOutcome(steps=(Step("fetch", 0), Step("configure", 0), Step("build", 2, log))))
    assert (verdict.status, verdict.cause) == (Status.BUILD_FAIL, "compile")
    assert verdict.evidence[:2] == ("src/Ganeti/Objects.hs:120:1:", "    Illegal variable name: ‘type’")
    cells = {key: CellResult(*key.split("--"), status=verdict.status, cause=verdict.cause)
             for key in ("ghc710--ganeti-2.16.0--openssl", "ghc710--ganeti-2.16.2--openssl",
                         "ghc78--ganeti-2.16.0--openssl")}
    (entry,) = explained(m.expected, cells["ghc710--ganeti-2.16.0--openssl"])
    assert "ghc/-/issues/10599" in (entry.bug or "")
    # 2.16.2 carries the workaround, and GHC 7.8 accepts the names: a failure there would be news.
    assert explained(m.expected, cells["ghc710--ganeti-2.16.2--openssl"]) == []
    assert explained(m.expected, cells["ghc78--ganeti-2.16.0--openssl"]) == []


def test_an_image_whose_suite_apt_refuses_for_its_signature_is_an_image_error_naming_the_key() -> None:
    # Real apt 2.6 on a suite signed with a key that has expired (tests/test_frozen_docker.py serves one): without
    # a frozen pin the image cannot be built, and the evidence says why, not just the last lines of the build.
    verdict = judge(CellOutcome(steps=(Step("image", 1, read("apt", "expired-key-update.log")),)))
    assert (verdict.status, verdict.cause) == (Status.ERROR, "image")
    assert any("EXPKEYSIG" in line for line in verdict.evidence)
    assert any(line.endswith("is not signed.") for line in verdict.evidence)
