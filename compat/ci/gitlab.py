"""`.gitlab-ci.yml` (Debian's Salsa): one job per group on a Docker engine, then the report job.

The engine is a `docker:dind` service (the runner must be privileged) or the runner host's own engine through
its socket (the runner mounts /var/run/docker.sock into the job). History is the cache `reports/`, keyed per
branch: cell jobs only read it (to take unchanged cells), the report job reads it, merges tonight's parts into
it and writes it back, also on a red night.
"""

from __future__ import annotations

from typing import Any

from compat.ci.jobs import REPORT_MINUTES, REPORTS, Job, Options, cell_command, merge_command, tolerate

ENGINES = ("dind", "socket")
IMAGE = "debian:trixie"
VENV = "/opt/ganeti-compat"
PYTHON = f"{VENV}/bin/python"
RUN = "$COMPAT_RUN"
RUNNER = {
    "dind": "a privileged Docker executor (privileged = true in the runner's config.toml) for the docker:dind "
            "service",
    "socket": "a Docker executor that mounts the host's engine: volumes = [\"/var/run/docker.sock:/var/run/docker.sock\"] "
              "in the runner's config.toml",
}


def setup() -> list[str]:
    """A venv with the checkout's tool; an image that brings the venv (and its dependencies) skips apt."""
    install = (f"if [ ! -x {PYTHON} ]; then apt-get update -q && apt-get install -y -q python3-venv mmdebstrap "
               f"&& python3 -m venv {VENV}; fi")
    return [install, f"{VENV}/bin/pip install -q ."]


def cache(policy: str) -> dict[str, Any]:
    found: dict[str, Any] = {"key": "ganeti-compat-reports-$CI_COMMIT_REF_SLUG", "paths": [f"{REPORTS}/"],
                             "policy": policy}
    if policy != "pull":
        found["when"] = "always"  # a night that regressed is history too
    return found


def publish(command: str) -> str:
    """The report job's command, then the page for GitLab Pages, then the command's exit code."""
    return (f"code=0; {command} || code=$?; mkdir -p public && cp {REPORTS}/latest.html public/index.html || true; "
            "exit $code")


def pipeline(jobs: list[Job], options: Options) -> dict[str, Any]:
    image = options.image or IMAGE
    tags = {"tags": list(options.tags)} if options.tags else {}
    engine: dict[str, Any] = {"services": ["docker:dind"], "variables": {"DOCKER_HOST": "tcp://docker:2375",
                                                                        "DOCKER_TLS_CERTDIR": ""}} \
        if options.engine == "dind" else {}
    found: dict[str, Any] = {
        "stages": ["cells", "report"],
        "variables": {"COMPAT_RUN": "ci-$CI_PIPELINE_ID"},
        ".cell": {"stage": "cells", "image": image, **tags, **engine, "cache": cache("pull"), "before_script": setup(),
                  "artifacts": {"when": "always", "paths": ["parts/runs/"], "expire_in": "1 week"}},
    }
    for job in jobs:
        found[job.name] = {"extends": ".cell", "timeout": f"{job.timeout_minutes} minutes", "script": [
            tolerate(cell_command(PYTHON, options, job.toolchain, job.source, f"{RUN}-{job.part}"))]}
    found["report"] = {
        "stage": "report", "image": image, **tags, "when": "always", "timeout": f"{REPORT_MINUTES} minutes",
        # One report job at a time per branch: each starts from the history the one before it saved.
        "resource_group": "ganeti-compat-reports-$CI_COMMIT_REF_SLUG",
        "needs": [{"job": job.name, "artifacts": True} for job in jobs],
        "cache": cache("pull-push"), "before_script": setup(),
        # The page is published also when the night's exit code fails the job (a regression). In the script, not
        # an after_script: that runs in a shell of its own, and gitlab-ci-local restores the cache again before it.
        "script": [publish(merge_command(PYTHON, options, RUN))],
        "artifacts": {"when": "always", "paths": [f"{REPORTS}/", "public/"], "expire_in": "3 months",
                      "reports": {"junit": f"{REPORTS}/matrix.junit.xml"}},
    }
    found["pages"] = {"stage": "report", "image": image, **tags, "needs": ["report"], "when": "always",
                      "script": ["test -f public/index.html"], "artifacts": {"paths": ["public/"]}}
    return found


def header(options: Options) -> str:
    return f"# Runner: {RUNNER[options.engine]}.\n"
