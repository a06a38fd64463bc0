from __future__ import annotations

from pathlib import Path

import pytest

from compat.analysis.abi import broken_packages, drift, hash_mismatches, parse_dpkg, parse_pkg_dump
from compat.analysis.linkage import Linkage, chain, from_ldd, parse_inspect
from compat.analysis.ssl import (
    curl_flavor,
    flavor_mismatch,
    gmp_allocator_conflict,
    mixed_tls_stacks,
    tls_stacks,
    wrong_flavor,
)
from compat.analysis.toolchain import ghc_facts

SUITES = ("bullseye", "bookworm", "trixie", "sid")


def toolchain(data: Path, suite: str, name: str) -> str:
    return (data / "toolchains" / suite / name).read_text()


def curl_depends(data: Path, suite: str) -> list[str]:
    return list(parse_dpkg(toolchain(data, suite, "dpkg-libghc.tsv"))["libghc-curl-dev"].depends)


def test_bullseye_curl_package_declares_openssl_but_depends_on_gnutls(data: Path) -> None:
    flag = flavor_mismatch(Linkage(), "libcurl.so.4", curl_depends(data, "bullseye"))
    assert flag is not None
    assert flag.evidence == (("libghc-curl-dev declares the openssl libcurl for development and depends on the gnutls "
                             "libcurl at run time; the binaries link no libcurl that was inspected"),)


@pytest.mark.parametrize("suite", ["bookworm", "trixie", "sid"])
def test_later_suites_declare_one_flavor(data: Path, suite: str) -> None:
    assert flavor_mismatch(Linkage(), "libcurl-gnutls.so.4", curl_depends(data, suite)) is None


@pytest.mark.parametrize("suite", SUITES)
def test_no_allocator_conflict_for_ghc_88_to_910(data: Path, suite: str) -> None:
    facts = ghc_facts(toolchain(data, suite, "ghc-info.txt"), toolchain(data, suite, "ghc-pkg-list.txt"))
    assert facts.replaces_gmp_allocator is False
    assert gmp_allocator_conflict(Linkage(), facts.replaces_gmp_allocator) is None


def test_trixie_ganeti_binaries_load_both_tls_stacks(data: Path) -> None:
    linkage = from_ldd((data / "ganeti/3.1-trixie-ldd.txt").read_text())
    assert set(linkage.binaries) == {"exe/htools", "exe/ganeti-confd", "exe/ganeti-luxid", "exe/htest"}
    flag = mixed_tls_stacks(linkage)
    assert flag is not None and len(flag.evidence) == 4
    htools = linkage.binaries["exe/htools"]
    assert curl_flavor(htools) == "gnutls"
    assert set(tls_stacks(linkage, htools)) == {"gnutls", "openssl"}
    # Without the hook, GnuTLS's use of libgmp is no conflict (GHC 9.6).
    assert gmp_allocator_conflict(linkage, False) is None
    mismatch = flavor_mismatch(linkage, "libcurl.so.4", [])
    assert mismatch is not None
    assert mismatch.evidence[0] == "exe/htools: asked for libcurl.so.4, links libcurl-gnutls.so.4"
    assert flavor_mismatch(linkage, "libcurl-gnutls.so.4", []) is None


INSPECTED = """\
== object exe/probe
needed libcurl.so.4
needed libgmp.so.10
resolved libcurl.so.4 /usr/lib/x86_64-linux-gnu/libcurl.so.4
resolved librtmp.so.1 /usr/lib/x86_64-linux-gnu/librtmp.so.1
resolved libgnutls.so.30 /usr/lib/x86_64-linux-gnu/libgnutls.so.30
resolved libhogweed.so.6 /usr/lib/x86_64-linux-gnu/libhogweed.so.6
resolved libssl.so.3 /usr/lib/x86_64-linux-gnu/libssl.so.3
resolved libgmp.so.10 /usr/lib/x86_64-linux-gnu/libgmp.so.10
gmp-hook __gmp_set_memory_functions
== object /usr/lib/x86_64-linux-gnu/libcurl.so.4
needed librtmp.so.1
needed libssl.so.3
== object /usr/lib/x86_64-linux-gnu/librtmp.so.1
needed libgnutls.so.30
needed libhogweed.so.6
== object /usr/lib/x86_64-linux-gnu/libgnutls.so.30
needed libhogweed.so.6
== object /usr/lib/x86_64-linux-gnu/libhogweed.so.6
needed libgmp.so.10
"""


def test_the_tree_says_which_library_brings_gnutls() -> None:
    linkage = parse_inspect(INSPECTED)
    probe = linkage.binaries["exe/probe"]
    assert chain(linkage, probe, "libgnutls.so.30") == ["probe", "libcurl.so.4", "librtmp.so.1", "libgnutls.so.30"]
    flag = mixed_tls_stacks(linkage)
    assert flag is not None
    assert flag.evidence == (("exe/probe: probe -> libcurl.so.4 -> librtmp.so.1 -> libgnutls.so.30; "
                              "probe -> libcurl.so.4 -> libssl.so.3"),)


def test_hook_plus_gmp_using_tls_is_the_conflict() -> None:
    flag = gmp_allocator_conflict(parse_inspect(INSPECTED), None)
    assert flag is not None and "libgnutls.so.30, libhogweed.so.6" in flag.evidence[0]
    unhooked = parse_inspect(INSPECTED.replace("gmp-hook __gmp_set_memory_functions\n", ""))
    assert gmp_allocator_conflict(unhooked, None) is None


