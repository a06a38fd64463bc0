"""What changed between two runs, on real htest JUnit files and real manifests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from compat import matrix
from compat.analysis.junit import case_states
from compat.commands.found import exit_code, nightly_exit
from compat.expected import explained, matrix_cells, unmatched
from compat.facts import manifest
from compat.history import cell_state, complete_runs, diff, junit_states, load_run_results, render
from compat.matrix import Expectation
from compat.outputs.context import ReportContext
from compat.outputs.markdown import render_markdown
from compat.parts import Flag, HaskellTests
from compat.results import CellResult, RunRecord, load_run, prune, store, write_run
from compat.status import Status
from tests.conftest import DATA, ROOT, with_expected

PASSING = DATA / "ganeti" / "3.1-trixie-htest.jxml.xml"
TEN_FAILING = DATA / "ganeti" / "3.1-trixie-htest-without-generated-python.jxml.xml"
KEY = "ghc96--ganeti-3.1--gnutls"


def cell(status: str, junit: Path | None, packages: dict[str, str], toolchain: str = "ghc96", cause: str | None = None,
         evidence: list[str] | None = None, flags: list[str] | None = None) -> tuple[CellResult, Path | None]:
    result = CellResult(toolchain, "ganeti-3.1", "gnutls", status=status, cause=cause, evidence=evidence or [],
                        manifest=packages, flags=[Flag(name, ()) for name in flags or []])
    return result, junit


def stored(reports: Path, run_id: str, started: str, *cells: tuple[CellResult, Path | None],
           finished: bool = True, kind: str = "matrix") -> None:
    run_dir = reports / "runs" / run_id
    write_run(run_dir, RunRecord(run_id, kind, "digest", "0.1.0", started,
                                 finished=f"{started[:-6]}9+00:00" if finished else None))
    for result, junit in cells:
        result.run_id, result.started = run_id, started
        if junit is not None:
            target = run_dir / "cells" / result.key / "junit.xml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(junit.read_text())
            result.logs["junit"] = str(target.relative_to(run_dir))
        store(run_dir, result)


def trixie() -> dict[str, str]:
    return manifest((DATA / "ganeti" / "3.1-trixie-dpkg-all.tsv").read_text()) | {"source": "3.1.0~rc2-5"}


def test_a_regression_names_the_tests_and_the_packages_that_changed_beside_it(tmp_path: Path) -> None:
    moved = trixie() | {"libghc-lens-dev": "5.3.2-1", "source": "3.1.0~rc2-6"}
    stored(tmp_path, "a", "2026-11-24T02:00:00+00:00", cell("pass", PASSING, trixie()),
           cell("pass", PASSING, trixie(), toolchain="ghc910"), cell("unavailable", None, {}, toolchain="ghc710"))
    stored(tmp_path, "b", "2026-11-25T02:00:00+00:00",
           cell("test-fail", TEN_FAILING, moved, evidence=["10 of 456 tests failed"], flags=["ssl:mixed-tls-stacks"]),
           cell("error", None, {}, toolchain="ghc910", cause="runner", evidence=["ConnectionError: engine lost"]),
           cell("unavailable", None, {}, toolchain="ghc710"), cell("pass", PASSING, trixie(), toolchain="ghc912"))
    old, new = complete_runs(tmp_path)
    found = diff(old, new, junit_states)
    assert found.regressed and [c.key for c in found.regressions] == [KEY]
    change = found.regressions[0]
    assert (change.before, change.after, change.why) == ("pass", "test-fail", "10 of 456 tests failed")
    assert list(change.tests) == ["newly failing"] and len(change.tests["newly failing"]) == 10
    assert "Luxi/Client/AllDefined" not in change.tests["newly failing"]
    assert change.manifest == [("libghc-lens-dev", trixie()["libghc-lens-dev"], "5.3.2-1"),
                               ("source", "3.1.0~rc2-5", "3.1.0~rc2-6")]
    # A lost engine is the infrastructure, not ghc910; an unavailable toolchain that stays so is no news.
    assert [c.key for c in found.infrastructure] == ["ghc910--ganeti-3.1--gnutls"]
    assert found.newly_unavailable == [] and found.new_cells == ["ghc912--ganeti-3.1--gnutls"]
    assert found.flags == [(KEY, "appeared", "ssl:mixed-tls-stacks")]
    text = "\n".join(render(found))
    assert f"- `{KEY}`: pass -> test-fail: 10 of 456 tests failed" in text
    assert "  - changed beside it: libghc-lens-dev " in text and "source 3.1.0~rc2-5 -> 3.1.0~rc2-6" in text

    back = diff(new, old, junit_states)
    assert [c.key for c in back.fixes] == [KEY] and not back.regressed
    assert back.fixes[0].tests == {"newly passing": back.fixes[0].tests["newly passing"]}


def test_an_incomplete_or_other_kind_of_run_is_never_the_previous_one(tmp_path: Path) -> None:
    stored(tmp_path, "a", "2026-11-24T02:00:00+00:00", cell("pass", PASSING, trixie()))
    stored(tmp_path, "b", "2026-11-24T12:00:00+00:00", cell("crash", None, trixie()), finished=False)
    stored(tmp_path, "c", "2026-11-24T13:00:00+00:00", cell("crash", None, trixie()), kind="fault-injection")
    stored(tmp_path, "d", "2026-11-25T02:00:00+00:00", cell("pass", PASSING, trixie()))
    assert [run.record.run_id for run in complete_runs(tmp_path)] == ["a", "d"]
    run = load_run_results(tmp_path / "runs" / "d")
    assert run is not None and junit_states(run, run.cells[KEY]) is not None


def test_compat_diff_exits_1_on_regressions_and_0_otherwise(tmp_path: Path) -> None:
    stored(tmp_path, "a", "2026-11-24T02:00:00+00:00", cell("pass", PASSING, trixie()))
    stored(tmp_path, "b", "2026-11-25T02:00:00+00:00",
           cell("build-fail", None, trixie(), cause="deps", evidence=["rejecting: lens-5.3.2"]))

    def compat(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "compat", "--reports", str(tmp_path), "diff", *args], cwd=ROOT,
                              capture_output=True, text=True, check=False)

    regressed = compat()
    assert regressed.returncode == 1, regressed.stderr
    assert f"- `{KEY}`: pass -> build-fail (deps): rejecting: lens-5.3.2" in regressed.stdout
    assert compat("b", "a").returncode == 0
    missing = compat("a", "zzz")
    assert missing.returncode == 2 and "no complete matrix or session run of that id" in missing.stderr


def test_the_report_says_what_changed_before_the_grid(tmp_path: Path) -> None:
    stored(tmp_path, "a", "2026-11-24T02:00:00+00:00", cell("pass", PASSING, trixie()))
    stored(tmp_path, "b", "2026-11-25T02:00:00+00:00", cell("test-fail", TEN_FAILING, trixie()))
    old, new = complete_runs(tmp_path)
    text = render_markdown(ReportContext(load_run(tmp_path / "runs" / "b"), "t", changes=diff(old, new, junit_states)))
    assert text.index("## What changed since run a (this run: b)") < text.index("| toolchain")
    assert "### Regressions" in text and "tests newly failing (10)" in text


def test_expected_failures_are_not_regressions_and_a_pass_that_was_expected_to_fail_is_said(tmp_path: Path) -> None:
    stored(tmp_path, "a", "2026-11-24T02:00:00+00:00", cell("pass", PASSING, trixie()),
           cell("test-fail", TEN_FAILING, trixie(), toolchain="ghc910"))
    failing = cell("test-fail", TEN_FAILING, trixie(), evidence=["10 of 456 tests failed"])
    failing[0].tests = HaskellTests(456, 446, 10, tuple(
        name for name, ok in case_states(TEN_FAILING.read_text()).items() if not ok))
    stored(tmp_path, "b", "2026-11-25T02:00:00+00:00", failing, cell("pass", PASSING, trixie(), toolchain="ghc910"))
    old, new = complete_runs(tmp_path)
    known = (Expectation("ghc96--ganeti-3.1--*", "the generated Python modules are missing", test="Luxi/*"),
             Expectation("ghc96--ganeti-3.1--*", "the generated Python modules are missing", test="*/Python*"),
             Expectation("ghc910--*--gnutls", "GHC 9.10 breaks Ganeti.THH", bug="https://bugs.debian.org/1"))
    names = failing[0].tests.failed_names
    covered = (Expectation("ghc96--*", "all ten", test="*"),)
    assert explained(covered, failing[0]) == list(covered)
    assert explained((Expectation("ghc96--*", "only one", test=names[0]),), failing[0]) == []
    found = diff(old, new, junit_states, covered + known[2:])
    assert not found.regressed and [c.key for c in found.expected] == [KEY]
    assert found.expected[0].why == "expected (test *): all ten"
    assert [(c.key, c.before) for c in found.unexpected_passes] == [
        ("ghc910--ganeti-3.1--gnutls", "expected (test-fail): GHC 9.10 breaks Ganeti.THH <https://bugs.debian.org/1>")]
    assert "### Unexpected passes" in "\n".join(render(found))
    assert diff(old, new, junit_states, known[2:]).regressed  # without an entry for it, it is one
    assert exit_code([failing[0]], covered) == 0 and exit_code([failing[0]]) == 1


def test_an_expected_entry_that_matches_no_cell_is_a_validation_warning(tmp_path: Path) -> None:
    text = with_expected((ROOT / "matrix.yaml").read_text(), (
        "  - {cell: 'ghc97--*--*', status: test-fail, reason: typo}\n"
        "  - {cell: 'ghc96--ganeti-3.1--*', status: build-fail, cause: deps, reason: real}\n"))
    file = tmp_path / "matrix.yaml"
    file.write_text(text)
    m = matrix.load(file)
    assert unmatched(m.expected, matrix_cells(m)) == [m.expected[0]]
    done = subprocess.run([sys.executable, "-m", "compat", "validate", str(file)], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0
    assert done.stderr == f"ganeti-compat: {file}: warning: expected entry 'ghc97--*--*' matches no cell of the matrix\n"
    file.write_text(text.replace("ghc97--*--*", "ghc97"))
    bad = subprocess.run([sys.executable, "-m", "compat", "validate", str(file)], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert bad.returncode == 2 and "expected[0].cell: 'ghc97' is not a cell pattern" in bad.stderr


@pytest.mark.parametrize("statuses, state, since", [
    (["pass"], "new", None),
    (["pass", "pass"], "pass", None),
    (["test-fail", "pass"], "fixed", None),
    (["pass", "error", "test-fail"], "regressed", ("d0", "r0")),
    (["test-fail", "build-fail", "test-fail"], "always-failing", None),
    (["pass", "test-fail", "pass", "test-fail"], "flaky", None),
    (["pass", "error", "pass", "unavailable", "pass"], "pass", None),  # infrastructure never makes a cell flaky
    (["error"], "unknown", None),
])
def test_a_cells_state_over_the_runs(statuses: list[str], state: str, since: tuple[str, str] | None) -> None:
    found = cell_state([(Status(status), f"d{i}", f"r{i}") for i, status in enumerate(statuses)])
    assert (found.state, (found.since, found.since_run) if found.since else None) == (state, since)


def test_the_nightly_fails_only_on_regressions_or_errors(tmp_path: Path) -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    stored(tmp_path, "a", "2026-11-23T02:00:00+00:00", cell("pass", PASSING, trixie()),
           cell("test-fail", TEN_FAILING, trixie(), toolchain="ghc910"))
    stored(tmp_path, "b", "2026-11-24T02:00:00+00:00", cell("pass", PASSING, trixie()),
           cell("test-fail", TEN_FAILING, trixie(), toolchain="ghc910"))
    assert nightly_exit(complete_runs(tmp_path), m, "b") == 0  # ghc910 was failing already
    stored(tmp_path, "c", "2026-11-25T02:00:00+00:00", cell("error", None, {}, cause="runner"),
           cell("test-fail", TEN_FAILING, trixie(), toolchain="ghc910"))
    assert nightly_exit(complete_runs(tmp_path), m, "c") == 5
    stored(tmp_path, "d", "2026-11-26T02:00:00+00:00", cell("pass", PASSING, trixie()),
           cell("test-fail", TEN_FAILING, trixie(), toolchain="ghc910"))
    stored(tmp_path, "e", "2026-11-27T02:00:00+00:00", cell("crash", None, trixie()),
           cell("test-fail", TEN_FAILING, trixie(), toolchain="ghc910"))
    assert nightly_exit(complete_runs(tmp_path), m, "e") == 1
    assert nightly_exit([], m, "f") == 5
    assert nightly_exit(complete_runs(tmp_path), m, "f") == 5  # the night's run did not complete


def test_retention_never_removes_the_last_complete_run(tmp_path: Path) -> None:
    stored(tmp_path, "a", "2026-11-21T02:00:00+00:00", cell("pass", PASSING, trixie()))
    stored(tmp_path, "b", "2026-11-22T02:00:00+00:00", cell("pass", PASSING, trixie()))
    for i, day in enumerate(("23", "24", "25")):  # three nights that never completed
        stored(tmp_path, f"x{i}", f"2026-11-{day}T02:00:00+00:00", cell("error", None, {}), finished=False)
    assert prune(tmp_path, 2) == []  # two complete runs: both are the window
    stored(tmp_path, "c", "2026-11-26T02:00:00+00:00", cell("pass", PASSING, trixie()))
    assert [p.name for p in prune(tmp_path, 2)] == ["a"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["b", "c", "x0", "x1", "x2"]
