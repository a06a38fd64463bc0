"""What a run's cells and a night's regressions come to, as compat.exits.Found: the facts every
command's exit code is reduced from."""

from __future__ import annotations

from compat import expected, history
from compat.exits import Found, reduce
from compat.findings import reproducible
from compat.matrix import Expectation, Matrix
from compat.results import CellResult
from compat.status import Status


def cells_found(results: list[CellResult], known: tuple[Expectation, ...] = (), unreadable: list[str] | None = None
                ) -> Found:
    """A cell that failed unexpectedly, a result that could not be read, a toolchain that was unavailable:
    never "every cell passed" when a result was not understood."""
    return Found(failed=any(r.status.failed and not expected.explained(known, r) for r in results),
                 unreadable=bool(unreadable), unavailable=any(r.status is Status.UNAVAILABLE for r in results))


def exit_code(results: list[CellResult], known: tuple[Expectation, ...] = (), unreadable: list[str] | None = None
              ) -> int:
    """The exit code of a run's (or a report's) cells."""
    return reduce(cells_found(results, known, unreadable))


def night_found(runs: list[history.RunResults], m: Matrix, run_id: str) -> Found:
    """A cell of the night's run that regressed against its own baseline, or a cell of it that is an error
    (or the run did not complete): a cell that was already failing does not fail the night."""
    if not runs or runs[-1].record.run_id != run_id:
        return Found(errors=True)
    # A regression its investigation found not reproducible (flaky) is no toolchain regression: said, not exit 1.
    night = runs[-1].cells
    regressed = any(reproducible(night[change.key].investigation)
                    for change in history.nights(runs, m.expected)[-1].regressions)
    return Found(failed=regressed, errors=any(cell.status.infrastructure for cell in night.values()))


def nightly_exit(runs: list[history.RunResults], m: Matrix, run_id: str) -> int:
    """1 when the night's run regressed, else 5 when it holds an error or did not complete, else 0."""
    return reduce(night_found(runs, m, run_id))
