"""The exit codes (README "Exit codes") and the one reducer every command ends in.

A command says what it found (`Found`); `reduce` turns that into one code, in one order for every
command; the exported CI's rule for a cell job (fail only when the tool gave no result) is derived from it.
Nothing from compat is imported here, so that every module, errors.py first, can take its codes from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

EXIT_OK = 0
EXIT_CELL_FAILED = 1  # a cell failed unexpectedly; for diff and the nightly: a regression
EXIT_BAD_INPUT = 2
EXIT_NO_ENGINE = 3
EXIT_UNAVAILABLE = 4
EXIT_ERRORS = 5  # nightly: no regression, but the tool or its surroundings failed for a cell
EXIT_STORAGE = 6  # reports/: a result could not be read, or a file could not be written
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM


def means(code: int) -> Any:
    """A fact of `Found` (false until found) and the exit code it means."""
    return field(default=False, metadata={"code": code})


@dataclass(frozen=True)
class Found:
    """What a command found, as far as its exit code goes. The fields are in the order of precedence:
    the first one set decides the code."""

    failed: bool = means(EXIT_CELL_FAILED)  # a cell failed and matrix.yaml does not expect it, or one regressed
    unreadable: bool = means(EXIT_STORAGE)  # a result could not be read
    unavailable: bool = means(EXIT_UNAVAILABLE)  # a toolchain could not be had
    errors: bool = means(EXIT_ERRORS)  # the tool or its surroundings failed a cell, or the run did not complete


def reduce(found: Found) -> int:
    """The code of the first thing found, in `Found`'s order; EXIT_OK when nothing was."""
    for each in fields(found):
        if getattr(found, each.name):
            return int(each.metadata["code"])
    return EXIT_OK


# A cell job of the exported CI: a run that reports its cells (failed, or a toolchain unavailable) gave a
# result; the job fails only for the codes that say the tool gave none.
RESULTS = (reduce(Found(failed=True)), reduce(Found(unavailable=True)))


def job_failed(code: int) -> bool:
    """Whether an exported cell job fails with the run's exit code."""
    return code not in (EXIT_OK, *RESULTS)
