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


def parse_junit(text: str) -> TestCounts:
    """Count test cases; a case with a <failure> or <error> child failed. ValueError when it is no XML."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise ValueError(str(exc)) from None
    cases = list(root.iter("testcase"))
    failed = [
        f"{case.get('classname', '')}/{case.get('name', '')}".lstrip("/")
        for case in cases
        if case.find("failure") is not None or case.find("error") is not None
    ]
    return TestCounts(total=len(cases), passed=len(cases) - len(failed), failed=len(failed), failed_names=tuple(failed))
