"""Reading files the tool stored, or that another machine or a careless hand wrote: bounded, typed, clean.

Every stored JSON file (a cell, a run.json, a merged part) is read here: its size and nesting are bounded
before it is parsed, NaN and infinities are refused, and a schema turns any value of any type at any depth
into either the typed value, with every text cleaned once (control characters, lone surrogates, length),
or a ValueError saying where and why ("flags[2].evidence[0]: a number, not text").
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

MAX_BYTES = 16 * 1024 * 1024  # a real cell is under 200 KB: its manifest and package database are the bulk
MAX_TEXT = 4096  # characters of one text value; a judge's evidence line is at most 500
MAX_WHOLE = 2**63  # a number beyond it is no count, exit code or time a run measured
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """One line of text every format can carry: control characters, line breaks and lone surrogates become
    a space (a tab stays), at most `limit` characters (a longer one ends in '…')."""
    text = CONTROL.sub(" ", text[:limit + 1])
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _clean_all(texts: list[str], limit: int) -> list[str]:
    """clean() of each, at the cost of one search when none needs it (a manifest: hundreds of texts)."""
    if max(map(len, texts), default=0) <= limit and not CONTROL.search("\t".join(texts)):
        return texts
    return [clean(text, limit) for text in texts]


def read_bytes(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file; a symlink is not followed (OSError), nor is a directory read."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        return handle.read(limit)


def load_json(path: Path, max_bytes: int = MAX_BYTES) -> Any:
    """A JSON file's value; OSError or ValueError saying why it cannot be read. A symlink is not followed."""
    data = read_bytes(path, max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"larger than {max_bytes} bytes")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        # The C decoder counts its nesting against the recursion limit and stops cleanly; the schema then
        # walks at most its own few levels.
        raise ValueError("nested deeper than the decoder follows") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is no number a result holds")


class Spec:
    """A type a stored value must have; `read` returns the value cleaned, or raises ValueError."""

    what = "a value"

    def read(self, value: Any, at: str) -> Any:
        raise NotImplementedError

    def fail(self, value: Any, at: str) -> ValueError:
        return ValueError(f"{at or 'the file'}: {_kind(value)}, not {self.what}")


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


@dataclass(frozen=True)
class Text(Spec):
    limit: int = MAX_TEXT
    lines: bool = False  # keep line breaks (a reason of several lines); each line is cleaned
    what = "text"

    def read(self, value: Any, at: str) -> str:
        if not isinstance(value, str):
            raise self.fail(value, at)
        if self.lines:
            return "\n".join(clean(line, self.limit) for line in value[:self.limit * 4].split("\n"))
        return clean(value, self.limit)


@dataclass(frozen=True)
class Name(Spec):
    """A name that becomes part of a path (toolchain, source, flavor, run id): never cleaned, refused."""

    pattern: re.Pattern[str]
    what = "a plain name"

    def read(self, value: Any, at: str) -> str:
        if not isinstance(value, str) or not self.pattern.fullmatch(value):
            raise ValueError(f"{at}: {clean(repr(value), 80) if isinstance(value, str) else _kind(value)} is not "
                             f"{self.what} ({self.pattern.pattern})")
        return value


