"""Cabal version ranges, and whether pinned Hackage packages satisfy a project's build-depends.

A bindist toolchain (GHC 7.8, 7.10) gets its Haskell libraries from pinned Hackage tarballs: the pins must
satisfy the bounds of the source they are meant for and, with GHC's boot packages, cover all it depends on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, ...]
Range = tuple[tuple[tuple[str, Version, bool], ...], ...]  # any of (all of (operator, version, wildcard))

VERSION = r"\d{1,9}(?:\.\d{1,9}){0,9}"
CONSTRAINT = re.compile(rf"\s*(>=|<=|==|\^>=|>|<)\s*({VERSION})(\.\*)?\s*")
PACKAGE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
# A Hackage sdist as it is downloaded: NAME-VERSION.tar.gz (a name's parts may hold digits, a version only digits).
SDIST = re.compile(rf"(?P<name>{PACKAGE.pattern}?)-(?P<version>{VERSION})\.tar\.gz")


def version(text: str) -> Version:
    if not re.fullmatch(VERSION, text):
        raise ValueError(f"not a version: {text[:40]!r}")
    return tuple(int(part) for part in text.split("."))


def show(v: Version) -> str:
    return ".".join(map(str, v))


RANGE_TOKEN = re.compile(r"\s*(\|\||&&|\(|\)|(?:\^>=|>=|<=|==|>|<)\s*[0-9.]+(?:\.\*)?(?![0-9.*]))")


def parse_range(text: str) -> Range:
    """`>= 1.2 && < 1.3 || == 2.*`, `^>= 1.2.3`, parentheses, `-any`, `-none`; ValueError for anything else.
    The answer is a disjunction of conjunctions (what `satisfies` reads)."""
    if text.strip() in ("", "-any"):
        return ((),)
    if text.strip() == "-none":
        return ()
    tokens, position = [], 0
    while text[position:].strip():
        match = RANGE_TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"not a version range: {text[:80]!r}")
        tokens.append(match.group(1))
        position = match.end()
    parsed, rest = _alternatives(tokens, text)
    if rest:
        raise ValueError(f"not a version range: {text[:80]!r}")
    return parsed


def _alternatives(tokens: list[str], text: str) -> tuple[Range, list[str]]:
    result, rest = _conjunction(tokens, text)
    while rest[:1] == ["||"]:
        more, rest = _conjunction(rest[1:], text)
        result += more
    return result, rest


def _conjunction(tokens: list[str], text: str) -> tuple[Range, list[str]]:
    result, rest = _factor(tokens, text)
    while rest[:1] == ["&&"]:
        more, rest = _factor(rest[1:], text)
        result = tuple(left + right for left in result for right in more)
    return result, rest


def _factor(tokens: list[str], text: str) -> tuple[Range, list[str]]:
    if not tokens or tokens[0] in ("||", "&&", ")"):
        raise ValueError(f"not a version range: {text[:80]!r}")
    if tokens[0] == "(":
        inner, rest = _alternatives(tokens[1:], text)
        if rest[:1] != [")"]:
            raise ValueError(f"not a version range: {text[:80]!r}")
        return inner, rest[1:]
    match = CONSTRAINT.fullmatch(tokens[0])
    if match is None:
        raise ValueError(f"not a version range: {text[:80]!r}")
    operator, number, wildcard = match.group(1), version(match.group(2)), bool(match.group(3))
    if wildcard and operator != "==":
        raise ValueError(f"a wildcard only follows ==: {text[:80]!r}")
    if operator == "^>=":
        return (((">=", number, False), ("<", major_bound(number), False)),), tokens[1:]
    return (((operator, number, wildcard),),), tokens[1:]


def major_bound(v: Version) -> Version:
    """The upper end of `^>= v`: the next major version, whose first two components are the major one (as
    Cabal's majorUpperBound: 1.2.3 -> 1.3, and 4 -> 4.1, not 5)."""
    return (v[0], v[1] + 1) if len(v) > 1 else (v[0], 1)


def _holds(v: Version, operator: str, bound: Version, wildcard: bool) -> bool:
    if wildcard:
        return v[:len(bound)] == bound
    # Versions compare as Cabal compares them: 1.2 < 1.2.0 (a longer version with the same prefix is newer).
    return {">=": v >= bound, ">": v > bound, "<=": v <= bound, "<": v < bound, "==": v == bound}[operator]


def satisfies(v: Version, wanted: Range) -> bool:
    return any(all(_holds(v, *constraint) for constraint in alternative) for alternative in wanted)


Depends = dict[str, tuple[str, Range]]  # package -> (its range as written, parsed)


def read_build_depends(text: str) -> tuple[Depends, list[str]]:
    """`package<TAB>range` lines (comments start with #): the ranges, and the lines that are neither a
    package name and a range, said as they are (never silently read as "any version")."""
    depends: Depends = {}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, _, bound = line.partition("\t")
        try:
            if not PACKAGE.fullmatch(name):
                raise ValueError(f"not a package name: {name[:40]!r}")
            depends[name] = (bound.strip(), parse_range(bound))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    return depends, problems


def sdist_version(file_name: str) -> tuple[str, Version] | None:
    """(package, version) of a Hackage sdist's file name; None for any other file (e.g. the GHC bindist)."""
    match = SDIST.fullmatch(file_name)
    return (match.group("name"), version(match.group("version"))) if match else None


@dataclass(frozen=True)
class Closure:
    violations: tuple[str, ...]  # "lens-4.12.3: the source wants < 4.8"
    missing: tuple[str, ...]  # packages the source depends on that neither GHC nor a pin provides


def check(depends: Depends, pins: dict[str, Version], boot: dict[str, Version]) -> Closure:
    """Each dependency against the pin of it, else GHC's boot package of it, else missing."""
    violations, missing = [], []
    for name, (written, wanted) in sorted(depends.items()):
        have = pins.get(name, boot.get(name))
        if have is None:
            missing.append(name)
        elif not satisfies(have, wanted):
            where = "pinned" if name in pins else "shipped with GHC"
            violations.append(f"{name}-{show(have)} ({where}): the source wants {written}")
    return Closure(tuple(violations), tuple(missing))
