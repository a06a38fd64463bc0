"""One exit-code module: every command takes its codes from compat.exits and ends in its reducer, the README
documents exactly its codes, and the exported CI's rule for a cell job is derived from it."""

from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

from compat import exits
from compat.ci import jobs as ci_jobs
from compat.cli import parser
from compat.exits import Found, reduce
from tests.conftest import ROOT

COMMANDS = ROOT / "compat" / "commands"
CODES = {name: value for name, value in vars(exits).items() if name.startswith("EXIT_")}


def literal_codes(path: Path) -> list[str]:
    """Integer literals where an exit code goes: returned, compared with a code, or given to exit()."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant) and type(node.value.value) is int:
            found.append(f"{path.name}:{node.lineno}: return {node.value.value}")
        if isinstance(node, ast.Compare) and "code" in ast.unparse(node).lower():
            numbers = [n for n in ast.walk(node) if isinstance(n, ast.Constant) and type(n.value) is int]
            found += [f"{path.name}:{node.lineno}: {ast.unparse(node)}" for _ in numbers[:1]]
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("exit") and any(
                isinstance(a, ast.Constant) and type(a.value) is int for a in node.args):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_every_command_takes_its_exit_codes_from_the_exit_module() -> None:
    modules = sorted(COMMANDS.glob("*.py"))
    assert len(modules) > 5, "compat/commands/ holds the commands"
    assert [found for path in [*modules, ROOT / "compat" / "cli.py"] for found in literal_codes(path)] == []


def test_no_module_but_the_exit_module_defines_an_exit_code() -> None:
    defined = []
    for path in sorted((ROOT / "compat").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and path.name != "exits.py":
                defined += [f"{path.relative_to(ROOT)}: {t.id}" for t in node.targets
                            if isinstance(t, ast.Name) and t.id.startswith("EXIT_")]
    assert defined == []


def test_every_command_the_parser_knows_is_a_command_module() -> None:
    sub = next(a for a in parser()._actions if a.dest == "command")
    homes = {name: each.get_default("func").__module__ for name, each in sub.choices.items()}  # type: ignore[attr-defined]
    assert {name: home for name, home in homes.items() if not home.startswith("compat.commands.")} == {}


def test_the_readme_documents_exactly_the_exit_modules_codes() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Exit codes"):readme.index("## Reliability")]
    assert {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)} == set(CODES.values())


def test_the_reducer_answers_the_first_thing_found_in_the_documented_order() -> None:
    order = [reduce(Found(**{each.name: True})) for each in fields(Found)]
    assert order == [exits.EXIT_CELL_FAILED, exits.EXIT_STORAGE, exits.EXIT_UNAVAILABLE, exits.EXIT_ERRORS]
    assert reduce(Found()) == exits.EXIT_OK
    for i, each in enumerate(fields(Found)):  # whatever comes later in the order, the first one decides
        later = {other.name: True for other in fields(Found)[i:]}
        assert reduce(Found(**later)) == order[i], each.name


def test_a_new_fact_takes_its_place_in_the_order_by_its_field_alone() -> None:
    """A throwaway fact declared like Found's own: reduce needs no change to answer it, in its place."""
    from dataclasses import make_dataclass

    field_of = {each.name: each for each in fields(Found)}
    spec = [(name, bool, field_of[name]) for name in ("failed", "unreadable")]
    spec.append(("flaky", bool, exits.means(99)))
    spec += [(name, bool, field_of[name]) for name in ("unavailable", "errors")]
    wider = make_dataclass("Wider", spec, frozen=True)
    assert exits.reduce(wider(flaky=True, unavailable=True)) == 99  # type: ignore[arg-type]
    assert exits.reduce(wider(unreadable=True, flaky=True)) == exits.EXIT_STORAGE  # type: ignore[arg-type]


@pytest.mark.parametrize("code", sorted(set(CODES.values()) | {7, 42}))
def test_the_exported_cell_job_fails_exactly_when_the_exit_module_says(code: int) -> None:
    assert ci_jobs.TOLERATED is exits.RESULTS
    script = ci_jobs.tolerate(f"sh -c 'exit {code}'")
    job = subprocess.run(["sh", "-c", script], check=False).returncode
    assert (job != 0) == exits.job_failed(code), (code, script)
    assert job in (0, code)
