"""A pipeline's jobs: one per group of toolchain x source, the cells each must deliver, and how long it may take.

`export` writes the jobs beside the pipeline (`<pipeline>.parts.json`); the report job's `merge --expect FILE`
reads them back, so that a job that died before it uploaded its run (a failed set-up, a job timeout, a lost
runner) turns its cells into `error (runner)` naming the job, never into a night without that row.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from compat import facts, sources
from compat.exits import RESULTS
from compat.images import FRESHNESS_TIMEOUT, fetcher
from compat.matrix import Matrix
from compat.runner import INSPECT_TIMEOUT, Cell
from compat.stored import WHOLE, Fields, ListOf, Name, Text, load_json
from compat.toolchains import kind_of

PARTS_SCHEMA = 1
# An image build has no timeout of its own; these are what a cold build may take on a CI runner: a Debian
# toolchain image took about 1.5 minutes here, a bindist (GHC binary distribution and its pinned sdists,
# built offline) was never built here and gets an hour.
FLAVOR_LAYER_SECONDS = 300  # each flavor's one-line image layer
SETUP_SECONDS = 600  # the job's own set-up: apt-get, a venv, pip install
REPORT_MINUTES = 30  # the report job: merge the parts and write the reports


@dataclass(frozen=True)
class Job:
    """One cell job: its CI name, its part of the run id (`<pipeline run>-<part>`), its cells."""

    name: str
    part: str
    toolchain: str
    source: str
    cells: tuple[str, ...]
    timeout_minutes: int


@dataclass(frozen=True)
class Plan:
    """The parts of one pipeline: which job delivers which cells, from which matrix file."""

    ci: str
    matrix: str  # the matrix file, relative to the checkout
    matrix_digest: str
    jobs: tuple[Job, ...]

    def owner(self, key: str) -> Job | None:
        return next((job for job in self.jobs if key in job.cells), None)


def group_seconds(m: Matrix, group: list[Cell]) -> int:
    """The longest a group can take when every step runs to its timeout: the job's set-up, its images (and
    the fetch helper's, for a source it fetches), then the first flavor's every step, inspection and probe,
    then each further flavor's relink, tests, inspection and probe."""
    first = group[0]
    recipe = m.recipes[first.source.recipe]
    t = m.timeouts
    questions = len(facts.toolchain_commands()) + len(facts.source_commands()) + len(facts.binary_commands(
        recipe.binaries))
    inspect = INSPECT_TIMEOUT * questions
    images = kind_of(first.toolchain).build_seconds + 2 * FRESHNESS_TIMEOUT + FLAVOR_LAYER_SECONDS * len(group)
    if sources.fetch_command(first.source) is not None:
        images += kind_of(fetcher(m.fetch_suite)).build_seconds + 2 * FRESHNESS_TIMEOUT
    compiled = sum(t[step] for step in ("fetch", "prepare", "configure", "build", "test", "probe")) + inspect
    relinked = (t["build"] + t["test"] + t["probe"] + inspect) * (len(group) - 1)
    return SETUP_SECONDS + images + compiled + relinked


def plan_jobs(m: Matrix, groups: list[list[Cell]]) -> list[Job]:
    return [Job(f"{group[0].toolchain.name} {group[0].source.name}", f"g{index}", group[0].toolchain.name,
                group[0].source.name, tuple(cell.key for cell in group), math.ceil(group_seconds(m, group) / 60))
            for index, group in enumerate(groups, 1)]


def parts_text(plan: Plan) -> str:
    return json.dumps({"schema": PARTS_SCHEMA, **asdict(plan)}, indent=2) + "\n"


KEY = Name(re.compile(r"(?=.{1,200}$)[a-z0-9._-]+"))
PART = Name(re.compile(r"g[0-9]{1,6}"))
PARTS = Fields({
    "schema": WHOLE, "ci": Text(20), "matrix": Text(1000), "matrix_digest": Text(128),
    "jobs": ListOf(Fields({"name": Text(255), "part": PART, "toolchain": KEY, "source": KEY, "cells": ListOf(KEY, 10_000),
                           "timeout_minutes": WHOLE}, required=("name", "part", "cells")), 10_000),
}, required=("schema", "matrix_digest", "jobs"))


def read_parts(path: Path) -> Plan:
    """A parts file `export` wrote; OSError or ValueError saying why it cannot be used."""
    data = PARTS.read(load_json(path), "")
    if data["schema"] > PARTS_SCHEMA:
        raise ValueError(f"schema {data['schema']} is newer than this version's {PARTS_SCHEMA}: upgrade ganeti-compat")
    jobs = tuple(Job(job["name"], job["part"], job.get("toolchain", ""), job.get("source", ""), tuple(job["cells"]),
                     job.get("timeout_minutes", 0)) for job in data["jobs"])
    return Plan(data.get("ci", ""), data.get("matrix", ""), data["matrix_digest"], jobs)


TOLERATED = RESULTS  # a cell job's exit codes that are results, not failures of the job
REPORTS = "reports"  # the history a pipeline carries from one night to the next (its cache)
PARTS_DIR = "parts"  # where each cell job writes its run, and where the report job finds them


@dataclass(frozen=True)
class Options:
    """What an export is asked for; paths are relative to the checkout the jobs run in."""

    matrix: str = "matrix.yaml"
    parts: str = ".gitlab-ci.parts.json"
    image: str | None = None  # the jobs' image (GitLab) instead of the default
    engine: str = "dind"  # GitLab: a docker:dind service, or the runner's Docker socket
    tags: tuple[str, ...] = ()  # GitLab: runner tags of every job


def tolerate(command: str) -> str:
    """The command, with the exit codes that are results accepted (sh)."""
    allowed = " ".join(str(code) for code in TOLERATED)
    return f'code=0; {command} || code=$?; case " 0 {allowed} " in *" $code "*) ;; *) exit "$code";; esac'


def cell_command(python: str, options: Options, toolchain: str, source: str, run_id: str) -> str:
    """A cell job's run: its group into parts/, taking unchanged cells from the history in reports/. Names
    are NAME-validated and paths come from `export`'s own options: quoting does no harm."""
    return (f"{python} -m compat --matrix \"{options.matrix}\" --reports {PARTS_DIR} run --kind matrix "
            f"--toolchain {toolchain} --source {source} --run-id \"{run_id}\" --history {REPORTS}")


def merge_command(python: str, options: Options, run_id: str) -> str:
    """The report job: every part into the history, judged as the nightly judges a night."""
    return (f"{python} -m compat --matrix \"{options.matrix}\" --reports {REPORTS} merge {PARTS_DIR} "
            f"--run-id \"{run_id}\" --expect \"{options.parts}\" --nightly")
