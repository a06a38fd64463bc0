"""Investigate a regression: run the cell again, then with each changed axis put back to its baseline's.

Each job is a run of its own kind (`investigation`, never a cell's nightly result, never a baseline, never
reused), in the image it is pinned to by id (never rebuilt, never checked against its suite: tonight's image
is tonight's even if the suite moved since) and with the source tree kept by its digest (never fetched again).
What the jobs end in is concluded by compat.findings and written into the investigated cell's result.
"""

from __future__ import annotations

import datetime
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compat import findings, schedule
from compat.engine import Engine
from compat.errors import ConfigError, ToolchainUnavailable
from compat.findings import BASELINE, OLD_IMAGE, OLD_SOURCE, RERUN, TONIGHT, Changed, Job, conclude, not_investigated
from compat.findings import record as investigation_record
from compat.history import manifest_changes
from compat.images import Image
from compat.kept import SourceStore
from compat.matrix import Budget, Matrix, Recipe, Toolchain
from compat.results import CellResult, RunRecord, load_run, read_cell, run_records, store, write_run
from compat.runner import Cell, CellEngine, CellRunner, EngineLost
from compat.status import Status

KIND = "investigation"


@dataclass(frozen=True)
class Subject:
    """A regressed cell: tonight's result (in its run directory) and its baseline's."""

    tonight: CellResult
    run_dir: Path
    baseline: CellResult


@dataclass(frozen=True)
class Planned:
    """One job: its name, and the image and source it is pinned to."""

    name: str
    image_axis: str  # TONIGHT or BASELINE
    source_axis: str
    image: str  # the tag the result names
    image_id: str | None
    source_digest: str | None


def changed(subject: Subject) -> Changed:
    """Which axes moved between the baseline and tonight, said as the diff says it."""
    base, now = subject.baseline, subject.tonight
    if base.image_id and now.image_id:
        toolchain = base.image_id != now.image_id
    else:
        toolchain = base.image != now.image
    lines = [f"{name} {old} -> {new}" for name, old, new in manifest_changes(base.manifest, now.manifest)
             if name != "source"]
    source_line = (f"source {base.manifest.get('source', base.source_version)} -> "
                   f"{now.manifest.get('source', now.source_version)}")
    return Changed(toolchain, base.source_digest != now.source_digest, tuple(lines), source_line,
                   f"image {base.image} -> {now.image}")


def planned(subject: Subject) -> list[Planned]:
    """The rerun, and one job per axis that changed (an unchanged axis needs no swap)."""
    base, now = subject.baseline, subject.tonight
    axes = changed(subject)
    jobs = [Planned(RERUN, TONIGHT, TONIGHT, now.image or "", now.image_id, now.source_digest)]
    if axes.toolchain:
        jobs.append(Planned(OLD_IMAGE, BASELINE, TONIGHT, base.image or "", base.image_id, now.source_digest))
    if axes.source:
        jobs.append(Planned(OLD_SOURCE, TONIGHT, BASELINE, now.image or "", now.image_id, base.source_digest))
    return jobs


class PinnedImages:
    """The image a job is pinned to, by id: held while the job runs, never built, never checked against its suite;
    one that is gone makes the job's cell unavailable, saying so (compat.runner.Images)."""

    def __init__(self, engine: Engine, tag: str, image_id: str | None, whose: str) -> None:
        self.engine, self.tag, self.image_id, self.whose = engine, tag, image_id, whose
        self.holder: str | None = None

    def _ref(self) -> str:
        by_tag = self.engine.image_id(self.tag) if self.tag else None
        if by_tag is not None and (self.image_id is None or by_tag == self.image_id):
            return self.tag
        if self.image_id and self.engine.image_id(self.image_id) is not None:
            return self.image_id
        raise ToolchainUnavailable(f"{self.whose}'s image {self.tag} ({self.image_id or 'id not recorded'}) is no "
                                   "longer on this engine")

    def ensure(self, toolchain: Toolchain, recipe: Recipe, log: Path) -> Image:
        ref = self._ref()
        if self.holder is None:
            self.holder = self.engine.hold(ref)
        return Image(ref, True, "", f"pinned to {self.whose}'s image {self.tag}")

    def flavored(self, image: Image, toolchain: Toolchain, flavor: str, soname: str, log: Path) -> Image:
        return image

    def release(self) -> None:
        if self.holder is not None:
            self.engine.let_go(self.holder)
            self.holder = None


