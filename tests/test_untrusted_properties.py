"""Properties of reading what other machines wrote (issue 18), through the command line in-process: any JSON
value in any field of a real stored cell or run.json leaves `report`, `diff` and `merge` with a documented exit
code and at most one line per bad file; any text in any text field of a result or of matrix.yaml leaves every
output what it claims to be (XML that parses, a page and a Markdown report with only the tool's own structure)."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import shutil
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from compat import matrix
from compat.cli import main
from compat.errors import ConfigError
from compat.parts import FaultInjection, Flag, GhcFacts, HaskellTests, ProbeFacts, SslFacts
from compat.results import CellResult, RunRecord, store, write_run
from compat.runner import CellRunner, plan
from compat.status import Status
from tests.conftest import ROOT
from tests.memory_engine import MemoryImages
from tests.test_runner import answering_engine

# See test_matrix_properties.py: hypothesis's patch writer would otherwise hide a falsifying example.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

PROPERTY = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FIXTURE = ROOT / "tests" / "fixtures" / "matrix.yaml"  # ghc90 and ghc96 x curlint x gnutls and openssl
EXITS = {0, 1, 2, 4, 5, 6}  # 4: a value may well be the status "unavailable"
HUGE = "\x00a number of 5000 digits\x00"  # json.dumps cannot write it (int_max_str_digits): spliced in as text
NASTY = ["]]>", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\n# heading", "|", "`", "```",
         "\ud800", "\udfff", "\x00", "\x1b[31m", "\r\n", "\u2028", "\x85", "&amp;", "[a](javascript:x)", "*", "\\"]
CHARACTERS = st.characters(exclude_categories=()) | st.sampled_from(sorted(set("".join(NASTY))))  # surrogates too
TEXTS = st.text(CHARACTERS, max_size=40) | st.sampled_from(NASTY)
NUMBERS = st.integers() | st.integers(-(10**400), 10**400) | st.floats() | st.just(HUGE)
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # what no XML file holds
JSON = st.recursive(st.none() | st.booleans() | NUMBERS | TEXTS,
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXTS, children, max_size=4),
                    max_leaves=12)


def fixture_matrix(directory: Path, reason: str = "known", description: str = "GHC 9.6") -> Path:
    """The fixture matrix with an ABI baseline, an expected failure and a toolchain description."""
    text = FIXTURE.read_text().replace("path: curlint", f"path: {FIXTURE.parent / 'curlint'}").replace(
        'ghc96: {kind: debian,', f"ghc96: {{description: {json.dumps(description)}, kind: debian,")
    file = directory / "matrix.yaml"
    file.write_text(text + "abi_baseline: ghc96\nexpected:\n"
                    f"  - {{cell: ghc90--curlint--gnutls, status: build-fail, reason: {json.dumps(reason)}}}\n")
    return file


@dataclass(frozen=True)
class Said:
    code: int
    out: str
    err: str

    def problems(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("ganeti-compat:")]


def compat(*argv: str) -> Said:
    """The command line in-process; its output is written as UTF-8, strictly, as a terminal or a pipe would."""
    out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True) for _ in range(2))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Said(code, out.buffer.getvalue().decode(), err.buffer.getvalue().decode())


def real_night(reports: Path, run_id: str, day: int) -> Path:
    """Every cell of the fixture matrix as `compat run` runs and stores it (in-memory engine)."""
    m = matrix.load(FIXTURE)
    run_dir = reports / "runs" / run_id
    started = f"2026-11-{day:02d}T02:00:00+00:00"
    groups = plan(m, list(m.toolchains), list(m.sources))
    record = RunRecord(run_id, "matrix", "digest", "0.1.0", started, cells=[c.key for g in groups for c in g])
    write_run(run_dir, record)
    runner = CellRunner(answering_engine(), m, run_dir, lambda line: None, MemoryImages())

    def done(result: CellResult) -> None:
        store(run_dir, replace(result, started=started))

    for group in groups:
        runner.run_group(group, done)
    write_run(run_dir, replace(record, finished=f"2026-11-{day:02d}T03:00:00+00:00"))
    return run_dir


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real nights; in the second, ghc96's gnutls cell fails a test (its JUnit file says so)."""
    reports = tmp_path_factory.mktemp("template")
    real_night(reports, "n1", 1)
    junit = real_night(reports, "n2", 2) / "cells" / "ghc96--curlint--gnutls" / "junit.xml"
    junit.write_text(junit.read_text().replace("/>", "><failure message='x'/></testcase>", 1))
    return reports


