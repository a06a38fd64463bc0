"""Which cells a command works on: names given on the command line, a shard of the plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from compat import matrix as matrix_module
from compat.errors import ConfigError
from compat.matrix import Matrix
from compat.runner import Cell, plan


def names(given: list[str] | None, known: Mapping[str, object], default: list[str], what: str, file: Path) -> list[str]:
    found = []
    for item in given or []:
        found += [name for name in item.split(",") if name]
    if given is not None and not found:
        raise ConfigError(f"--{what} {' '.join(map(repr, given))} names no {what}; give one of: {', '.join(known)}")
    if found == [matrix_module.SELECT_ALL]:
        return list(known)
    for name in found:
        matrix_module.pick(known, name, what, file)
    return found or default


def shard(groups: list[list[Cell]], which: tuple[int, int] | None) -> list[list[Cell]]:
    """Shard I of N: every Nth group from the Ith, in the order of the plan. A group (the flavors of one
    toolchain and source) is never split, since its further flavors relink the first one's tree; every
    machine given the same matrix and selection gets the same slice, and the N slices are the whole plan."""
    if which is None:
        return groups
    index, count = which
    return groups[index - 1::count]


def select(m: Matrix, toolchains: list[str], source_names: list[str] | None, flavors: list[str] | None, file: Path,
           say: Callable[[str], None], primary_only: bool = False) -> list[list[Cell]]:
    """The planned groups; a flavor a toolchain does not list is said, and no cell at all is bad input."""
    groups = plan(m, toolchains, source_names, flavors, primary_only)
    for name in toolchains:
        unlisted = [f for f in flavors or [] if f not in m.toolchains[name].flavors]
        if unlisted:
            say(f"{name} does not list flavor {', '.join(unlisted)} (its flavors: "
                f"{', '.join(m.toolchains[name].flavors)}): no such cell")
    if not groups:
        raise ConfigError(f"{file}: no cell selected: toolchain(s) {', '.join(toolchains)} list none of the flavor(s) "
                          f"{', '.join(flavors or [])}; pick one a toolchain lists")
    return groups
