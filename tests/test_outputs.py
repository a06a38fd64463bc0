"""The matrix for machines: JUnit, Atom and the badge, read back with a real XML parser."""

from __future__ import annotations

from xml.etree import ElementTree

from compat.history import CellChange, RunDiff
from compat.matrix import Expectation
from compat.outputs.atom import ATOM, render_atom
from compat.outputs.badge import render_badge
from compat.outputs.context import ReportContext
from compat.outputs.junit import render_junit
from compat.results import CellResult


def cells() -> list[CellResult]:
    return [CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass", timings={"build": 200.0, "test": 50.0}),
            CellResult("ghc90", "ganeti-3.0.2", "gnutls", status="build-fail", cause="deps",
                       evidence=["rejecting: lens-5.0.1 <&> ]]>"]),
            CellResult("ghc710", "ganeti-3.1", "openssl", status="unavailable", evidence=["download 'ghc' failed"]),
            CellResult("ghc910", "ganeti-3.1", "gnutls", status="test-fail", evidence=["1 of 456 tests failed"])]


def test_one_junit_test_case_per_cell() -> None:
    known = (Expectation("ghc910--*--*", "GHC 9.10 breaks one test"),)
    suite = ElementTree.fromstring(render_junit(ReportContext(cells(), "t", known=known)))
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "2")
    cases = {f"{c.get('classname')}/{c.get('name')}": c for c in suite.iter("testcase")}
    assert cases["ghc96.ganeti-3.1/gnutls"].get("time") == "250.0"
    failure = cases["ghc90.ganeti-3.0.2/gnutls"].find("failure")
    assert failure is not None and failure.get("message") == "build-fail (deps)"
    assert failure.text == "rejecting: lens-5.0.1 <&> ]]>"
    skipped = cases["ghc910.ganeti-3.1/gnutls"].find("skipped")
    assert skipped is not None and skipped.get("message") == "expected (test-fail): GHC 9.10 breaks one test"


def test_the_feed_has_one_stable_entry_per_regression_or_fix() -> None:
    night = RunDiff("r1", "r2", regressions=[CellChange("ghc96--ganeti-3.1--gnutls", "pass", "test-fail", "10 failed",
                                                        manifest=[("ghc", "9.6.6-4", "9.6.7-1")])],
                    fixes=[CellChange("ghc90--ganeti-3.1--gnutls", "crash", "pass", "")])
    text = render_atom(ReportContext([], "t", feed=[(night, "2026-11-25T03:00:00+00:00")]))
    feed = ElementTree.fromstring(text)
    entries = feed.findall(f"{{{ATOM}}}entry")
    assert [e.findtext(f"{{{ATOM}}}id") for e in entries] == [
        "tag:ganeti-compat,2026:r2/ghc96--ganeti-3.1--gnutls/regression", "tag:ganeti-compat,2026:r2/ghc90--ganeti-3.1--gnutls/fix"]
    assert entries[0].findtext(f"{{{ATOM}}}summary") == "10 failed\nchanged beside it: ghc 9.6.6-4 -> 9.6.7-1"
    assert render_atom(ReportContext([], "t", feed=[(night, "2026-11-25T03:00:00+00:00")])) == text


def test_the_badge_counts_cells_that_could_run() -> None:
    badge = ElementTree.fromstring(render_badge(ReportContext(cells(), "t")))
    assert badge.get("aria-label") == "ganeti-compat: 1/3 pass"
