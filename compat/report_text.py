"""Words every report format shares: a cell's grid text and flags, and the SSL choice per toolchain."""

from __future__ import annotations

from compat.results import CellResult
from compat.verdict import PROBE_UNMEASURED

GRID_FLAGS = {PROBE_UNMEASURED: "SSL unmeasured"}  # flags a grid cell shows beside its status


def grid_flags(result: CellResult) -> str:
    names = {flag.name for flag in result.flags}
    return "".join(f" ({said})" for name, said in GRID_FLAGS.items() if name in names)


def cell_text(result: CellResult) -> str:
    """What one grid cell says: status, cause, tests passed/total, flavor."""
    text = str(result.status)
    if result.cause:
        text += f" ({result.cause})"
    if result.tests and result.tests.total:
        text += f" {result.tests.passed}/{result.tests.total}"
    text += grid_flags(result)
    if result.flavor:
        text += f" [{result.flavor}]"
    if result.started:
        text += f" {result.started[:10]}"  # an old result never passes for a fresh one
    if result.reused_from:
        text += f" (unchanged since run {result.reused_from})"
    return text


def ssl_choice(results: list[CellResult]) -> dict[str, str]:
    """Once per toolchain, the library choice and the evidence behind it: the recommendation, and per
    flavor which TLS stacks the binaries load, through what, and whether GnuTLS is used for TLS."""
    said: dict[str, str] = {}
    for toolchain in dict.fromkeys(r.toolchain for r in results):
        cells = [r for r in results if r.toolchain == toolchain and r.ssl and not r.status.infrastructure]
        if not cells:
            continue
        source = cells[0].source  # one source speaks for the toolchain: the binaries' libraries are the suite's
        parts = [cells[0].ssl_recommendation or "unknown: no recommendation recorded"]
        for r in (c for c in cells if c.source == source):
            stacks = r.ssl.tls_stacks if r.ssl else {}
            loaded = "; ".join(f"{name} through {_brought_by(chain)}" for name, chain in stacks.items()) or "no TLS library"
            fed = r.probe.gmp_allocations_per_request if r.probe else None
            use = "" if fed is None else (f", GnuTLS used for TLS ({fed} GMP allocations per request)" if fed
                                          else ", GnuTLS not used for TLS (0 GMP allocations per request)"
                                          if "gnutls" in stacks else "")
            parts.append(f"{r.flavor} flavor ({source}): loads {loaded}{use}")
        said[toolchain] = ". ".join(parts)
    return said


def _brought_by(chain: tuple[str, ...]) -> str:
    """binary -> lib -> ... -> stack: what brings the stack; a bare soname means the tree was not known."""
    if len(chain) < 2:
        return "a library the inspection did not trace"
    return " -> ".join(chain[1:-1]) or "the binary itself"