@dataclass(frozen=True)
class Whole(Spec):
    what = "a whole number"

    def read(self, value: Any, at: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(value, at)
        if abs(value) > MAX_WHOLE:  # a count a report divides by, or a float it is compared with, never overflows
            raise ValueError(f"{at}: a whole number beyond 2**63")
        return value


@dataclass(frozen=True)
class Number(Spec):
    what = "a number"

    def read(self, value: Any, at: str) -> float | int:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.fail(value, at)
        if isinstance(value, int) and abs(value) > MAX_WHOLE or not math.isfinite(value):
            raise ValueError(f"{at}: a number beyond what a result holds")  # 1e999 is read as infinity
        return value


@dataclass(frozen=True)
class Flag(Spec):
    what = "true or false"

    def read(self, value: Any, at: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(value, at)
        return value


@dataclass(frozen=True)
class Optional(Spec):
    inner: Spec

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"{self.inner.what} or null"

    def read(self, value: Any, at: str) -> Any:
        return None if value is None else self.inner.read(value, at)


@dataclass(frozen=True)
class ListOf(Spec):
    item: Spec
    limit: int = 100_000

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"a list of {self.item.what}"

    def read(self, value: Any, at: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(value, at)
        if len(value) > self.limit:
            raise ValueError(f"{at}: {len(value)} items, more than {self.limit}")
        if isinstance(self.item, Text) and not self.item.lines and set(map(type, value)) <= {str}:
            return _clean_all(value, self.item.limit)
        return [self.item.read(item, f"{at}[{index}]") for index, item in enumerate(value)]


@dataclass(frozen=True)
class MapOf(Spec):
    """An object whose keys are data (package names, step names)."""

    value: Spec
    limit: int = 100_000

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"an object of {self.value.what}"

    def read(self, value: Any, at: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(value, at)
        if len(value) > self.limit:
            raise ValueError(f"{at}: {len(value)} keys, more than {self.limit}")
        keys = _clean_all(list(value), 500)
        if isinstance(self.value, Text) and not self.value.lines and set(map(type, value.values())) <= {str}:
            return dict(zip(keys, _clean_all(list(value.values()), self.value.limit), strict=True))
        return {key: self.value.read(item, f"{at}.{clean(key, 40)}") for key, item in zip(keys, value.values(),
                                                                                        strict=True)}


@dataclass(frozen=True)
class Fields(Spec):
    """An object with known fields: unknown ones are dropped, missing ones take no value (the caller's
    defaults), `required` ones must be there."""

    fields: dict[str, Spec]
    required: tuple[str, ...] = ()
    what = "an object"

    def read(self, value: Any, at: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(value, at)
        for name in self.required:
            if name not in value:
                raise ValueError(f"{_at(at, name)}: missing")
        return {name: spec.read(value[name], _at(at, name)) for name, spec in self.fields.items() if name in value}


def _at(at: str, name: str) -> str:
    return f"{at}.{name}" if at else name


@dataclass(frozen=True)
class Either(Spec):
    """The first spec that reads the value (e.g. a probe count: a whole number or a fraction)."""

    options: tuple[Spec, ...]

    @property
    def what(self) -> str:  # type: ignore[override]
        return " or ".join(option.what for option in self.options)

    def read(self, value: Any, at: str) -> Any:
        for option in self.options:
            try:
                return option.read(value, at)
            except ValueError:
                continue
        raise self.fail(value, at)


@dataclass(frozen=True)
class Check(Spec):
    """A spec and a further rule over what it read."""

    inner: Spec
    rule: Callable[[Any], str | None]  # None when the value is right, else why not

    @property
    def what(self) -> str:  # type: ignore[override]
        return self.inner.what

    def read(self, value: Any, at: str) -> Any:
        found = self.inner.read(value, at)
        if why := self.rule(found):
            raise ValueError(f"{at}: {why}")
        return found


@dataclass(frozen=True)
class Made(Spec):
    """A spec whose values make an object (a dataclass from its fields)."""

    inner: Spec
    make: Callable[[Any], Any]

    @property
    def what(self) -> str:  # type: ignore[override]
        return self.inner.what

    def read(self, value: Any, at: str) -> Any:
        return self.make(self.inner.read(value, at))


def one_of(kind: type[StrEnum], what: str) -> Spec:
    """A text naming a member of `kind` (a status, a conclusion), read as that member."""
    return Made(Check(Text(40), lambda text: None if text in set(kind) else f"unknown {what} {text!r}"), kind)


TEXT, WHOLE, NUMBER, FLAG = Text(), Whole(), Number(), Flag()
OPTIONAL_TEXT = Optional(TEXT)
TEXTS = ListOf(TEXT)
