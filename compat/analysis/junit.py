"""JUnit XML as test-framework's --jxml writes it: counts and the names of failing tests.

The file is written by the code under test, so reading it must not trust it: a DOCTYPE is refused as
soon as the parser meets it, before any of its declarations is read (no entity is ever expanded, no
external file or URL ever read: "billion laughs", <!ENTITY x SYSTEM "file:///etc/passwd">), and a file
of more than MAX_CHARS characters is not parsed. Both, like a file that is no XML, are a ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat

MAX_CHARS = 64 * 1024 * 1024  # Ganeti's htest writes 0.1 MB for 456 tests


@dataclass(frozen=True)
class TestCounts:
    total: int
    passed: int
    failed: int
    failed_names: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {"total": self.total, "passed": self.passed, "failed": self.failed, "failed_names": list(self.failed_names)}


def _refuse(*_: object) -> None:
    raise ValueError("it declares a DOCTYPE (refused: its entities could expand without bound or read files)")


def _cases(text: str) -> list[tuple[str, bool]]:
    """(classname/name, passed) of every test case; a case with a <failure> or <error> child failed.
    ValueError when it is no XML, declares a DOCTYPE or is larger than MAX_CHARS."""
    if len(text) > MAX_CHARS:
        raise ValueError(f"{len(text)} characters, more than the {MAX_CHARS} read")
    cases: list[tuple[str, bool]] = []
    open_cases: list[int | None] = []  # per open element: its index in cases when it is a test case

    def start(tag: str, attributes: dict[str, str]) -> None:
        if tag in ("failure", "error") and open_cases and (index := open_cases[-1]) is not None:
            cases[index] = (cases[index][0], False)
        open_cases.append(len(cases) if tag == "testcase" else None)
        if tag == "testcase":
            name = f"{attributes.get('classname', '')}/{attributes.get('name', '')}".lstrip("/")
            cases.append((name, True))

    # pyexpat rather than ElementTree: only pyexpat lets the DOCTYPE be refused when it starts, and it builds
    # no tree. It reads a str as UTF-8 whatever encoding the file declares, and fetches nothing external.
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse  # only possible inside a DOCTYPE; refused twice to be sure
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda _: open_cases.pop()
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise ValueError(str(exc)) from None
    except UnicodeEncodeError as exc:  # a lone surrogate cannot be encoded to UTF-8 for the parser
        raise ValueError(f"not text: {exc.reason} at character {exc.start}") from None
    return cases


def parse_junit(text: str) -> TestCounts:
    """Count test cases and name the failing ones; ValueError when the file cannot be read (see _cases)."""
    cases = _cases(text)
    failed = [name for name, passed in cases if not passed]
    return TestCounts(total=len(cases), passed=len(cases) - len(failed), failed=len(failed), failed_names=tuple(failed))


def case_states(text: str) -> dict[str, bool]:
    """Test name -> passed, to follow each test from one run to the next; ValueError as parse_junit."""
    return dict(_cases(text))
