"""A run's cells and what the runner needs around them: the groups it plans, the engine and images it
asks, and what it gathers in one cell before the judge reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from compat.engine import RunOutcome
from compat.images import Image
from compat.matrix import Limits, Matrix, Recipe, Source, Toolchain
from compat.outcome import StepRecord
from compat.results import CellResult, cell_key


class EngineLost(Exception):
    """The Docker engine stopped answering: the cells in flight are errors, the run cannot go on."""


class Stopped(BaseException):
    """The run was stopped (interrupted) while this group ran: no further step, no result stored.
    Not an Exception, so that a cell's `except Exception` never turns it into a result."""


class CellEngine(Protocol):
    """What the runner asks of an engine (compat.engine.Engine; an in-memory one in the unit tests)."""

    def cpus(self) -> int: ...
    def alive(self) -> bool: ...
    def image_id(self, ref: str) -> str | None: ...
    def read_archive(self, image: str, volume: str, mount: str, path: str) -> bytes | None: ...
    def create_volume(self, name: str, labels: dict[str, str]) -> None: ...
    def remove_volume(self, name: str) -> None: ...
    def put_tree(self, image: str, volume: str, mount: str, tar_bytes: bytes, dest: str) -> None: ...
    def read_file(self, image: str, volume: str, mount: str, path: str) -> bytes | None: ...
    def run(self, image: str, argv: list[str], *, log: Path, volume: str, mount: str, workdir: str, root: bool,
            network: bool, timeout: float, env: dict[str, str], labels: dict[str, str],
            limits: Limits | None = None) -> RunOutcome: ...


class Images(Protocol):
    def ensure(self, toolchain: Toolchain, recipe: Recipe, log: Path) -> Image: ...
    def flavored(self, image: Image, toolchain: Toolchain, flavor: str, soname: str, log: Path) -> Image: ...
    def release(self) -> None: ...


@dataclass(frozen=True)
class ProbeSettings:
    requests: int = 20
    fault: str | None = None  # "hostile-gmp": the fault-injection run


@dataclass(frozen=True)
class Cell:
    toolchain: Toolchain
    source: Source
    flavor: str

    @property
    def key(self) -> str:
        return cell_key(self.toolchain.name, self.source.name, self.flavor)


@dataclass
class Collected:
    """What happened in one cell, gathered as it runs (paths relative to the run directory); judged once
    at the end, from what it stored (compat.outcome)."""

    unavailable: str | None = None
    runner_error: str | None = None
    engine_lost: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    junit: str | None = None
    texts: dict[str, str] = field(default_factory=dict)  # inspected facts: file name -> log path
    incomplete: list[str] = field(default_factory=list)
    probe: str | None = None  # the probe's log
    probe_timed_out: bool = False
    missing_packages: tuple[str, ...] = ()
    taken: CellResult | None = None  # an earlier run's result of the same inputs, taken instead of running

    def failed(self) -> bool:
        return self.runner_error is not None or any(step.exit_code != 0 or step.out_of_memory for step in self.steps)

    def built(self) -> bool:
        return any(step.name == "build" and step.exit_code == 0 and not step.out_of_memory for step in self.steps)


def plan(matrix: Matrix, toolchains: list[str], source_names: list[str] | None, flavors: list[str] | None = None,
         primary_only: bool = False) -> list[list[Cell]]:
    """Groups of cells, one group per toolchain and source, one cell per SSL flavor (the default first).
    Without source names, each toolchain's default sources (only its primary one, the first, if asked)."""
    groups = []
    for t in toolchains:
        toolchain = matrix.toolchains[t]
        ordered = [toolchain.default_flavor] + [f for f in toolchain.flavors if f != toolchain.default_flavor]
        chosen = [f for f in ordered if flavors is None or f in flavors]
        defaults = matrix.sources_of(t)
        for s in source_names if source_names is not None else defaults[:1] if primary_only else defaults:
            if chosen:
                groups.append([Cell(toolchain, matrix.sources[s], flavor) for flavor in chosen])
    return groups


def volume_name(run_id: str, toolchain: str, source: str) -> str:
    """The volume of one group. Names hold no "--" and a run id no "+": it is a valid volume name, and read
    from the right it is unambiguous, so no two groups of any runs share one."""
    return f"ganeti-compat-{run_id}--{toolchain}--{source}"
