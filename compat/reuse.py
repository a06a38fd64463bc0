"""Unchanged cells: a cell whose inputs are those of a complete earlier result takes that result.

A cell's fingerprint covers everything its outcome depends on: the tool itself (every file of the
`compat` package and of `images/`), the image it runs in, the source's digest (of what was fetched:
known after the fetch), the recipe, the flavor, the step timeouts, the container limits and the probe
settings. The image is its flavor image's tag, a digest of the toolchain image it was made from, whose
tag in turn names every installed package version. Only results that say something about the toolchain
are taken (`pass`, `test-fail`, `build-fail`); `crash`, `timeout`, `error` and `unavailable` depend on the
machine and the night, so such a cell always runs again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from compat.matrix import Flavor, Limits, Recipe
from compat.results import ORDINARY, CellResult, copy_log, read_cell, run_records

REUSABLE = ("pass", "test-fail", "build-fail")
TOOL_FILES = (Path(__file__).parent, Path(__file__).parent.parent / "images")


@functools.cache
def tool_digest() -> str:
    """sha256 over the tool's own code and image files: a new judge or script is a new fingerprint."""
    digest = hashlib.sha256()
    for top in TOOL_FILES:
        for path in sorted(p for p in top.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(f"{path.relative_to(top.parent)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def fingerprint(*, image: str, source_digest: str, recipe: Recipe, flavor: Flavor, timeouts: dict[str, int],
                limits: Limits, probe: dict[str, object]) -> str:
    """The cell's inputs as one sha256."""
    inputs = {"tool": tool_digest(), "image": image, "source": source_digest,
              "recipe": asdict(recipe), "flavor": asdict(flavor), "timeouts": timeouts, "limits": asdict(limits),
              "probe": probe}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def earlier_result(reports: Path, key: str, wanted: str, this_run: str) -> tuple[CellResult, Path] | None:
    """The newest result of this cell with this fingerprint in a complete ordinary run, if it may be taken."""
    for record, run_dir in reversed(run_records(reports)):
        if (record.run_id == this_run or record.kind not in ORDINARY or record.interrupted
                or not record.finished or key not in record.cells):
            continue
        try:
            found = read_cell(run_dir / "cells" / f"{key}.json")
        except (OSError, ValueError, TypeError):
            continue  # not there, or unreadable: the report names it; nothing to take from it
        if found.fingerprint == wanted and found.status in REUSABLE:
            return found, run_dir
    return None


def take(earlier: CellResult, earlier_dir: Path, run_dir: Path, now: CellResult) -> CellResult:
    """The earlier result as this run's: its logs copied into this run (they outlive the earlier run's
    pruning), this run's image facts and start, and the run it was measured in."""
    # The image log is not taken: this run checked the image itself, and its own log says so.
    logs = {name: relative for name, relative in earlier.logs.items()
            if name != "image" and copy_log(earlier_dir, run_dir, relative)}
    if "image" in now.logs:
        logs["image"] = now.logs["image"]
    return replace(earlier, run_id=now.run_id, started=now.started, logs=logs, image_reused=now.image_reused,
                   image_freshness=now.image_freshness, timings=dict(now.timings),
                   reused_from=earlier.reused_from or earlier.run_id)
