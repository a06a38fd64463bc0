"""Known failures from matrix.yaml's `expected:` entries: shown as expected, never counted as regressions
and never failing the exit code; an expected failure that passes is said, so its entry can go."""

from __future__ import annotations

from fnmatch import fnmatchcase

from compat.matrix import Expectation, Matrix
from compat.results import FAILED, CellResult, cell_key


def matrix_cells(m: Matrix) -> list[str]:
    """Every cell the matrix can run: toolchain x source x the toolchain's flavors."""
    return [cell_key(t.name, s, f) for t in m.toolchains.values() for s in m.sources for f in t.flavors]


def _matching(entries: tuple[Expectation, ...], key: str) -> list[Expectation]:
    return [entry for entry in entries if fnmatchcase(key, entry.cell)]


def explained(entries: tuple[Expectation, ...], result: CellResult) -> list[Expectation]:
    """The entries that explain all of a failed cell's failure; empty when any of it is unexpected."""
    if result.status not in FAILED:
        return []
    found = _matching(entries, result.key)
    whole = [entry for entry in found if entry.test is None]
    if whole:
        return whole
    failed = (result.tests or {}).get("failed_names") or []
    if result.status != "test-fail" or not failed or result.cause or len(failed) < (result.tests or {}).get("failed", 0):
        return []  # a list of names that was cut cannot show that every failure was expected
    per_test = [entry for entry in found if entry.test is not None]
    covering = [entry for entry in per_test if any(fnmatchcase(name, entry.test or "") for name in failed)]
    if all(any(fnmatchcase(name, entry.test or "") for entry in per_test) for name in failed):
        return covering
    return []


def unexpected_passes(entries: tuple[Expectation, ...], results: list[CellResult]) -> list[tuple[str, Expectation]]:
    """(cell, entry) where what was expected to fail passed: a passing cell, or a test that ran and passed."""
    found = []
    for result in results:
        for entry in _matching(entries, result.key):
            if entry.test is None and result.status == "pass":
                found.append((result.key, entry))
            elif entry.test is not None and result.tests and result.tests.get("total"):
                failed = result.tests.get("failed_names") or []
                if not any(fnmatchcase(name, entry.test) for name in failed):
                    found.append((result.key, entry))
    return found


def unmatched(entries: tuple[Expectation, ...], cells: list[str]) -> list[Expectation]:
    """Entries whose pattern matches no cell of the matrix (a typo, or a cell that was removed)."""
    return [entry for entry in entries if not any(fnmatchcase(key, entry.cell) for key in cells)]


def describe(entry: Expectation) -> str:
    what = f"test {entry.test}" if entry.test else "cell"
    return f"expected ({what}): {entry.reason}" + (f" <{entry.bug}>" if entry.bug else "")
