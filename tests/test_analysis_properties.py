"""Whatever a container writes, the analysis answers within a deadline and never raises what it does not
document: logs, probe output and JUnit files are text of anyone's making."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compat.analysis.failures import classify_build, crash_evidence
from compat.analysis.junit import case_states, parse_junit
from compat.analysis.probe import parse_probe
from compat.facts import verdicts
from compat.status import Status
from compat.verdict import MAX_LINE, MAX_LINES, CellOutcome, Step, judge
from tests.test_verdict import GNUTLS, texts

# Pieces of what the patterns look for, so that arbitrary text also comes near a match and not only far from one.
FRAGMENTS = [
    "\n", "\r\n", "\r", " ", "\t", ":", "(", ")", "'", "`", "‘", "’", "\x1b[31m", "\x1b]0;", "\x07", "\x00", "\x85",
    "rejecting: ", "(conflict:", "configure: error: ", "library", "relocation ", " against ", "can not be used",
    "undefined reference to `", "zi", "_closure'", "dependency \"", "There are files missing in the ",
    "Could not find module ‘", "Data.Map’", "is unusable due to missing dependencies", "panic! (the 'impossible' happened)",
    "src/Ganeti/A.hs:3:1: error:", ".hs:", "error: [GHC-83865]", "Segmentation fault", "htest: internal error: ",
    "sh: line 1: 1234 Aborted", "(core dumped)", "killed by signal", "not found: ", "E: Version '", "' for '",
    "E: Package '", "' has no installation candidate", "unmet dependencies", "compat-fetch:",
    "probe-exit ", "plain ", "hostile ", "counting ", "gmp-shim: allocations ", "-", "139",
]
XML_FRAGMENTS = [
    "<", ">", "/>", "</", "<?xml version=\"1.0\"?>", "<testsuites>", "</testsuites>", "<testsuite>", "</testsuite>",
    "<testcase", " classname=\"A\"", " name=\"b\"", "</testcase>", "<failure/>", "<error>", "</error>", "&amp;", "&x;",
    "<![CDATA[", "]]>", "<!--", "-->", "<!DOCTYPE t [", "<!ENTITY x \"y\">", "]>", "\x00", "\udcff",
]
logs = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(FRAGMENTS)), max_size=40).map("".join)
# run-probe's own lines, with numbers up to past int()'s 4300 digits
numbers = st.one_of(st.integers(-300, 300).map(str), st.integers(1, 6_000).map(lambda n: "9" * n))
probe_texts = st.lists(st.one_of(
    logs, st.builds("probe-exit {} {}".format, st.sampled_from(["plain", "counting", "hostile", "build", "ü"]), numbers),
    st.builds("gmp-shim: allocations {} ({})".format, numbers, st.sampled_from(["counting", "hostile"]))),
    max_size=8).map("\n".join)
xml = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(XML_FRAGMENTS)), max_size=40).map("".join)
exits = st.one_of(st.none(), st.integers(-70, 300), st.sampled_from([0, 1, 2, 124, 126, 127, 134, 139, 255]))
steps = st.lists(st.builds(Step, st.sampled_from(["image", "fetch", "prepare", "configure", "build", "test"]), exits, logs,
                           st.one_of(st.none(), st.floats(0, 1e6))), max_size=6).map(tuple)
REAL_FACTS = verdicts(texts(), GNUTLS)  # the real passing Ganeti cell's: the flags and recommendation paths
outcomes = st.builds(
    CellOutcome,
    unavailable=st.one_of(st.none(), logs), runner_error=st.one_of(st.none(), logs), steps=steps,
    expects_tests=st.booleans(), junit_name=st.one_of(st.none(), st.just("htest.xml")), junit=st.one_of(st.none(), xml),
    facts=st.sampled_from([None, REAL_FACTS]), incomplete=st.lists(logs, max_size=3).map(tuple),
    own_sources=st.one_of(st.none(), st.lists(st.text(max_size=30), max_size=5).map(tuple)),
    probe=st.one_of(st.none(), st.builds(parse_probe, probe_texts, st.integers(-5, 50), st.booleans())),
    missing_packages=st.lists(st.text(max_size=20), max_size=3).map(tuple), suite=st.text(max_size=10))

BOUNDED = settings(deadline=2000, max_examples=200, database=None, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(logs, st.one_of(st.none(), st.lists(st.text(max_size=30), max_size=5)))
def test_classify_build_reads_any_log(log: str, own_sources: list[str] | None) -> None:
    diagnosis = classify_build(log, own_sources)
    assert diagnosis.cause in (None, "ghc-panic", "deps", "abi", "link", "compile")


@BOUNDED
@given(logs, st.integers(-300, 300))
def test_crash_evidence_reads_any_log(log: str, exit_code: int) -> None:
    assert isinstance(crash_evidence(log, exit_code), tuple)


@BOUNDED
@given(probe_texts, st.integers(-5, 50), st.booleans())
def test_parse_probe_reads_any_output(text: str, requests: int, timed_out: bool) -> None:
    outcome = parse_probe(text, requests, timed_out)
    assert outcome.as_dict()["plain"]  # every run has a verdict


@BOUNDED
@given(st.one_of(xml, st.text()))
def test_junit_is_counted_or_a_value_error(text: str) -> None:
    try:
        counts = parse_junit(text)
    except ValueError:
        return
    assert counts.total == counts.passed + counts.failed == len(counts.failed_names) + counts.passed
    states = case_states(text)  # one entry per name: names may repeat
    assert len(states) <= counts.total and {name for name, passed in states.items() if not passed} <= set(counts.failed_names)


def printable(line: str) -> bool:
    return len(line) <= MAX_LINE and all(c == "\t" or unicodedata.category(c) != "Cc" for c in line)


@BOUNDED
@given(outcomes)
def test_the_judge_answers_any_outcome_with_bounded_printable_evidence(outcome: CellOutcome) -> None:
    verdict = judge(outcome)
    assert verdict.status in set(Status)
    assert len(verdict.evidence) <= MAX_LINES and all(printable(line) for line in verdict.evidence)
    for _, evidence in verdict.flags:
        assert len(evidence) <= MAX_LINES and all(printable(line) for line in evidence)
    assert printable(verdict.recommendation)


@settings(deadline=2000, max_examples=50, database=None)
@given(st.text(min_size=1, max_size=3), st.integers(300, 3_000))
def test_long_evidence_lines_are_cut(piece: str, repeat: int) -> None:
    log = "x" + piece * repeat  # a line of up to 9,000 characters in a failing build's log
    verdict = judge(CellOutcome(steps=(Step("build", 1, log),)))
    assert verdict.evidence and all(printable(line) for line in verdict.evidence)
