"""Unchanged cells: a cell whose inputs are those of its newest earlier result takes that result's outcome.

A cell's fingerprint covers what produces its outcome: the code that runs cells (OUTCOME_CODE and
`images/`), the image it runs in (its tag names every installed package version), the source's digest,
the recipe, the flavor and the flavor whose tree it relinks (or none), the step timeouts, the container
limits and the probe settings. The judge and the reports are not in it: a taken outcome is judged again by
today's judge. Only the newest result of the same fingerprint is looked at, and taken only when its status
may be reused (compat.status): a crash after a pass with the same inputs runs the cell again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from compat.matrix import Flavor, Limits, Recipe
from compat.results import CellResult, copy_log, judge_again, read_cell, run_records

PACKAGE = Path(__file__).parent
# The modules whose code decides what runs in a cell and what it records; every other module of the package
# judges or reports (tests/test_reuse.py checks that each module is one or the other).
OUTCOME_CODE = ("runner.py", "engine.py", "images.py", "frozen.py", "sources.py", "pins.py", "facts.py",
                "schedule.py", "analysis/cabal.py", "analysis/cabal_syntax.py", "analysis/versions.py", "steps.py",
                "kept.py", "planning.py", "downloads.py", "bootstrap.py", "toolchains/__init__.py", "toolchains/kind.py",
                "toolchains/debian.py", "toolchains/bindist.py", "cells.py", "gathering.py", "fetching.py", "freshness.py", "tarballs.py")
JUDGE_AND_REPORTS = ("__init__.py", "__main__.py", "analysis/__init__.py", "analysis/abi.py", "analysis/crosscell.py",
                     "analysis/failures.py", "analysis/junit.py", "analysis/linkage.py", "analysis/probe.py",
                     "analysis/ssl.py", "analysis/toolchain.py", "ci/__init__.py", "ci/github.py", "ci/gitlab.py",
                     "ci/jobs.py", "ci/logs.py", "cli.py", "commands/__init__.py", "commands/arguments.py",
                     "commands/export.py", "commands/found.py", "commands/investigate.py", "commands/lock.py",
                     "commands/merge.py", "commands/nightly.py", "commands/record.py", "commands/report.py",
                     "commands/reports.py", "commands/run.py", "commands/selection.py", "commands/signals.py",
                     "commands/upkeep.py", "errors.py", "exits.py", "expected.py", "export.py",
                     "history.py", "markdown.py", "matrix.py", "yamlsafe.py", "merge.py", "outcome.py", "parts.py",
                     "progress.py", "reader.py", "report_text.py", "results.py", "reuse.py", "status.py", "stored.py",
                     "summary.py", "verdict.py",
                     # investigations and reproductions: never a cell's outcome, never reused
                     "findings.py", "investigate.py", "repro.py", "shell.py",
                     # every module under outputs/ is a report format or its plumbing: adding one needs no entry here
                     *sorted(f"outputs/{path.name}" for path in (PACKAGE / "outputs").glob("*.py")))


@functools.cache
def tool_digest() -> str:
    """sha256 over the code that produces outcomes and the image files: a new runner or script is a new
    fingerprint; a new judge or report is not."""
    digest = hashlib.sha256()
    paths = [PACKAGE / name for name in OUTCOME_CODE]
    paths += sorted(p for p in (PACKAGE.parent / "images").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in paths:
        digest.update(f"{path.relative_to(PACKAGE.parent)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def fingerprint(*, image: str, source_digest: str, recipe: Recipe, flavor: Flavor, relinks: Flavor | None,
                timeouts: dict[str, int], limits: Limits, probe: dict[str, object]) -> str:
    """The cell's inputs as one sha256; `relinks`: the flavor whose compiled tree this cell relinks, or None
    when it compiles its own."""
    inputs = {"tool": tool_digest(), "image": image, "source": source_digest,
              "recipe": asdict(recipe), "flavor": asdict(flavor), "relinks": asdict(relinks) if relinks else None,
              "timeouts": timeouts, "limits": asdict(limits), "probe": probe}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def earlier_result(history: tuple[Path, ...], key: str, wanted: str, this_run: str) -> tuple[CellResult, Path] | None:
    """The newest result of this cell with this fingerprint in a complete ordinary run of any of the reports
    directories, if its status may be reused: an older result is never taken over a newer one of the same inputs."""
    runs = sorted((item for reports in history for item in run_records(reports)),
                  key=lambda item: (item[0].started, item[0].run_id))
    for record, run_dir in reversed(runs):
        if record.run_id == this_run or not record.complete_ordinary or key not in record.cells:
            continue
        try:
            found = read_cell(run_dir / "cells" / f"{key}.json")
        except (OSError, ValueError, TypeError):
            continue  # not there, or unreadable: the report names it; nothing to take from it
        if found.fingerprint == wanted:
            found.run_id = run_dir.name  # the directory is the truth, whatever the file says
            return (found, run_dir) if found.status.reusable else None
    return None


def take(earlier: CellResult, earlier_dir: Path, run_dir: Path, now: CellResult) -> CellResult:
    """The earlier result as this run's: its logs copied into this run (they outlive the earlier run's
    pruning), this run's image facts and start, the run it was measured in, and today's verdict on it."""
    # The image log is not taken: this run checked the image itself, and its own log says so.
    logs = {name: relative for name, relative in earlier.logs.items()
            if name != "image" and copy_log(earlier_dir, run_dir, relative)}
    if "image" in now.logs:
        logs["image"] = now.logs["image"]
    taken = replace(earlier, run_id=now.run_id, started=now.started, logs=logs, image_reused=now.image_reused,
                    image_freshness=now.image_freshness, image_id=now.image_id or earlier.image_id, investigation=None,
                    kept_volume=None, timings=dict(now.timings),
                    reused_from=earlier.reused_from or earlier.run_id)
    judge_again(taken, run_dir)
    return taken
