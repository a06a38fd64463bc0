from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from compat import matrix
from compat.commands.found import exit_code
from compat.commands.lock import lock_reports
from compat.commands.record import new_run_id
from compat.commands.reports import defined_by, write_matrix_reports
from compat.commands.run import reuse_summary, run_kind
from compat.commands.selection import select
from compat.errors import ConfigError
from compat.outputs.context import ReportContext
from compat.outputs.json import render_json
from compat.outputs.markdown import render_markdown
from compat.outputs.write import write_reports
from compat.parts import FaultInjection, Flag, GhcFacts, HaskellTests, SslFacts
from compat.reader import RunReader, latest_cells
from compat.report_text import cell_text
from compat.results import CellResult, RunRecord, load_run, run_records, store, write_run
from compat.runner import plan
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


@pytest.mark.parametrize("command", [["run", "--toolchain", "ghc96"], ["run", "--fresh"], ["nightly"]])
def test_no_engine_is_exit_3(tmp_path: Path, command: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "compat", "--reports", str(tmp_path), *command],
                          cwd=ROOT, capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(ROOT), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("ganeti-compat: no Docker engine answers")
    assert "DOCKER_HOST" in done.stderr and "Traceback" not in done.stderr


def test_report_without_runs_says_what_to_do(tmp_path: Path) -> None:
    done = compat("--reports", str(tmp_path), "report")
    assert done.returncode == 2
    assert "run `python -m compat run` first" in done.stderr


def results() -> list[CellResult]:
    ok = CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass",
                    tests=HaskellTests(456, 456, 0, ()),
                    ghc=GhcFacts.from_dict({"version": "9.6.6", "integer_library": "ghc-bignum",
                                            "integer_library_version": "1.3"}),
                    timings={"build": 165.0})
    deps = CellResult("ghc90", "ganeti-3.0.2", "gnutls", status="build-fail", cause="deps", run_id="r1",
                      evidence=["[__1] rejecting: lens-5.0.1/installed-AoCT (conflict: ganeti", "=> lens>=3.10 && <5.0)",
                                "```injected fence"],
                      logs={"build": "cells/ghc90--ganeti-3.0.2--gnutls/build.log"})
    gone = CellResult("ghc710", "ganeti-3.1", "openssl", status="unavailable",
                      evidence=["download 'ghc' failed: https://downloads.haskell.org/x.tar.bz2: no such host"])
    return [ok, deps, gone]


def test_grid_shows_status_cause_and_tests() -> None:
    text = render_markdown(ReportContext(results(), "run r1"))
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
    written = write_reports(tmp_path, ReportContext(loaded, "run r1"))
    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["title"] == "run r1" and len(data["cells"]) == 3
    assert [p.name for p in written] == ["latest.md", "summary.md", "latest.json", "latest.html", "matrix.junit.xml",
                                         "feed.atom", "badge.svg"]
    summary = (tmp_path / "summary.md").read_text()  # the report's head: what a CI job's summary page shows
    assert (tmp_path / "latest.md").read_text().startswith(summary) and "| toolchain" in summary
    assert json.loads(render_json(ReportContext(loaded, "run r1"))) == data


def stored_run(reports: Path, run_id: str, kind: str | None, *cells: CellResult) -> None:
    """A run as the tool stores it: its cells, and (unless kind is None, as with older versions) run.json."""
    if kind is not None:
        write_run(reports / "runs" / run_id, RunRecord(run_id, kind, "digest", "0.1.0", "2026-11-25T03:00:00+00:00",
                                                       finished="2026-11-25T04:00:00+00:00"))
    for cell in cells:
        cell.run_id = run_id
        store(reports / "runs" / run_id, cell)