def locate_subject(reports: Path, key: str, run: str | None, window: int) -> Subject:
    """Tonight's result of a cell (in the named run, or the newest complete ordinary run that ran it) and its
    baseline: its last meaningful result in an earlier complete ordinary run of the window. ConfigError when
    there is nothing to investigate."""
    records = [(record, run_dir) for record, run_dir in run_records(reports) if record.complete_ordinary][-window:]
    ids = [record.run_id for record, _ in records]
    if run is not None and run not in ids:
        raise ConfigError(f"{reports}/runs/{run}: no complete matrix or session run of that id in the window; the "
                          f"newest: {', '.join(ids[-5:]) or 'none'}")
    found: list[tuple[CellResult, Path]] = []
    for record, run_dir in records[:ids.index(run) + 1] if run else records:
        path = run_dir / "cells" / f"{key}.json"
        if path.is_file():
            try:
                result = read_cell(path)
            except (OSError, ValueError):
                continue
            result.run_id = run_dir.name
            found.append((result, run_dir))
    if not found:
        raise ConfigError(f"no result of cell {key!r} in a complete matrix or session run; `python -m compat list` "
                          "names the cells")
    tonight, run_dir = found[-1]
    if not tonight.status.problem:
        raise ConfigError(f"{key} in run {tonight.run_id} is {tonight.status}: an investigation asks what broke a cell "
                          "that passed before")
    baseline = next((result for result, _ in reversed(found[:-1]) if result.status.meaningful), None)
    if baseline is None or baseline.status is not Status.PASS:
        said = f"its baseline (run {baseline.run_id}) is {baseline.status}" if baseline else "it has no baseline"
        raise ConfigError(f"{key} in run {tonight.run_id} is no regression: {said}; an investigation asks what broke "
                          "a cell that passed before")
    return Subject(tonight, run_dir, baseline)


