"""Reproduction and investigation of real cells of the curlint fixture, against the real Docker engine."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from compat.engine import Engine
from compat.findings import Investigation
from tests import bridge
from tests.conftest import ROOT
from tests.test_docker import CHROMIUM_FLAGS, FIXTURES, run
from tests.test_images_docker import CANARY, AptRepository

pytestmark = pytest.mark.docker


def compat(workspace: Path, *args: str, stdin: str | None = None, timeout: float = 2400
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compat", "--matrix", str(workspace / "matrix.yaml"), "--reports",
                           str(workspace / "reports"), *args], cwd=ROOT, capture_output=True, text=True, input=stdin,
                          timeout=timeout, check=False)


def matrix_with(base: Path, name: str, sources: dict[str, Path], **changes: object) -> Path:
    """A workspace of its own: the fixture's matrix with these path sources (recipe curlint) and changes."""
    data = yaml.safe_load((FIXTURES / "matrix.yaml").read_text())
    data["sources"] = {source: {"kind": "path", "path": str(path), "recipe": "curlint"} for source, path in sources.items()}
    data.update(changes)
    workspace = base / name
    workspace.mkdir()
    (workspace / "matrix.yaml").write_text(yaml.safe_dump(data))
    return workspace


def copy_of_fixture(base: Path, name: str) -> Path:
    target = base / name
    shutil.copytree(FIXTURES / "curlint", target)
    return target


