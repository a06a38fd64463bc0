"""Unchanged cells take an earlier complete result; any changed input runs the cell again (in-memory engine)."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from compat import matrix, reuse
from compat.results import CellResult, RunRecord, store, write_run
from compat.runner import CellRunner, ProbeSettings, plan
from tests.conftest import ROOT
from tests.memory_engine import MemoryEngine, MemoryImages
from tests.test_runner import BINARY, CURLINT, answering_engine


def workspace(tmp_path: Path) -> Path:
    """The fixture matrix beside a copy of the curlint tree, which a test may change."""
    shutil.copytree(CURLINT, tmp_path / "curlint")
    data = yaml.safe_load((ROOT / "tests" / "fixtures" / "matrix.yaml").read_text())
    (tmp_path / "matrix.yaml").write_text(yaml.safe_dump(data))
    return tmp_path / "matrix.yaml"


def run(file: Path, run_id: str, *, reuse_results: bool = True, complete: bool = True, kind: str = "session",
        probe_requests: int = 20, flavors: list[str] | None = None, reports_dir: str = "reports",
        history: tuple[Path, ...] = ()) -> tuple[list[CellResult], list[list[str]]]:
    """One run of both flavors of ghc96 x curlint, recorded like the command line records it: its
    results and the commands it ran."""
    m = matrix.load(file)
    reports = file.parent / reports_dir
    run_dir = reports / "runs" / run_id
    groups = plan(m, ["ghc96"], ["curlint"], flavors)
    record = RunRecord(run_id, kind, "digest", "0.1.0", f"2026-11-26T0{len(list(reports.glob('runs/*')))}:00:00",
                       cells=[cell.key for group in groups for cell in group])
    write_run(run_dir, record)
    engine = answering_engine()
    runner = CellRunner(engine, m, run_dir, lambda line: None, MemoryImages(), reuse=reuse_results,
                        probe=ProbeSettings(probe_requests), history=history)
    results: list[CellResult] = []
    for group in groups:
        runner.run_group(group, lambda result: (store(run_dir, result), results.append(result)))
    if complete:
        write_run(run_dir, replace(record, finished="2026-11-26T09:00:00"))
    return results, engine.commands()


def built(commands: list[list[str]]) -> bool:
    return any(argv[:3] == ["runhaskell", "Setup.hs", "build"] for argv in commands)


def test_an_unchanged_cell_takes_the_earlier_result_with_its_logs_and_says_from_which_run(tmp_path: Path) -> None:
    file = workspace(tmp_path)
    first, commands = run(file, "r1")
    assert [r.status for r in first] == ["pass", "pass"] and built(commands)
    assert all(r.fingerprint and r.reused_from is None for r in first)
    second, commands = run(file, "r2")
    assert not built(commands) and not any(argv[0] in (BINARY, "sh") and "run-probe" in " ".join(argv)
                                           for argv in commands)  # no build, no test, no probe
    assert [(r.status, r.reused_from, r.run_id) for r in second] == [("pass", "r1", "r2"), ("pass", "r1", "r2")]
    assert [r.fingerprint for r in second] == [r.fingerprint for r in first]
    assert second[0].tests == first[0].tests and second[1].compiled_by == first[1].compiled_by
    for result, earlier in zip(second, first, strict=True):
        assert result.logs["image"] == "images/ghc96--curlint.log"  # this run's own image check
        for name, relative in result.logs.items():
            assert name == "image" or (file.parent / "reports" / "runs" / "r2" / relative).is_file(), name
        assert set(result.logs) == set(earlier.logs)
    third, _ = run(file, "r3")
    assert [r.reused_from for r in third] == ["r1", "r1"]  # the run that measured it, not the one that took it


def test_a_ci_job_takes_unchanged_cells_from_the_pipelines_history(tmp_path: Path) -> None:
    # A cell job writes its run into parts/ and reads the history the pipeline carried in reports/ (run --history).
    file = workspace(tmp_path)
    run(file, "night1")
    part, commands = run(file, "ci-2-g1", reports_dir="parts", history=(tmp_path / "reports",))
    assert not built(commands) and [r.reused_from for r in part] == ["night1", "night1"]
    assert all((tmp_path / "parts" / "runs" / "ci-2-g1" / r.logs["build"]).is_file() for r in part)
    alone, commands = run(file, "ci-3-g1", reports_dir="parts3")
    assert built(commands) and [r.reused_from for r in alone] == [None, None]  # without it, nothing to take


def test_a_changed_source_runs_again(tmp_path: Path) -> None:
    file = workspace(tmp_path)
    run(file, "r1")
    (tmp_path / "curlint" / "README").write_text("one more file\n")
    again, commands = run(file, "r2")
    assert built(commands) and [r.reused_from for r in again] == [None, None]


@pytest.mark.parametrize("how", ["fresh", "earlier run incomplete", "earlier run a fault injection",
                                 "other probe settings", "matrix changes a timeout"])
def test_no_result_is_taken_unless_the_earlier_run_completed_with_the_same_inputs(tmp_path: Path, how: str) -> None:
    file = workspace(tmp_path)
    run(file, "r1", complete=how != "earlier run incomplete",
        kind="fault-injection" if how == "earlier run a fault injection" else "session")
    if how == "matrix changes a timeout":
        file.write_text(file.read_text().replace("build: 900", "build: 901"))
    again, commands = run(file, "r2", reuse_results=how != "fresh",
                          probe_requests=21 if how == "other probe settings" else 20)
    assert built(commands) and [r.reused_from for r in again] == [None, None]


@pytest.mark.parametrize("status, taken", [("test-fail", True), ("build-fail", True), ("crash", False),
                                           ("timeout", False), ("error", False)])
def test_only_results_about_the_toolchain_are_taken(tmp_path: Path, status: str, taken: bool) -> None:
    file = workspace(tmp_path)
    first, _ = run(file, "r1")
    for result in first:
        store(file.parent / "reports" / "runs" / "r1", replace(result, status=status))
    again, commands = run(file, "r2")
    # A taken result is judged again from its outcome by today's judge: the status edited into it is gone.
    assert [r.status for r in again] == ["pass", "pass"]
    assert all(bool(r.reused_from) == taken for r in again)
    assert built(commands) != taken


def test_the_fingerprint_changes_with_every_input() -> None:
    m = matrix.load(ROOT / "tests" / "fixtures" / "matrix.yaml")
    base = {"image": "ganeti-compat/ghc96--gnutls:0123", "source_digest": "a" * 64, "recipe": m.recipes["curlint"],
            "flavor": m.flavors["gnutls"], "relinks": None, "timeouts": m.timeouts, "limits": m.limits,
            "probe": {"requests": 20, "fault": None}}
    changed = [{"image": "ganeti-compat/ghc96--gnutls:4567"}, {"source_digest": "b" * 64},
               {"recipe": replace(m.recipes["curlint"], junit="other.xml")}, {"flavor": m.flavors["openssl"]}, {"relinks": m.flavors["gnutls"]},
               {"relinks": replace(m.flavors["gnutls"], soname="libcurl-gnutls.so.5")},
               {"timeouts": {**m.timeouts, "test": 1}}, {"limits": matrix.Limits(memory_mib=1, pids=4096)},
               {"probe": {"requests": 20, "fault": "hostile-gmp"}}]
    prints = {reuse.fingerprint(**base)} | {reuse.fingerprint(**{**base, **change}) for change in changed}  # type: ignore[arg-type]
    assert len(prints) == 1 + len(changed)
    assert reuse.fingerprint(**base) == reuse.fingerprint(**base)  # type: ignore[arg-type]


def relinked(commands: list[list[str]]) -> bool:
    return any("relink-curl-binaries" in " ".join(argv) for argv in commands)


def test_reuse_stops_at_the_newest_result_of_the_same_inputs(tmp_path: Path) -> None:
    file = workspace(tmp_path)
    first, _ = run(file, "r1")
    for result in first:  # r2: the same inputs, and a crash
        store(file.parent / "reports" / "runs" / "r1", result)
    run(file, "r2", reuse_results=False)
    for path in (file.parent / "reports" / "runs" / "r2" / "cells").glob("*.json"):
        crashed = replace(CellResult.from_dict(json.loads(path.read_text())), status="crash")
        store(path.parent.parent, crashed)
    third, commands = run(file, "r3")
    assert built(commands) and [r.reused_from for r in third] == [None, None]  # never r1's pass over r2's crash


def test_a_relinked_flavor_and_a_compiled_one_are_different_inputs(tmp_path: Path) -> None:
    file = workspace(tmp_path)
    alone, commands = run(file, "r1", flavors=["openssl"])
    assert alone[0].compiled_by is None and not relinked(commands)
    both, commands = run(file, "r2")  # gnutls compiles, openssl relinks its tree: not r1's openssl
    assert [r.reused_from for r in both] == [None, None] and relinked(commands)
    assert both[1].compiled_by == "ghc96--curlint--gnutls"
    again, commands = run(file, "r3")  # gnutls taken; openssl taken as the relink it was in r2
    assert [r.reused_from for r in again] == ["r2", "r2"] and not built(commands)
    assert again[1].compiled_by == "ghc96--curlint--gnutls"


def test_swapping_the_flavors_or_changing_the_first_ones_soname_runs_both_again(tmp_path: Path) -> None:
    file = workspace(tmp_path)
    run(file, "r1")
    data = yaml.safe_load(file.read_text())
    data["toolchains"]["ghc96"]["flavors"] = ["openssl", "gnutls"]
    file.write_text(yaml.safe_dump(data))
    swapped, _ = run(file, "r2")
    assert [(r.flavor, r.reused_from, r.compiled_by) for r in swapped] == [
        ("openssl", None, None), ("gnutls", None, "ghc96--curlint--openssl")]
    data["flavors"]["openssl"]["soname"] = "libcurl.so.5"
    file.write_text(yaml.safe_dump(data))
    renamed, _ = run(file, "r3")
    assert [r.reused_from for r in renamed] == [None, None]


def test_a_new_judge_or_report_is_no_new_input_but_a_new_runner_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:
    package = ROOT / "compat"
    modules = {str(p.relative_to(package)) for p in package.rglob("*.py")}
    assert modules == set(reuse.OUTCOME_CODE) | set(reuse.JUDGE_AND_REPORTS)  # every module is one or the other
    assert not set(reuse.OUTCOME_CODE) & set(reuse.JUDGE_AND_REPORTS)
    copy = tmp_path / "tool"
    shutil.copytree(package, copy / "compat", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "images", copy / "images")
    monkeypatch.setattr(reuse, "PACKAGE", copy / "compat")
    digest = reuse.tool_digest.__wrapped__
    before = digest()
    for name in ("outputs/html.py", "verdict.py", "outputs/markdown.py"):
        (copy / "compat" / name).write_text((copy / "compat" / name).read_text() + "\n# changed\n")
    assert digest() == before
    (copy / "compat" / "runner.py").write_text((copy / "compat" / "runner.py").read_text() + "\n# changed\n")
    assert digest() != before


def test_a_taken_result_is_judged_again_by_todays_judge(tmp_path: Path) -> None:
    file = workspace(tmp_path)
    first, _ = run(file, "r1")
    path = file.parent / "reports" / "runs" / "r1" / "cells" / f"{first[0].key}.json"
    data = json.loads(path.read_text())
    data |= {"ssl_recommendation": "said by an older judge", "judge": "0" * 12}
    path.write_text(json.dumps(data))
    again, _ = run(file, "r2")
    assert again[0].reused_from == "r1" and again[0].ssl_recommendation != "said by an older judge"
    assert again[0].judge != "0" * 12 and again[0].ssl_recommendation == first[0].ssl_recommendation


def fetching_engine(revision: list[str]) -> tuple[MemoryEngine, list[str]]:
    """The answering engine, with fetch-source leaving the curlint tree and its record, as of `revision[0]`;
    and the list of the volumes each fetch ran in."""
    engine, fetches = answering_engine(), []
    tree = {f"/build/src/{path.relative_to(CURLINT)}": path.read_bytes() for path in CURLINT.rglob("*") if path.is_file()}

    def fetch(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        fetches.append(engine.calls[-1].volume or "")
        digest = hashlib.sha256(revision[0].encode()).hexdigest()
        files |= tree | {"/build/meta/version": f"{revision[0]}\n".encode(), "/build/meta/digest": f"{digest}\n".encode()}
        return 0, f"fetched {revision[0]}\n"

    engine.on(("sh", "/build/.compat/fetch-source"), fetch)
    return engine, fetches


def test_an_unchanged_matrix_fetches_each_source_once_and_a_moved_one_everywhere(tmp_path: Path) -> None:
    file = workspace(tmp_path)
    data = yaml.safe_load(file.read_text())
    data["sources"]["remote"] = {"kind": "git", "url": "https://example.invalid/curlint.git", "ref": "main",
                                 "recipe": "curlint"}
    file.write_text(yaml.safe_dump(data))
    m, revision = matrix.load(file), ["one"]

    def night(run_id: str) -> tuple[list[CellResult], list[str], list[list[str]]]:
        run_dir = tmp_path / "reports" / "runs" / run_id
        groups = plan(m, ["ghc90", "ghc96"], ["remote"], None)
        record = RunRecord(run_id, "session", "digest", "0.1.0", f"2026-11-26T0{run_id[-1]}:00:00",
                           cells=[cell.key for group in groups for cell in group])
        write_run(run_dir, record)
        engine, fetches = fetching_engine(revision)
        runner = CellRunner(engine, m, run_dir, lambda line: None, MemoryImages(), reuse=True)
        results: list[CellResult] = []
        for group in groups:
            runner.run_group(group, lambda result: (store(run_dir, result), results.append(result)))
        write_run(run_dir, replace(record, finished="2026-11-26T09:00:00"))
        return results, fetches, engine.commands()

    first, fetches, commands = night("r1")
    assert len(fetches) == 2 and built(commands)  # one per toolchain: its further flavor relinks the tree
    assert [r.status for r in first] == ["pass"] * 4
    second, fetches, commands = night("r2")
    assert len(fetches) == 1 and not built(commands)  # the first cell learns the digest, the others are taken by it
    assert [(r.reused_from, r.source_version, r.source_digest, r.fingerprint) for r in second] == [
        ("r1", r.source_version, r.source_digest, r.fingerprint) for r in first]
    revision[0] = "two"
    third, fetches, commands = night("r3")
    assert len(fetches) == 2 and built(commands) and [r.reused_from for r in third] == [None] * 4
    assert {r.source_version for r in third} == {"two"} and all(r.fingerprint for r in third)