class Investigator:
    """Runs the jobs of one regressed cell as runs of their own kind, and writes what they found into its result."""

    def __init__(self, engine: Engine, m: Matrix, reports: Path, say: Callable[[str], None], *, matrix_digest: str,
                 tool_version: str, jobs: int = 1) -> None:
        self.engine, self.matrix, self.reports, self.say = engine, m, reports, say
        self.matrix_digest, self.tool_version = matrix_digest, tool_version
        self.store = SourceStore(reports / "cache" / "sources")
        self.jobs = jobs

    def investigate(self, subject: Subject) -> findings.Investigation:
        now = subject.tonight
        started, clock = _now(), time.monotonic()
        cell = self._cell(now)
        self.say(f"{now.key}: investigating the regression against run {subject.baseline.run_id}: "
                 f"{', '.join(job.name for job in planned(subject))}")
        rerun, *swaps = planned(subject)
        found = [self._job(cell, rerun, now, self.engine.cpus())]
        # The swaps only matter once the failure happened again: a flaky or unrunnable rerun ends it at one build.
        if found[0].status.problem and swaps:
            cores = schedule.cores_per_group(self.engine.cpus(), min(self.jobs, len(swaps)))
            scheduled = schedule.Schedule(swaps, lambda job: found.append(self._job(cell, job, now, cores)),
                                          lambda job: None, self.jobs)
            scheduled.run()
        jobs = sorted(found, key=lambda job: [RERUN, OLD_IMAGE, OLD_SOURCE].index(job.name))
        finding = conclude(jobs, changed(subject))
        self.say(f"{now.key}: {finding.says}")
        investigation = investigation_record(finding, jobs, subject.baseline.run_id, started,
                                             (time.monotonic() - clock) / 60)
        self._write(subject, investigation)
        return investigation

    def skip(self, subject: Subject, why: str) -> None:
        self._write(subject, not_investigated(why, subject.baseline.run_id, _now()))

    def _cell(self, result: CellResult) -> Cell:
        toolchain, source = self.matrix.toolchains.get(result.toolchain), self.matrix.sources.get(result.source)
        if toolchain is None or source is None or result.flavor not in self.matrix.flavors:
            raise ConfigError(f"the matrix no longer defines cell {result.key}: it cannot be run again")
        return Cell(toolchain, source, result.flavor)

    def _job(self, cell: Cell, job: Planned, now: CellResult, cores: int) -> Job:
        # A run of its own: UTC time, a random part and the job's name.
        run_id = f"{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}-{job.name.replace(' ', '-')}"
        run_dir = self.reports / "runs" / run_id
        record = RunRecord(run_id, KIND, self.matrix_digest, self.tool_version, _now(), cells=[cell.key])
        write_run(run_dir, record)
        images = PinnedImages(self.engine, job.image, job.image_id, job.image_axis)
        engine: CellEngine = self.engine
        runner = CellRunner(engine, self.matrix, run_dir, lambda line: self.say(f"[{job.name}] {line}"), images,
                            reuse=False, kept=self.store, source=job.source_digest or "", cores=cores)
        results: list[CellResult] = []
        try:
            runner.run_group([cell], results.append)
        finally:
            images.release()
        for result in results:
            store(run_dir, result)
        record.finished = _now()
        write_run(run_dir, record)
        result = results[0]
        return Job(job.name, job.image_axis, job.source_axis, run_id, result.status, result.cause,
                   result.evidence[0] if result.evidence else "")

    def _write(self, subject: Subject, investigation: findings.Investigation) -> None:
        """Into the investigated result: the only field written after its run, the verdict left as it was."""
        path = subject.run_dir / "cells" / f"{subject.tonight.key}.json"
        result = read_cell(path)
        result.investigation = investigation
        store(subject.run_dir, result)


def within_budget(investigator: Investigator, subjects: list[Subject], budget: Budget, say: Callable[[str], None]
                  ) -> list[str]:
    """Investigate regressions in order while the budget lasts; each one left out is said, in its result too.
    The keys of those left uninvestigated."""
    deadline = time.monotonic() + budget.max_minutes * 60
    left, why = [], ""
    for count, subject in enumerate(subjects):
        if count >= budget.max_cells:
            why = f"the budget investigates {budget.max_cells} cell(s) a night (investigate.max_cells in matrix.yaml)"
        elif time.monotonic() >= deadline:
            why = f"the budget of {budget.max_minutes} minutes ran out (investigate.max_minutes in matrix.yaml)"
        else:
            try:
                investigator.investigate(subject)
                continue
            except (ConfigError, ToolchainUnavailable, EngineLost) as exc:
                why = f"it could not be investigated: {exc}"
        investigator.skip(subject, why)
        left.append(subject.tonight.key)
    if left:
        say(f"left uninvestigated: {', '.join(left)} ({why})")
    return left


def to_keep(reports: Path, window: int) -> tuple[set[str], set[str]]:
    """What investigations need kept: the images (tags and ids) of each cell's newest result and of its newest pass
    (the baseline any regression of it is compared with), and the source digests every result of the window names.
    Read from the window's complete ordinary runs."""
    images: set[str] = set()
    digests: set[str] = set()
    newest: set[str] = set()
    passed: set[str] = set()
    records = [(record, run_dir) for record, run_dir in run_records(reports) if record.complete_ordinary][-window:]
    for _, run_dir in reversed(records):
        for result in load_run(run_dir):
            digests.update([result.source_digest] if result.source_digest else [])
            keep = result.key not in newest or (result.status is Status.PASS and result.key not in passed)
            if keep:
                images.update(ref for ref in (result.image, result.image_id) if ref)
            newest.add(result.key)
            if result.status is Status.PASS:
                passed.add(result.key)
    return images, digests


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
