"""`nox -s tests` says what the machine lacks, and how to install it, before a test starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.needs import NEEDS, Need, docker_selected, message, missing


def nox_tests(tmp_path: Path, path: list[str], *posargs: str) -> subprocess.CompletedProcess[str]:
    """`nox -s tests` with only these directories on PATH and no Docker engine to reach."""
    env = {"PATH": os.pathsep.join(path) or str(tmp_path), "HOME": str(tmp_path),
           "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", "tests", "--", *posargs],
                          cwd=ROOT, capture_output=True, text=True, env=env, check=False, timeout=300)


def test_a_fresh_machine_is_told_what_to_install_before_any_test_runs(tmp_path: Path) -> None:
    done = nox_tests(tmp_path, [], "--collect-only", "-q", "tests/test_needs.py")
    said = done.stdout + done.stderr
    assert done.returncode != 0 and "collected" not in said and "passed" not in said
    for need in NEEDS:
        assert f"- {need.what}: {need.why}" in said and need.install in said, need.what
    assert "sudo apt-get install -y chromium" in said and "npm install -g gitlab-ci-local@4.60.0" in said
    assert "pip install -e '.[test]'" in said and 'nox -s tests -- -m "not docker"' in said


def test_the_unit_tests_alone_need_only_the_python_tools(tmp_path: Path) -> None:
    tools = sorted({str(Path(found).parent) for name in ("check-jsonschema", "zizmor") if (found := shutil.which(name))})
    assert len(tools) >= 1, "check-jsonschema and zizmor: pip install -e '.[test]'"
    assert not any(Path(directory, "chromium").exists() for directory in tools)
    done = nox_tests(tmp_path, tools, "-m", "not docker", "--collect-only", "-q", "tests/test_needs.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "missing before the tests start" not in done.stdout + done.stderr


def test_only_what_the_selected_tests_need_is_asked_for() -> None:
    needs = (Need("a", "", "", False, lambda: False), Need("b", "", "", True, lambda: False),
             Need("c", "", "", True, lambda: True))
    assert [n.what for n in missing(True, needs)] == ["a", "b"] and [n.what for n in missing(False, needs)] == ["a"]
    assert docker_selected([]) and docker_selected(["tests/test_docker.py"]) and not docker_selected(["-m", "not docker"])
    assert "not docker" not in message(missing(False, needs))
