"""Writes every registered format into reports/."""

from __future__ import annotations

from pathlib import Path

from compat.outputs.context import ReportContext
from compat.outputs.registry import FORMATS
from compat.results import write_atomic


def write_reports(reports: Path, context: ReportContext) -> list[Path]:
    """reports/<file name> for each registered format (latest.md, summary.md, latest.json, latest.html,
    matrix.junit.xml, feed.atom, badge.svg and any added since)."""
    written = []
    for name, render in list(FORMATS.items()):
        write_atomic(reports / name, render(context))
        written.append(reports / name)
    return written
