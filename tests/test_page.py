"""The HTML page: self-contained, everything from logs and names escaped, charts drawn from the runs."""

from __future__ import annotations

from compat.history import CellState, RunResults
from compat.outputs.context import ReportContext
from compat.outputs.html import anchor, render_html
from compat.parts import HaskellTests
from compat.results import CellResult, RunRecord
from compat.summary import facts_of

HOSTILE = "<script>alert('x')</script>"


def cell(toolchain: str, status: str, build: float, passed: int, run_id: str = "r2") -> CellResult:
    return CellResult(toolchain, "ganeti-3.1", "gnutls", status=status, run_id=run_id, started=f"2026-11-2{run_id[-1]}",
                      evidence=[f"failed: {HOSTILE}"] if status != "pass" else [], timings={"build": build},
                      tests=HaskellTests(456, passed, 456 - passed, (HOSTILE,)),
                      manifest={"ghc": "9.6.6-4", HOSTILE: "1"}, logs={"build": f"cells/{HOSTILE}/build.log"})


def test_everything_from_logs_and_names_is_escaped_and_nothing_is_external() -> None:
    page = render_html(ReportContext(
        [cell("ghc96", "pass", 200, 456), cell(HOSTILE, "test-fail", 210, 446)], HOSTILE,
        states={"ghc96--ganeti-3.1--gnutls": CellState("regressed", "2026-11-20T02:00:00+00:00", "r1")}))
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # no external asset
    assert page.count("class='cell status-") == 2
    assert f"href='#{anchor('ghc96--ganeti-3.1--gnutls')}'" in page and "regressed since 2026-11-20 (run r1)" in page
    assert all(c.isalnum() or c in "-_." for c in anchor(f"{HOSTILE}--g--f"))


def test_build_time_and_tests_are_charted_over_the_runs() -> None:
    cells = [cell("ghc96", "pass", 200 + 30 * i, 456, f"r{i}") for i in range(3)]
    runs = [RunResults(RunRecord(c.run_id, "matrix", "d", "0", c.started, finished="x"), {c.key: facts_of(c)},
                       None)  # type: ignore[arg-type]
            for c in cells]
    page = render_html(ReportContext(cells[-1:], "t", runs=runs))
    assert "Haskell build time (s), first flavor, last 3 runs (max 260)" in page
    assert page.count("<polyline") == 2 and "tests passed / total" in page
    assert "<polyline" not in render_html(ReportContext(cells[-1:], "t", runs=runs[:1]))


def test_cells_failing_for_one_reason_share_one_explanation() -> None:
    gone = [CellResult(t, "ganeti-3.1", f, status="unavailable", evidence=["download 'ghc' failed: no host"])
            for t in ("ghc78", "ghc710") for f in ("openssl", "gnutls")]
    page = render_html(ReportContext(gone, "t"))
    assert page.count("download &#x27;ghc&#x27; failed: no host") == 1
    assert page.count(f"The same reason as <a href='#{anchor('ghc78--ganeti-3.1--openssl')}'>") == 3
