"""Every file the tool reads is untrusted (issue 18): merge parts, run trees, JUnit files and matrix text,
each case on real run directories and through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from compat.cli import main
from compat.outcome import Outcome, StepRecord
from compat.parts import Flag, HaskellTests, SslFacts
from compat.results import CellResult, RunRecord, prune, store, write_run
from compat.status import Status
from tests.conftest import DATA, ROOT

MATRIX = ROOT / "matrix.yaml"  # abi_baseline: ghc96
KEY = "ghc96--ganeti-3.1--gnutls"
OPENSSL = "ghc96--ganeti-3.1--openssl"
GHC910 = "ghc910--ganeti-3.1--gnutls"
PASSING = DATA / "ganeti" / "3.1-trixie-htest.jxml.xml"
# What XML 1.0 cannot hold at all, escaped or not.
NOT_XML = "".join(map(chr, [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]))
UNREADABLE = "ganeti-compat: unreadable result, skipped: "


def compat(reports: Path, *args: str, matrix_file: Path = MATRIX) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compat", "--matrix", str(matrix_file), "--reports", str(reports),
                           *args], cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def at(day: int, hour: int = 2) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00+00:00"


def night(reports: Path, run_id: str, day: int, *cells: CellResult, kind: str = "matrix") -> Path:
    """A complete run as `compat run` stores it: run.json and one file per cell."""
    run_dir = reports / "runs" / run_id
    write_run(run_dir, RunRecord(run_id, kind, "digest", "0.1.0", at(day), finished=at(day, 3)))
    for cell in cells:
        cell.run_id, cell.started = run_id, at(day)
        store(run_dir, cell)
    return run_dir


def cell(status: str = "pass", key: str = KEY, **fields: Any) -> CellResult:
    toolchain, source, flavor = key.split("--")
    return CellResult(toolchain, source, flavor, status=Status(status), **fields)


def stored(result: CellResult, **changed: Any) -> dict[str, Any]:
    """A cell file's content as the tool writes it, with some fields changed."""
    data: dict[str, Any] = json.loads(result.to_json())
    return data | changed


