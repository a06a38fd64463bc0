"""The matrix report: a toolchain x source grid (Markdown) and the same data as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tabulate import tabulate

from compat.results import CellResult, write_atomic


def cell_text(result: CellResult) -> str:
    """What one grid cell says: status, tests passed/total, cause."""
    text = result.status
    if result.cause:
        text += f" ({result.cause})"
    if result.tests and result.tests.get("total"):
        text += f" {result.tests['passed']}/{result.tests['total']}"
    if result.flavor:
        text += f" [{result.flavor}]"
    return text


def render_markdown(results: list[CellResult], title: str) -> str:
    toolchains = list(dict.fromkeys(r.toolchain for r in results))
    sources = list(dict.fromkeys(r.source for r in results))
    grid = {(r.toolchain, r.source): [] for r in results}  # type: dict[tuple[str, str], list[str]]
    for r in results:
        grid[(r.toolchain, r.source)].append(cell_text(r))
    rows = []
    for toolchain in toolchains:
        ghc = next((r.ghc or {} for r in results if r.toolchain == toolchain and r.ghc), {})
        label = f"{toolchain} (GHC {ghc['version']}, {ghc.get('integer_library')} {ghc.get('integer_library_version')})" \
            if ghc.get("version") else toolchain
        rows.append([label] + ["<br>".join(grid.get((toolchain, s), ["-"])) for s in sources])
    lines = [f"# Ganeti toolchain compatibility: {title}", "",
             tabulate(rows, headers=["toolchain"] + sources, tablefmt="github"), ""]
    details = [r for r in results if r.status != "pass"]
    if details:
        lines += ["## Why cells did not pass", ""]
    for r in details:
        lines.append(f"### {r.toolchain} × {r.source} [{r.flavor}]: {r.status}{f' ({r.cause})' if r.cause else ''}")
        lines.append("")
        lines += ["```"] + [line.replace("```", "'''") for line in r.evidence] + ["```", ""]
        if r.logs:
            lines.append("Logs: " + ", ".join(f"{step}: `runs/{r.run_id}/{path}`" for step, path in r.logs.items()))
            lines.append("")
    timing_rows = [[r.toolchain, r.source] + [str(r.timings.get(step, "")) for step in
                   ("image", "fetch", "configure", "build", "test")] for r in results]
    lines += ["## Timings (seconds)", "",
              tabulate(timing_rows, headers=["toolchain", "source", "image", "fetch", "configure", "build", "test"],
                       tablefmt="github"), ""]
    return "\n".join(lines)


def render_json(results: list[CellResult], title: str) -> str:
    return json.dumps({"title": title, "runs": sorted({r.run_id for r in results}), "cells": [json.loads(r.to_json()) for r in results]}, indent=2) + "\n"


def write_reports(reports: Path, results: list[CellResult], title: str) -> list[Path]:
    """reports/latest.md and reports/latest.json."""
    written = []
    for name, text in (("latest.md", render_markdown(results, title)), ("latest.json", render_json(results, title))):
        write_atomic(reports / name, text)
        written.append(reports / name)
    return written
