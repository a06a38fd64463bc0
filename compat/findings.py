"""What an investigation of a regression found: one pure function of its jobs' statuses (the table in README
"Investigating a regression"; tests/test_investigate.py::test_the_conclusion_of_an_investigation, a row each),
and how it is said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from compat.parts import Part, Stored
from compat.status import Status
from compat.stored import FLAG, NUMBER, OPTIONAL_TEXT, TEXT, Fields, ListOf, Made, Text, one_of

RERUN, OLD_IMAGE, OLD_SOURCE = "rerun", "baseline image", "baseline source"
TONIGHT, BASELINE = "tonight", "baseline"


class Conclusion(StrEnum):
    TOOLCHAIN = "toolchain"
    SOURCE = "source"
    BOTH = "both"
    TOGETHER = "only together"
    NOT_REPRODUCIBLE = "not reproducible"
    CANNOT_TELL = "cannot tell"
    NOT_INVESTIGATED = "not investigated"  # left out by the budget, or not asked

    @property
    def reproducible(self) -> bool:
        """A regression that happened again: still the night's regression (the nightly's exit 1)."""
        return self is not Conclusion.NOT_REPRODUCIBLE


@dataclass(frozen=True)
class Job(Part):
    """One run of an investigation: which image and which source it had, and what it ended in."""

    name: str  # RERUN, OLD_IMAGE or OLD_SOURCE
    image: str  # TONIGHT or BASELINE
    source: str
    run_id: str
    status: Status
    cause: str | None = None
    why: str = ""  # its first evidence line

    FIELDS = Fields({"name": Text(40), "image": Text(40), "source": Text(40), "run_id": TEXT,
                     "status": one_of(Status, "status"),
                     "cause": OPTIONAL_TEXT, "why": TEXT}, required=("name", "image", "source", "run_id", "status"))

    @property
    def text(self) -> str:
        status = f"{self.status} ({self.cause})" if self.cause else str(self.status)
        return (f"{self.name} ({self.image}'s image, {self.source}'s source), run {self.run_id}: {status}"
                + (f": {self.why}" if self.why else ""))


@dataclass(frozen=True)
class Changed:
    """What changed between the baseline and tonight, as the diff says it."""

    toolchain: bool
    source: bool
    manifest: tuple[str, ...] = ()  # "libghc-lens-dev 5.2.3-1 -> 5.3.2-1", the source line left out
    source_line: str = ""  # "source 3.1.0~rc2-5 -> 3.1.0~rc2-6"
    image_line: str = ""  # "image A -> B", when no package line says how the image changed


@dataclass(frozen=True)
class Finding:
    conclusion: Conclusion
    says: str
    evidence: list[str] = field(default_factory=list)


def conclude(jobs: list[Job], changed: Changed) -> Finding:
    """The conclusion from the jobs that ran (see the module's table)."""
    evidence = [job.text for job in jobs]
    by_name = {job.name: job for job in jobs}
    rerun = by_name.get(RERUN)
    if rerun is None:
        return Finding(Conclusion.CANNOT_TELL, "cannot tell: the cell was not run again", evidence)
    if rerun.status is Status.PASS:
        return Finding(Conclusion.NOT_REPRODUCIBLE, "not reproducible: 1 of 2 runs failed (the rerun passed): flaky, "
                       "not the toolchain", evidence)
    if not rerun.status.problem:
        return Finding(Conclusion.CANNOT_TELL, f"cannot tell: the rerun could not run ({_status(rerun)}"
                       f"{': ' + rerun.why if rerun.why else ''})", evidence)
    if not changed.toolchain and not changed.source:
        return Finding(Conclusion.CANNOT_TELL, "cannot tell: it fails again, and neither the image nor the source "
                       "changed since the baseline (the tool, a limit or the machine did)", evidence)
    old_image, old_source = by_name.get(OLD_IMAGE), by_name.get(OLD_SOURCE)
    for job, what in ((old_image, "the baseline's image"), (old_source, "the baseline's source")):
        if job is not None and not job.status.meaningful:
            return Finding(Conclusion.CANNOT_TELL, f"cannot tell: {what} could not be used: {job.why or _status(job)}",
                           evidence)
        if job is None and (changed.toolchain if job is old_image else changed.source):
            return Finding(Conclusion.CANNOT_TELL, f"cannot tell: {what} was not tried", evidence)
    toolchain_fixes = old_image is not None and old_image.status is Status.PASS
    source_fixes = old_source is not None and old_source.status is Status.PASS
    toolchain, source = _toolchain_line(changed), changed.source_line or "the source changed"
    if changed.toolchain and changed.source:
        if toolchain_fixes and source_fixes:
            return Finding(Conclusion.TOGETHER, f"only together: neither the toolchain ({toolchain}) nor the source "
                           f"({source}) alone breaks it", evidence)
        if not toolchain_fixes and not source_fixes:
            return Finding(Conclusion.BOTH, f"both: each alone breaks it (toolchain: {toolchain}; source: {source})",
                           evidence)
    if toolchain_fixes:
        return Finding(Conclusion.TOOLCHAIN, f"toolchain: {toolchain}", evidence)
    if source_fixes:
        return Finding(Conclusion.SOURCE, f"source: {source}", evidence)
    what = "on the baseline's image too, with the same source" if changed.toolchain else \
        "with the baseline's source too, on the same image"
    return Finding(Conclusion.CANNOT_TELL, f"cannot tell: it fails {what}: neither axis explains it", evidence)


def _status(job: Job) -> str:
    return f"{job.status} ({job.cause})" if job.cause else str(job.status)


def _toolchain_line(changed: Changed) -> str:
    if changed.manifest:
        shown = ", ".join(changed.manifest[:8])
        return shown + (f" and {len(changed.manifest) - 8} more" if len(changed.manifest) > 8 else "")
    return changed.image_line or "the image changed"


@dataclass(frozen=True)
class Investigation(Part):
    """The `investigation` field of a cell result: what rerunning and swapping found, and the jobs that did."""

    conclusion: Conclusion
    says: str
    evidence: tuple[str, ...] = ()
    baseline_run: str = ""
    started: str = ""
    minutes: float = 0.0
    reproducible: bool = True  # see Conclusion.reproducible; a file that does not say counts as reproducible
    jobs: tuple[Job, ...] = ()

    FIELDS = Fields({
        "conclusion": one_of(Conclusion, "conclusion"),
        "says": TEXT, "evidence": Made(ListOf(TEXT, 100), tuple), "baseline_run": TEXT, "started": TEXT,
        "minutes": NUMBER, "reproducible": FLAG, "jobs": Made(ListOf(Stored(Job), 10), tuple)},
        required=("conclusion", "says"))


def record(finding: Finding, jobs: list[Job], baseline_run: str, started: str, minutes: float) -> Investigation:
    """The `investigation` field of a cell result."""
    return Investigation(finding.conclusion, finding.says, tuple(finding.evidence), baseline_run, started,
                         round(minutes, 1), finding.conclusion.reproducible, tuple(jobs))


def not_investigated(why: str, baseline_run: str, started: str) -> Investigation:
    """The `investigation` field of a regression the budget left out: said, never a verdict."""
    return record(Finding(Conclusion.NOT_INVESTIGATED, f"not investigated: {why}"), [], baseline_run, started, 0.0)


def reproducible(investigation: Investigation | None) -> bool:
    """Whether a regression counts as the night's (exit 1): unless its investigation found it not reproducible."""
    return investigation is None or investigation.reproducible


def said(investigation: Investigation | None) -> str:
    """One line for the reports beside a regression ("" when there was no investigation)."""
    return f"investigated: {investigation.says}" if investigation else ""
