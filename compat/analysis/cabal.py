"""Cabal version ranges, and whether a set of pinned Hackage packages satisfies a project's build-depends.

A bindist toolchain (GHC 7.8, 7.10) gets its Haskell libraries from pinned Hackage tarballs, not from
Debian: the pins must satisfy the bounds of the source they are meant for, and together with GHC's own
boot packages they must cover every package it depends on (`cabal update` cannot fill a gap offline).
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


def parse_range(text: str) -> Range:
    """`>= 1.2 && < 1.3 || == 2.*`, `^>= 1.2.3`, `-any`; ValueError for anything else."""
    if text.strip() in ("", "-any"):
        return ((),)
    alternatives = []
    for alternative in text.split("||"):
        constraints = []
        for part in alternative.split("&&"):
            match = CONSTRAINT.fullmatch(part)
            if not match:
                raise ValueError(f"not a version range: {text[:80]!r}")
            operator, number, wildcard = match.group(1), version(match.group(2)), bool(match.group(3))
            if operator == "^>=":  # major bound: >= x.y.z && < x.(y+1)
                upper = (number[0], number[1] + 1) if len(number) > 1 else (number[0] + 1,)
                constraints += [(">=", number, False), ("<", upper, False)]
            elif wildcard and operator != "==":
                raise ValueError(f"a wildcard only follows ==: {text[:80]!r}")
            else:
                constraints.append((operator, number, wildcard))
        alternatives.append(tuple(constraints))
    return tuple(alternatives)


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
