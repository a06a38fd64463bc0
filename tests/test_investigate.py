"""Investigations of regressions (compat.findings, compat.investigate) and what they need of a run: each
fetched tree kept by its digest, a failed cell's volume kept, the image id and every command recorded."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from compat import matrix, sources
from compat.commands.found import nightly_exit
from compat.commands.reports import feed
from compat.errors import ConfigError
from compat.findings import (
    BASELINE,
    OLD_IMAGE,
    OLD_SOURCE,
    RERUN,
    TONIGHT,
    Changed,
    Conclusion,
    Investigation,
    Job,
    conclude,
)
from compat.history import complete_runs, render
from compat.history import nights as compare
from compat.investigate import Investigator, locate_subject, within_budget
from compat.kept import SourceStore
from compat.matrix import Budget
from compat.outputs.atom import render_atom
from compat.outputs.context import ReportContext
from compat.outputs.html import render_html
from compat.outputs.junit import render_junit
from compat.repro import locate, script
from compat.results import CellResult, RunRecord, load_run, store, write_run
from compat.runner import CellRunner, plan
from compat.status import Status
from tests.conftest import ROOT
from tests.memory_engine import MemoryEngine, MemoryImages
from tests.test_runner import BINARY, CURLINT, answering_engine, writes_junit

FIXTURE_MATRIX = ROOT / "tests" / "fixtures" / "matrix.yaml"


def run_cells(engine: MemoryEngine, run_dir: Path, flavors: list[str] | None = None, m: matrix.Matrix | None = None,
              **options: Any) -> list[CellResult]:
    m = m or matrix.load(FIXTURE_MATRIX)
    runner = CellRunner(engine, m, run_dir, lambda line: None, MemoryImages(), **options)
    results: list[CellResult] = []
    for group in plan(m, ["ghc96"], ["curlint"], flavors):
        runner.run_group(group, results.append)
    return results


def test_a_cell_records_its_image_id_and_every_command_it_ran(tmp_path: Path) -> None:
    gnutls, openssl = run_cells(answering_engine(), tmp_path / "r1")
    assert gnutls.image_id == "sha256:img-ghc96-gnutls" and openssl.image_id == "sha256:img-ghc96-openssl"
    assert gnutls.outcome is not None and openssl.outcome is not None
    steps = {step.name: step.commands for step in gnutls.outcome.steps}
    assert steps["configure"] == (("runhaskell", "Setup.hs", "configure", "--user"),)
    assert steps["test"] == (("rm", "-f", "/build/out/junit.xml"), ("mkdir", "-p", "/build/out"),
                             (BINARY, "--jxml=/build/out/junit.xml"))
    relink = {step.name: step.commands for step in openssl.outcome.steps}["build"]
    assert relink[0] == ("sh", "/build/.compat/relink-curl-binaries", "/build/src")


def test_each_fetched_tree_is_kept_by_its_digest_and_an_investigation_builds_the_kept_one(tmp_path: Path) -> None:
    source = tmp_path / "curlint"
    shutil.copytree(CURLINT, source)
    data = FIXTURE_MATRIX.read_text().replace("path: curlint", f"path: {source}")
    (tmp_path / "matrix.yaml").write_text(data)
    m = matrix.load(tmp_path / "matrix.yaml")
    store = SourceStore(tmp_path / "sources")
    gnutls, = run_cells(answering_engine(), tmp_path / "r1", ["gnutls"], m, kept=store)
    digest = sources.tree_digest(source)
    assert gnutls.source_digest == digest and store.has(digest)

    (source / "tests" / "Tests.hs").write_text("changed since\n")  # the path source moves on; the kept tree does not
    engine = answering_engine()
    again, = run_cells(engine, tmp_path / "r2", ["gnutls"], m, kept=store, source=digest)
    assert again.status is Status.PASS and again.source_digest == digest
    volume = engine.volumes  # removed at the end of the group; what was put in came from the store
    assert volume == {}
    gone, = run_cells(answering_engine(), tmp_path / "r3", ["gnutls"], m, kept=store, source="ab" * 32)
    assert (gone.status, gone.cause) == (Status.ERROR, "fetch")
    assert gone.evidence[0].startswith(f"compat-fetch: the source tree of digest {'ab' * 32} was not kept")


def test_keep_failed_keeps_a_failed_cells_volume_as_it_was_and_the_next_flavor_compiles_its_own(tmp_path: Path) -> None:
    engine = answering_engine()

    def gnutls_fails(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        return (1, "Integer/factorial 25: [Failed]\n") if image.endswith("gnutls") else writes_junit(files, argv, image)

    engine.on((BINARY,), gnutls_fails)
    gnutls, openssl = run_cells(engine, tmp_path / "r1", keep_failed=True)
    volume = "ganeti-compat-r1--ghc96--curlint"
    assert gnutls.status is Status.TEST_FAIL and gnutls.kept_volume == volume
    assert openssl.compiled_by is None and openssl.kept_volume is None  # the kept tree was not relinked
    assert engine.events == [f"remove {volume}", f"create {volume}", f"remove {volume}--openssl",
                             f"create {volume}--openssl", f"remove {volume}--openssl"]
    assert volume in engine.volumes


def job(name: str, status: Status, why: str = "") -> Job:
    image = BASELINE if name == OLD_IMAGE else TONIGHT
    source = BASELINE if name == OLD_SOURCE else TONIGHT
    return Job(name, image, source, f"run-{name.replace(' ', '-')}", status, None, why)


FAIL, PASS, ERROR, UNAVAILABLE = Status.TEST_FAIL, Status.PASS, Status.ERROR, Status.UNAVAILABLE
LENS = "libghc-lens-dev 5.2.3-1 -> 5.3.2-1"
SOURCE = "source 3.1.0~rc2-5 -> 3.1.0~rc2-6"


@pytest.mark.parametrize("rerun, old_image, old_source, conclusion, says", [
    (PASS, None, None, Conclusion.NOT_REPRODUCIBLE, ("not reproducible: 1 of 2 runs failed (the rerun passed): flaky, "
     "not the toolchain")),
    (ERROR, None, None, Conclusion.CANNOT_TELL, "cannot tell: the rerun could not run (error)"),
    (FAIL, PASS, None, Conclusion.TOOLCHAIN, f"toolchain: {LENS}"),
    (FAIL, FAIL, None, Conclusion.CANNOT_TELL, ("cannot tell: it fails on the baseline's image too, with the same "
     "source: neither axis explains it")),
    (FAIL, None, PASS, Conclusion.SOURCE, f"source: {SOURCE}"),
    (FAIL, PASS, FAIL, Conclusion.TOOLCHAIN, f"toolchain: {LENS}"),
    (FAIL, FAIL, PASS, Conclusion.SOURCE, f"source: {SOURCE}"),
    (FAIL, FAIL, FAIL, Conclusion.BOTH, f"both: each alone breaks it (toolchain: {LENS}; source: {SOURCE})"),
    (FAIL, PASS, PASS, Conclusion.TOGETHER, (f"only together: neither the toolchain ({LENS}) nor the source ({SOURCE}) "
     "alone breaks it")),
    (FAIL, UNAVAILABLE, PASS, Conclusion.CANNOT_TELL, ("cannot tell: the baseline's image could not be used: the "
     "baseline's image is gone")),
])
def test_the_conclusion_of_an_investigation(rerun: Status, old_image: Status | None, old_source: Status | None,
                                            conclusion: Conclusion, says: str) -> None:
    jobs = [job(RERUN, rerun)]
    jobs += [job(OLD_IMAGE, old_image, "the baseline's image is gone" if old_image is UNAVAILABLE else "")] \
        if old_image else []
    jobs += [job(OLD_SOURCE, old_source)] if old_source else []
    changed = Changed(old_image is not None, old_source is not None, (LENS,), SOURCE)
    found = conclude(jobs, changed)
    assert (found.conclusion, found.says) == (conclusion, says)
    assert found.evidence[0].startswith(f"rerun (tonight's image, tonight's source), run run-rerun: {rerun}")
    assert found.conclusion.reproducible == (conclusion is not Conclusion.NOT_REPRODUCIBLE)


def test_a_regression_that_happens_again_with_nothing_changed_cannot_be_told() -> None:
    found = conclude([job(RERUN, FAIL)], Changed(False, False))
    assert found.conclusion is Conclusion.CANNOT_TELL
    assert "neither the image nor the source changed" in found.says


FAKE_DOCKER = r"""#!/bin/sh
# A docker CLI that logs each call and answers as the engine would for the fixture's failing cell.
printf '%s\n' "$*" >> "$DOCKER_LOG"
case "$*" in
    "image inspect"*|"volume "*) exit 0 ;;
    *"tar -xz -C /build") cat > "$UNPACKED.$(ls "$(dirname "$UNPACKED")" | wc -l)"; exit 0 ;;
    *"cat /build/meta/digest") printf '%s\n' "$DIGEST"; exit 0 ;;
    *"dist/build/curlint-tests/curlint-tests --jxml=/build/out/junit.xml") echo "factorial 25: [Failed]"; exit 1 ;;
