"""Run cells: image, fetch, prepare, configure, build, test, inspect; each step timed and logged."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compat import facts, sources
from compat.analysis.failures import classify_build, crash_evidence
from compat.analysis.junit import parse_junit
from compat.engine import LABEL, Engine
from compat.errors import ToolchainUnavailable
from compat.images import IMAGES_DIR, Image, ImageBuilder, tar_directory
from compat.matrix import STEPS, Matrix, Recipe, Source, Toolchain
from compat.results import CellResult, cell_key

MOUNT = "/build"
SRC = "/build/src"
OUT = "/build/out"
INSPECT_TIMEOUT = 120
MISSING_PACKAGES = "/usr/share/ganeti-compat/missing-packages.txt"  # written by images/debian.Dockerfile


@dataclass(frozen=True)
class Cell:
    toolchain: Toolchain
    source: Source
    flavor: str

    @property
    def key(self) -> str:
        return cell_key(self.toolchain.name, self.source.name, self.flavor)


def plan(matrix: Matrix, toolchains: list[str], source_names: list[str]) -> list[Cell]:
    """Cells for the named toolchains and sources, each in its toolchain's default SSL flavor."""
    return [Cell(matrix.toolchains[t], matrix.sources[s], matrix.toolchains[t].default_flavor)
            for t in toolchains for s in source_names]


def expand(argv: tuple[str, ...], values: dict[str, str]) -> list[str]:
    """Fill {placeholders} in each argument on its own: no argument is ever parsed by a shell."""
    return [arg.format_map(values) if "{" in arg else arg for arg in argv]


class StepFailed(Exception):
    def __init__(self, step: str, exit_code: int | None, log: Path) -> None:
        super().__init__(step)
        self.step, self.exit_code, self.log = step, exit_code, log