# jessie (the GHC 7.8 and 7.10 toolchains): GnuTLS 3.3 under Debian's own soname, nettle 2.7's sonames.
JESSIE = """\
== object exe/htools
needed libcurl-gnutls.so.4
needed libgmp.so.10
resolved libcurl-gnutls.so.4 /usr/lib/x86_64-linux-gnu/libcurl-gnutls.so.4
resolved librtmp.so.1 /usr/lib/x86_64-linux-gnu/librtmp.so.1
resolved libgnutls-deb0.so.28 /usr/lib/x86_64-linux-gnu/libgnutls-deb0.so.28
resolved libnettle.so.4 /usr/lib/x86_64-linux-gnu/libnettle.so.4
resolved libhogweed.so.2 /usr/lib/x86_64-linux-gnu/libhogweed.so.2
resolved libgmp.so.10 /usr/lib/x86_64-linux-gnu/libgmp.so.10
gmp-hook __gmp_set_memory_functions
== object /usr/lib/x86_64-linux-gnu/libcurl-gnutls.so.4
needed librtmp.so.1
needed libgnutls-deb0.so.28
== object /usr/lib/x86_64-linux-gnu/librtmp.so.1
needed libgnutls-deb0.so.28
needed libhogweed.so.2
needed libnettle.so.4
needed libgmp.so.10
== object /usr/lib/x86_64-linux-gnu/libgnutls-deb0.so.28
needed libnettle.so.4
needed libhogweed.so.2
needed libgmp.so.10
== object /usr/lib/x86_64-linux-gnu/libhogweed.so.2
needed libnettle.so.4
needed libgmp.so.10
"""


def test_jessies_gnutls_and_nettle_sonames_are_recognised() -> None:
    linkage = parse_inspect(JESSIE)
    htools = linkage.binaries["exe/htools"]
    assert curl_flavor(htools) == "gnutls"
    assert tls_stacks(linkage, htools) == {"gnutls": ["htools", "libcurl-gnutls.so.4", "libgnutls-deb0.so.28"]}
    flag = gmp_allocator_conflict(linkage, None)
    assert flag is not None and "libgnutls-deb0.so.28, libhogweed.so.2 use the same libgmp.so.10" in flag.evidence[0]


def test_old_integer_gmp_without_binaries_is_still_reported() -> None:
    flag = gmp_allocator_conflict(Linkage(), True)
    assert flag is not None and "integer-gmp < 1.0" in flag.evidence[0]


def test_broken_package_database(data: Path) -> None:
    flag = broken_packages((data / "errors/ghc-pkg-check-broken.txt").read_text())
    assert flag is not None and len(flag.evidence) == 6
    assert flag.evidence[0] == 'network-bsd-2.8.1.0: dependency "network-3.1.4.0-I6jFfdQwj0Q5FZzAobit5e" doesn\'t exist'
    for suite in SUITES:  # trixie's and sid's include-dirs warnings are no broken packages
        assert broken_packages(toolchain(data, suite, "ghc-pkg-check.txt")) is None


@pytest.mark.parametrize("suite", SUITES)
def test_debian_provides_hashes_agree_with_ghc_pkg(data: Path, suite: str) -> None:
    hs = parse_pkg_dump(toolchain(data, suite, "ghc-pkg-dump.txt"))
    debs = parse_dpkg(toolchain(data, suite, "dpkg-libghc.tsv"))
    assert "curl" in hs and hs["curl"].abi
    assert hash_mismatches(hs, debs) is None


def test_a_rebuilt_package_is_a_hash_mismatch(data: Path) -> None:
    hs = parse_pkg_dump(toolchain(data, "trixie", "ghc-pkg-dump.txt"))
    text = toolchain(data, "trixie", "dpkg-libghc.tsv")
    provided = next(p for p in parse_dpkg(text)["libghc-curl-dev"].provides if p.startswith("libghc-curl-dev-"))
    flag = hash_mismatches(hs, parse_dpkg(text.replace(provided, provided[:-5] + "00000")))
    assert flag is not None and flag.evidence[0].startswith("libghc-curl-dev provides libghc-curl-dev-1.3.8-00000")


def test_drift_between_bookworm_and_trixie(data: Path) -> None:
    bookworm = parse_pkg_dump(toolchain(data, "bookworm", "ghc-pkg-dump.txt"))
    trixie = parse_pkg_dump(toolchain(data, "trixie", "ghc-pkg-dump.txt"))
    rows = {name: (before, after) for name, before, after in drift(bookworm, trixie, {"curl", "base"})}
    assert set(rows) == {"curl", "base"}  # curl keeps its version, but its ABI moves with base
    assert rows["curl"][0].startswith("1.3.8 (") and rows["curl"][1].startswith("1.3.8 (")
    assert rows["curl"][0] != rows["curl"][1]
    assert drift(trixie, trixie) == []


def test_a_cell_asking_for_gnutls_with_an_openssl_linked_binary_is_wrong() -> None:
    linkage = parse_inspect(INSPECTED)
    assert wrong_flavor(linkage, "libcurl.so.4") == []
    assert wrong_flavor(linkage, "libcurl-gnutls.so.4") == [
        "exe/probe: asked for libcurl-gnutls.so.4, links libcurl.so.4"]
