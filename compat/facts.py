"""What to ask a finished cell's container, and the verdicts drawn from the answers (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compat.analysis.abi import broken_packages, hash_mismatches, parse_dpkg, parse_pkg_dump
from compat.analysis.linkage import Linkage, loaded, parse_inspect
from compat.analysis.ssl import (
    Flag,
    curl_flavor,
    declared_flavors,
    flavor_mismatch,
    gmp_allocator_conflict,
    mixed_tls_stacks,
    tls_stacks,
    wrong_flavor,
)
from compat.analysis.toolchain import GhcFacts, ghc_facts

DPKG_FORMAT = "${Package}\t${Version}\t${Provides}\t${Depends}\n"
MANIFEST_FORMAT = "${db:Status-Abbrev}\t${Package}\t${Version}\n"
INSPECT_SCRIPT = "/build/.compat/inspect-build"
HASKELL_SOURCES = ["find", ".", "-type", "f", "(", "-name", "*.hs", "-o", "-name", "*.lhs", "-o", "-name", "*.hsc",
                   "-o", "-name", "*.chs", ")"]


@dataclass(frozen=True)
class Inspection:
    """One question asked of a cell's container, and the exit codes that mean it was answered."""

    argv: list[str]
    answered: frozenset[int] = frozenset({0})


def toolchain_commands() -> dict[str, Inspection]:
    """Asked of every cell, whatever its outcome: the toolchain, its package database, the installed packages."""
    return {
        "ghc-info.txt": Inspection(["ghc", "--info"]),
        "ghc-pkg-list.txt": Inspection(["ghc-pkg", "list", "--global", "--simple-output"]),
        # ghc-pkg check exits 1 when it finds problems: that is an answer too.
        "ghc-pkg-check.txt": Inspection(["ghc-pkg", "check"], frozenset({0, 1})),
        "ghc-pkg-dump.txt": Inspection(["ghc-pkg", "dump", "--global"]),
        # dpkg-query exits 1 when a pattern matches nothing (a bindist toolchain has no libghc-* packages).
        "dpkg-libghc.tsv": Inspection(["dpkg-query", "-W", f"-f={DPKG_FORMAT}", "libghc-*", "ghc"], frozenset({0, 1})),
        "dpkg-all.tsv": Inspection(["dpkg-query", "-W", f"-f={MANIFEST_FORMAT}"]),
    }


def source_commands() -> dict[str, Inspection]:
    """Asked once the source is in place: its own Haskell files (which modules are the project's)."""
    return {"haskell-sources.txt": Inspection(HASKELL_SOURCES)}


def binary_commands(binaries: tuple[str, ...]) -> dict[str, Inspection]:
    """Asked once the build produced binaries: their linkage tree and GMP hook symbols."""
    return {"linkage.txt": Inspection(["sh", INSPECT_SCRIPT, *binaries])} if binaries else {}


def linkage_gaps(binaries: tuple[str, ...], linkage_text: str) -> list[str]:
    """Binaries the inspection said nothing about (neither their objects nor that they are missing)."""
    answered = {line.split()[2] for line in linkage_text.splitlines()
                if line.startswith("== ") and len(line.split()) == 3}
    return [f"linkage.txt: no answer for {binary}" for binary in binaries if binary not in answered]


def manifest(dpkg_all: str) -> dict[str, str]:
    """Installed Debian package -> version, from `dpkg-query -W -f=MANIFEST_FORMAT` (architecture qualifiers
    dropped, packages that are only known to dpkg left out)."""
    installed = {}
    for line in dpkg_all.splitlines():
        columns = line.split("\t")
        if len(columns) == 3 and columns[0].startswith("ii") and columns[2]:
            installed[columns[1].split(":")[0]] = columns[2]
    return dict(sorted(installed.items()))


def own_sources(listing: str) -> tuple[str, ...]:
    """The project's Haskell source files, relative to its tree, from HASKELL_SOURCES' output."""
    return tuple(sorted(line.strip().removeprefix("./") for line in listing.splitlines() if line.strip()))


@dataclass(frozen=True)
class Verdicts:
    ghc: GhcFacts
    ssl: dict[str, Any]
    packages: dict[str, list[str]]
    flags: tuple[Flag, ...]
    wrong_flavor: tuple[str, ...]  # binaries that link another libcurl than the cell's flavor
    missing_binaries: tuple[str, ...] = ()  # binaries the recipe lists that do not exist
    declared_flavors: str | None = None  # libghc-curl-dev declares another flavor than it runs with


def verdicts(texts: dict[str, str], soname: str) -> Verdicts:
    """Every SSL and ABI flag for a cell, from the texts its container printed."""
    ghc = ghc_facts(texts.get("ghc-info.txt", ""), texts.get("ghc-pkg-list.txt", ""))
    linkage = parse_inspect(texts.get("linkage.txt", ""))
    hs = parse_pkg_dump(texts.get("ghc-pkg-dump.txt", ""))
    debs = parse_dpkg(texts.get("dpkg-libghc.tsv", ""))
    curl = debs.get("libghc-curl-dev")
    found = (
        gmp_allocator_conflict(linkage, ghc.replaces_gmp_allocator),
        mixed_tls_stacks(linkage),
        flavor_mismatch(linkage, soname, list(curl.depends) if curl else []),
        broken_packages(texts.get("ghc-pkg-check.txt", "")),
        hash_mismatches(hs, debs),
    )
    return Verdicts(ghc, ssl_summary(linkage), {p.name: [p.version, p.abi] for p in hs.values()},
                    tuple(flag for flag in found if flag), tuple(wrong_flavor(linkage, soname)),
                    tuple(linkage.missing), declared_flavors(linkage, list(curl.depends) if curl else []))


def ssl_summary(linkage: Linkage) -> dict[str, Any]:
    """Across the cell's binaries: libcurl flavors linked, TLS stacks and who brings them, the GMP hook."""
    flavors = sorted({f for b in linkage.binaries.values() if (f := curl_flavor(b))})
    stacks: dict[str, list[str]] = {}
    for binary in linkage.binaries.values():
        for name, chain in tls_stacks(linkage, binary).items():
            stacks.setdefault(name, chain)
    return {
        "binaries": sorted(linkage.binaries),
        "curl_flavors": flavors,
        "tls_stacks": stacks,
        "gmp_loaded": any("libgmp.so.10" in loaded(b) for b in linkage.binaries.values()),
        "gmp_hook": any(b.gmp_hook or b.stg_gmp_alloc for b in linkage.binaries.values()),
    }
