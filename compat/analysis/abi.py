"""ABI verdicts from the package database (ghc-pkg) and Debian's libghc-*-dev metadata (dpkg-query)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from compat.analysis.ssl import Flag

PROBLEM = re.compile(r"^There are problems in package (\S+):")


@dataclass(frozen=True)
class HsPackage:
    name: str
    version: str
    abi: str


@dataclass(frozen=True)
class DebPackage:
    package: str
    version: str
    provides: tuple[str, ...]
    depends: tuple[str, ...]


def parse_pkg_dump(text: str) -> dict[str, HsPackage]:
    """`ghc-pkg dump`: {name: package} from each record's name, version and abi fields."""
    packages = {}
    for record in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        fields = dict(re.findall(r"^(name|version|abi):\s*(\S+)", record, flags=re.MULTILINE))
        if {"name", "version"} <= fields.keys():
            packages[fields["name"]] = HsPackage(fields["name"], fields["version"], fields.get("abi", ""))
    return packages


def parse_dpkg(text: str) -> dict[str, DebPackage]:
    """dpkg-query -W -f='${Package}\\t${Version}\\t${Provides}\\t${Depends}\\n' output."""
    packages = {}
    for line in text.splitlines():
        columns = line.split("\t")
        if len(columns) < 4 or not columns[1]:
            continue  # a virtual package that is only provided
        packages[columns[0]] = DebPackage(columns[0], columns[1], _items(columns[2]), _items(columns[3]))
    return packages


def _items(field: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in field.split(",") if item.strip())


def broken_packages(check_output: str) -> Flag | None:
    """abi:broken-packages from `ghc-pkg check`: warnings about missing directories do not count."""
    lines = check_output.splitlines()
    evidence = []
    for index, line in enumerate(lines):
        if PROBLEM.match(line):
            detail = lines[index + 1].strip() if index + 1 < len(lines) else ""
            evidence.append(f"{PROBLEM.match(line).group(1)}: {detail}")  # type: ignore[union-attr]
    return Flag("abi:broken-packages", tuple(evidence)) if evidence else None


def hash_mismatches(hs: dict[str, HsPackage], debs: dict[str, DebPackage]) -> Flag | None:
    """abi:hash-mismatch: Debian's Provides libghc-X-dev-VERSION-HASH against ghc-pkg's abi for X-VERSION."""
    by_lower = {name.lower(): package for name, package in hs.items()}
    evidence = []
    for deb in debs.values():
        for provided in deb.provides:
            match = re.fullmatch(r"libghc-(.+)-dev-([\d.]+)-([0-9a-f]{5})", provided.split()[0])
            if not match:
                continue
            name, version, short = match.groups()
            installed = by_lower.get(name)
            if installed and installed.version == version and installed.abi and not installed.abi.startswith(short):
                evidence.append(f"{deb.package} provides {provided}, ghc-pkg has {installed.name}-{version} "
                                f"abi {installed.abi}")
    return Flag("abi:hash-mismatch", tuple(evidence)) if evidence else None


def _version_abi(package: HsPackage | None) -> str:
    return f"{package.version} ({package.abi[:8]})" if package else "-"


def drift(baseline: dict[str, HsPackage], current: dict[str, HsPackage], wanted: set[str] | None = None
          ) -> list[tuple[str, str, str]]:
    """(package, baseline version/abi, this version/abi) for each package that moved or appeared/vanished."""
    rows = []
    names = (set(baseline) | set(current)) & wanted if wanted else set(baseline) | set(current)
    for name in sorted(names):
        before, after = baseline.get(name), current.get(name)
        if before and after and (before.version, before.abi) == (after.version, after.abi):
            continue
        rows.append((name, _version_abi(before), _version_abi(after)))
    return rows