@contextlib.contextmanager
def copied(template: Path) -> Iterator[Path]:
    """A copy of the template's reports directory, beside the matrix they were run with."""
    with tempfile.TemporaryDirectory(prefix="untrusted-") as top:
        shutil.copytree(template, Path(top) / "reports")
        fixture_matrix(Path(top))
        yield Path(top)


def walk(data: st.DataObject, document: Any) -> tuple[Any, Any]:
    """A node of a JSON document and a key in it, found by a walk from the root that goes one level deeper
    three times in four: the top-level fields are not drowned by the hundreds of a manifest."""
    node, key = None, None
    value = document
    while isinstance(value, (dict, list)) and value and (node is None or data.draw(st.integers(0, 3)) > 0):
        node = value
        key = data.draw(st.sampled_from(list(value) if isinstance(value, dict) else range(len(value))))
        value = value[key]
    return node, key


def hostile(data: st.DataObject, document: Any) -> str:
    """The document with one value replaced by any JSON value, or one key removed or renamed; as file text."""
    node, key = walk(data, document)
    if node is None:
        document = data.draw(JSON)
    elif isinstance(node, dict) and data.draw(st.integers(0, 4)) == 0:
        value = node.pop(key)
        if data.draw(st.booleans()):
            node[data.draw(TEXTS)] = value
    else:
        node[key] = data.draw(JSON)
    return json.dumps(document).replace(json.dumps(HUGE), "9" * 5000)


def well_formed(reports: Path) -> None:
    """What a report run left: strict JSON, XML that parses, UTF-8 throughout."""
    if not (reports / "latest.json").exists():
        return

    def strict(name: str) -> None:
        raise AssertionError(f"latest.json holds {name}")

    json.loads((reports / "latest.json").read_text(), parse_constant=strict)
    for name in ("matrix.junit.xml", "feed.atom"):
        ElementTree.parse(reports / name)
    for name in ("latest.md", "latest.html"):
        (reports / name).read_bytes().decode("utf-8")


@PROPERTY
@given(st.data())
def test_any_json_value_in_any_field_of_a_stored_file_is_at_most_one_line(template: Path, data: st.DataObject
                                                                          ) -> None:
    with copied(template) as top:
        reports = top / "reports"
        files = sorted(reports.glob("runs/*/run.json")) + sorted(reports.glob("runs/*/cells/*.json"))
        file = data.draw(st.sampled_from(files))
        file.write_text(hostile(data, json.loads(file.read_text())))
        before = sorted(top.rglob("*"))
        common = ["--matrix", str(top / "matrix.yaml"), "--reports"]
        for said in (compat(*common, str(reports), "report"), compat(*common, str(reports), "diff")):
            assert said.code in EXITS and len(said.problems()) <= 1, said
            assert all(str(file) in line for line in said.problems() if "unreadable" in line), said
        well_formed(reports)
        after_reports = sorted(top.rglob("*"))
        merged = compat(*common, str(top / "merged"), "merge", str(file.parent.parent if file.name != "run.json"
                                                                     else file.parent), "--run-id", "night")
        assert merged.code in EXITS and len(merged.problems()) <= 1, merged
        if merged.code == 2 and "no cell results of an ordinary run" not in merged.err:  # (a part of a bench run)
            assert str(file) in merged.err and not (top / "merged" / "runs").exists(), merged
        well_formed(top / "merged")
        assert sorted(p for p in top.rglob("*") if not p.is_relative_to(top / "merged")) == after_reports
        assert set(before) <= set(after_reports)


