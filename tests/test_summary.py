"""Reading the history: run summaries say what their cells say, the reports read at most what they show, and
what they say does not depend on how they read it."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from compat import matrix, stored
from compat.commands.reports import write_matrix_reports
from compat.reader import RunReader
from compat.results import CellResult, read_cell, store
from compat.summary import NAME, SCHEMA, CellFacts, facts_of, identity, read_summary, write_summary
from tests import history_sample
from tests.history_sample import GOLDEN

CELLS = 17  # cells of the sample history's matrix that ever ran (of 18: one never does)


def summarised(run_dir: Path) -> bool:
    """The run's summary names every readable cell file as it is now, with the facts the file holds, and no
    unreadable one (a cell file changed since the summary is named with what it was)."""
    summary = read_summary(run_dir)
    for path in sorted((run_dir / "cells").glob("*.json")):
        entry = summary.get(path.stem)
        current = entry is not None and entry[0] == identity(path)
        try:
            facts = facts_of(read_cell(path))
        except ValueError:
            if current:
                return False
            continue
        if entry is None or not current or entry[1] != facts:
            return False
    return True


def cell_facts(run_dir: Path) -> dict[str, CellFacts]:
    """The facts of every readable cell of a run, each read from its file."""
    found = {}
    for path in sorted((run_dir / "cells").glob("*.json")):
        with contextlib.suppress(ValueError):
            found[path.stem] = facts_of(read_cell(path))
    return found


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return history_sample.make(tmp_path_factory.mktemp("history"))


@pytest.mark.parametrize("summaries", ["most", "none"])
def test_the_reports_and_diff_say_over_a_long_history_what_they_said_before_reading_became_lazy(
        tmp_path: Path, sample: Path, summaries: str) -> None:
    base = sample if summaries == "most" else history_sample.make(tmp_path, summaries=summaries)
    said = history_sample.render_all(base)
    kept = json.loads((GOLDEN / "outputs.json").read_text())
    assert said.keys() == kept.keys()
    for name, text in kept.items():
        assert said[name] == text, name + "\n" + "".join(difflib.unified_diff(
            text.splitlines(True), said[name].splitlines(True), "kept", "said", n=1))


def test_a_summary_says_what_its_cells_say(sample: Path) -> None:
    runs = sorted((sample / "reports" / "runs").iterdir())
    with_summary = [run_dir for run_dir in runs if (run_dir / NAME).exists()]
    assert len(with_summary) > 60
    for run_dir in with_summary:
        assert summarised(run_dir), run_dir.name
        assert RunReader().facts(run_dir) == cell_facts(run_dir)


def test_a_cell_that_changed_since_the_summary_and_a_summary_that_cannot_be_used_are_read_from_the_cells(
        tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "r1"
    for toolchain in ("ghc96", "ghc910"):
        store(run_dir, CellResult(toolchain, "ganeti-3.1", "gnutls", status="pass", evidence=["ok"],
                                  manifest={"ghc": "9.6.6-4"}))
    write_summary(run_dir)
    assert set(read_summary(run_dir)) == {"ghc96--ganeti-3.1--gnutls", "ghc910--ganeti-3.1--gnutls"}
    store(run_dir, CellResult("ghc96", "ganeti-3.1", "gnutls", status="crash", evidence=["SIGSEGV"]))  # a resume
    facts = RunReader().facts(run_dir)
    assert facts["ghc96--ganeti-3.1--gnutls"].status == "crash" and facts["ghc96--ganeti-3.1--gnutls"].why == "SIGSEGV"
    cells = cell_facts(run_dir)
    assert facts == cells
    summary = run_dir / NAME
    kept = summary.read_text()
    whole = json.loads(kept)
    wrong = [whole | {"schema": SCHEMA + 1}, whole | {"status": ["pass", "passed-ish"]}, whole | {"why": ["ok"]},
             whole | {"cells": ["ghc96--ganeti-3.1", "ghc910--ganeti-3.1--gnutls"]}, whole | {"tests": [None, 5]}]
    for text in ("", "{", "[]", *map(json.dumps, wrong), "[" * 100_000 + "]" * 100_000):
        summary.write_text(text)
        assert read_summary(run_dir) == {} and RunReader().facts(run_dir) == cells
    summary.unlink()
    os.symlink(tmp_path / "elsewhere.json", summary)
    (tmp_path / "elsewhere.json").write_text(kept)
    assert read_summary(run_dir) == {} and RunReader().facts(run_dir) == cells


def reading(monkeypatch: pytest.MonkeyPatch) -> Counter[Path]:
    """Every stored JSON file read from now on, and how often."""
    read: Counter[Path] = Counter()
    real = stored.read_bytes

    def counted(path: Path, limit: int) -> bytes:
        read[path] += 1
        return real(path, limit)

    monkeypatch.setattr(stored, "read_bytes", counted)
    return read


def window_runs(reports: Path, window: int) -> set[str]:
    """The runs whose cells a report may read: the newest `window` ordinary runs (the newest result of each
    cell), complete ordinary runs (states, what changed, the feed) and fault-injection runs."""
    records = sorted((json.loads((run_dir / "run.json").read_text()) for run_dir in (reports / "runs").iterdir()
                      if (run_dir / "run.json").exists()), key=lambda record: (record["started"], record["run_id"]))
    kinds = [[r for r in records if r["kind"] in ("matrix", "session")],
             [r for r in records if r["kind"] in ("matrix", "session") and not r["interrupted"]],
             [r for r in records if r["kind"] == "fault-injection"]]
    return {record["run_id"] for runs in kinds for record in runs[-window:]}


@pytest.mark.parametrize("summaries", [True, False])
def test_report_and_diff_read_at_most_the_window_however_long_the_history(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, summaries: bool) -> None:
    """Whatever the history's length, a report and `diff` read every run.json once and no file of a run
    outside the window; with summaries, a cell file only for a result they show, each at most once."""
    window = 6
    for nights in (10, 24):
        base = history_sample.make(tmp_path / str(nights), nights, "all" if summaries else "none")
        with (base / "matrix.yaml").open("a") as file:
            file.write(f"retention: {window}\n")
        m, reports = matrix.load(base / "matrix.yaml"), base / "reports"
        runs = [run_dir for run_dir in (reports / "runs").iterdir() if (run_dir / "run.json").exists()]
        allowed = window_runs(reports, window)
        for command in ("report", "diff"):
            with monkeypatch.context() as patched:
                read = reading(patched)
                if command == "report":
                    write_matrix_reports(reports, m)
                else:
                    history_sample._call("--matrix", str(base / "matrix.yaml"), "--reports", str(reports), "diff")
            # Every run.json once (the runs' order and kinds), each summary at most once, and nothing else
            # of a run outside the window, although a cell of the matrix never ran.
            assert {path for path in read if path.name == "run.json"} == {run_dir / "run.json" for run_dir in runs}
            assert max(read.values()) <= (1 if summaries else 2)  # without summaries: the facts, then the cell
            assert {path.parent.name for path in read if path.name == NAME} <= allowed
            cells = [path for path in read if path.parent.name == "cells"]
            assert {path.parent.parent.name for path in cells} <= allowed
            if summaries:
                # Each cell's newest result, and a manifest once for all the cells that moved beside it.
                assert len(cells) <= (2 * CELLS if command == "report" else CELLS), sorted(cells)
            else:
                assert len(cells) <= len(allowed) * CELLS