def test_the_matrix_report_is_made_of_ordinary_runs_of_cells_the_matrix_defines(tmp_path: Path) -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    at = lambda hour: f"2026-11-25T{hour:02d}:00:00+00:00"
    stored_run(tmp_path, "a", "matrix",
               CellResult("ghc96", "ganeti-3.1", "gnutls", status="test-fail", started=at(3)),
               CellResult("ghc90", "ganeti-3.0.2", "gnutls", status="build-fail", started=at(3)))
    stored_run(tmp_path, "b", "session", CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass", started=at(4)))
    crashed = CellResult("ghc96", "ganeti-3.1", "gnutls", status="crash", started=at(5),
                         fault_injection=FaultInjection.from_dict({"hostile_gmp": "crash (SIGSEGV)",
                                                                   "says": "GnuTLS crashes"}))
    stored_run(tmp_path, "fault", "fault-injection", crashed)
    stored_run(tmp_path, "bench", "bench", CellResult("ghc96", "ganeti-3.1", "gnutls", status="error", started=at(6)))
    stored_run(tmp_path, "old", None, CellResult("ghc96", "ganeti-3.1", "gnutls", status="timeout", started=at(7)))
    stored_run(tmp_path, "gone", "matrix", CellResult("ghc94", "ganeti-3.1", "gnutls", status="pass", started=at(8)),
               CellResult("ghc96", "ganeti-2.15", "gnutls", status="pass", started=at(8)),
               CellResult("ghc96", "ganeti-3.1", "nss", status="pass", started=at(8)))

    assert [(r.key, r.status, r.run_id) for r in latest_cells(run_records(tmp_path), defined_by(m), RunReader())] == [
        ("ghc90--ganeti-3.0.2--gnutls", "build-fail", "a"), ("ghc96--ganeti-3.1--gnutls", "pass", "b")]
    write_matrix_reports(tmp_path, m)
    text = (tmp_path / "latest.md").read_text()
    assert "pass [gnutls] 2026-11-25" in text  # the grid says when each cell ran
    fault_section = text[text.index("## Fault injection"):]
    assert "| ghc96 " in fault_section and "crash (SIGSEGV)" in fault_section
    assert "crash" not in text[:text.index("## Fault injection")]
    data = json.loads((tmp_path / "latest.json").read_text())
    assert [c["status"] for c in data["cells"]] == ["build-fail", "pass"]
    assert [c["run_id"] for c in data["fault_injection"]] == ["fault"]


def test_a_run_records_what_it_was() -> None:
    args = lambda **given: argparse.Namespace(**({"probe_fault": None, "kind": None, "toolchain": None} | given))
    assert run_kind(args()) == "matrix"
    assert run_kind(args(toolchain=["ghc96"])) == "session"
    assert run_kind(args(toolchain=["ghc96"], kind="bench")) == "bench"
    assert run_kind(args(toolchain=["ghc96"], kind="session", probe_fault="hostile-gmp")) == "fault-injection"


def test_a_flavor_no_toolchain_lists_selects_no_cell_and_is_bad_input(tmp_path: Path) -> None:
    said: list[str] = []
    m = matrix.load(ROOT / "matrix.yaml")
    groups = select(m, ["ghc96", "ghc710"], ["ganeti-3.1"], ["gnutls"], m.path, said.append)
    assert [len(g) for g in groups] == [1, 1] and said == []
    text = (ROOT / "matrix.yaml").read_text().replace("flavors: [gnutls, openssl]\n  ghc910", "flavors: [gnutls]\n  ghc910")
    one = tmp_path / "matrix.yaml"
    one.write_text(text)
    m = matrix.load(one)
    with pytest.raises(ConfigError, match="no cell selected: toolchain\\(s\\) ghc96 list none of the flavor\\(s\\) openssl"):
        select(m, ["ghc96"], ["ganeti-3.1"], ["openssl"], one, said.append)
    assert said == ["ghc96 does not list flavor openssl (its flavors: gnutls): no such cell"]
    done = compat("--matrix", str(one), "run", "--toolchain", "ghc96", "--flavor", "openssl")
    assert done.returncode == 2 and "no cell selected" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("statuses, code", [
    (["pass", "pass"], 0), (["pass", "unavailable"], 4), (["unavailable", "build-fail"], 1), (["test-fail"], 1),
])
def test_exit_codes(statuses: list[str], code: int) -> None:
    assert exit_code([CellResult("t", "s", "f", status=s) for s in statuses]) == code


def test_cell_text() -> None:
    assert cell_text(results()[0]) == "pass 456/456 [gnutls]"


def test_a_toolchain_run_builds_its_primary_source_and_the_matrix_all_of_each_toolchains() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    sources = lambda groups: [(group[0].toolchain.name, group[0].source.name) for group in groups]
    assert sources(plan(m, ["ghc96", "ghc710"], None, primary_only=True)) == [
        ("ghc96", "ganeti-3.1"), ("ghc710", "ganeti-2.16.2")]  # the Ganeti of GHC 7.10's era that it compiles
    assert sources(plan(m, ["ghc96", "ghc710"], None)) == [
        ("ghc96", "ganeti-3.1"), ("ghc96", "ganeti-3.0.2"),
        ("ghc710", "ganeti-2.16.2"), ("ghc710", "ganeti-2.16.0"),  # 2.16.0: the compile failure it is expected to be
        ("ghc710", "ganeti-3.1"), ("ghc710", "ganeti-3.0.2")]  # 3.x: their deps verdict
    assert sources(plan(m, ["ghc710"], ["ganeti-3.1"])) == [("ghc710", "ganeti-3.1")]


def test_cells_failing_for_one_reason_share_one_explanation_and_no_value_breaks_a_table() -> None:
    gone = ["download 'ghc' failed: https://downloads.haskell.org/~ghc/7.8.4/x.tar.bz2: no such host"]
    cells = [CellResult("ghc78", source, flavor, status="unavailable", evidence=list(gone))
             for source in ("ganeti-3.1", "ganeti-3.0.2") for flavor in ("openssl", "gnutls")]
    hostile = CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass", ssl=SslFacts.from_dict({"curl_flavors": ["gnutls"]}),
                         ssl_recommendation="safe | unsafe\nsecond line", flags=[Flag("ssl:x|y", ())])
    text = render_markdown(ReportContext([*cells, hostile], "t"))
    assert text.count("download 'ghc' failed") == 1
    assert "### ghc78 × ganeti-3.1 [openssl], ghc78 × ganeti-3.1 [gnutls], ghc78 × ganeti-3.0.2 [openssl], " in text
    row = next(line for line in text.splitlines() if line.startswith("| ghc96 ") and "ganeti-3.1" in line)
    assert "safe \\| unsafe second line" in row and "ssl:x\\|y" in row
    assert row.count("|") - row.count("\\|") == 12  # 11 columns, none split