# Any text in any text field

def outside_code_blocks(lines: list[str]) -> Iterator[tuple[int, str]]:
    inside = False
    for index, line in enumerate(lines):
        if line.startswith("```"):
            inside = not inside
        elif not inside:
            yield index, line


UNESCAPED = re.compile(r"(?<!\\)(?:\\\\)*([|`<])")
PREFIXES = ("# ", "## ", "### ", "- ", "  - ", "| ", "|-", "```")


def shape(line: str) -> tuple[str, Counter[str]]:
    """What a Markdown line is (its prefix) and the structure it holds: unescaped table pipes, code-span
    backticks and HTML openings."""
    prefix = next((p for p in PREFIXES if line.startswith(p)), "blank" if not line.strip() else "text")
    return prefix, Counter(match.group(1) for match in UNESCAPED.finditer(line.replace("<br>", "")))


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[tuple[str, tuple[str, ...]]] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[(tag, tuple(sorted(name for name, _ in attrs)))] += 1


def tags(page: str) -> Counter[tuple[str, tuple[str, ...]]]:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser.tags


def xml_shape(file: Path) -> list[str]:
    return [element.tag for element in ElementTree.parse(file).getroot().iter()]


def junit_file(run_dir: Path, key: str, name: str, passed: bool) -> str:
    """A JUnit file with one test of that name (XML holds only some characters: the others are left out)."""
    suite = ElementTree.Element("testsuites")
    case = ElementTree.SubElement(ElementTree.SubElement(suite, "testsuite"), "testcase", classname="T",
                                  name=NOT_XML.sub("", name))
    if not passed:
        ElementTree.SubElement(case, "failure", message="x")
    path = run_dir / "cells" / key / "junit.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ElementTree.tostring(suite, encoding="utf-8"))
    return str(path.relative_to(run_dir))


def nights(reports: Path, text: str) -> None:
    """Three runs whose every text field holds `text`: a pass, then regressions, an expected failure and an
    unavailable cell, then a fault-injection run."""
    def night(run_id: str, day: int, kind: str, *cells: CellResult) -> None:
        run_dir = reports / "runs" / run_id
        write_run(run_dir, RunRecord(run_id, kind, text, text, f"2026-11-0{day}T02:00:00+00:00",
                                     finished=f"2026-11-0{day}T03:00:00+00:00", reason=text))
        for cell in cells:
            cell.run_id, cell.started = run_id, f"2026-11-0{day}T02:00:00+00:00"
            if "junit" in cell.logs:
                cell.logs["junit"] = junit_file(run_dir, cell.key, text, cell.status == "pass")
            store(run_dir, cell)

    def cell(key: str, status: str, **fields: Any) -> CellResult:
        toolchain, source, flavor = key.split("--")
        every = {"evidence": [text, text], "manifest": {"libghc-curl-dev": text, text: "1"}, "image": text,
                 "image_freshness": text, "source_version": text, "logs": {"build": text}, "timings": {text: 1.5},
                 "packages": {"curl": [text, text] if toolchain == "ghc90" else ["1", "a"]}, "ssl_recommendation": text,
                 # the parts as written, not as read: their texts reach the files uncleaned
                 "ghc": GhcFacts(text, text, text, absent=frozenset({"bignum_backend", "replaces_gmp_allocator"})),
                 "ssl": SslFacts((text,), (text,), {text: ("bin", text, "gnutls")}, True, False,
                                 absent=frozenset({"gmp_allocations_per_request"})),
                 "probe": ProbeFacts(1, text, text, text, built=True, timed_out=False,
                                     absent=frozenset({"gmp_allocations_per_request"})),
                 "flags": [Flag("ssl:" + text, (text,)), Flag("abi:" + text, (text,))]}
        return CellResult(toolchain, source, flavor, status=Status(status), **(every | fields))

    passed = HaskellTests(1, 1, 0, ())
    failed = HaskellTests(2, 0, 2, (text, "T/" + text))
    before = {"manifest": {"libghc-curl-dev": "0"}}  # what moved beside a regression
    night("n1", 1, "matrix", cell("ghc96--curlint--gnutls", "pass", tests=passed, logs={"junit": ""}, **before),
          cell("ghc96--curlint--openssl", "pass", tests=passed, **before), cell("ghc90--curlint--gnutls", "pass"),
          cell("ghc90--curlint--openssl", "pass"))
    night("n2", 2, "matrix", cell("ghc96--curlint--gnutls", "test-fail", cause=text, tests=failed,
                                  logs={"junit": "", "build": text}),
          cell("ghc96--curlint--openssl", "crash", cause=text), cell("ghc90--curlint--gnutls", "build-fail"),
          cell("ghc90--curlint--openssl", "unavailable"))
    night("n3", 3, "fault-injection", cell("ghc96--curlint--gnutls", "crash",
                                           fault_injection=FaultInjection(text, text, absent=frozenset(
                                               {"gmp_allocations_per_request"}))))


