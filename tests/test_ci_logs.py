"""On CI a run's log reads as sections, one per cell step, with an annotation per failing cell and the grid on
the job's summary page; on a terminal its output is what it was (in-memory engine, captured output)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from compat import matrix
from compat.ci import logs
from compat.progress import Progress, step_ended
from compat.runner import CellRunner, plan
from tests.conftest import ROOT
from tests.memory_engine import MemoryImages
from tests.test_merge import MATRIX, expected_parts
from tests.test_merge import run as stored_run
from tests.test_runner import answering_engine

GITLAB = {"GITLAB_CI": "true"}
GITHUB = {"GITHUB_ACTIONS": "true"}
SECTION = re.compile(r"\x1b\[0Ksection_(start|end):(\d+):([A-Za-z0-9_.-]+)(\[collapsed=true\])?\r\x1b\[0K")
HOSTILE = "make: *** [all] Error 1\n::error::a log line is no workflow command\n\x1b[0Ksection_end:1:x\r\x1b[0K\x1b[31mred\x1b[0m\n"


def ran(tmp_path: Path, environ: dict[str, str]) -> str:
    """Both flavors of ghc96 x curlint through a Progress in this environment: what it printed."""
    out = io.StringIO()
    m = matrix.load(ROOT / "tests" / "fixtures" / "matrix.yaml")
    runner = CellRunner(answering_engine(), m, tmp_path / "runs" / "r1", Progress(environ, out), MemoryImages())
    for group in plan(m, ["ghc96"], ["curlint"]):
        runner.run_group(group, lambda result: None)
    return out.getvalue()


def test_on_a_terminal_the_output_is_what_it_was(tmp_path: Path) -> None:
    said = ran(tmp_path, {})
    assert "section_" not in said and "::" not in said
    lines = [line.split("] ", 1)[1] for line in said.splitlines()]
    assert "ghc96--curlint--gnutls: build done in 0 s" in lines and "ghc96--curlint--gnutls: probe ..." in lines
    assert not any("Linking" in line for line in lines)  # no log in it


def test_on_gitlab_each_cell_step_is_a_section_holding_its_log(tmp_path: Path) -> None:
    said = ran(tmp_path, GITLAB)
    starts = [m.group(3) for m in SECTION.finditer(said) if m.group(1) == "start"]
    ends = [m.group(3) for m in SECTION.finditer(said) if m.group(1) == "end"]
    assert starts == ends
    for step in ("image", "configure", "build", "test", "probe"):
        assert f"ghc96--curlint--gnutls.{step}" in starts, step
    for step in ("image", "build", "test", "probe"):
        assert f"ghc96--curlint--openssl.{step}" in starts, step  # relinked: no configure of its own
    build = said.split("ghc96--curlint--gnutls.build[collapsed=true]\r\x1b[0K", 1)[1].split("section_end", 1)[0]
    assert "ghc96--curlint--gnutls: build done in 0 s" in build and "Linking dist/build/curlint-tests" in build


def test_a_section_holds_the_logs_tail_inert_and_a_failed_step_open(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text("".join(f"line {n}\n" for n in range(5000)) + HOSTILE)
    out = io.StringIO()
    step_ended(Progress(GITLAB, out), "k.build", "k: build failed in 3 s", log, 1_700_000_000.0, failed=True)
    said = out.getvalue()
    assert said.startswith("\x1b[0Ksection_start:1700000000:k.build\r\x1b[0K")  # failed: not collapsed
    body = said.split("\n")[1:-2]  # between the start's and the end's line
    assert body[0] == f"(the last {logs.TAIL_LINES} lines; the whole log: {log})" and len(body) == logs.TAIL_LINES + 1
    assert body[-3:] == ["::error::a log line is no workflow command", "section_end:1:x", "red"]
    assert len(SECTION.findall(said)) == 2  # the log's own marker lost its escape sequences

    out = io.StringIO()
    step_ended(Progress(GITHUB, out), "k.build", "k: build failed in 3 s", log, 0.0, failed=True)
    said = out.getvalue().splitlines()
    token = said[1].removeprefix("::stop-commands::")
    assert said[0].endswith("k: build failed in 3 s") and said[0].startswith("::group::") and len(token) == 32
    assert said[-2:] == [f"::{token}::", "::endgroup::"]  # nothing between is read as a command
    assert "::error::a log line is no workflow command" in said[2:-2]


def test_a_step_that_says_nothing_on_a_terminal_says_nothing(tmp_path: Path) -> None:
    out = io.StringIO()
    step_ended(Progress({}, out), "k.probe", "k: probe ended in 2 s", tmp_path / "missing.log", 0.0, False, plain=False)
    assert out.getvalue() == ""
    step_ended(Progress(GITHUB, out), "k.probe", "k: probe ended in 2 s", tmp_path / "missing.log", 0.0, False,
               plain=False)
    assert "::group::" in out.getvalue() and "(no log: No such file or directory)" in out.getvalue()


@pytest.mark.parametrize("environ, annotated", [({}, False), (GITHUB, True), (GITLAB, False)])
def test_the_report_job_annotates_each_failing_cell_and_fills_the_summary_page(tmp_path: Path, environ: dict[str, str],
                                                                               annotated: bool) -> None:
    m = matrix.load(MATRIX)
    stored_run(tmp_path / "parts", "ci-1-g1", plan(m, list(m.toolchains), list(m.sources))[:1])
    summary = tmp_path / "summary.md"
    done = subprocess.run([sys.executable, "-m", "compat", "--matrix", str(MATRIX), "--reports",
                           str(tmp_path / "reports"), "merge", str(tmp_path / "parts"), "--run-id", "ci-1", "--expect",
                           str(expected_parts(tmp_path)), "--nightly"], cwd=ROOT, capture_output=True, text=True,
                          check=False, env={"PATH": "/usr/bin:/bin", **environ, "GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 5, done.stderr
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    if not annotated:
        assert errors == [] and not summary.exists()
        return
    assert [line.split("::")[1] for line in errors] == [
        "error title=ghc96--curlint--gnutls%3A error (runner)", "error title=ghc96--curlint--openssl%3A error (runner)"]
    assert all("job 'ghc96 curlint' delivered no result" in line for line in errors)
    page = summary.read_text()
    assert page.startswith("# Ganeti toolchain compatibility") and "| ghc96 " in page and "error (runner)" in page
    assert json.loads((tmp_path / "reports" / "latest.json").read_text())["cells"]