def test_list_names_the_cells_with_the_tags_of_their_nox_sessions() -> None:
    done = compat("list", "--json", "--toolchain", "ghc96,ghc710", "--flavor", "openssl")
    assert done.returncode == 0, done.stderr
    trixie, jessie = ["toolchain", "debian", "trixie", "default"], ["toolchain", "bindist", "jessie", "default"]
    assert json.loads(done.stdout) == [  # in the order asked for, like run
        {"toolchain": "ghc96", "source": "ganeti-3.1", "flavor": "openssl", "tags": trixie},
        {"toolchain": "ghc96", "source": "ganeti-3.0.2", "flavor": "openssl", "tags": trixie},
        {"toolchain": "ghc96", "source": "ganeti-2.16.2", "flavor": "openssl", "tags": trixie[:-1]},  # not its default
        {"toolchain": "ghc96", "source": "ganeti-2.16.0", "flavor": "openssl", "tags": trixie[:-1]},
        {"toolchain": "ghc710", "source": "ganeti-3.1", "flavor": "openssl", "tags": jessie},
        {"toolchain": "ghc710", "source": "ganeti-3.0.2", "flavor": "openssl", "tags": jessie},
        {"toolchain": "ghc710", "source": "ganeti-2.16.2", "flavor": "openssl", "tags": jessie},
        {"toolchain": "ghc710", "source": "ganeti-2.16.0", "flavor": "openssl", "tags": jessie}]
    sessions = subprocess.run([sys.executable, "-m", "nox", "-t", "trixie", "--list"], cwd=ROOT, capture_output=True,
                              text=True, check=False).stdout
    assert "* ghc96 [toolchain,debian,trixie]" in sessions.replace("- ghc96", "* ghc96")
    assert compat("list").stdout.splitlines()[0].startswith("ghc78--ganeti-3.1--openssl\tGHC 7.8.4 upstream bindist")


