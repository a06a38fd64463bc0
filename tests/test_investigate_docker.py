"""Reproduction and investigation of real cells of the curlint fixture, against the real Docker engine."""

from __future__ import annotations

import json
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


def test_the_script_repro_prints_reproduces_the_failure_with_plain_docker(tmp_path: Path) -> None:
    source = copy_of_fixture(tmp_path, "curlint")
    break_a_test(source)
    workspace = matrix_with(tmp_path, "repro", {"curlint": source})
    code, _, cells = run(workspace, "failing", "ghc96", "curlint", "--flavor", "gnutls")
    cell = cells["curlint/gnutls"]
    assert code == 1 and cell["status"] == "test-fail" and cell["image_id"].startswith("sha256:")
    (source / "tests" / "Tests.hs").write_text("the path source moved on; the script carries the tree the cell built\n")
    made = compat(workspace, "repro", "ghc96--curlint--gnutls")
    assert made.returncode == 0, made.stderr
    script = tmp_path / "repro.sh"
    script.write_text(made.stdout)
    done = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=1800, check=False,
                          env={"PATH": "/usr/local/bin:/usr/bin:/bin"})  # docker alone: no Python, no compat
    assert done.returncode == 1, done.stdout + done.stderr
    assert "factorial 25: [Failed]" in done.stdout, done.stdout
    assert "repro: step test failed with exit code 1: the cell's failure, reproduced" in done.stderr
    volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", "name=ganeti-compat-repro-"],
                             capture_output=True, text=True, check=True).stdout
    assert volumes.strip() == ""  # the script removes its volume
    assert json.loads((workspace / "reports" / "runs" / "failing" / "cells" / "ghc96--curlint--gnutls.json")
                      .read_text())["status"] == "test-fail"
