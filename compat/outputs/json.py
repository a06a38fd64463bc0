"""reports/latest.json: the cells shown, as they are stored, with the night's changes, for other tools."""

from __future__ import annotations

import json
from dataclasses import asdict

from compat.outputs.context import ReportContext
from compat.outputs.registry import register


@register("latest.json")
def render_json(context: ReportContext) -> str:
    # Each cell as it is stored (its keys sorted), without the indentation that only the pure-Python encoder makes.
    cells = [json.loads(json.dumps(r.data(), sort_keys=True)) for r in context.results]
    fault_cells = [json.loads(json.dumps(r.data(), sort_keys=True)) for r in context.faults]
    changes = context.changes
    return json.dumps({"title": context.title, "runs": sorted({r.run_id for r in context.results}), "cells": cells,
                       "fault_injection": fault_cells, "changes": asdict(changes) if changes else None,
                       "unreadable": context.unreadable},
                      indent=2, allow_nan=False) + "\n"
