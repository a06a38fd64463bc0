"""What to ask a finished cell's container, and the verdicts drawn from the answers (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compat.analysis.abi import broken_packages, hash_mismatches, parse_dpkg, parse_pkg_dump
from compat.analysis.linkage import Linkage, loaded, parse_inspect
from compat.analysis.ssl import (
    Flag,
    curl_flavor,
    flavor_mismatch,
    gmp_allocator_conflict,
    mixed_tls_stacks,
    tls_stacks,
    wrong_flavor,
)
from compat.analysis.toolchain import GhcFacts, ghc_facts

DPKG_FORMAT = "${Package}\t${Version}\t${Provides}\t${Depends}\n"
INSPECT_SCRIPT = "/build/.compat/inspect-build"


def toolchain_commands() -> dict[str, list[str]]:
    """Asked of every cell, whatever its outcome: the toolchain and its package database."""
    return {
        "ghc-info.txt": ["ghc", "--info"],
        "ghc-pkg-list.txt": ["ghc-pkg", "list", "--global", "--simple-output"],
        "ghc-pkg-check.txt": ["ghc-pkg", "check"],
        "ghc-pkg-dump.txt": ["ghc-pkg", "dump", "--global"],
        "dpkg-libghc.tsv": ["dpkg-query", "-W", f"-f={DPKG_FORMAT}", "libghc-*", "ghc"],
    }


def binary_commands(binaries: tuple[str, ...]) -> dict[str, list[str]]:
    """Asked once the build produced binaries: their linkage tree and GMP hook symbols."""
    return {"linkage.txt": ["sh", INSPECT_SCRIPT, *binaries]} if binaries else {}


@dataclass(frozen=True)
class Verdicts:
    ghc: GhcFacts
    ssl: dict[str, Any]
    packages: dict[str, list[str]]
    flags: tuple[Flag, ...]
    wrong_flavor: tuple[str, ...]  # binaries that link another libcurl than the cell's flavor


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
                    tuple(flag for flag in found if flag), tuple(wrong_flavor(linkage, soname)))


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
