"""Reproduction and investigation of real cells of the curlint fixture, against the real Docker engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_docker import FIXTURES, run

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