@dataclass(frozen=True)
class Rendered:
    code: int
    markdown: list[str]
    page: Counter[tuple[str, tuple[str, ...]]]
    junit: list[str]
    feed: list[str]
    diff: list[str]


def render(text: str, matrix_text: str) -> Rendered:
    with tempfile.TemporaryDirectory(prefix="untrusted-text-") as top:
        reports = Path(top) / "reports"
        nights(reports, text)
        m = fixture_matrix(Path(top), reason="known " + matrix_text, description=matrix_text)
        said = compat("--matrix", str(m), "--reports", str(reports), "report")
        assert not said.problems(), said
        diffed = compat("--matrix", str(m), "--reports", str(reports), "diff")
        assert diffed.code == said.code == 1, (said, diffed)
        well_formed(reports)
        return Rendered(said.code, (reports / "latest.md").read_text().split("\n"),
                        tags((reports / "latest.html").read_text()), xml_shape(reports / "matrix.junit.xml"),
                        xml_shape(reports / "feed.atom"), diffed.out.split("\n"))


@functools.cache
def baseline() -> Rendered:
    return render("x", "x")


def same_markdown(found: list[str], expected: list[str]) -> None:
    """Line for line the tool's own structure: as many lines, each of the same kind, with as many table
    pipes, backticks and HTML openings outside the code blocks."""
    assert len(found) == len(expected), "\n".join(found)
    assert [line.startswith("```") for line in found] == [line.startswith("```") for line in expected]
    for (index, line), (_, base) in zip(outside_code_blocks(found), outside_code_blocks(expected), strict=True):
        assert shape(line) == shape(base), (index, line, base)


@PROPERTY
@given(st.text(CHARACTERS, min_size=1, max_size=60) | st.sampled_from(NASTY))
def test_any_text_in_any_text_field_leaves_every_output_what_it_claims_to_be(text: str) -> None:
    assume(text not in ("x", "bin", "gnutls", "0", "1", "a", "libghc-curl-dev", "curl", "T"))  # the fixed texts
    matrix_text = text
    with tempfile.TemporaryDirectory() as top:
        try:
            matrix.load(fixture_matrix(Path(top), reason="known " + text, description=text))
        except ConfigError as refused:
            assert "\n" not in str(refused)
            matrix_text = "x"  # refused in one line (a lone surrogate): the results' texts are tried alone
    found, expected = render(text, matrix_text), baseline()
    assert found.page == expected.page
    assert (found.junit, found.feed) == (expected.junit, expected.feed)
    same_markdown(found.markdown, expected.markdown)
    same_markdown(found.diff, expected.diff)
