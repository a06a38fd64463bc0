"""What one report or `diff` reads of reports/runs/: each run's facts once, a cell whole only where it is shown.

A run's facts come from its summary (compat.summary), and from its cells where the summary is missing or
out of date; the newest result of each cell, and a manifest that a change shows, are read from the cell
file itself. So a window of runs costs a small file per run, and what is read whole is bounded by what the
reports show, however long the history.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from compat.results import ORDINARY, CellResult, RunRecord, _why, read_cell
from compat.summary import CellFacts, facts_of, identity, manifest_digest, read_summary

MANIFESTS = 256  # distinct manifests kept at once: the cells of a few nights, each changing beside another


class RunReader:
    """The runs as one report reads them; the cells that cannot be read are named once in `unreadable`."""

    def __init__(self, unreadable: list[str] | None = None) -> None:
        self.unreadable = unreadable
        self._facts: dict[Path, dict[str, CellFacts]] = {}
        self._manifests: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._named: set[Path] = set()

    def facts(self, run_dir: Path) -> dict[str, CellFacts]:
        """Every readable cell of a run by key, in the order of their files (load_run's)."""
        if run_dir not in self._facts:
            self._facts[run_dir] = self._read_facts(run_dir)
        return self._facts[run_dir]

    def result(self, run_dir: Path, key: str) -> CellResult | None:
        """A cell whole (evidence, logs, manifest, packages, ...), read now; None when it cannot be read."""
        path = run_dir / "cells" / f"{key}.json"
        try:
            result = read_cell(path)
        except (OSError, ValueError, TypeError, RecursionError) as exc:
            self._name(path, exc)
            return None
        result.run_id = run_dir.name  # the directory is the truth, whatever the file says
        self._keep(manifest_digest(result.manifest), result.manifest)
        return result

    def manifest(self, run_dir: Path, cell: CellFacts) -> dict[str, str]:
        """A cell's manifest, read once for all the cells that have the same one."""
        if cell.manifest in self._manifests:
            self._manifests.move_to_end(cell.manifest)
            return self._manifests[cell.manifest]
        result = self.result(run_dir, cell.key)
        return result.manifest if result is not None else {}

    def _read_facts(self, run_dir: Path) -> dict[str, CellFacts]:
        cells = run_dir / "cells"
        if run_dir.is_symlink() or cells.is_symlink():
            return {}  # never read outside reports/
        summary = read_summary(run_dir)
        found: dict[str, CellFacts] = {}
        for path in sorted(cells.glob("*.json")):
            known = summary.get(path.stem)
            try:
                if known is not None and identity(path) == known[0]:
                    found[path.stem] = known[1]
                    continue
                result = read_cell(path)
            except (OSError, ValueError, TypeError, RecursionError) as exc:
                self._name(path, exc)
                continue
            found[result.key] = facts = facts_of(result)
            self._keep(facts.manifest, result.manifest)
        return found

    def _keep(self, digest: str, manifest: dict[str, str]) -> None:
        self._manifests[digest] = manifest
        self._manifests.move_to_end(digest)
        if len(self._manifests) > MANIFESTS:
            self._manifests.popitem(last=False)

    def _name(self, path: Path, exc: Exception) -> None:
        if self.unreadable is not None and path not in self._named:
            self._named.add(path)
            self.unreadable.append(f"{path}: {_why(exc)}")


def latest_cells(records: list[tuple[RunRecord, Path]], defined: Callable[[CellFacts], bool], reader: RunReader,
                 kinds: tuple[str, ...] = ORDINARY, wanted: set[str] | None = None, window: int | None = None
                 ) -> list[CellResult]:
    """For every cell the current matrix defines, its most recent result among runs of these kinds: what
    `nox -s ghc96` then `nox -s ghc90` add up to. Fault-injection, benchmark and test runs, runs of unknown
    kind and cells the matrix no longer defines never stand in for a cell's result. `records`: every run,
    oldest first (results.run_records); they are searched newest first, no further once every cell in
    `wanted` was found, and at most `window` of them; only the results found are read whole."""
    newest: dict[str, tuple[CellFacts, Path]] = {}
    seen = 0
    for record, run_dir in reversed(records):
        if record.kind not in kinds:
            continue
        if window is not None and seen >= window:
            break
        seen += 1
        for key, facts in reader.facts(run_dir).items():
            if defined(facts) and (key not in newest or facts.started > newest[key][0].started):
                newest[key] = (facts, run_dir)
        if wanted is not None and wanted <= newest.keys():
            break
    found = (reader.result(run_dir, key) for key, (_, run_dir) in sorted(newest.items()))
    return [result for result in found if result is not None]
