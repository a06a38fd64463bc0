"""The parts of a cell result (its tests, GHC, SSL and probe facts, flags, fault injection) as types.

A part is read from a stored file in one place, `from_dict`, which applies its checks (compat.stored) once,
and written in one place, `to_dict`. A field the file left out stays left out (`absent`): a result read and
written again is byte for byte what it was, and a part that holds no field is false, as its empty object was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Self

from compat.stored import FLAG, NUMBER, OPTIONAL_TEXT, TEXT, WHOLE, Fields, ListOf, Made, MapOf, Optional, Spec, Text


@dataclass(frozen=True)
class Part:
    """A part of a stored result: FIELDS are its checks, one spec per field, named as in the JSON."""

    FIELDS: ClassVar[Fields]
    absent: frozenset[str] = field(default=frozenset(), kw_only=True)  # the fields its file left out

    @classmethod
    def from_dict(cls, data: Any, at: str = "") -> Self:
        """The part read from untrusted JSON; ValueError naming the field (under `at`) that cannot be trusted."""
        values = cls.FIELDS.read(data, at)
        return cls(**values, absent=frozenset(cls.FIELDS.fields).difference(values))

    def to_dict(self) -> dict[str, Any]:
        """The part as it is stored: plain JSON values, without the fields its file left out."""
        return {name: plain(getattr(self, name)) for name in self.FIELDS.fields if name not in self.absent}

    def __bool__(self) -> bool:
        return len(self.absent) < len(self.FIELDS.fields)


def plain(value: Any) -> Any:
    """A part's value as JSON holds it: a list for a tuple, text for an enumeration."""
    if isinstance(value, Part):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, Enum):
        return str(value)
    return value


@dataclass(frozen=True)
class Stored(Spec):
    """The spec of a field that holds a part: its own from_dict reads it."""

    part: type[Part]
    what = "an object"

    def read(self, value: Any, at: str) -> Part:
        return self.part.from_dict(value, at)


STRINGS = Made(ListOf(TEXT), tuple)


@dataclass(frozen=True)
class HaskellTests(Part):
    """The Haskell test run's counts; failed_names may be cut (compat.verdict.MAX_TEST_NAMES), never the counts."""

    total: int
    passed: int
    failed: int
    failed_names: tuple[str, ...] = ()

    FIELDS = Fields({"total": WHOLE, "passed": WHOLE, "failed": WHOLE, "failed_names": Made(ListOf(Text(500)), tuple)},
                    required=("total", "passed", "failed"))


@dataclass(frozen=True)
class GhcFacts(Part):
    """The toolchain's GHC and its Integer library, as `ghc --info` and its package database said."""

    version: str | None = None
    integer_library: str | None = None
    integer_library_version: str | None = None
    bignum_backend: str | None = None
    replaces_gmp_allocator: bool | None = None

    FIELDS = Fields({"version": OPTIONAL_TEXT, "integer_library": OPTIONAL_TEXT,
                     "integer_library_version": OPTIONAL_TEXT, "bignum_backend": OPTIONAL_TEXT,
                     "replaces_gmp_allocator": Optional(FLAG)})


@dataclass(frozen=True)
class SslFacts(Part):
    """Across a cell's binaries: the libcurl flavors and TLS stacks they load, and GMP. The allocations per
    request are left out when no probe ran."""

    binaries: tuple[str, ...] = ()
    curl_flavors: tuple[str, ...] = ()
    tls_stacks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # stack -> binary -> ... -> its library
    gmp_loaded: bool = False
    gmp_hook: bool = False
    gmp_allocations_per_request: float | None = None

    FIELDS = Fields({"binaries": STRINGS, "curl_flavors": STRINGS, "tls_stacks": MapOf(STRINGS),
                     "gmp_loaded": FLAG, "gmp_hook": FLAG, "gmp_allocations_per_request": Optional(NUMBER)})


@dataclass(frozen=True)
class ProbeFacts(Part):
    """The runtime probe's runs as verdicts ("pass", "not run", ...); "-" for a run its file did not name."""

    requests: int = 0
    plain: str = "-"
    counting: str = "-"
    hostile: str = "-"
    gmp_allocations_per_request: float | None = None
    built: bool = False
    timed_out: bool = False

    FIELDS = Fields({"requests": WHOLE, "plain": TEXT, "counting": TEXT, "hostile": TEXT,
                     "gmp_allocations_per_request": Optional(NUMBER), "built": FLAG, "timed_out": FLAG})


@dataclass(frozen=True)
class Flag(Part):
    """A flag a cell raised ("ssl:...", "abi:...", "probe:unmeasured") and the lines that show it."""

    name: str
    evidence: tuple[str, ...] = ()

    FIELDS = Fields({"name": Text(100), "evidence": Made(ListOf(TEXT, 1000), tuple)}, required=("name",))


@dataclass(frozen=True)
class FaultInjection(Part):
    """The hostile GMP hook's run: what it says about TLS, never the cell's verdict."""

    hostile_gmp: str
    says: str
    gmp_allocations_per_request: float | None = None

    FIELDS = Fields({"hostile_gmp": TEXT, "says": TEXT, "gmp_allocations_per_request": Optional(NUMBER)},
                    required=("hostile_gmp", "says"))