esac
exit 0
"""


def stored_failing_run(tmp_path: Path) -> tuple[Path, Path, CellResult]:
    """A session run of the fixture whose gnutls tests fail, stored as the tool stores it, with its tree kept."""
    source = tmp_path / "curlint"
    shutil.copytree(CURLINT, source)
    matrix_file = tmp_path / "matrix.yaml"
    matrix_file.write_text(FIXTURE_MATRIX.read_text().replace("path: curlint", f"path: {source}"))
    reports = tmp_path / "reports"
    engine = answering_engine()
    engine.on((BINARY,), lambda files, argv, image: (1, "factorial 25: [Failed]\n"))
    run_dir = reports / "runs" / "r1"
    write_run(run_dir, RunRecord("r1", "session", "d", "0", "2026-12-01T02:00:00+00:00",
                                 finished="2026-12-01T03:00:00+00:00", cells=["ghc96--curlint--gnutls"]))
    gnutls, = run_cells(engine, run_dir, ["gnutls"], matrix.load(matrix_file),
                        kept=SourceStore(reports / "cache" / "sources"))
    store(run_dir, gnutls)
    return matrix_file, reports, gnutls


def tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.getnames()


def test_repro_prints_a_script_that_runs_every_command_of_the_cell_with_docker_alone(tmp_path: Path) -> None:
    matrix_file, reports, cell = stored_failing_run(tmp_path)
    done = subprocess.run([sys.executable, "-m", "compat", "--matrix", str(matrix_file), "--reports", str(reports),
                           "repro", cell.key], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("#!/bin/sh\n# Reproduces ganeti-compat cell ghc96--curlint--gnutls of run r1 (test-fail")
    assert "IMAGE=sha256:img-ghc96-gnutls\n" in text
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    log = tmp_path / "docker.log"
    (tmp_path / "unpacked").mkdir()
    environment = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", DOCKER_LOG=str(log),
                       UNPACKED=str(tmp_path / "unpacked" / "part"), DIGEST=cell.source_digest or "")
    ran = subprocess.run(["sh", "-c", text], capture_output=True, text=True, env=environment, check=False, timeout=60)
    assert ran.returncode == 1, ran.stderr  # the failing command's exit code
    assert "repro: step test failed with exit code 1: the cell's failure, reproduced" in ran.stderr
    calls = log.read_text().splitlines()
    steps = [call.split(" sha256:img-ghc96-gnutls ", 1)[1] for call in calls if call.startswith("run --rm --user")]
    assert any(call.endswith("sha256:img-ghc96-gnutls cat /build/meta/digest") for call in calls)  # checked
    assert steps == ["runhaskell Setup.hs configure --user", "runhaskell Setup.hs build -j2",
                     "rm -f /build/out/junit.xml", "mkdir -p /build/out",
                     "dist/build/curlint-tests/curlint-tests --jxml=/build/out/junit.xml"]
    test = next(call for call in calls if call.endswith("--jxml=/build/out/junit.xml"))
    assert "--network none" in test and "--user builder" in test and "--memory 8192m" in test
    # What was unpacked into the volume: the tool's scripts, then the very tree the cell built (kept, embedded).
    names = [tar_names(gzip.decompress(part.read_bytes())) for part in sorted((tmp_path / "unpacked").iterdir())]
    assert ".compat/fetch-source" in names[0] and "src/tests/Tests.hs" in names[1] and "meta/digest" in names[1]


def test_a_changed_source_is_refused_by_the_digest_check_and_a_missing_image_is_rebuilt_from_its_manifest(
        tmp_path: Path) -> None:
    matrix_file, reports, cell = stored_failing_run(tmp_path)
    m = matrix.load(matrix_file)
    text = script(locate(reports, cell.key, "r1"), m, SourceStore(reports / "cache" / "sources"), "repro")
    assert f'[ "$got" = {cell.source_digest} ] || {{ say "the source has digest $got now' in text
    assert "rebuild_image() {" in text and "--build-arg SONAME=libcurl-gnutls.so.4" in text
    with pytest.raises(Exception, match="no result of cell 'ghc96--curlint--openssl' in run r1"):
        locate(reports, "ghc96--curlint--openssl", "r1")


class Nights:
    """Nights of the fixture's gnutls cell on the in-memory engine, stored as the tool stores them: its test
    fails when the source's expected factorial ends in 1, or on an image named in `breaks`."""

    def __init__(self, tmp_path: Path) -> None:
        self.source = tmp_path / "curlint"
        shutil.copytree(CURLINT, self.source)
        self.matrix_file = tmp_path / "matrix.yaml"
        self.matrix_file.write_text(FIXTURE_MATRIX.read_text().replace("path: curlint", f"path: {self.source}"))
        self.m = matrix.load(self.matrix_file)
        self.reports = tmp_path / "reports"
        self.store = SourceStore(self.reports / "cache" / "sources")
        self.engine = answering_engine()
        self.breaks: set[str] = set()
        self.flaky = 0  # runs of the test that fail whatever their inputs, from now on

        def tests(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
            if self.flaky:
                self.flaky -= 1
                return 1, "factorial 25: [Failed] (a flaky one)\n"
            if b"15511210043330985984000001" in files.get("/build/src/tests/Tests.hs", b"") or image in self.breaks:
                return 1, "factorial 25: [Failed]\n"
            return writes_junit(files, argv, image)

        self.engine.on((BINARY,), tests)

    def night(self, run_id: str, day: int, image: str = "") -> CellResult:
        run_dir = self.reports / "runs" / run_id
        record = RunRecord(run_id, "matrix", "d", "0", f"2026-12-{day:02d}T02:00:00+00:00", cells=[KEY])
        write_run(run_dir, record)
        runner = CellRunner(self.engine, self.m, run_dir, lambda line: None, MemoryImages(image), kept=self.store)
        results: list[CellResult] = []
        for group in plan(self.m, ["ghc96"], ["curlint"], ["gnutls"]):
            runner.run_group(group, results.append)
        store(run_dir, results[0])
        record.finished = f"2026-12-{day:02d}T03:00:00+00:00"
        write_run(run_dir, record)
        return results[0]

    def break_source(self) -> None:
        tests = self.source / "tests" / "Tests.hs"
        tests.write_text(tests.read_text().replace("15511210043330985984000000", "15511210043330985984000001"))

    def investigate(self, run: str | None = None) -> Investigation:
        subject = locate_subject(self.reports, KEY, run, self.m.retention)
        investigator = Investigator(self.engine, self.m, self.reports, lambda line: None,  # type: ignore[arg-type]
                                    matrix_digest="d", tool_version="0")
        return investigator.investigate(subject)


KEY = "ghc96--curlint--gnutls"


def test_a_source_change_is_found_to_be_the_source(tmp_path: Path) -> None:
    nights = Nights(tmp_path)
    assert nights.night("n1", 1).status is Status.PASS
    nights.break_source()
    assert nights.night("n2", 2).status is Status.TEST_FAIL
    found = nights.investigate()
    assert found.conclusion == "source"
    assert found.says.startswith("source: source local-") and " -> local-" in found.says
    assert [(job.name, job.status) for job in found.jobs] == [("rerun", "test-fail"), ("baseline source", "pass")]
    stored = CellResult.from_dict(json.loads((nights.reports / "runs" / "n2" / "cells" / f"{KEY}.json").read_text()))
    assert stored.investigation == found and stored.status is Status.TEST_FAIL  # the verdict stays the night's
    kinds = {json.loads(path.read_text())["kind"] for path in (nights.reports / "runs").glob("*/run.json")}
    assert kinds == {"matrix", "investigation"}  # each job a run of its own kind, never a night's result


def test_a_rebuilt_image_that_breaks_the_cell_is_the_toolchain_and_a_removed_one_cannot_be_told(tmp_path: Path) -> None:
    nights = Nights(tmp_path)
    nights.night("n1", 1)
    nights.breaks.add("img/ghc96-v2-gnutls")
    assert nights.night("n2", 2, "-v2").status is Status.TEST_FAIL
    found = nights.investigate()
    assert (found.conclusion, found.says) == ("toolchain", "toolchain: image img/ghc96-gnutls -> img/ghc96-v2-gnutls")
    assert [job.name for job in found.jobs] == ["rerun", "baseline image"]
    nights.engine.gone.add("img/ghc96-gnutls")
    gone = nights.investigate()
    assert gone.conclusion == "cannot tell"
    assert gone.says == ("cannot tell: the baseline's image could not be used: baseline's image img/ghc96-gnutls "
                            "(sha256:img-ghc96-gnutls) is no longer on this engine")


def test_a_regression_that_does_not_happen_again_is_not_reproducible_and_fails_no_night(tmp_path: Path) -> None:
    nights = Nights(tmp_path)
    nights.night("n1", 1)
    nights.flaky = 1
    assert nights.night("n2", 2).status is Status.TEST_FAIL
    runs = complete_runs(nights.reports)
    assert nightly_exit(runs, nights.m, "n2") == 1  # a regression, before it was investigated
    found = nights.investigate()
    assert found.conclusion == "not reproducible" and found.reproducible is False
    runs = complete_runs(nights.reports)
    assert nightly_exit(runs, nights.m, "n2") == 0  # flaky is not the toolchain: said, never exit 1
    text = "\n".join(render(compare(runs, nights.m.expected)[-1]))
    assert ("  - investigated: not reproducible: 1 of 2 runs failed (the rerun passed): flaky, not the toolchain"
            in text)


def test_investigated_regressions_are_said_in_the_page_the_feed_and_junit(tmp_path: Path) -> None:
    nights = Nights(tmp_path)
    nights.night("n1", 1)
    nights.break_source()
    nights.night("n2", 2)
    nights.investigate()
    runs = complete_runs(nights.reports)
    changes = compare(runs, nights.m.expected)[-1]
    assert changes.regressions[0].investigation.startswith("investigated: source: source local-")
    results = load_run(runs[-1].run_dir)
    page = render_html(ReportContext(results, "t", changes=changes))
    assert "<li class=investigation>investigated: source: source local-" in page
    assert "investigated: source: source local-" in render_atom(ReportContext([], "t", feed=feed(runs, nights.m)))
    assert 'message="test-fail (junit)' not in render_junit(ReportContext(results, "t"))
    assert "; investigated: source: source local-" in render_junit(ReportContext(results, "t"))


def test_the_budget_investigates_so_many_cells_and_says_which_it_left(tmp_path: Path) -> None:
    nights = Nights(tmp_path)
    nights.night("n1", 1)
    nights.break_source()
    nights.night("n2", 2)
    said: list[str] = []
    subject = locate_subject(nights.reports, KEY, "n2", 60)
    investigator = Investigator(nights.engine, nights.m, nights.reports, said.append,  # type: ignore[arg-type]
                                matrix_digest="d", tool_version="0")
    assert within_budget(investigator, [subject], Budget(max_cells=0, max_minutes=60), said.append) == [KEY]
    assert said[-1] == (f"left uninvestigated: {KEY} (the budget investigates 0 cell(s) a night (investigate.max_cells "
                        "in matrix.yaml))")
    stored = json.loads((nights.reports / "runs" / "n2" / "cells" / f"{KEY}.json").read_text())["investigation"]
    assert stored["conclusion"] == "not investigated" and stored["reproducible"] is True


def test_only_a_regression_is_investigated(tmp_path: Path) -> None:
    nights = Nights(tmp_path)
    nights.night("n1", 1)
    with pytest.raises(ConfigError, match="is pass: an investigation asks what broke a cell that passed before"):
        locate_subject(nights.reports, KEY, None, 60)
    nights.break_source()
    nights.night("n2", 2)
    nights.night("n3", 3)
    with pytest.raises(ConfigError, match=r"is no regression: its baseline \(run n2\) is test-fail"):
        locate_subject(nights.reports, KEY, "n3", 60)
    assert locate_subject(nights.reports, KEY, "n2", 60).baseline.run_id == "n1"


def test_an_image_a_baseline_ran_in_is_never_removed_as_superseded(tmp_path: Path) -> None:
    from compat.images import ImageBuilder
    from tests.memory_engine import MemoryImageEngine

    m = matrix.load(ROOT / "matrix.yaml")
    ghc96, recipe, gnutls = m.toolchains["ghc96"], m.recipes["ganeti-3.1"], m.flavors["gnutls"]
    engine = MemoryImageEngine()
    log = tmp_path / "image.log"
    first = ImageBuilder(engine, tmp_path, lambda line: None)  # type: ignore[arg-type]
    old = first.flavored(first.ensure(ghc96, recipe, log), ghc96, "gnutls", gnutls.soname, log)
    first.release()
    engine.installed, engine.moves = "ghc\t9.6.7-1\n", "moved ghc 9.6.6-4 9.6.7-1\n"
    second = ImageBuilder(engine, tmp_path, lambda line: None)  # type: ignore[arg-type]
    second.protected = {old.tag}  # what compat.investigate.to_keep names: the flavored image a baseline ran in
    new = second.ensure(ghc96, recipe, log)
    second.release()
    assert new.tag != old.tag and old.tag in engine.tags


def test_what_is_kept_for_investigations_is_each_cells_newest_image_its_last_pass_and_the_windows_trees(
        tmp_path: Path) -> None:
    from compat.investigate import to_keep

    nights = Nights(tmp_path)
    passed = nights.night("n1", 1)
    nights.breaks.add("img/ghc96-v2-gnutls")
    nights.break_source()
    failed = nights.night("n2", 2, "-v2")
    again = nights.night("n3", 3, "-v3")
    images, digests = to_keep(nights.reports, 60)
    assert images == {passed.image, passed.image_id, again.image, again.image_id}  # n2's is neither
    assert digests == {passed.source_digest, failed.source_digest}
    assert {path.name for path in nights.store.prune(digests)} == set()
    assert [path.name for path in nights.store.prune({failed.source_digest or ""})] == [f"{passed.source_digest}.tar.gz"]


@pytest.mark.parametrize("text, said", [
    ("investigate: {max_cells: 2, max_minutes: 30}\n", None),
    ("investigate: {max_cells: 0}\n", None),
    ("investigate: {max_cell: 2}\n", "investigate.max_cell: unknown key (did you mean 'max_cells'?)"),
    ("investigate: {max_minutes: -1}\n", "investigate.max_minutes: expected a whole number of minutes from 1 to 10000"),
])
def test_the_investigation_budget_is_validated(tmp_path: Path, text: str, said: str | None) -> None:
    file = tmp_path / "matrix.yaml"
    file.write_text(FIXTURE_MATRIX.read_text() + text)
    if said is None:
        budget = matrix.load(file).investigate
        assert (budget.max_cells, budget.max_minutes) == ((2, 30) if "30" in text else (0, 60))
    else:
        with pytest.raises(ConfigError, match=re.escape(said)):
            matrix.load(file)


def test_a_rerun_that_passes_ends_the_investigation_at_one_build(tmp_path: Path) -> None:
    nights = Nights(tmp_path)
    nights.night("n1", 1)
    (nights.source / "NEWS").write_text("a change that breaks nothing\n")  # the source axis moved too
    nights.flaky = 1
    assert nights.night("n2", 2).status is Status.TEST_FAIL
    found = nights.investigate()
    assert found.conclusion == "not reproducible"
    assert [job.name for job in found.jobs] == ["rerun"]  # no swap: nothing to explain