class CellRunner:
    """Runs one cell after another in fresh volumes; a failed cell is a result, never an exception."""

    def __init__(self, engine: Engine, matrix: Matrix, run_dir: Path, cache: Path, say: Callable[[str], None],
                 keep: bool = False) -> None:
        self.engine, self.matrix, self.run_dir, self.say, self.keep = engine, matrix, run_dir, say, keep
        self.images = ImageBuilder(engine, cache, say)
        self.run_id = run_dir.name
        self.jobs = str(engine.cpus())

    def run(self, cell: Cell) -> CellResult:
        started = time.monotonic()
        result = CellResult(cell.toolchain.name, cell.source.name, cell.flavor, run_id=self.run_id,
                            started=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
        logs = self.run_dir / "cells" / cell.key
        logs.mkdir(parents=True, exist_ok=True)
        recipe = self.matrix.recipes[cell.source.recipe]
        image_log = self.run_dir / "images" / f"{cell.toolchain.name}.log"
        image_log.parent.mkdir(parents=True, exist_ok=True)
        self.say(f"{cell.key}: image")
        step_start = time.monotonic()
        try:
            image = self.images.ensure(cell.toolchain, recipe, image_log)
        except ToolchainUnavailable as exc:
            with image_log.open("a") as out:
                print(f"unavailable: {exc}", file=out)
            result.status, result.evidence = "unavailable", [str(exc)]
            result.logs["image"] = self._relative(image_log)
            self.say(f"{cell.key}: unavailable: {exc}")
            return result
        finally:
            result.timings["image"] = round(time.monotonic() - step_start, 1)
        result.image, result.image_reused = image.tag, image.reused
        volume = f"ganeti-compat-{self.run_id.lower()}-{cell.key}".replace("~", "-")
        self.engine.create_volume(volume, {f"{LABEL}.run": self.run_id})
        try:
            self._steps(cell, recipe, image, volume, logs, result)
        finally:
            if not self.keep:
                self.engine.remove_volume(volume)
        self.say(f"{cell.key}: {result.status}{' (' + result.cause + ')' if result.cause else ''}"
                 f" after {time.monotonic() - started:.0f} s")
        return result

    def _steps(self, cell: Cell, recipe: Recipe, image: Image, volume: str, logs: Path, result: CellResult) -> None:
        self.engine.put_tree(image.tag, volume, MOUNT, tar_directory(IMAGES_DIR / "scripts", ".compat"), MOUNT)
        values = {"jobs": self.jobs, "out": OUT, "flavor": cell.flavor, "version": ""}
        try:
            self._fetch(cell, image, volume, logs, result)
            values["version"] = result.source_version or ""
            for step in STEPS:
                commands = [expand(argv, values) for argv in recipe.steps[step]]
                if step == "test":
                    commands.insert(0, ["mkdir", "-p", OUT])
                self._run_step(cell, step, commands, image, volume, logs, result)
        except StepFailed as failed:
            if failed.step == "test" and failed.exit_code is not None:
                self._judge_tests(recipe, image, volume, logs, result, failed)
            else:
                self._judge_failure(failed, result)
                if result.cause == "deps":
                    missing = self._read_text(image, volume, MISSING_PACKAGES).split()
                    if missing:
                        result.evidence.insert(0, f"not packaged in {cell.toolchain.suite}: {', '.join(missing)}")
        else:
            self._judge_tests(recipe, image, volume, logs, result, None)
        finally:
            self._inspect(recipe, cell, image, volume, logs, result)

    def _fetch(self, cell: Cell, image: Image, volume: str, logs: Path, result: CellResult) -> None:
        command = sources.fetch_command(cell.source)
        if command is None:
            path = sources.local_path(cell.source, self.matrix.path)
            self.engine.put_tree(image.tag, volume, MOUNT, tar_directory(path, "src"), MOUNT)
            result.source_digest, result.source_version = sources.tree_digest(path), "local"
            return
        self._run_step(cell, "fetch", [command], image, volume, logs, result, network=True)
        read = self._read_text
        result.source_version = read(image, volume, "/build/meta/version").strip() or None
        result.source_digest = read(image, volume, "/build/meta/digest").strip() or None

    def _run_step(self, cell: Cell, step: str, commands: list[list[str]], image: Image, volume: str, logs: Path,
                  result: CellResult, network: bool = False) -> None:
        if not commands:
            return
        log = logs / f"{step}.log"
        result.logs[step] = self._relative(log)
        self.say(f"{cell.key}: {step} ...")
        budget = float(self.matrix.timeouts[step])
        start = time.monotonic()
        try:
            for argv in commands:
                remaining = budget - (time.monotonic() - start)
                self._command(image, volume, argv, log, step, remaining, network=network or step == "prepare")
        finally:
            result.timings[step] = round(time.monotonic() - start, 1)
        self.say(f"{cell.key}: {step} done in {result.timings[step]:.0f} s")

    def _command(self, image: Image, volume: str, argv: list[str], log: Path, step: str, timeout: float,
                 network: bool) -> None:
        with log.open("a") as out:
            out.write(f"$ {' '.join(argv)}\n")
        outcome = self.engine.run(image.tag, argv, log=log, volume=volume, mount=MOUNT,
                                  workdir=MOUNT if step == "fetch" else SRC, root=step == "prepare",
                                  network=network, timeout=timeout, env={"HOME": "/home/builder", "LANG": "C.UTF-8"},
                                  labels={f"{LABEL}.run": self.run_id, f"{LABEL}.step": step})
        if outcome.exit_code != 0:
            raise StepFailed(step, outcome.exit_code, log)

    def _judge_failure(self, failed: StepFailed, result: CellResult) -> None:
        """A step before the tests failed or timed out: why, with the evidence from its log."""
        text = failed.log.read_text(errors="replace")
        if failed.exit_code is None:
            limit = self.matrix.timeouts[failed.step]
            result.status, result.evidence = "timeout", [f"step {failed.step} ran past its timeout of {limit} s"]
        elif failed.step == "fetch":
            lines = [line for line in text.splitlines() if line.startswith(("compat-fetch:", "E:", "curl:", "sha256sum:"))]
            result.status, result.cause = "error", "fetch"
            result.evidence = lines[-6:] or text.splitlines()[-6:]
        elif crash := crash_evidence(text, failed.exit_code):
            result.status, result.evidence = "crash", list(crash)
        else:
            diagnosis = classify_build(text)
            result.status, result.cause = "build-fail", diagnosis.cause or "unknown"
            result.evidence = list(diagnosis.evidence)

    def _judge_tests(self, recipe: Recipe, image: Image, volume: str, logs: Path, result: CellResult,
                     failed: StepFailed | None) -> None:
        """The tests ran: their JUnit counts decide, and a signal or RTS error makes it a crash."""
        xml = self._read_text(image, volume, f"{OUT}/{recipe.junit}") if recipe.junit else ""
        counts = parse_junit(xml) if xml else None
        if counts:
            (logs / "junit.xml").write_text(xml)
            result.logs["junit"] = self._relative(logs / "junit.xml")
            result.tests = counts.as_dict()
        crash = crash_evidence(failed.log.read_text(errors="replace"), failed.exit_code or 0) if failed else ()
        if crash:
            result.status, result.evidence = "crash", list(crash)
        elif counts and counts.failed:
            result.status = "test-fail"
            result.evidence = [f"{counts.failed} of {counts.total} tests failed"] + list(counts.failed_names[:7])
        elif failed:
            tail = failed.log.read_text(errors="replace").splitlines()[-5:]
            result.status, result.evidence = "test-fail", [f"the tests exited with {failed.exit_code}"] + tail
        elif recipe.junit and not counts:
            result.status, result.evidence = "test-fail", [f"the tests wrote no JUnit file {OUT}/{recipe.junit}"]
        else:
            result.status = "pass"

    def _inspect(self, recipe: Recipe, cell: Cell, image: Image, volume: str, logs: Path, result: CellResult) -> None:
        """Facts whatever the outcome (toolchain, package database), linkage once the build produced binaries."""
        commands = facts.toolchain_commands()
        built = "build" in result.timings and result.status != "build-fail"
        if built:
            commands.update(facts.binary_commands(recipe.binaries))
        texts = {}
        for name, argv in commands.items():
            log = logs / name
            log.unlink(missing_ok=True)
            self.engine.run(image.tag, argv, log=log, volume=volume, mount=MOUNT, workdir=SRC if built else MOUNT,
                            root=False, network=False, timeout=INSPECT_TIMEOUT, env={},
                            labels={f"{LABEL}.run": self.run_id})
            texts[name] = log.read_text(errors="replace")
            result.logs[name.rsplit(".", 1)[0]] = self._relative(log)
        found = facts.verdicts(texts, cell.flavor)
        result.ghc = found.ghc.as_dict()
        result.ssl = found.ssl if built else None
        result.packages = found.packages
        result.flags = [{"name": flag.name, "evidence": list(flag.evidence)} for flag in found.flags]

    def _read_text(self, image: Image, volume: str, path: str) -> str:
        data = self.engine.read_file(image.tag, volume, MOUNT, path)
        return data.decode(errors="replace") if data else ""

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.run_dir))
