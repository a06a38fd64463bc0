"""The exported GitLab pipeline, run for real: gitlab-ci-local against this machine's Docker engine (the socket
engine), on the curlint fixture (two toolchains, two flavors), with a job image built here from the tool's own
Debian base (no registry is reachable): four pipelines in one project, carrying their history in the cache."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import docker
import pytest
import yaml

from compat import matrix
from compat.engine import Engine
from compat.images import ImageBuilder
from compat.status import Status
from tests.conftest import ROOT

pytestmark = pytest.mark.docker
FIXTURES = ROOT / "tests" / "fixtures"
GITLAB_CI_LOCAL = "4.60.0"  # the last release that runs on Debian's Node 20
INSTALL = f"apt-get install -y nodejs npm rsync git && npm install -g gitlab-ci-local@{GITLAB_CI_LOCAL}"
# A runner image with everything the exported set-up would fetch already there: the venv the jobs use, its
# dependencies from Debian (nothing reaches PyPI from a container here), rsync for gitlab-ci-local's helper.
JOB_IMAGE = """\
ARG BASE
FROM ${BASE}
RUN apt-get update -q && apt-get install -y -q --no-install-recommends python3-venv rsync python3-docker \\
      python3-yaml python3-tabulate python3-pytest python3-hypothesis python3-nox python3-setuptools \\
    && rm -rf /var/lib/apt/lists/* && python3 -m venv --system-site-packages /opt/ganeti-compat
ENV PIP_NO_INDEX=1 PIP_NO_BUILD_ISOLATION=0 PIP_DISABLE_PIP_VERSION_CHECK=1
"""
CELLS = ["ghc90--curlint--gnutls", "ghc90--curlint--openssl", "ghc96--curlint--gnutls", "ghc96--curlint--openssl"]
# What differs between two runs of the same cells: when, and under which run id.
OF_THE_RUN = ("run_id", "started", "timings")


def gitlab_ci_local() -> str:
    found = shutil.which("gitlab-ci-local")
    assert found, f"gitlab-ci-local is not installed: {INSTALL}"
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    assert version == GITLAB_CI_LOCAL, f"gitlab-ci-local {version}, not {GITLAB_CI_LOCAL}: {INSTALL}"
    assert shutil.which("rsync") and shutil.which("git"), f"gitlab-ci-local needs rsync and git: {INSTALL}"
    return found


@pytest.fixture(scope="module")
def job_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Tagged by what goes into it, so a second session reuses it (about a minute to build)."""
    m = matrix.load(FIXTURES / "matrix.yaml")
    log = tmp_path_factory.mktemp("job-image") / "base.log"
    base = ImageBuilder(Engine(), log.parent / "cache", lambda line: None).base(m.toolchains["ghc96"], log)
    client = docker.from_env()
    base_id = client.images.get(base).id
    tag = "ganeti-compat-test/ci-job:" + hashlib.sha256(f"{JOB_IMAGE}\0{base_id}".encode()).hexdigest()[:16]
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            data = JOB_IMAGE.encode()
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        context.seek(0)
        client.images.build(fileobj=context, custom_context=True, tag=tag, buildargs={"BASE": base}, rm=True)
    return tag


def project(where: Path, image: str) -> Path:
    """A checkout as a runner gets it: the tool, the fixture matrix and source, the exported pipeline, in git."""
    for part in ("compat", "images"):
        shutil.copytree(ROOT / part, where / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", where)
    shutil.copytree(FIXTURES / "curlint", where / "curlint")
    data = yaml.safe_load((FIXTURES / "matrix.yaml").read_text())
    data["sources"] = {"curlint": {"kind": "path", "path": "curlint", "recipe": "curlint"}}
    (where / "matrix.yaml").write_text(yaml.safe_dump(data))
    done = subprocess.run([sys.executable, "-m", "compat", "--matrix", "matrix.yaml", "export", "--ci", "gitlab",
                           "--gitlab-engine", "socket", "--image", image], cwd=where, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    # gitlab-ci-local copies what git tracks into the jobs: the parts file must be committed, as a user would.
    for argv in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm",
                                                 "pipeline"]):
        subprocess.run(["git", *argv], cwd=where, check=True)
    return where


def pipeline(where: Path, image: str) -> tuple[int, str]:
    """One pipeline: gitlab-ci-local's exit code and output. Its cache (the history) stays in the project."""
    socket = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    done = subprocess.run([gitlab_ci_local(), "--pull-policy", "if-not-present", "--helper-image", image,
                           "--volume", f"{socket}:/var/run/docker.sock", "--concurrency", "1", "--no-artifacts-to-source",
                           "--no-color", "--cleanup", "--variable", "GITLAB_CI=true"],
                          cwd=where, capture_output=True, text=True, timeout=1800, check=False)
    return done.returncode, done.stdout + done.stderr


def job_exit(output: str, job: str) -> int:
    """A job's exit code as gitlab-ci-local says it (`finished in 5 s  FAIL 1`)."""
    found = re.search(rf"^{re.escape(job)}\s+finished in [^\n]*?(?:FAIL (\d+))?\s*$", output, re.MULTILINE)
    assert found, f"{job} did not finish:\n{output[-3000:]}"
    return int(found.group(1) or 0)


def reported(where: Path) -> tuple[dict, dict[str, dict]]:
    """The report job's latest.json (its artifact) and the cells of the run it merged, by key."""
    reports = where / ".gitlab-ci-local" / "artifacts" / "report" / "reports"
    latest = json.loads((reports / "latest.json").read_text())
    run = reports / "runs" / latest["runs"][-1]
    return latest, {path.stem: json.loads(path.read_text()) for path in (run / "cells").glob("*.json")}


def verdicts(cells: list[dict]) -> dict[str, dict]:
    return {cell["key"] if "key" in cell else f"{cell['toolchain']}--{cell['source']}--{cell['flavor']}":
            {name: value for name, value in cell.items() if name not in OF_THE_RUN} for cell in cells}


def test_the_exported_gitlab_pipeline_runs_carries_its_history_and_names_a_lost_job(tmp_path: Path,
                                                                                     job_image: str) -> None:
    where = project(tmp_path / "project", job_image)

    # 1. Every cell job runs, its artifact reaches the report job, and the merged report is a single run's.
    code, output = pipeline(where, job_image)
    assert code == 0, output[-5000:]
    assert [job_exit(output, job) for job in ("ghc90 curlint", "ghc96 curlint", "report", "pages")] == [0, 0, 0, 0]
    assert "section_start:" in output and "ghc96--curlint--gnutls.build[collapsed=true]" in output  # readable logs
    latest, cells = reported(where)
    assert sorted(cells) == CELLS and all(cell["status"] == Status.PASS for cell in cells.values())
    merged = where / ".gitlab-ci-local" / "artifacts" / "report" / "reports" / "runs" / latest["runs"][-1]
    assert all((merged / cell["logs"]["build"]).is_file() for cell in cells.values())  # the logs came along
    single = subprocess.run([sys.executable, "-m", "compat", "--matrix", "matrix.yaml", "--reports",
                             str(tmp_path / "single"), "run", "--kind", "matrix"], cwd=where, capture_output=True,
                            text=True, check=False)
    assert single.returncode == 0, single.stderr
    one = json.loads((tmp_path / "single" / "latest.json").read_text())
    assert verdicts(latest["cells"]) == verdicts(one["cells"])  # fingerprints too: the same inputs, the same cells
    undated = [re.sub(r"\d{4}-\d\d-\d\d", "DATE", (path / "summary.md").read_text())
               for path in (merged.parent.parent, tmp_path / "single")]
    assert undated[0] == undated[1]

    # 2. Nothing changed: the next pipeline takes every cell from the history the first one left, and is green.
    code, output = pipeline(where, job_image)
    assert code == 0 and job_exit(output, "report") == 0, output[-5000:]
    latest, cells = reported(where)
    assert {key: cell["reused_from"] for key, cell in cells.items()} == {key: "ci-1000" for key in CELLS}
    assert latest["changes"]["regressions"] == [] and latest["changes"]["new_cells"] == []

    # 3. A change between two pipelines (a test now fails) is a regression against the night before: red.
    tests = where / "curlint" / "tests" / "Tests.hs"
    tests.write_text(tests.read_text().replace("15511210043330985984000000", "15511210043330985984000001"))
    code, output = pipeline(where, job_image)
    assert code == 1 and job_exit(output, "report") == 1, output[-5000:]
    assert job_exit(output, "ghc90 curlint") == job_exit(output, "ghc96 curlint") == 0  # a failed cell is a result
    latest, cells = reported(where)
    assert all(cell["status"] == Status.TEST_FAIL for cell in cells.values())
    assert sorted(change["key"] for change in latest["changes"]["regressions"]) == CELLS
    assert all("run ci-1001" in change["since"] for change in latest["changes"]["regressions"])

    # 4. A job that dies without a word (as one the kernel's OOM killer ends, before the tool wrote anything): its
    # cells are its error (runner), naming it, and the night is red (5). (A SIGKILL to the job's shell would be
    # ignored: it is its container's process 1.)
    exported = yaml.safe_load((where / ".gitlab-ci.yml").read_text())
    exported["ghc96 curlint"]["script"] = ["exit 137"]
    (where / ".gitlab-ci.yml").write_text(yaml.safe_dump(exported, sort_keys=False, width=1000))
    code, output = pipeline(where, job_image)
    assert code == 1 and job_exit(output, "ghc96 curlint") != 0 and job_exit(output, "report") == 5, output[-5000:]
    latest, cells = reported(where)
    for key in CELLS[2:]:
        assert (cells[key]["status"], cells[key]["cause"]) == (Status.ERROR, "runner")
        assert cells[key]["evidence"][0].startswith("job 'ghc96 curlint' delivered no result for this cell")
    assert [cells[key]["reused_from"] for key in CELLS[:2]] == ["ci-1002", "ci-1002"]
    assert sorted(change["key"] for change in latest["changes"]["infrastructure"]) == CELLS[2:]
