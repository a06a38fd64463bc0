"""Words every report format shares about a cell."""

from __future__ import annotations

from compat.results import CellResult
from compat.verdict import PROBE_UNMEASURED

GRID_FLAGS = {PROBE_UNMEASURED: "SSL unmeasured"}  # flags a grid cell shows beside its status


def grid_flags(result: CellResult) -> str:
    names = {flag["name"] for flag in result.flags}
    return "".join(f" ({said})" for name, said in GRID_FLAGS.items() if name in names)
