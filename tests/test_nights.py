"""Sequences of nights, replayed over run directories through the command line: each cell is compared with
its own last meaningful result, whatever ran in between (issue 17)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from compat import matrix
from compat.commands.found import nightly_exit
from compat.history import complete_runs
from compat.parts import HaskellTests
from compat.results import prune, read_cell
from compat.status import Status
from tests.conftest import ROOT, with_expected
from tests.test_history import KEY, PASSING, TEN_FAILING, cell, stored, trixie

ATOM = "{http://www.w3.org/2005/Atom}"
GHC910 = "ghc910--ganeti-3.1--gnutls"


def compat(reports: Path, *args: str, matrix_file: Path = ROOT / "matrix.yaml") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compat", "--matrix", str(matrix_file), "--reports", str(reports),
                           *args], cwd=ROOT, capture_output=True, text=True, check=False)


def night(reports: Path, run_id: str, day: int, *cells: tuple, kind: str = "matrix", hour: int = 2) -> None:
    stored(reports, run_id, f"2026-11-{day:02d}T{hour:02d}:00:00+00:00", *cells, kind=kind)


def failing() -> tuple:
    return cell("test-fail", TEN_FAILING, trixie(), evidence=["10 of 456 tests failed"])


def test_a_bad_night_in_between_never_hides_the_regression(tmp_path: Path) -> None:
    night(tmp_path, "n1", 1, cell("pass", PASSING, trixie()))
    night(tmp_path, "n2", 2, cell("error", None, {}, cause="engine", evidence=["the Docker engine stopped answering"]))
    night(tmp_path, "n3", 3, failing())
    said = compat(tmp_path, "diff")
    assert said.returncode == 1, said.stdout + said.stderr
    assert "What changed in run n3 (each cell against its own last meaningful result)" in said.stdout
    assert f"- `{KEY}`: pass -> test-fail: 10 of 456 tests failed (compared with 2026-11-01, run n1)" in said.stdout
    assert "tests newly failing (10)" in said.stdout
    assert nightly_exit(complete_runs(tmp_path), matrix.load(ROOT / "matrix.yaml"), "n3") == 1
    assert compat(tmp_path, "report").returncode == 1
    latest = (tmp_path / "latest.md").read_text()
    regressions = latest.index("### Regressions")
    assert latest.index(f"`{KEY}`: pass -> test-fail", regressions) < latest.index("| toolchain")
    entries = ElementTree.parse(tmp_path / "feed.atom").getroot().findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [f"regression: {KEY}: pass -> test-fail"]


def test_a_crash_after_an_unavailable_night_is_a_regression_not_available_again(tmp_path: Path) -> None:
    night(tmp_path, "n1", 1, cell("pass", PASSING, trixie()))
    night(tmp_path, "n2", 2, cell("unavailable", None, {}, evidence=["the suite cannot be had"]))
    night(tmp_path, "n3", 3, cell("crash", None, trixie(), evidence=["step test: SIGSEGV"]))
    said = compat(tmp_path, "diff")
    assert said.returncode == 1
    assert "### Regressions" in said.stdout and "Available again" not in said.stdout
    assert f"- `{KEY}`: pass -> crash: step test: SIGSEGV" in said.stdout


def test_a_session_run_in_between_never_hides_the_night(tmp_path: Path) -> None:
    ghc910 = {"toolchain": "ghc910"}
    night(tmp_path, "n1", 1, cell("pass", PASSING, trixie()), cell("pass", PASSING, trixie(), **ghc910))
    night(tmp_path, "s1", 1, cell("pass", PASSING, trixie(), **ghc910), kind="session", hour=14)
    night(tmp_path, "n2", 2, failing(), cell("pass", PASSING, trixie(), **ghc910))
    said = compat(tmp_path, "diff")
    assert said.returncode == 1
    assert f"- `{KEY}`: pass -> test-fail: 10 of 456 tests failed (compared with 2026-11-01, run n1)" in said.stdout
    assert "New cells" not in said.stdout
    assert nightly_exit(complete_runs(tmp_path), matrix.load(ROOT / "matrix.yaml"), "n2") == 1
    # Two named runs are still compared run against run: the session did not run ghc96.
    named = compat(tmp_path, "diff", "s1", "n2")
    assert named.returncode == 0 and f"`{KEY}`" in named.stdout and "New cells" in named.stdout


def test_a_cell_failing_since_an_earlier_night_is_no_regression_tonight(tmp_path: Path) -> None:
    night(tmp_path, "n1", 1, cell("pass", PASSING, trixie()))
    night(tmp_path, "n2", 2, failing())
    night(tmp_path, "n3", 3, cell("error", None, {}, cause="runner"))
    night(tmp_path, "n4", 4, failing())
    said = compat(tmp_path, "diff")
    assert said.returncode == 0 and "### Regressions" not in said.stdout
    assert nightly_exit(complete_runs(tmp_path), matrix.load(ROOT / "matrix.yaml"), "n4") == 0
    entries = ElementTree.parse(_report(tmp_path) / "feed.atom").getroot().findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [f"regression: {KEY}: pass -> test-fail"]


def _report(reports: Path) -> Path:
    compat(reports, "report")
    return reports


def _expecting(tmp_path: Path, entries: str) -> Path:
    file = tmp_path / "matrix.yaml"
    file.write_text(with_expected((ROOT / "matrix.yaml").read_text(), entries))
    return file


def test_an_expectation_explains_only_the_status_it_names(tmp_path: Path) -> None:
    file = _expecting(tmp_path, f"  - {{cell: '{KEY}', status: build-fail, cause: deps, reason: lens bound}}\n")
    reports = tmp_path / "reports"
    night(reports, "n1", 1, cell("build-fail", None, trixie(), cause="deps", evidence=["rejecting: lens-5.3"]))
    assert compat(reports, "report", matrix_file=file).returncode == 0
    night(reports, "n2", 2, cell("crash", None, trixie(), evidence=["step build: SIGSEGV"]))
    assert compat(reports, "report", matrix_file=file).returncode == 1
    night(reports, "n3", 3, cell("build-fail", None, trixie(), cause="compile", evidence=["Foo.hs:1:1: error"]))
    assert compat(reports, "report", matrix_file=file).returncode == 1
    bad = _expecting(tmp_path, f"  - {{cell: '{KEY}', reason: no status}}\n")
    said = compat(reports, "validate", matrix_file=bad)
    assert said.returncode == 2 and "expected[0]: name the status the cell is expected to end in" in said.stderr


def test_a_test_that_no_longer_runs_is_no_unexpected_pass(tmp_path: Path) -> None:
    file = _expecting(tmp_path, f"  - {{cell: '{KEY}', test: 'Renamed/Away', reason: gone}}\n"
                                f"  - {{cell: '{KEY}', test: 'Luxi/AllDefined', reason: ran and passed}}\n")
    reports = tmp_path / "reports"
    result, junit = cell("pass", PASSING, trixie())
    result.tests = HaskellTests(456, 456, 0, ())
    night(reports, "n1", 1, (result, junit))
    assert compat(reports, "report", matrix_file=file).returncode == 0
    text = (reports / "latest.md").read_text()
    passes = text[text.index("## Unexpected passes"):]
    assert "Luxi/AllDefined" in passes and "Renamed/Away" not in passes


def test_retention_and_the_window_count_ordinary_runs_only(tmp_path: Path) -> None:
    for day in (1, 2, 3):
        night(tmp_path, f"n{day}", day, cell("pass", PASSING, trixie()))
        for hour in (10, 11, 12):  # test, bench and fault-injection runs of the day
            kind = {10: "test", 11: "bench", 12: "fault-injection"}[hour]
            night(tmp_path, f"{kind}{day}", day, cell("crash", None, {}), kind=kind, hour=hour)
    removed = prune(tmp_path, 2)
    assert sorted(p.name for p in removed) == ["bench1", "fault-injection1", "n1", "test1"]
    assert [run.record.run_id for run in complete_runs(tmp_path, 2)] == ["n2", "n3"]
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "runs" / "link").symlink_to(tmp_path / "elsewhere")
    night(tmp_path, "n4", 4, cell("pass", PASSING, trixie()))
    assert "link" not in [p.name for p in prune(tmp_path, 1)] and (tmp_path / "elsewhere").is_dir()


def test_the_window_is_at_least_the_retention_by_default() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    assert m.retention == 60


def test_a_cell_stored_before_outcomes_were_kept_keeps_its_status(tmp_path: Path) -> None:
    night(tmp_path, "n1", 1, cell("pass", PASSING, trixie()))
    path = tmp_path / "runs" / "n1" / "cells" / f"{KEY}.json"
    data = json.loads(path.read_text())
    for name in ("outcome", "judge"):
        data.pop(name)
    data |= {"schema": 4, "status": "test-fail", "evidence": ["recorded by an older version"]}
    path.write_text(json.dumps(data))
    assert read_cell(path).status is Status.TEST_FAIL
    said = compat(tmp_path, "report")
    assert said.returncode == 1 and "recorded by an older version" in (tmp_path / "latest.md").read_text()


# Where a status string may appear although it is no status: names of other vocabularies.
NOT_STATUSES = {("analysis/junit.py", "error"): "JUnit's <error> element",
                ("engine.py", "error"): "the Docker API's error key of a build stream",
                ("outcome.py", "unavailable"): "the stored outcome's field saying why the toolchain cannot be had",
                ("ci/gitlab.py", "timeout"): "GitLab's job keyword"}


def test_no_status_literal_outside_the_status_module() -> None:
    package = ROOT / "compat"
    found = []
    for path in sorted(package.rglob("*.py")):
        name = str(path.relative_to(package))
        if name == "status.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in set(Status) and (name, node.value) not in NOT_STATUSES:
                found.append(f"{name}:{node.lineno}: {node.value!r}")
    assert found == []
