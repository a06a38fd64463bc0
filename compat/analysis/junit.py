"""JUnit XML as test-framework's --jxml writes it: counts and the names of failing tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree


@dataclass(frozen=True)
class TestCounts:
    total: int
    passed: int
    failed: int
    failed_names: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {"total": self.total, "passed": self.passed, "failed": self.failed, "failed_names": list(self.failed_names)}


def _cases(text: str) -> list[tuple[str, bool]]:
    """(classname/name, passed) of every test case; a case with a <failure> or <error> child failed.
    ValueError when it is no XML."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise ValueError(str(exc)) from None
    return [(f"{case.get('classname', '')}/{case.get('name', '')}".lstrip("/"),
             case.find("failure") is None and case.find("error") is None) for case in root.iter("testcase")]


def parse_junit(text: str) -> TestCounts:
    """Count test cases and name the failing ones."""
    cases = _cases(text)
    failed = [name for name, passed in cases if not passed]
    return TestCounts(total=len(cases), passed=len(cases) - len(failed), failed=len(failed), failed_names=tuple(failed))


def case_states(text: str) -> dict[str, bool]:
    """Test name -> passed, to follow each test from one run to the next."""
    return dict(_cases(text))
