"""What the test suite needs on the machine beyond `pip install -e '.[test]'`, and how to install each on Debian:
`nox -s tests` says what is missing before a test starts, rather than ending in a failed test."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

GITLAB_CI_LOCAL = "4.60.0"  # the last release that runs on Debian's Node 20 (newer ones need Node 22)
APT = "sudo apt-get install -y"


@dataclass(frozen=True)
class Need:
    what: str
    why: str
    install: str
    docker: bool  # only the docker-marked tests need it
    present: Callable[[], bool]


def _program(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


def _engine_answers() -> bool:
    import docker  # a dependency of the tool; imported late, so that nox -l stays quick

    try:
        docker.from_env(timeout=10).ping()
    except Exception:  # noqa: BLE001 - no engine, whatever the reason: said below with how to start one
        return False
    return True


def _gitlab_ci_local() -> bool:
    found = shutil.which("gitlab-ci-local")
    if found is None:
        return False
    done = subprocess.run([found, "--version"], capture_output=True, text=True, check=False, timeout=60)
    return done.stdout.strip() == GITLAB_CI_LOCAL


NEEDS = (
    Need("check-jsonschema", "checks the exported pipelines against GitLab's and GitHub's published schemas",
         "pip install -e '.[test]'", False, _program("check-jsonschema")),
    Need("zizmor", "GitHub Actions' security linter, run on the exported workflow", "pip install -e '.[test]'", False,
         _program("zizmor")),
    Need("a running Docker engine", "builds and runs the cells", f"{APT} docker.io && sudo systemctl start docker "
         "(and your user in the docker group)", True, _engine_answers),
    Need("dockerd", "a second engine, stopped under a run", f"{APT} docker.io", True, _program("dockerd")),
    Need("ip", "gives the second engine a bridge of its own", f"{APT} iproute2", True, _program("ip")),
    Need("mmdebstrap", "bootstraps the Debian base images where no registry serves them", f"{APT} mmdebstrap", True,
         _program("mmdebstrap")),
    Need("chromium", "reads the HTML report in a real browser", f"{APT} chromium", True, _program("chromium")),
    Need("rsync", "gitlab-ci-local copies the project into its jobs with it", f"{APT} rsync", True, _program("rsync")),
    Need("git", "gitlab-ci-local runs the pipeline of a git checkout", f"{APT} git", True, _program("git")),
    Need(f"gitlab-ci-local {GITLAB_CI_LOCAL}", "runs the exported GitLab pipeline",
         f"{APT} nodejs npm && sudo npm install -g gitlab-ci-local@{GITLAB_CI_LOCAL}", True, _gitlab_ci_local),
)


def docker_selected(posargs: list[str]) -> bool:
    """Whether pytest's arguments keep the docker-marked tests (`-m "not docker"` leaves them out)."""
    return not any("not docker" in arg for arg in posargs)


def missing(docker: bool, needs: tuple[Need, ...] = NEEDS) -> list[Need]:
    return [need for need in needs if (docker or not need.docker) and not need.present()]


def message(found: list[Need]) -> str:
    lines = ["missing before the tests start:"]
    lines += [f"  - {need.what}: {need.why}\n      {need.install}" for need in found]
    if any(need.docker for need in found):
        lines.append('or run the unit tests alone: nox -s tests -- -m "not docker"')
    return "\n".join(lines)
