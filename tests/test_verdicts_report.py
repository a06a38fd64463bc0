from __future__ import annotations

from pathlib import Path

from compat.analysis.abi import parse_pkg_dump
from compat.analysis.crosscell import common_failures, drift_against, focus_packages
from compat.analysis.linkage import from_ldd
from compat.facts import ssl_summary, verdicts
from compat.outputs.context import ReportContext
from compat.outputs.html import render_html
from compat.outputs.markdown import render_markdown
from compat.parts import Flag, GhcFacts, HaskellTests, ProbeFacts, SslFacts
from compat.report_text import ssl_choice
from compat.results import CellResult


def read(data: Path, *parts: str) -> str:
    return data.joinpath(*parts).read_text()


def toolchain_texts(data: Path, suite: str) -> dict[str, str]:
    names = ("ghc-info.txt", "ghc-pkg-list.txt", "ghc-pkg-check.txt", "ghc-pkg-dump.txt", "dpkg-libghc.tsv")
    return {name: read(data, "toolchains", suite, name) for name in names}


def test_bullseye_cell_gets_the_flavor_mismatch_flag_and_no_abi_flags(data: Path) -> None:
    found = verdicts(toolchain_texts(data, "bullseye"), "libcurl-gnutls.so.4")
    assert [flag.name for flag in found.flags] == ["ssl:flavor-mismatch"]
    assert found.ghc.version == "8.8.4"
    assert found.packages["curl"][0] == "1.3.8"


def test_sid_and_trixie_cells_carry_no_flags(data: Path) -> None:
    for suite in ("trixie", "sid"):
        assert verdicts(toolchain_texts(data, suite), "libcurl-gnutls.so.4").flags == ()


def test_ssl_table_from_real_trixie_ganeti_linkage(data: Path) -> None:
    linkage = from_ldd(read(data, "ganeti", "3.1-trixie-ldd.txt"))
    found = verdicts(toolchain_texts(data, "trixie"), "libcurl-gnutls.so.4")
    cell = CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass", ghc=GhcFacts.from_dict(found.ghc.as_dict()),
                      ssl=SslFacts.from_dict(ssl_summary(linkage)), flags=[Flag("ssl:mixed-tls-stacks", ("both",))],
                      ssl_recommendation="GnuTLS safe with this GHC")
    assert cell.ssl is not None and cell.ssl.curl_flavors == ("gnutls",) and cell.ssl.gmp_hook is False
    text = render_markdown(ReportContext([cell], "t"))
    row = next(line for line in text.splitlines() if line.startswith("| ghc96 ") and "ganeti-3.1" in line)
    assert "ghc-bignum 1.3" in row and "| no " in row and "ssl:mixed-tls-stacks" in row
    assert "gnutls: libgnutls.so.30; openssl: libssl.so.3" in row
    assert row.endswith("| GnuTLS safe with this GHC |")


def test_failures_common_to_every_toolchain_are_the_environment() -> None:
    tests = lambda *names: HaskellTests(456, 456 - len(names), len(names), names)
    cells = [CellResult("ghc96", "g", "gnutls", status="test-fail", tests=tests("Luxi/AllDefined", "THH/x")),
             CellResult("ghc910", "g", "gnutls", status="test-fail", tests=tests("Luxi/AllDefined")),
             CellResult("ghc90", "other", "gnutls", status="test-fail", tests=tests("Luxi/AllDefined"))]
    assert common_failures(cells) == {"g": {"Luxi/AllDefined"}}
    text = render_markdown(ReportContext(cells, "t"))
    assert "common to every toolchain (environment): 1; specific to this toolchain: 1" in text


def test_drift_table_against_the_baseline(data: Path) -> None:
    def cell(toolchain: str, suite: str) -> CellResult:
        dump = parse_pkg_dump(read(data, "toolchains", suite, "ghc-pkg-dump.txt"))
        return CellResult(toolchain, "ganeti-3.1", "gnutls", packages={p.name: [p.version, p.abi] for p in dump.values()})

    focus = focus_packages(("ghc", "libghc-curl-dev", "libghc-network-dev"))
    assert focus == {"curl", "network"}
    cells = [cell("ghc96", "trixie"), cell("ghc90", "bookworm"), cell("ghc90", "bookworm")]
    cells[2].flavor = "openssl"
    tables = drift_against(cells, "ghc96", focus)
    assert list(tables) == ["ghc90--ganeti-3.1"]  # one table for both flavors: one package database
    assert [row[0] for row in tables["ghc90--ganeti-3.1"]] == ["curl"]
    text = render_markdown(ReportContext(cells, "t", baseline="ghc96", focus=focus))
    assert "abi:drift of ghc90--ganeti-3.1 against ghc96: 1 of Ganeti's Haskell dependencies moved" in text


def test_two_flavors_of_one_toolchain_are_not_every_toolchain() -> None:
    tests = HaskellTests(456, 455, 1, ("Luxi/AllDefined",))
    cells = [CellResult("ghc96", "g", "gnutls", status="test-fail", tests=tests),
             CellResult("ghc96", "g", "openssl", status="test-fail", tests=tests)]
    assert common_failures(cells) == {}
    assert "common to every toolchain" not in render_markdown(ReportContext(cells, "t"))


def test_the_ssl_choice_is_said_once_per_toolchain_with_its_evidence(data: Path) -> None:
    def cell(flavor: str, soname: str, fed: float) -> CellResult:
        linkage = from_ldd(read(data, "ganeti", "3.1-trixie-ldd.txt").replace("libcurl-gnutls.so.4", soname))
        return CellResult("ghc96", "ganeti-3.1", flavor, status="pass", ssl=SslFacts.from_dict(ssl_summary(linkage)),
                          probe=ProbeFacts.from_dict({"gmp_allocations_per_request": fed}), ssl_recommendation="GnuTLS safe with this GHC")
    said = ssl_choice([cell("gnutls", "libcurl-gnutls.so.4", 35.0), cell("openssl", "libcurl.so.4", 0.0)])
    untraced = "a library the inspection did not trace"  # plain ldd output has no tree
    assert said == {"ghc96": (f"GnuTLS safe with this GHC. gnutls flavor (ganeti-3.1): loads gnutls through {untraced}; "
                              f"openssl through {untraced}, GnuTLS used for TLS (35.0 GMP allocations per request). "
                              f"openssl flavor (ganeti-3.1): loads gnutls through {untraced}; openssl through "
                              f"{untraced}, GnuTLS not used for TLS (0 GMP allocations per request)")}
    assert "- **ghc96**: GnuTLS safe with this GHC. gnutls flavor" in render_markdown(ReportContext([cell("gnutls", "x", 1.0)], "t"))


def test_a_probe_that_counted_no_request_reads_the_same_in_the_page_and_the_markdown() -> None:
    # A probe whose per-request count is stored as null (no request was counted): "-" in both tables, never "None".
    cell = CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass", ssl=SslFacts.from_dict({"curl_flavors": ["gnutls"]}),
                      probe=ProbeFacts.from_dict({"plain": "pass", "gmp_allocations_per_request": None}),
                      ssl_recommendation="GnuTLS safe with this GHC")
    context = ReportContext([cell], "t")
    page = render_html(context)
    row = page[page.index("<td>ghc96</td><td>ganeti-3.1</td><td>gnutls</td><td>gnutls</td>"):]
    assert row[:row.index("</tr>")].endswith("<td>pass</td><td>-</td><td>GnuTLS safe with this GHC</td>")
    line = next(line for line in render_markdown(context).splitlines() if line.startswith("| ghc96 "))
    assert "None" not in line and "None" not in page