def break_a_test(source: Path) -> None:
    tests = source / "tests" / "Tests.hs"
    tests.write_text(tests.read_text().replace("15511210043330985984000000", "15511210043330985984000001"))


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose one path source fails a test: run "failing" ran it (its tree kept by its digest)."""
    base = tmp_path_factory.mktemp("failing")
    source = copy_of_fixture(base, "curlint")
    break_a_test(source)
    workspace = matrix_with(base, "repro", {"curlint": source})
    code, _, cells = run(workspace, "failing", "ghc96", "curlint", "--flavor", "gnutls")
    cell = cells["curlint/gnutls"]
    assert code == 1 and cell["status"] == "test-fail" and cell["image_id"].startswith("sha256:")
    # The path source moves on: what reproduces the cell is the tree it built, kept by its digest.
    (source / "tests" / "Tests.hs").write_text("the path source moved on\n")
    return workspace


KEY = "ghc96--curlint--gnutls"


def tool_volumes(prefix: str) -> list[str]:
    return subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name={prefix}"], capture_output=True, text=True,
                          check=True).stdout.split()


def test_the_script_repro_prints_reproduces_the_failure_with_plain_docker(failing: Path, tmp_path: Path) -> None:
    made = compat(failing, "repro", KEY)
    assert made.returncode == 0, made.stderr
    script = tmp_path / "repro.sh"
    script.write_text(made.stdout)
    done = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=1800, check=False,
                          env={"PATH": "/usr/local/bin:/usr/bin:/bin"})  # docker alone: no Python, no compat
    assert done.returncode == 1, done.stdout + done.stderr
    assert "factorial 25: [Failed]" in done.stdout, done.stdout
    assert "repro: step test failed with exit code 1: the cell's failure, reproduced" in done.stderr
    assert tool_volumes("ganeti-compat-repro-") == []  # the script removes its volume


def test_shell_replays_the_cell_up_to_its_failing_command_and_takes_commands_on_stdin(failing: Path) -> None:
    done = compat(failing, "shell", KEY, "--run", "failing",
                  stdin="pwd; sh /build/.compat/failing-command; echo exit=$?\n", timeout=1200)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("/build/src\n"), done.stdout
    assert "factorial 25: [Failed]" in done.stdout and "exit=1" in done.stdout, done.stdout
    assert "replaying build: runhaskell Setup.hs build -j2" in done.stderr
    assert "replaying test: mkdir -p /build/out" in done.stderr
    assert ("the command that failed (step test), to run again: dist/build/curlint-tests/curlint-tests "
            "--jxml=/build/out/junit.xml") in done.stderr
    assert tool_volumes("ganeti-compat-shell-") == []


def test_keep_failed_keeps_the_volume_shell_opens_it_as_it_was_and_clean_removes_it_past_its_age(failing: Path) -> None:
    source = failing.parent / "curlint"
    shutil.copy(FIXTURES / "curlint" / "tests" / "Tests.hs", source / "tests" / "Tests.hs")
    break_a_test(source)  # as it was when run "failing" ran
    code, _, cells = run(failing, "kept", "ghc96", "curlint", "--flavor", "gnutls", "--keep-failed")
    volume = cells["curlint/gnutls"]["kept_volume"]
    assert code == 1 and volume == "ganeti-compat-kept--ghc96--curlint" and tool_volumes(volume) == [volume]
    done = compat(failing, "shell", KEY, "--run", "kept", stdin="grep -o '<testcase ' /build/out/junit.xml | wc -l\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3" and "replaying" not in done.stderr  # the tests' own JUnit file, not a replay
    assert f"the volume {volume} as the cell left it" in done.stderr
    assert compat(failing, "clean", "--kept-max-age", "3600").returncode == 0
    assert tool_volumes(volume) == [volume]
    cleaned = compat(failing, "clean", "--kept-max-age", "0")
    assert f"removed volume {volume}" in cleaned.stdout and tool_volumes(volume) == []


def investigation_of(workspace: Path, run_id: str, key: str = KEY) -> Investigation:
    cell = json.loads((workspace / "reports" / "runs" / run_id / "cells" / f"{key}.json").read_text())
    return Investigation.from_dict(cell["investigation"])


def test_a_source_change_that_breaks_a_test_is_investigated_as_the_source(tmp_path: Path) -> None:
    source = copy_of_fixture(tmp_path, "curlint")
    workspace = matrix_with(tmp_path, "source", {"curlint": source})
    code, _, first = run(workspace, "source-1", "ghc96", "curlint", "--flavor", "gnutls")
    assert code == 0
    break_a_test(source)
    code, _, second = run(workspace, "source-2", "ghc96", "curlint", "--flavor", "gnutls")
    assert code == 1 and second["curlint/gnutls"]["status"] == "test-fail"
    done = compat(workspace, "investigate", KEY)
    assert done.returncode == 0, done.stderr
    before, after = first["curlint/gnutls"]["source_version"], second["curlint/gnutls"]["source_version"]
    assert done.stdout.splitlines()[0] == (f"{KEY} (run source-2, against run source-1): source: source {before} -> "
                                           f"{after}")
    found = investigation_of(workspace, "source-2")
    assert found.conclusion == "source"
    assert [(job.name, job.status) for job in found.jobs] == [("rerun", "test-fail"), ("baseline source", "pass")]
    for job in found.jobs:  # runs of their own kind, never a night's result
        record = json.loads((workspace / "reports" / "runs" / job.run_id / "run.json").read_text())
        assert record["kind"] == "investigation" and record["finished"]
    text = compat(workspace, "diff").stdout
    assert f"  - investigated: source: source {before} -> {after}" in text
    # The page shows it beside the regression, read back in Chromium (a screenshot for the README).
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (.ci/run installs it)"
    page = (workspace / "reports" / "latest.html").as_uri()
    profile = [f"--user-data-dir={tmp_path / 'chromium-profile'}"]
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, *profile, "--dump-dom", page], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert f"<li class=\"investigation\">investigated: source: source {before} -&gt; {after}</li>" in dom, dom
    artifacts = ROOT / "reports" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "investigated-html.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, *profile, "--window-size=1280,900", f"--screenshot={shot}", page],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000


def test_a_test_that_fails_on_some_runs_is_not_reproducible_and_the_nightly_passes(tmp_path: Path) -> None:
    data = yaml.safe_load((FIXTURES / "matrix.yaml").read_text())
    # Fails unless its volume is the first night's (run id ...-ok) or an investigation's rerun: a test whose
    # failure comes and goes with something neither the image nor the source holds.
    flaky = ["sh", "-c", "grep -qE -- '-(ok|rerun)--' /proc/self/mountinfo || (echo 'flaky: failed this time'; exit 1)"]
    recipe = data["recipes"]["curlint"]
    data["recipes"] = {"flaky": dict(recipe, steps=dict(recipe["steps"], test=[flaky, *recipe["steps"]["test"]]))}
    data["toolchains"] = {"ghc96": dict(data["toolchains"]["ghc96"], flavors=["gnutls"])}
    data["sources"] = {"curlint": {"kind": "path", "path": str(FIXTURES / "curlint"), "recipe": "flaky"}}
    workspace = tmp_path / "flaky"
    workspace.mkdir()
    (workspace / "matrix.yaml").write_text(yaml.safe_dump(data))
    code, _, cells = run(workspace, "night-ok", "ghc96", "curlint", "--flavor", "gnutls")
    assert code == 0, cells
    night = compat(workspace, "nightly", "--fresh")
    assert night.returncode == 0, night.stderr  # a flaky regression is not a toolchain regression
    assert "investigating 1 regression(s): ghc96--curlint--gnutls" in night.stderr
    run_id = json.loads((workspace / "reports" / "latest.json").read_text())["cells"][0]["run_id"]
    found = investigation_of(workspace, run_id)
    assert found.conclusion == "not reproducible" and found.reproducible is False
    assert [(job.name, job.status) for job in found.jobs] == [("rerun", "pass")]
    report = (workspace / "reports" / "latest.md").read_text()
    assert "investigated: not reproducible: 1 of 2 runs failed (the rerun passed): flaky, not the toolchain" in report


class BreakingRepository(AptRepository):
    """The apt repository of the image-freshness test, whose package's version 2 breaks the fixture's build: it
    puts a `runhaskell` that fails before Debian's on the build user's PATH (/usr/local/bin)."""

    def publish(self, version: str) -> None:
        super().publish(version)
        if version == "1":
            return
        tree = self.root / "tree"
        (tree / "usr" / "local" / "bin").mkdir(parents=True)
        wrapper = tree / "usr" / "local" / "bin" / "runhaskell"
        wrapper.write_text(f"#!/bin/sh\necho 'runhaskell: broken by {CANARY} {version}' >&2\nexit 1\n")
        wrapper.chmod(0o755)
        for old in self.root.glob("*.deb"):
            old.unlink()
        deb = self.root / f"{CANARY}_{version}_all.deb"
        subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(tree), str(deb)], check=True,
                       capture_output=True)
        control = (tree / "DEBIAN" / "control").read_text()
        data = deb.read_bytes()
        packages = (f"{control}Filename: ./{deb.name}\nSize: {len(data)}\n"
                    f"SHA256: {hashlib.sha256(data).hexdigest()}\n\n").encode()
        (self.root / "Packages").write_bytes(packages)
        (self.root / "Packages.gz").write_bytes(gzip.compress(packages))
        release = "Date: Wed, 25 Nov 2026 00:00:00 UTC\nSHA256:\n" + "".join(
            f" {hashlib.sha256(blob).hexdigest()} {len(blob)} {name}\n"
            for name, blob in (("Packages", packages), ("Packages.gz", gzip.compress(packages))))
        (self.root / "Release").write_text(release)


@pytest.fixture
def breaking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BreakingRepository]:
    gateway = bridge.gateway()
    repo = BreakingRepository(tmp_path_factory.mktemp("apt"), gateway)
    yield repo
    repo.server.shutdown()
    repo.server.server_close()


def test_a_toolchain_package_that_moves_and_breaks_the_build_is_the_toolchain_until_the_baseline_image_is_gone(
        breaking: BreakingRepository, tmp_path: Path) -> None:
    data = yaml.safe_load((FIXTURES / "matrix.yaml").read_text())
    recipe = data["recipes"]["curlint"]
    data["recipes"] = {"canary": dict(recipe, packages=[*recipe["packages"], CANARY])}
    data["toolchains"] = {"ghc96c": dict(data["toolchains"]["ghc96"], flavors=["gnutls"],
                                         apt_sources=[f"deb [trusted=yes] {breaking.url} ./"])}
    data["sources"] = {"curlint": {"kind": "path", "path": str(FIXTURES / "curlint"), "recipe": "canary"}}
    workspace = tmp_path / "toolchain"
    workspace.mkdir()
    (workspace / "matrix.yaml").write_text(yaml.safe_dump(data))
    key = "ghc96c--curlint--gnutls"
    engine = Engine()
    try:
        breaking.publish("1")
        code, _, first = run(workspace, "toolchain-1", "ghc96c", "curlint")
        assert code == 0, first
        breaking.publish("2")
        code, progress, second = run(workspace, "toolchain-2", "ghc96c", "curlint")
        assert code == 1 and second["curlint/gnutls"]["status"] == "build-fail", second
        assert f"{CANARY} 1 -> 2" in progress  # the suite moved: rebuilt
        baseline_image = first["curlint/gnutls"]["image"]
        assert engine.image_id(baseline_image) is not None  # a baseline's image is not removed as superseded

        done = compat(workspace, "investigate", key)
        assert done.returncode == 0, done.stderr
        found = investigation_of(workspace, "toolchain-2", key)
        assert found.conclusion == "toolchain", found
        assert f"{CANARY} 1 -> 2" in found.says
        assert [(job.name, job.status) for job in found.jobs] == [("rerun", "build-fail"),
                                                                           ("baseline image", "pass")]

        # The baseline's image removed: which axis broke it cannot be told, and the finding says why.
        assert engine.remove_image(baseline_image)
        assert engine.image_id(first["curlint/gnutls"]["image_id"]) is None
        done = compat(workspace, "investigate", key)
        assert done.returncode == 0, done.stderr
        gone = investigation_of(workspace, "toolchain-2", key)
        assert gone.conclusion == "cannot tell"
        assert gone.says == (f"cannot tell: the baseline's image could not be used: baseline's image "
                                f"{baseline_image} ({first['curlint/gnutls']['image_id']}) is no longer on this engine")
    finally:
        for tag, _, _ in engine.images_labelled("org.ganeti-compat.toolchain=ghc96c"):
            engine.remove_image(tag)
