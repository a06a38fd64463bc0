"""Known failures from matrix.yaml's `expected:` entries: shown as expected, never counted as regressions
and never failing the exit code; an expected failure that passes is said, so its entry can go.

A cell entry names the status (and optionally the cause) it expects, so a cell expected to fail to build
that starts to crash, time out or lose its engine is news again. A test entry expects that test to fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import Protocol, TypeVar

from compat.matrix import Expectation, Matrix
from compat.parts import HaskellTests
from compat.results import cell_key
from compat.status import Status


class Judged(Protocol):
    """What an entry is matched with: a cell's result, or its facts (compat.summary)."""

    @property
    def key(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def cause(self) -> str | None: ...
    @property
    def tests(self) -> HaskellTests | None: ...


Cell = TypeVar("Cell", bound=Judged)


def matrix_cells(m: Matrix) -> list[str]:
    """Every cell the matrix can run: toolchain x source x the toolchain's flavors."""
    return [cell_key(t.name, s, f) for t in m.toolchains.values() for s in m.sources for f in t.flavors]


def _matching(entries: tuple[Expectation, ...], key: str) -> list[Expectation]:
    return [entry for entry in entries if fnmatchcase(key, entry.cell)]


def _names(entry: Expectation, result: Judged) -> bool:
    """A cell entry that names this result's status, and its cause when the entry gives one."""
    return entry.test is None and entry.status == result.status and entry.cause in (None, result.cause)


def explained(entries: tuple[Expectation, ...], result: Judged) -> list[Expectation]:
    """The entries that explain all of a failed cell's failure; empty when any of it is unexpected."""
    if not result.status.failed:
        return []
    found = _matching(entries, result.key)
    whole = [entry for entry in found if _names(entry, result)]
    if whole:
        return whole
    failed = result.tests.failed_names if result.tests else ()
    if result.status is not Status.TEST_FAIL or not failed or result.cause or \
            len(failed) < (result.tests.failed if result.tests else 0):
        return []  # a list of names that was cut cannot show that every failure was expected
    per_test = [entry for entry in found if entry.test is not None]
    covering = [entry for entry in per_test if any(fnmatchcase(name, entry.test or "") for name in failed)]
    if all(any(fnmatchcase(name, entry.test or "") for entry in per_test) for name in failed):
        return covering
    return []


def unexpected_passes(entries: tuple[Expectation, ...], results: Sequence[Cell],
                      states: Callable[[Cell], dict[str, bool] | None]) -> list[tuple[str, Expectation]]:
    """(cell, entry) where what was expected to fail passed: a cell entry's cell passed, or a test entry's
    test ran and passed (`states`: a cell's tests, name -> passed, None when unknown). A test that no
    longer runs (renamed, removed) passed nothing."""
    found = []
    for result in results:
        for entry in _matching(entries, result.key):
            if entry.test is None:
                if result.status is Status.PASS:
                    found.append((result.key, entry))
            elif result.tests and result.tests.total and (ran := states(result)):
                matched = [ok for name, ok in ran.items() if fnmatchcase(name, entry.test)]
                if matched and all(matched):
                    found.append((result.key, entry))
    return found


def unmatched(entries: tuple[Expectation, ...], cells: list[str]) -> list[Expectation]:
    """Entries whose pattern matches no cell of the matrix (a typo, or a cell that was removed)."""
    return [entry for entry in entries if not any(fnmatchcase(key, entry.cell) for key in cells)]


def describe(entry: Expectation) -> str:
    what = f"test {entry.test}" if entry.test else f"{entry.status}{f' ({entry.cause})' if entry.cause else ''}"
    return f"expected ({what}): {entry.reason}" + (f" <{entry.bug}>" if entry.bug else "")