def put(run_dir: Path, content: Any, name: str = KEY) -> Path:
    """A cell file written by someone else: JSON text as given, or any value as JSON."""
    path = run_dir / "cells" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def one_line(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The one line a refused input ends with."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def named(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The files a report named as unreadable, one line each."""
    assert "Traceback" not in done.stderr, done.stderr
    return [line.removeprefix(UNREADABLE) for line in done.stderr.splitlines() if line.startswith(UNREADABLE)]


def cells_of(reports: Path) -> list[str]:
    return [c["toolchain"] + "--" + c["source"] + "--" + c["flavor"]
            for c in json.loads((reports / "latest.json").read_text())["cells"]]


# Writes outside reports/

@pytest.mark.parametrize("toolchain", ["ABS/dir/OUT", "../../../../OUT"])
def test_a_part_whose_cell_names_a_path_is_refused_and_nothing_is_written_outside_reports(
        tmp_path: Path, toolchain: str) -> None:
    toolchain = toolchain.replace("ABS", str(tmp_path / "abs"))
    part = night(tmp_path / "part", "p1", 1)
    bad = put(part, stored(cell(), toolchain=toolchain))
    done = compat(tmp_path / "reports", "merge", str(part), "--run-id", "night")
    assert not list(tmp_path.rglob("OUT*")) and not (tmp_path / "abs").exists()
    assert not (tmp_path / "reports" / "runs" / "night").exists()  # the part is refused whole
    said = one_line(done)
    assert said.startswith(f"ganeti-compat: {bad}: toolchain: ") and "is not a plain name" in said


@pytest.mark.parametrize("case", ["a cell file holding another cell", "run.json of another run",
                                  "a run id that is a path", "a planned cell that is a path"])
def test_a_part_whose_names_break_the_rule_or_disagree_with_its_paths_is_refused(tmp_path: Path, case: str) -> None:
    part = night(tmp_path / "part", "p1", 1, cell())
    record = json.loads((part / "run.json").read_text())
    if case == "a cell file holding another cell":
        put(part, stored(cell(key=GHC910)), name=KEY)
        expect = f"{part}/cells/{KEY}.json: it holds cell {GHC910}, not the one its name says"
    else:
        change = {"run.json of another run": {"run_id": "p2"}, "a run id that is a path": {"run_id": "../../x"},
                  "a planned cell that is a path": {"cells": [KEY, "../../x"]}}[case]
        (part / "run.json").write_text(json.dumps(record | change))
        expect = f"{part}/run.json: unreadable ("
    done = compat(tmp_path / "reports", "merge", str(part), "--run-id", "night")
    assert not (tmp_path / "reports" / "runs" / "night").exists()
    said = one_line(done)
    assert said.startswith(f"ganeti-compat: {expect}"), said


def test_the_report_names_a_cell_file_that_holds_another_cell(tmp_path: Path) -> None:
    night(tmp_path, "n1", 1, cell(key=OPENSSL))
    bad = put(tmp_path / "runs" / "n1", stored(cell("crash", key=GHC910, started=at(1))), name=KEY)
    done = compat(tmp_path, "report")
    assert done.returncode == 6, done.stderr
    assert named(done) == [f"{bad}: it holds cell {GHC910}, not the one its name says"]
    assert cells_of(tmp_path) == [OPENSSL]


# One file kills the whole report

@pytest.mark.parametrize("depth", [100_000, 200_000])
def test_a_file_nested_deeper_than_the_decoder_follows_is_one_line_and_the_report_goes_on(
        tmp_path: Path, depth: int) -> None:
    deep = "[" * depth + "]" * depth
    night(tmp_path, "n1", 1, cell(), cell(key=OPENSSL))
    bad_cell = put(night(tmp_path, "n2", 2, cell(key=OPENSSL)), deep)
    bad_run = night(tmp_path, "n3", 3, cell()) / "run.json"
    bad_run.write_text('{"run_id": ' + deep + "}")
    done = compat(tmp_path, "report")
    assert done.returncode == 6, done.stderr
    assert sorted(named(done)) == sorted(f"{path}: nested deeper than the decoder follows" for path in (bad_cell, bad_run))
    assert cells_of(tmp_path) == [KEY, OPENSSL]
    diffed = compat(tmp_path, "diff")
    assert diffed.returncode == 6 and named(diffed) == named(done)
    said = one_line(compat(tmp_path / "merged", "merge", str(tmp_path / "runs" / "n2"), "--run-id", "night"))
    assert said.startswith(f"ganeti-compat: {bad_cell}: nested deeper than the decoder follows")


def test_a_lone_surrogate_in_an_evidence_line_is_cleaned_once_when_read(tmp_path: Path) -> None:
    night(tmp_path, "n1", 1, cell())
    night(tmp_path, "n2", 2, cell("test-fail", cause="tests", evidence=["10 tests \ud800failed\udfff"]))
    assert "\\ud800" in (tmp_path / "runs" / "n2" / "cells" / f"{KEY}.json").read_text()
    done = compat(tmp_path, "report")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    for name in ("latest.md", "latest.html", "latest.json", "matrix.junit.xml", "feed.atom"):
        assert "10 tests  failed " in (tmp_path / name).read_bytes().decode("utf-8")  # strictly UTF-8
    diffed = compat(tmp_path, "diff")
    assert diffed.returncode == 1 and "pass -> test-fail (tests): 10 tests failed (" in diffed.stdout, diffed.stderr


def matrix_with(tmp_path: Path, expected: str) -> Path:
    """The real matrix.yaml with these entries first in its `expected:` section (made when it has none)."""
    file = tmp_path / "matrix.yaml"
    text = MATRIX.read_text()
    head, section, tail = text.partition("\nexpected:\n")
    file.write_text(head + "\nexpected:\n" + expected + tail if section else text + "\nexpected:\n" + expected)
    return file


def test_a_lone_surrogate_in_a_reason_of_matrix_yaml_is_refused_in_one_line(tmp_path: Path) -> None:
    m = matrix_with(tmp_path, f'  - {{cell: "{GHC910}", status: build-fail, reason: "known \\ud800 bug"}}\n')
    night(tmp_path, "n1", 1, cell("build-fail", key=GHC910))
    for command in (["validate"], ["report"], ["diff"]):
        said = one_line(compat(tmp_path, *command, matrix_file=m))
        assert said.startswith(f"ganeti-compat: {m}: expected[0].reason: ") and "surrogate" in said, said


WRONGLY_TYPED: dict[str, tuple[str, str, dict[str, Any]]] = {  # field: (cell, run kind, what it holds)
    "flags[].evidence": (GHC910, "matrix", {"flags": [{"name": "ssl:mixed-tls-stacks", "evidence": [1, 2.5]}]}),
    "ssl.tls_stacks": (GHC910, "matrix", {"ssl": {"tls_stacks": ["gnutls", "openssl"], "curl_flavors": ["gnutls"]}}),
    "packages": (GHC910, "matrix", {"packages": {"lens": 5}}),  # drifts against abi_baseline ghc96
    "fault_injection": (KEY, "fault-injection", {"status": "crash", "fault_injection": {"x": 1}}),
}


@pytest.mark.parametrize("field", list(WRONGLY_TYPED))
def test_a_wrongly_typed_field_at_any_depth_is_named_and_the_report_goes_on(tmp_path: Path, field: str) -> None:
    night(tmp_path, "n1", 1, cell(packages={"lens": ["5.2.3", "0123abcd"]}))  # the ABI baseline's packages
    key, kind, changed = WRONGLY_TYPED[field]
    path = put(night(tmp_path, "n2", 2, kind=kind), stored(cell(key=key, run_id="n2", started=at(2)), **changed),
               name=key)
    done = compat(tmp_path, "report")
    assert done.returncode == 6, done.stderr
    [said] = named(done)
    assert said.startswith(f"{path}: {field.split('[')[0]}"), said
    assert cells_of(tmp_path) == [KEY]
    diffed = compat(tmp_path, "diff")
    assert diffed.returncode == (6 if kind == "matrix" else 0) and "Traceback" not in diffed.stderr, diffed.stderr


@pytest.mark.parametrize("field, value", [("cells", 5), ("matrix_digest", ["a"]), ("tool_version", ["a"]),
                                          ("interrupted", "no")])
def test_a_part_with_a_wrongly_typed_run_record_is_refused_in_one_line(tmp_path: Path, field: str, value: Any) -> None:
    parts = [night(tmp_path / "parts", "p1", 1, cell()), night(tmp_path / "parts", "p2", 1, cell(key=OPENSSL))]
    record = json.loads((parts[1] / "run.json").read_text())
    (parts[1] / "run.json").write_text(json.dumps(record | {field: value}))
    said = one_line(compat(tmp_path / "reports", "merge", *map(str, parts), "--run-id", "night"))
    assert said.startswith(f"ganeti-compat: {parts[1]}/run.json: unreadable ({field}: "), said
    assert not (tmp_path / "reports" / "runs").exists()
    done = compat(tmp_path / "parts", "report")  # the report names it and goes on
    assert done.returncode == 6 and named(done) == [f"{parts[1]}/run.json: {said.split(' (', 1)[1].split(')')[0]}"]
    assert cells_of(tmp_path / "parts") == [KEY]


def test_a_symlinked_run_directory_is_neither_read_nor_removed(tmp_path: Path) -> None:
    reports, elsewhere = tmp_path / "reports", tmp_path / "elsewhere"
    outside = night(elsewhere, "evil", 1, cell("crash", key=GHC910, evidence=["from elsewhere"]))
    (reports / "runs").mkdir(parents=True)
    (reports / "runs" / "evil").symlink_to(outside, target_is_directory=True)
    for day in (2, 3, 4):
        night(reports, f"n{day}", day, cell())
    before = sorted(path.relative_to(elsewhere) for path in elsewhere.rglob("*"))
    assert prune(reports, 1) == [reports / "runs" / "n2", reports / "runs" / "n3"]  # retention does not die
    assert (reports / "runs" / "evil").is_symlink()  # never removed, nor what it points to
    assert sorted(path.relative_to(elsewhere) for path in elsewhere.rglob("*")) == before
    done = compat(reports, "report")
    assert done.returncode == 0, done.stderr
    assert cells_of(reports) == [KEY]
    assert "from elsewhere" not in (reports / "latest.md").read_text() + (reports / "latest.html").read_text()
    assert compat(reports, "diff").returncode == 0


@pytest.mark.parametrize("case", ["latest.html is a directory", "export --output DIR", "export --output FILE/x.yml"])
def test_a_directory_where_a_file_goes_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    night(tmp_path, "n1", 1, cell())
    if case == "latest.html is a directory":
        (tmp_path / "latest.html").mkdir()
        said, where = one_line(compat(tmp_path, "report")), tmp_path / "latest.html"
    elif case == "export --output DIR":
        where = tmp_path / "pipelines"
        where.mkdir()
        said = one_line(compat(tmp_path, "export", "--ci", "gitlab", "--output", str(where)))
    else:
        where = tmp_path / "file"
        where.write_text("a file\n")
        said = one_line(compat(tmp_path, "export", "--ci", "github", "--output", str(where / "x.yml")))
    assert said.startswith(f"ganeti-compat: cannot write {where}: "), said
    assert said.endswith("remove what is in the way or give another path")


# Outputs that are not what they claim

def test_junit_and_atom_are_xml_whatever_characters_a_reason_evidence_or_cause_holds(tmp_path: Path) -> None:
    m = matrix_with(tmp_path, f"  - {{cell: {GHC910}, status: build-fail, reason: {json.dumps('known' + NOT_XML)}}}\n")
    assert compat(tmp_path, "validate", matrix_file=m).returncode == 0  # validate accepts the reason
    night(tmp_path, "n1", 1, cell(), cell(key=GHC910))
    night(tmp_path, "n2", 2, cell("test-fail", cause="te" + NOT_XML[:20], evidence=["evidence" + NOT_XML] * 2),
          cell("build-fail", key=GHC910, evidence=["deps" + NOT_XML]),
          cell("unavailable", key=OPENSSL, evidence=["gone" + NOT_XML]))
    done = compat(tmp_path, "report", matrix_file=m)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    junit = ElementTree.parse(tmp_path / "matrix.junit.xml").getroot()
    assert junit.get("failures") == "1" and junit.get("skipped") == "2"
    skipped = [case.find("skipped") for case in junit.iter("testcase") if case.find("skipped") is not None]
    assert any(s is not None and (s.get("message") or "").startswith("expected (build-fail): known") for s in skipped)
    atom = "{http://www.w3.org/2005/Atom}"
    entries = ElementTree.parse(tmp_path / "feed.atom").getroot().findall(f"{atom}entry")
    assert [entry.findtext(f"{atom}title") for entry in entries] == [f"regression: {KEY}: pass -> test-fail (te{' ' * 20})"]


INJECTED = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_no_value_adds_a_line_a_heading_or_html_to_the_markdown_report(tmp_path: Path) -> None:
    m = matrix_with(tmp_path, f"  - {{cell: {GHC910}, status: build-fail, "
                              f"reason: {json.dumps('known' + chr(10) + '# Injected heading' + chr(10) + INJECTED)}}}\n")
    flags = [Flag("ssl:x" + INJECTED, (INJECTED,)), Flag("abi:x" + INJECTED, (INJECTED,))]
    ssl = SslFacts.from_dict({"tls_stacks": {"gnutls" + INJECTED: ["bin", "lib" + INJECTED, "gnutls"]},
                              "curl_flavors": [INJECTED]})
    night(tmp_path, "n1", 1, cell(), cell(key=GHC910))
    night(tmp_path, "n2", 2, cell("test-fail", cause="tests", evidence=["first\n# Evidence heading " + INJECTED],
                                  flags=flags, ssl=ssl, ssl_recommendation="safe\n# Heading " + INJECTED),
          cell("build-fail", key=GHC910))
    done = compat(tmp_path, "report", matrix_file=m)
    assert done.returncode == 1, done.stderr
    text = (tmp_path / "latest.md").read_text()
    markdown = outside_code_blocks(text)  # inside a fenced block, HTML and '#' are text
    lines = "\n".join(markdown)
    assert "<script" not in lines and "<img" not in lines and "&lt;script>" in lines
    headings = [line for line in markdown if line.lstrip().startswith("#")]
    assert all(line.startswith(("# Ganeti toolchain compatibility: ", "## ", "### ")) for line in headings), headings
    assert not any("heading" in line.lower() for line in headings), headings
    what_changed = lines[lines.index("## What changed"):lines.index("| toolchain")]
    assert f"- `{GHC910}`: pass -> build-fail: expected (build-fail): known # Injected heading &lt;script>" in what_changed
    assert "- `ghc96--ganeti-3.1--gnutls`: ssl:x&lt;script>" in what_changed  # a flag that appeared
    assert "- **ghc96**: safe # Heading &lt;script>" in lines[lines.index("## SSL"):]
    assert "### ghc96 × ganeti-3.1: abi:x&lt;script>" in lines[lines.index("## ABI"):]


def outside_code_blocks(text: str) -> list[str]:
    """The lines of a Markdown text that are not in a fenced code block."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside:
            lines.append(line)
    return lines


def test_failed_names_that_are_not_a_list_are_no_tests(tmp_path: Path) -> None:
    night(tmp_path, "n1", 1, cell())
    run_dir = night(tmp_path, "n2", 2)
    tests = {"total": 3, "passed": 0, "failed": 3, "failed_names": "abc"}
    path = put(run_dir, stored(cell("test-fail", run_id="n2", started=at(2)), tests=tests))
    done = compat(tmp_path, "report")
    page = (tmp_path / "latest.html").read_text()
    assert "<li>a</li>" not in page and "<li>b</li>" not in page
    assert done.returncode == 6, done.stderr
    assert named(done) == [f"{path}: tests.failed_names: text, not a list of text"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_timings_that_are_no_number_leave_latest_json_strict(tmp_path: Path, number: str) -> None:
    run_dir = night(tmp_path, "n1", 1, cell(key=OPENSSL))
    text = json.dumps(stored(cell(run_id="n1", started=at(1)), timings={"build": 1.5, "test": 0})).replace(
        '"test": 0', f'"test": {number}')
    path = put(run_dir, text)
    done = compat(tmp_path, "report")

    def strict(name: str) -> None:
        raise AssertionError(f"latest.json holds {name}")

    assert [c["flavor"] for c in json.loads((tmp_path / "latest.json").read_text(), parse_constant=strict)["cells"]] \
        == ["openssl"]
    assert done.returncode == 6, done.stderr
    [said] = named(done)
    assert said.startswith(f"{path}: "), said


def test_a_cell_claiming_another_runs_id_links_the_logs_of_its_own_run(tmp_path: Path) -> None:
    logs = {"build": f"cells/{KEY}/build.log"}
    for run_id, day in (("n1", 1), ("n2", 2)):
        run_dir = night(tmp_path, run_id, day)
        (run_dir / logs["build"]).parent.mkdir(parents=True)
        (run_dir / logs["build"]).write_text(f"the build of {run_id}\n")
    night(tmp_path, "n1", 1, cell(logs=logs))
    put(tmp_path / "runs" / "n2", stored(cell("build-fail", logs=logs, run_id="n1", started=at(2)),
                                         evidence=["error: x"]))
    done = compat(tmp_path, "report")
    assert done.returncode == 1, done.stderr
    page, text = (tmp_path / "latest.html").read_text(), (tmp_path / "latest.md").read_text()
    assert f"href='runs/n2/cells/{KEY}/build.log'" in page and "runs/n1/" not in page
    assert f"runs/n2/cells/{KEY}/build.log" in text and "runs/n1/" not in text
    assert json.loads((tmp_path / "latest.json").read_text())["runs"] == ["n2"]


# Cost that grows with what an attacker writes

def test_a_huge_junit_file_is_never_read_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    size = 300 * 1024 * 1024
    junit = f"cells/{KEY}/junit.xml"
    first = night(tmp_path, "n1", 1)
    (first / junit).parent.mkdir(parents=True)
    (first / junit).write_text(PASSING.read_text())
    night(tmp_path, "n1", 1, cell(tests=HaskellTests(456, 456, 0, ()),
                                  logs={"junit": junit}))
    second = night(tmp_path, "n2", 2)
    (second / junit).parent.mkdir(parents=True)
    with (second / junit).open("w") as huge:  # sparse: it costs no disk
        huge.write("<testsuites><testsuite><testcase classname='a' name='b'><failure/></testcase>")
        huge.truncate(size)
    outcome = Outcome("libcurl-gnutls.so.4", junit=junit, junit_name="junit.xml",
                      steps=(StepRecord("build", 0, None), StepRecord("test", 1, None)))
    night(tmp_path, "n2", 2, cell("test-fail", logs={"junit": junit}, outcome=outcome))
    tracemalloc.start()
    try:
        code = main(["--matrix", str(MATRIX), "--reports", str(tmp_path), "report"])
        code_diff = main(["--matrix", str(MATRIX), "--reports", str(tmp_path), "diff"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    said = capsys.readouterr()
    assert (code, code_diff) == (1, 1) and "Traceback" not in said.err, said.err
    assert f"- `{KEY}`: pass -> test-fail" in said.out
    assert peak < size / 2, f"peak {peak / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB JUnit file"
