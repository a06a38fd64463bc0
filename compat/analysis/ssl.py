"""SSL verdicts: which TLS stacks a binary loads, who brings them, and whether GMP is at risk."""

from __future__ import annotations

import re
from dataclasses import dataclass

from compat.analysis.linkage import Binary, Linkage, chain, loaded

# jessie's GnuTLS 3.3 has a soname of Debian's own, libgnutls-deb0.so.28 (wheezy's 2.12 is libgnutls.so.26).
GNUTLS = re.compile(r"^libgnutls(?:-deb0)?\.so\.")
OPENSSL = re.compile(r"^libssl\.so\.")
GMP_USERS = re.compile(r"^(libhogweed|libgnutls(?:-deb0)?)\.so\.")
CURL_FLAVORS = {"libcurl-gnutls.so.4": "gnutls", "libcurl.so.4": "openssl"}


@dataclass(frozen=True)
class Flag:
    name: str
    evidence: tuple[str, ...]


def curl_flavor(binary: Binary) -> str | None:
    """The libcurl flavor the binary loads (None without libcurl; 'both' if it loads both)."""
    flavors = {CURL_FLAVORS[s] for s in loaded(binary) if s in CURL_FLAVORS}
    return flavors.pop() if len(flavors) == 1 else ("both" if flavors else None)


def tls_stacks(linkage: Linkage, binary: Binary) -> dict[str, list[str]]:
    """{'gnutls': chain, 'openssl': chain} for each TLS stack in the process."""
    stacks = {}
    for name, pattern in (("gnutls", GNUTLS), ("openssl", OPENSSL)):
        soname = next((s for s in sorted(loaded(binary)) if pattern.match(s)), None)
        if soname:
            stacks[name] = chain(linkage, binary, soname)
    return stacks


def mixed_tls_stacks(linkage: Linkage) -> Flag | None:
    """ssl:mixed-tls-stacks: GnuTLS and OpenSSL in one process, with the library chain that brings each."""
    evidence = []
    for binary in linkage.binaries.values():
        stacks = tls_stacks(linkage, binary)
        if len(stacks) == 2:
            evidence.append(f"{binary.path}: " + "; ".join(" -> ".join(c) for c in stacks.values()))
    return Flag("ssl:mixed-tls-stacks", tuple(evidence)) if evidence else None


def gmp_allocator_conflict(linkage: Linkage, replaces_gmp_allocator: bool | None) -> Flag | None:
    """ssl:gmp-allocator-conflict: the runtime hooks GMP's allocator while a TLS stack that uses libgmp is loaded.

    The hook symbol in the binary is the stronger evidence; the integer-gmp version alone stands in only
    when no binary could be inspected.
    """
    evidence = []
    for binary in linkage.binaries.values():
        users = sorted(s for s in loaded(binary) if GMP_USERS.match(s))
        hooked = binary.gmp_hook or binary.stg_gmp_alloc
        if users and "libgmp.so.10" in loaded(binary) and hooked:
            evidence.append(f"{binary.path}: RTS references __gmp_set_memory_functions while "
                            f"{', '.join(users)} use the same libgmp.so.10")
    if not linkage.binaries and replaces_gmp_allocator:
        evidence.append("integer-gmp < 1.0 replaces GMP's allocator (no binary to confirm the hook)")
    return Flag("ssl:gmp-allocator-conflict", tuple(evidence)) if evidence else None


def wrong_flavor(linkage: Linkage, soname: str) -> list[str]:
    """Binaries that load another libcurl than the flavor's soname (or more than one libcurl)."""
    wrong = []
    for binary in linkage.binaries.values():
        curls = sorted(s for s in loaded(binary) if s.startswith("libcurl"))
        if curls and curls != [soname]:
            wrong.append(f"{binary.path}: asked for {soname}, links {', '.join(curls)}")
    return wrong


def flavor_mismatch(linkage: Linkage, soname: str, curl_depends: list[str]) -> Flag | None:
    """ssl:flavor-mismatch: a binary links another libcurl than the cell's flavor, or the Haskell curl
    package declares one flavor for development and depends on the other at run time (each said as it is)."""
    evidence = wrong_flavor(linkage, soname)
    if note := declared_flavors(linkage, curl_depends):
        evidence.append(note)
    return Flag("ssl:flavor-mismatch", tuple(evidence)) if evidence else None


def declared_flavors(linkage: Linkage, curl_depends: list[str]) -> str | None:
    """What libghc-curl-dev declares when its development and runtime flavors differ, beside what is linked."""
    declared = package_flavors(curl_depends)
    if len(declared) < 2 or declared["dev"] == declared["runtime"]:
        return None
    linked = sorted({f for b in linkage.binaries.values() if (f := curl_flavor(b))})
    return (f"libghc-curl-dev declares the {declared['dev']} libcurl for development and depends on the "
            f"{declared['runtime']} libcurl at run time; the binaries link "
            + (", ".join(linked) if linked else "no libcurl that was inspected"))


def package_flavors(depends: list[str]) -> dict[str, str]:
    """The libcurl flavors a Debian package depends on: {'dev': ..., 'runtime': ...}."""
    found = {}
    for dependency in depends:
        name = dependency.split()[0] if dependency.split() else ""
        if match := re.fullmatch(r"libcurl4-(gnutls|openssl)-dev", name):
            found["dev"] = match.group(1)
        elif re.fullmatch(r"libcurl3(t64)?-gnutls", name):
            found["runtime"] = "gnutls"
        elif re.fullmatch(r"libcurl4(t64)?", name):
            found["runtime"] = "openssl"
    return found
