"""Runs of separate processes merged into one give the report of one process (in-memory engine)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from compat import matrix
from compat.ci.jobs import read_parts
from compat.commands.record import matrix_digest
from compat.commands.reports import write_matrix_reports
from compat.errors import ConfigError
from compat.merge import merge
from compat.results import CellResult, RunRecord, load_run, load_run_record, store, write_run
from compat.runner import Cell, CellRunner, plan
from compat.status import Status
from tests.conftest import ROOT
from tests.memory_engine import MemoryImages
from tests.test_runner import answering_engine
from tests.test_summary import summarised

MATRIX = ROOT / "tests" / "fixtures" / "matrix.yaml"


def run(reports: Path, run_id: str, groups: list[list[Cell]], complete: bool = True) -> None:
    """The groups as `compat run` runs them: each cell stored as it ends, the record written around them."""
    m = matrix.load(MATRIX)
    run_dir = reports / "runs" / run_id
    record = RunRecord(run_id, "matrix", matrix_digest(MATRIX), "0.1.0", "2026-11-26T02:00:00+00:00",
                       cells=[cell.key for group in groups for cell in group])
    write_run(run_dir, record)
    runner = CellRunner(answering_engine(), m, run_dir, lambda line: None, MemoryImages())
    for group in groups:
        runner.run_group(group, lambda result: store(run_dir, replace(result, started="2026-11-26T02:00:00+00:00")))
    if complete:
        write_run(run_dir, replace(record, finished="2026-11-26T02:30:00+00:00"))


def without_timings(report: Path) -> object:
    data = json.loads(report.read_text())
    for cell in data["cells"]:
        cell.pop("timings")
    return data


def test_the_merged_groups_of_a_matrix_give_the_report_of_one_process(tmp_path: Path) -> None:
    m = matrix.load(MATRIX)
    groups = plan(m, list(m.toolchains), list(m.sources))
    assert len(groups) == 2
    run(tmp_path / "one", "night", groups)
    for index, group in enumerate(groups):
        run(tmp_path / f"job{index}", f"night-g{index}", [group])
    record, unreadable = merge([tmp_path / "job0" / "runs" / "night-g0", tmp_path / "job1"], tmp_path / "merged",
                               "night")
    assert unreadable == [] and record.finished and not record.interrupted
    assert record.cells == sorted(load_run_record(tmp_path / "one" / "runs" / "night").cells)
    for reports in ("one", "merged"):
        write_matrix_reports(tmp_path / reports, m)
    assert (tmp_path / "merged" / "latest.md").read_text() == (tmp_path / "one" / "latest.md").read_text()
    assert without_timings(tmp_path / "merged" / "latest.json") == without_timings(tmp_path / "one" / "latest.json")
    merged = load_run(tmp_path / "merged" / "runs" / "night")
    assert {r.run_id for r in merged} == {"night"}
    assert all((tmp_path / "merged" / "runs" / "night" / path).is_file() for r in merged
               for name, path in r.logs.items() if name != "image")


def test_a_part_that_did_not_complete_leaves_the_merged_run_incomplete(tmp_path: Path) -> None:
    m = matrix.load(MATRIX)
    groups = plan(m, list(m.toolchains), list(m.sources))
    run(tmp_path / "job0", "g0", groups[:1])
    run(tmp_path / "job1", "g1", groups[1:], complete=False)
    record, _ = merge([tmp_path / "job0", tmp_path / "job1"], tmp_path / "merged", "night")
    assert record.finished is None and record.interrupted and record.reason == "a part did not complete: g1"


def test_a_cell_in_two_parts_or_parts_of_other_runs_are_refused(tmp_path: Path) -> None:
    m = matrix.load(MATRIX)
    groups = plan(m, ["ghc96"], list(m.sources))
    run(tmp_path / "a", "a", groups)
    run(tmp_path / "b", "b", groups)
    with pytest.raises(ConfigError, match=r"cell ghc96--curlint--gnutls is in .*/a/runs/a and in .*/b/runs/b"):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "merged", "night")
    other = tmp_path / "b" / "runs" / "b"
    for result in load_run(other):
        (other / "cells" / f"{result.key}.json").unlink()
    store(other, CellResult("ghc90", "curlint", "gnutls", status="pass"))
    record = load_run_record(other)
    assert record is not None
    write_run(other, replace(record, matrix_digest="0" * 64))
    with pytest.raises(ConfigError, match="different matrix files"):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "merged", "night")
    with pytest.raises(ConfigError, match="neither a run directory"):
        merge([tmp_path / "nothing"], tmp_path / "merged", "night")


def test_compat_merge_writes_the_reports_and_answers_for_the_merged_cells(tmp_path: Path) -> None:
    m = matrix.load(MATRIX)
    for index, group in enumerate(plan(m, list(m.toolchains), list(m.sources))):
        run(tmp_path / "parts", f"night-g{index}", [group], complete=index == 0)
    done = subprocess.run([sys.executable, "-m", "compat", "--matrix", str(MATRIX), "--reports", str(tmp_path / "out"),
                           "merge", str(tmp_path / "parts"), "--run-id", "night"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 5, done.stderr  # every cell passed, but one part did not complete
    assert done.stderr.strip().splitlines()[-1] == ("ganeti-compat: run night is incomplete: a part did not "
                                                    "complete: night-g1")
    assert "| ghc96 " in (tmp_path / "out" / "latest.md").read_text()
    assert summarised(tmp_path / "out" / "runs" / "night")  # what the window's reports read of it


def expected_parts(tmp_path: Path) -> Path:
    """The parts file `export` writes for the fixture matrix: job g1 and g2, one group each."""
    done = subprocess.run([sys.executable, "-m", "compat", "--matrix", str(MATRIX), "export", "--ci", "gitlab",
                           "--output", str(tmp_path / "pipeline.yml")], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return tmp_path / "pipeline.parts.json"


def night(tmp_path: Path, parts: str, run_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """The report job: tonight's parts into the history in reports/, judged as the nightly judges."""
    return subprocess.run([sys.executable, "-m", "compat", "--matrix", str(MATRIX), "--reports",
                           str(tmp_path / "reports"), "merge", str(tmp_path / parts), "--run-id", run_id, "--expect",
                           str(expected_parts(tmp_path)), "--nightly", *extra], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_a_job_that_delivered_nothing_is_its_cells_runner_error_naming_the_job(tmp_path: Path) -> None:
    m = matrix.load(MATRIX)
    groups = plan(m, list(m.toolchains), list(m.sources))
    expect = read_parts(expected_parts(tmp_path))
    run(tmp_path / "parts", "night-g1", groups[:1])  # job g2 died before it wrote its run
    record, unreadable = merge([tmp_path / "parts"], tmp_path / "merged", "night", m, expect, "digest", "0.1.0")
    assert unreadable == [] and record.finished and not record.interrupted  # every cell is accounted for
    assert record.cells == sorted(cell.key for group in groups for cell in group)
    results = {r.key: r for r in load_run(tmp_path / "merged" / "runs" / "night")}
    assert [results[cell.key].status for cell in groups[0]] == [Status.PASS, Status.PASS]
    for cell in groups[1]:
        lost = results[cell.key]
        assert (lost.status, lost.cause) == (Status.ERROR, "runner")
        assert lost.evidence[0].startswith("job 'ghc96 curlint' delivered no result for this cell: its run night-g2 "
                                           "never reached the report job")


def test_a_job_cut_short_keeps_its_finished_cells_and_names_the_rest(tmp_path: Path) -> None:
    m = matrix.load(MATRIX)
    groups = plan(m, list(m.toolchains), list(m.sources))
    run(tmp_path / "parts", "night-g1", groups[:1])
    run(tmp_path / "parts", "night-g2", [groups[1][:1]], complete=False)  # timed out in its second flavor
    record = load_run_record(tmp_path / "parts" / "runs" / "night-g2")
    assert record is not None
    write_run(tmp_path / "parts" / "runs" / "night-g2", replace(record, interrupted=True, reason="terminated"))
    merged, _ = merge([tmp_path / "parts"], tmp_path / "merged", "night", m, read_parts(expected_parts(tmp_path)))
    assert merged.finished and not merged.interrupted
    results = {r.key: r for r in load_run(tmp_path / "merged" / "runs" / "night")}
    assert results["ghc96--curlint--gnutls"].status is Status.PASS
    cut = results["ghc96--curlint--openssl"]
    assert cut.status is Status.ERROR and cut.evidence == [
        "job 'ghc96 curlint' did not finish this cell: its run night-g2 ended before it (terminated)"]


def test_the_report_job_carries_the_history_and_ends_with_the_nightlys_exit_code(tmp_path: Path) -> None:
    m = matrix.load(MATRIX)
    groups = plan(m, list(m.toolchains), list(m.sources))
    for index, group in enumerate(groups, 1):
        run(tmp_path / "parts1", f"ci-1-g{index}", [group])
    first = night(tmp_path, "parts1", "ci-1")
    assert first.returncode == 0, first.stderr
    # The next night: a part is missing, the other regressed.
    run(tmp_path / "parts2", "ci-2-g1", groups[:1])
    for result in load_run(tmp_path / "parts2" / "runs" / "ci-2-g1"):
        store(tmp_path / "parts2" / "runs" / "ci-2-g1", replace(result, status=Status.TEST_FAIL))
    second = night(tmp_path, "parts2", "ci-2")
    assert second.returncode == 1, second.stderr  # a regression against each cell's own baseline, not an error
    latest = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert sorted(change["key"] for change in latest["changes"]["regressions"]) == [c.key for c in groups[0]]
    assert sorted(change["key"] for change in latest["changes"]["infrastructure"]) == [c.key for c in groups[1]]
    # A night with the errors alone is red too, for the tool's reason (5); no part at all is every cell's error.
    (tmp_path / "parts3").mkdir()  # an artifact directory that received nothing
    third = night(tmp_path, "parts3", "ci-3")
    assert third.returncode == 5, third.stderr
    cells = load_run(tmp_path / "reports" / "runs" / "ci-3")
    assert len(cells) == 4 and all(r.status is Status.ERROR for r in cells)
    assert night(tmp_path, "parts4", "ci-4").returncode == 5  # no artifact directory at all


def test_a_parts_file_of_another_matrix_is_refused(tmp_path: Path) -> None:
    parts = expected_parts(tmp_path)
    data = json.loads(parts.read_text())
    parts.write_text(json.dumps(data | {"matrix_digest": "0" * 64}))
    done = subprocess.run([sys.executable, "-m", "compat", "--matrix", str(MATRIX), "--reports",
                           str(tmp_path / "reports"), "merge", str(tmp_path / "parts"), "--expect", str(parts)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "exported from another matrix.yaml" in done.stderr
