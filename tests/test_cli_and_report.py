from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compat import matrix
from compat.cli import default_sources, exit_code
from compat.report import cell_text, render_json, render_markdown, write_reports
from compat.results import CellResult, latest_cells, load_run, store
from tests.conftest import ROOT


def compat(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compat", *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_validate_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "matrix.yaml"
    bad.write_text((ROOT / "matrix.yaml").read_text().replace("flavors: [openssl, gnutls]", "flavors: [opensll]", 1))
    done = compat("validate", str(bad))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"ganeti-compat: {bad}: toolchains.ghc78.flavors[0]: unknown flavor 'opensll' (did you mean 'openssl'?)"]


def test_run_with_unknown_toolchain_fails_before_docker(tmp_path: Path) -> None:
    done = compat("run", "--toolchain", "ghc97")
    assert done.returncode == 2
    assert "no toolchain named 'ghc97' (did you mean 'ghc96'?)" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_engine_is_exit_3(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "compat", "--reports", str(tmp_path), "run", "--toolchain", "ghc96"],
                          cwd=ROOT, capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(ROOT), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert done.returncode == 3
    assert done.stderr.startswith("ganeti-compat: no Docker engine answers")
    assert "DOCKER_HOST" in done.stderr and "Traceback" not in done.stderr


def test_report_without_runs_says_what_to_do(tmp_path: Path) -> None:
    done = compat("--reports", str(tmp_path), "report")
    assert done.returncode == 2
    assert "run `python -m compat run` first" in done.stderr


def results() -> list[CellResult]:
    ok = CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass",
                    tests={"total": 456, "passed": 456, "failed": 0, "failed_names": []},
                    ghc={"version": "9.6.6", "integer_library": "ghc-bignum", "integer_library_version": "1.3"},
                    timings={"build": 165.0})
    deps = CellResult("ghc90", "ganeti-3.0.2", "gnutls", status="build-fail", cause="deps", run_id="r1",
                      evidence=["[__1] rejecting: lens-5.0.1/installed-AoCT (conflict: ganeti", "=> lens>=3.10 && <5.0)",
                                "```injected fence"],
                      logs={"build": "cells/ghc90--ganeti-3.0.2--gnutls/build.log"})
    gone = CellResult("ghc710", "ganeti-3.1", "openssl", status="unavailable",
                      evidence=["download 'ghc' failed: https://downloads.haskell.org/x.tar.bz2: no such host"])
    return [ok, deps, gone]


def test_grid_shows_status_cause_and_tests() -> None:
    text = render_markdown(results(), "run r1")
    assert "| ghc96 (GHC 9.6.6, ghc-bignum 1.3) | pass 456/456 [gnutls]" in text
    assert "build-fail (deps) [gnutls]" in text
    assert "unavailable [openssl]" in text
    assert "=> lens>=3.10 && <5.0)" in text
    assert "```injected" not in text  # a log line cannot close the evidence block
    assert "runs/r1/cells/ghc90--ganeti-3.0.2--gnutls/build.log" in text


def test_json_report_and_store_round_trip(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "r1"
    for result in results():
        store(run_dir, result)
    loaded = load_run(run_dir)
    assert {r.key for r in loaded} == {r.key for r in results()}
    written = write_reports(tmp_path, loaded, "run r1")
    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["title"] == "run r1" and len(data["cells"]) == 3
    assert [p.name for p in written] == ["latest.md", "latest.json"]
    assert json.loads(render_json(loaded, "run r1")) == data


def test_latest_cells_keeps_the_newest_result_of_each_cell(tmp_path: Path) -> None:
    older = CellResult("ghc96", "ganeti-3.1", "gnutls", status="test-fail", run_id="a", started="2026-11-25T03:00:00+00:00")
    newer = CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass", run_id="b", started="2026-11-25T04:00:00+00:00")
    other = CellResult("ghc90", "ganeti-3.0.2", "gnutls", status="build-fail", run_id="a", started="2026-11-25T03:00:00+00:00")
    store(tmp_path / "runs" / "a", older)
    store(tmp_path / "runs" / "a", other)
    store(tmp_path / "runs" / "b", newer)
    assert [(r.key, r.status) for r in latest_cells(tmp_path)] == [
        ("ghc90--ganeti-3.0.2--gnutls", "build-fail"), ("ghc96--ganeti-3.1--gnutls", "pass")]


@pytest.mark.parametrize("statuses, code", [
    (["pass", "pass"], 0), (["pass", "unavailable"], 4), (["unavailable", "build-fail"], 1), (["test-fail"], 1),
])
def test_exit_codes(statuses: list[str], code: int) -> None:
    assert exit_code([CellResult("t", "s", "f", status=s) for s in statuses]) == code


def test_cell_text() -> None:
    assert cell_text(results()[0]) == "pass 456/456 [gnutls]"


def test_a_toolchain_run_builds_the_primary_source_and_the_matrix_all() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    assert default_sources(m, toolchains_named=True) == ["ganeti-3.1"]
    assert default_sources(m, toolchains_named=False) == ["ganeti-3.1", "ganeti-3.0.2"]
