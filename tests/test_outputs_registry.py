"""The output registry: a format is one registered function of the ReportContext, and nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from compat.cli import main
from compat.outputs.context import ReportContext
from compat.outputs.registry import FORMATS, register, unregister
from compat.results import CellResult
from tests.conftest import ROOT
from tests.test_cli_and_report import stored_run


def test_the_formats_are_registered_by_their_file_names_in_the_order_they_are_written() -> None:
    assert list(FORMATS)[:7] == ["latest.md", "summary.md", "latest.json", "latest.html", "matrix.junit.xml",
                                 "feed.atom", "badge.svg"]


def test_a_format_added_through_the_registry_alone_is_written_by_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stored_run(tmp_path, "a", "matrix",
               CellResult("ghc96", "ganeti-3.1", "gnutls", status="pass", started="2026-11-25T03:00:00+00:00"))
    report = ["--matrix", str(ROOT / "matrix.yaml"), "--reports", str(tmp_path), "report"]

    @register("cells.txt")
    def cells_text(context: ReportContext) -> str:
        return "".join(f"{r.key}: {r.status}\n" for r in context.results) + f"baseline {context.baseline}\n"

    try:
        assert main(report) == 0
    finally:
        unregister("cells.txt")
    assert (tmp_path / "cells.txt").read_text() == "ghc96--ganeti-3.1--gnutls: pass\nbaseline ghc96\n"
    assert f"wrote {tmp_path / 'cells.txt'}" in capsys.readouterr().out
    (tmp_path / "cells.txt").unlink()
    assert main(report) == 0 and not (tmp_path / "cells.txt").exists()  # unregistered: no longer written


def test_two_formats_cannot_write_one_file() -> None:
    with pytest.raises(ValueError, match="latest.md"):
        register("latest.md")(lambda context: "")
    assert FORMATS["latest.md"].__module__ == "compat.outputs.markdown"


def imports_of(path: Path, package: Path) -> set[str]:
    """The compat modules a module names in any import statement, at its top or inside a function."""
    names: set[str] = set()
    modules = {module_name(p, package) for p in package.rglob("*.py")}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            names |= submodules or {node.module}  # `from package import module` imports the module
    return names & modules


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_report_module_imports_one_that_imports_it_back() -> None:
    package = ROOT / "compat"
    graph = {module_name(p, package): imports_of(p, package) for p in package.rglob("*.py")}
    reports = [name for name in graph if name.startswith("compat.outputs") or name == "compat.report_text"]

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for after in graph[start] - seen:
            seen.add(after)
            if after == goal or reaches(after, goal, seen):
                return True
        return False

    assert [name for name in reports if reaches(name, name, set())] == []
