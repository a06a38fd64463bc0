"""Runs of separate processes merged into one give the report of one process (in-memory engine)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from compat import matrix
from compat.cli import matrix_digest, write_matrix_reports
from compat.errors import ConfigError
from compat.merge import merge
from compat.results import CellResult, RunRecord, load_run, load_run_record, store, write_run
from compat.runner import Cell, CellRunner, plan
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
