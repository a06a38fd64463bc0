"""A cell's status, and what each status implies: written here once, and asked by every other module.

A `StrEnum`, so a status is stored and compared as its text ("pass") while code asks it questions.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    ERROR = "error"  # the tool, the engine, the mirror or the fetch failed: nothing is known of the toolchain
    TIMEOUT = "timeout"
    CRASH = "crash"
    BUILD_FAIL = "build-fail"
    TEST_FAIL = "test-fail"
    PASS = "pass"
    UNAVAILABLE = "unavailable"  # the toolchain image cannot be had: nothing ran

    @property
    def rank(self) -> int:
        """The judge's order: the worst candidate verdict of a cell wins (error worst, pass best)."""
        return _RANK.index(self)

    @property
    def meaningful(self) -> bool:
        """It says something about the toolchain and the source: it may be a cell's baseline."""
        return self not in (Status.ERROR, Status.UNAVAILABLE)

    @property
    def infrastructure(self) -> bool:
        """The tool or its surroundings failed: never a regression of a toolchain (the nightly's exit 5)."""
        return self is Status.ERROR

    @property
    def reusable(self) -> bool:
        """Deterministic given the same inputs, so an unchanged cell may take it from an earlier run.
        A crash, a timeout, an error or an unavailable toolchain is the night's, and runs again."""
        return self in (Status.PASS, Status.TEST_FAIL, Status.BUILD_FAIL)

    @property
    def problem(self) -> bool:
        """A regression when it follows a pass, a fix when a pass follows it."""
        return self in (Status.TEST_FAIL, Status.BUILD_FAIL, Status.CRASH, Status.TIMEOUT)

    @property
    def failed(self) -> bool:
        """Fails a run's exit code (1) unless matrix.yaml expects it."""
        return self.problem or self is Status.ERROR


_RANK = (Status.ERROR, Status.TIMEOUT, Status.CRASH, Status.BUILD_FAIL, Status.TEST_FAIL, Status.PASS,
         Status.UNAVAILABLE)