def test_every_toolchains_nox_session_has_the_tags_list_gives_it() -> None:
    sessions = subprocess.run([sys.executable, "-m", "nox", "-l", "--json", "-t", "toolchain"], cwd=ROOT,
                              capture_output=True, text=True, check=False)
    listed = {cell["toolchain"]: [tag for tag in cell["tags"] if tag != "default"]
              for cell in json.loads(compat("list", "--json").stdout)}
    assert {s["name"]: s["tags"] for s in json.loads(sessions.stdout)} == listed, sessions.stderr


def test_shards_split_the_groups_of_the_plan_and_together_are_the_whole_plan() -> None:
    whole = json.loads(compat("list", "--json").stdout)
    shards = [json.loads(compat("list", "--json", "--shard", f"{i}/3").stdout) for i in (1, 2, 3)]
    assert sorted(map(str, whole)) == sorted(str(cell) for part in shards for cell in part)
    groups = [{(c["toolchain"], c["source"]) for c in part} for part in shards]
    assert all(groups) and not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert shards[0] == json.loads(compat("list", "--json", "--shard", "1/3").stdout)  # the same on every machine
    for bad in ("0/3", "4/3", "1/0", "x", "1/"):
        done = compat("list", "--shard", bad)
        assert done.returncode == 2 and "is not I/N" in done.stderr and len(done.stderr.splitlines()) == 1


def test_a_matrix_that_does_not_validate_registers_no_toolchain_session_and_never_replaces_the_tests(
        tmp_path: Path) -> None:
    (tmp_path / "noxfile.py").write_text((ROOT / "noxfile.py").read_text())
    hostile = (ROOT / "matrix.yaml").read_text().replace("\n  ghc96:", "\n  tests:", 1)
    assert hostile != (ROOT / "matrix.yaml").read_text()
    (tmp_path / "matrix.yaml").write_text(hostile)
    listed = subprocess.run([sys.executable, "-m", "nox", "--list"], cwd=tmp_path, capture_output=True, text=True,
                            check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert listed.returncode == 0, listed.stderr
    assert "toolchains.tests: 'tests' is one of the tool's own names" in listed.stderr
    assert "- tests -> Unit tests on captured data" in listed.stdout and "ghc88" not in listed.stdout


def test_unreadable_results_are_named_skipped_and_never_read_as_a_pass(tmp_path: Path) -> None:
    good = CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass", started="2026-11-25T03:00:00+00:00")
    stored_run(tmp_path, "r1", "matrix", good)
    cells = tmp_path / "runs" / "r1" / "cells"
    whole = json.loads(good.to_json())
    bad = {
        "truncated": good.to_json()[:40].encode(), "empty": b"", "latin1": good.to_json().replace("ghc96", "gh\xe9").encode("latin-1"),
        "a-list": b"[1, 2]", "wrong-type": json.dumps(whole | {"evidence": "one string"}).encode(),
        "unknown-status": json.dumps(whole | {"status": "passed-ish"}).encode(),
        "future": json.dumps(whole | {"schema": 99}).encode(), "tests-text": json.dumps(whole | {"tests": "456"}).encode(),
        "tests-inner": json.dumps(whole | {"tests": {"total": "456", "passed": 1, "failed": 0}}).encode(),
        "flags": json.dumps(whole | {"flags": ["ssl:x"]}).encode(),
        "timings": json.dumps(whole | {"timings": {"build": "long"}}).encode(),
    }
    for name, data in bad.items():
        (cells / f"ghc96--{name}--gnutls.json").write_bytes(data)
    done = compat("--reports", str(tmp_path), "report")
    assert done.returncode == 6, done.stderr
    named = [line for line in done.stderr.splitlines() if line.startswith("ganeti-compat: unreadable result, skipped:")]
    assert len(named) == len(bad) and "Traceback" not in done.stderr
    assert any("unknown status 'passed-ish'" in line for line in named)
    assert any("schema 99 is newer" in line for line in named)
    report = json.loads((tmp_path / "latest.json").read_text())
    assert [c["status"] for c in report["cells"]] == ["pass"] and len(report["unreadable"]) == len(bad)
    assert "## Unreadable results (skipped)" in (tmp_path / "latest.md").read_text()


@pytest.mark.parametrize("args, said", [
    (["run", "--run-id", "../../x"], "argument --run-id: '../../x' is not a plain name"),
    (["run", "--run-id", "a/b"], "argument --run-id: 'a/b' is not a plain name"),
    (["run", "--probe-requests", "0"], "argument --probe-requests: '0' is not a number of requests from 1 to 1000"),
    (["run", "--probe-requests", "1e9"], "argument --probe-requests: '1e9' is not a number of requests"),
    (["run", "--toolchain", ""], "--toolchain '' names no toolchain"),
    (["run", "--bogus"], "unrecognized arguments: --bogus"),
    (["--reports", "/etc/passwd", "run", "--toolchain", "ghc96"], "/etc/passwd: not a directory"),
    (["run", "--jobs", "0"], "argument --jobs: '0' is not a number of groups from 1 to 64"),
    (["run", "--downloads", "/nonexistent/ghc"], ("--downloads /nonexistent/ghc: not a directory; give a directory or "
     "an http(s) URL")),
])
def test_command_line_mistakes_are_one_line_and_exit_2(args: list[str], said: str) -> None:
    done = compat(*args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and said in done.stderr


def test_run_ids_do_not_collide_and_one_run_at_a_time_writes_a_reports_directory(tmp_path: Path) -> None:
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50 and all(re.fullmatch(matrix.RUN_ID, i) for i in ids)
    first = lock_reports(tmp_path)
    with pytest.raises(ConfigError, match=rf"{tmp_path}: run pid {os.getpid()} \(started .*\) is using it; wait"):
        lock_reports(tmp_path)
    first.close()
    lock_reports(tmp_path).close()


def test_a_full_disk_is_one_line_and_earlier_reports_stay_whole(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        stored_run(small, "r1", "matrix", *results())
        assert compat("--reports", str(small), "report").returncode == 1
        before = (small / "latest.md").read_text()
        with (small / "filler").open("wb") as filler, contextlib.suppress(OSError):  # leave the reports no room
            filler.write(b"x" * (1 << 20))
        done = compat("--reports", str(small), "report")
        assert done.returncode == 6, done.stderr
        assert done.stderr.strip().splitlines()[-1].startswith("ganeti-compat: cannot write ")
        assert "No space left on device" in done.stderr and "Traceback" not in done.stderr
        assert (small / "latest.md").read_text() == before
        assert not list(small.glob(".latest*"))  # no half-written temporary file left
        subprocess.run(["mount", "-o", "remount,ro", str(small)], check=True)
        readonly = compat("--reports", str(small), "run", "--toolchain", "ghc96")
        assert readonly.returncode == 2 and readonly.stderr.strip().splitlines() == [
            f"ganeti-compat: {small}: cannot write there (Read-only file system); give --reports a writable directory"]
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_a_run_says_how_many_cells_an_earlier_run_gave() -> None:
    taken = lambda status: CellResult("ghc96", "ganeti-3.1", "gnutls", status=status, reused_from="r1")
    ran = lambda status: CellResult("ghc78", "ganeti-3.1", "gnutls", status=status)
    assert reuse_summary([ran("pass")]) is None
    assert reuse_summary([taken("pass"), taken("build-fail")]) == (
        "every cell was unchanged since an earlier run and reused (`--fresh` runs them again)")
    assert reuse_summary([taken("pass"), ran("unavailable"), ran("unavailable")]) == (
        "1 of 3 cells were unchanged since an earlier run and reused (`--fresh` runs them again); "
        "the other 2 are unavailable, asked again")
    assert reuse_summary([taken("pass"), ran("unavailable"), ran("pass")]).endswith("(`--fresh` runs them again)")
