"""Run cells: image, fetch, prepare, configure, build, test, inspect; each step timed and logged."""

from __future__ import annotations

import datetime
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compat import facts, sources
from compat.analysis.failures import classify_build, crash_evidence
from compat.analysis.junit import parse_junit
from compat.analysis.probe import injected_conflict, parse_probe
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
RELINK_SCRIPT = "/build/.compat/relink-curl-binaries"
PROBE_SCRIPT = "/build/.compat/run-probe"


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


def plan(matrix: Matrix, toolchains: list[str], source_names: list[str], flavors: list[str] | None = None
         ) -> list[list[Cell]]:
    """Groups of cells, one group per toolchain and source, one cell per SSL flavor (the default first)."""
    groups = []
    for t in toolchains:
        toolchain = matrix.toolchains[t]
        ordered = [toolchain.default_flavor] + [f for f in toolchain.flavors if f != toolchain.default_flavor]
        chosen = [f for f in ordered if flavors is None or f in flavors]
        for s in source_names:
            if chosen:
                groups.append([Cell(toolchain, matrix.sources[s], flavor) for flavor in chosen])
    return groups


def expand(argv: tuple[str, ...], values: dict[str, str]) -> list[str]:
    """Fill {placeholders} in each argument on its own: no argument is ever parsed by a shell."""
    return [arg.format_map(values) if "{" in arg else arg for arg in argv]


class StepFailed(Exception):
    def __init__(self, step: str, exit_code: int | None, log: Path) -> None:
        super().__init__(step)
        self.step, self.exit_code, self.log = step, exit_code, log


class CellRunner:
    """Runs groups of cells (the flavors of a toolchain and source) in fresh volumes; a failed cell is a
    result, never an exception."""

    def __init__(self, engine: Engine, matrix: Matrix, run_dir: Path, cache: Path, say: Callable[[str], None],
                 keep: bool = False, probe: ProbeSettings | None = None) -> None:
        self.engine, self.matrix, self.run_dir, self.say, self.keep = engine, matrix, run_dir, say, keep
        self.probe = probe or ProbeSettings()
        self.images = ImageBuilder(engine, cache, say)
        self.run_id = run_dir.name
        self.jobs = str(engine.cpus())

    def run_group(self, cells: list[Cell], done: Callable[[CellResult], None]) -> None:
        """The flavors of one toolchain and source: the first compiles, each further flavor relinks and tests.

        Compilation does not depend on the libcurl flavor; linking does. So once a flavor's build
        completed, the next one reuses its tree, removes every binary that links libcurl, and runs the
        recipe's relink commands and then its build commands, which link them against that flavor's
        libcurl.so.
        """
        volume = f"ganeti-compat-{self.run_id.lower()}-{cells[0].toolchain.name}-{cells[0].source.name}".replace("~", "-")
        built_by: str | None = None
        try:
            for cell in cells:
                result = self._new_result(cell)
                try:
                    image = self._image(cell, result)
                    if image is not None:
                        if built_by is None:
                            self.engine.remove_volume(volume)  # a failed flavor's tree is not reused
                            self.engine.create_volume(volume, {f"{LABEL}.run": self.run_id})
                        built = self._steps(cell, image, volume, result, built_by)
                        if built_by is None and built:
                            built_by = cell.key
                except Exception as exc:  # noqa: BLE001 - the runner failed, not the cell: say so and go on
                    self._runner_error(cell, result, exc)
                reason = f": {result.evidence[0]}" if result.status in ("unavailable", "error") and result.evidence else ""
                self.say(f"{cell.key}: {result.status}{' (' + result.cause + ')' if result.cause else ''}{reason}")
                done(result)
        finally:
            if not self.keep:
                self.engine.remove_volume(volume)

    def _new_result(self, cell: Cell) -> CellResult:
        return CellResult(cell.toolchain.name, cell.source.name, cell.flavor, run_id=self.run_id,
                          started=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))

    def _runner_error(self, cell: Cell, result: CellResult, exc: Exception) -> None:
        """Status error with the exception as evidence; the traceback goes to the cell's runner-error.log."""
        log = self.run_dir / "cells" / cell.key / "runner-error.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(traceback.format_exception(exc)))
        result.status, result.cause = "error", "runner"
        result.evidence = [f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
        result.logs["runner-error"] = self._relative(log)

    def _image(self, cell: Cell, result: CellResult) -> Image | None:
        """The toolchain image in the cell's flavor; None (and the result unavailable) when it cannot be had."""
        recipe = self.matrix.recipes[cell.source.recipe]
        image_log = self.run_dir / "images" / f"{cell.toolchain.name}.log"
        image_log.parent.mkdir(parents=True, exist_ok=True)
        result.logs["image"] = self._relative(image_log)
        self.say(f"{cell.key}: image")
        start = time.monotonic()
        try:
            image = self.images.ensure(cell.toolchain, recipe, image_log)
            image = self.images.flavored(image, cell.toolchain, self.matrix.flavors[cell.flavor], image_log)
        except ToolchainUnavailable as exc:
            with image_log.open("a") as out:
                print(f"unavailable: {exc}", file=out)
            result.status, result.evidence = "unavailable", [str(exc)]
            return None
        finally:
            result.timings["image"] = round(time.monotonic() - start, 1)
        result.image, result.image_reused = image.tag, image.reused
        return image

    def _steps(self, cell: Cell, image: Image, volume: str, result: CellResult, built_by: str | None) -> bool:
        """Run the cell's steps and judge them; whether the build step completed."""
        recipe = self.matrix.recipes[cell.source.recipe]
        built = False
        logs = self.run_dir / "cells" / cell.key
        logs.mkdir(parents=True, exist_ok=True)
        values = {"jobs": self.jobs, "out": OUT, "flavor": cell.flavor, "version": ""}
        try:
            if built_by:
                result.compiled_by = built_by
                result.source_version, result.source_digest = self._source_meta(image, volume)
                steps = ["build", "test"]
                relink = [("sh", RELINK_SCRIPT, SRC), *recipe.relink]
            else:
                self.engine.put_tree(image.tag, volume, MOUNT, tar_directory(IMAGES_DIR / "scripts", ".compat"), MOUNT)
                self._fetch(cell, image, volume, logs, result)
                steps, relink = list(STEPS), []
            values["version"] = result.source_version or ""
            for step in steps:
                commands = [expand(argv, values) for argv in recipe.steps[step]]
                if step == "build":
                    commands = [expand(argv, values) for argv in relink] + commands
                if step == "test":
                    commands.insert(0, ["mkdir", "-p", OUT])
                self._run_step(cell, step, commands, image, volume, logs, result)
                built = built or step == "build"
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
            self._inspect(recipe, cell, image, volume, logs, result, built)
        if built:
            self._probe(cell, image, volume, logs, result)
        return built

    def _probe(self, cell: Cell, image: Image, volume: str, logs: Path, result: CellResult) -> None:
        """HTTPS through the curl binding on loopback, plain, with a counting and (if asked) a hostile GMP hook."""
        argv = ["sh", PROBE_SCRIPT, str(self.probe.requests)] + ([self.probe.fault] if self.probe.fault else [])
        log = logs / "probe.log"
        result.logs["probe"] = self._relative(log)
        self.say(f"{cell.key}: probe ...")
        start = time.monotonic()
        ran = self.engine.run(image.tag, argv, log=log, volume=volume, mount=MOUNT, workdir=MOUNT, root=False,
                              network=False, timeout=self.matrix.timeouts["probe"], env={"HOME": "/home/builder"},
                              labels={f"{LABEL}.run": self.run_id, f"{LABEL}.step": "probe"})
        result.timings["probe"] = round(time.monotonic() - start, 1)
        outcome = parse_probe(log.read_text(errors="replace"), self.probe.requests)
        result.probe = outcome.as_dict() | ({"timed_out": True} if ran.timed_out else {})
        fed = outcome.per_request()  # what an old runtime's allocator hook would be fed
        assert result.ssl is not None
        result.ssl["gmp_allocations_per_request"] = fed
        for existing in result.flags:
            if existing["name"] == "ssl:mixed-tls-stacks" and fed is not None:
                existing["evidence"].append(f"GnuTLS {'used' if fed else 'loaded but not used'} for TLS: "
                                        f"{fed} GMP allocations per request (runtime probe)")
        if flag := injected_conflict(outcome):
            result.flags.append({"name": flag.name, "evidence": list(flag.evidence)})
        crashed = [(run, outcome.verdict(run)) for run in ("plain", "counting", "hostile")
                   if outcome.verdict(run).startswith("crash")]
        if crashed:
            result.status, result.cause = "crash", None
            result.evidence = [f"runtime probe, {run} run: {verdict}" for run, verdict in crashed] + outcome.lines[-4:]
        elif outcome.verdict("plain") != "pass" and result.probe["built"] and result.status == "pass":
            result.status = "test-fail"
            result.evidence = [f"runtime probe: HTTPS through the curl binding: {outcome.verdict('plain')}"] + outcome.lines[-4:]

    def _source_meta(self, image: Image, volume: str) -> tuple[str | None, str | None]:
        version = self._read_text(image, volume, "/build/meta/version").strip() or None
        digest = self._read_text(image, volume, "/build/meta/digest").strip() or None
        return version, digest

    def _fetch(self, cell: Cell, image: Image, volume: str, logs: Path, result: CellResult) -> None:
        command = sources.fetch_command(cell.source)
        if command is None:
            path = sources.local_path(cell.source, self.matrix.path)
            self.engine.put_tree(image.tag, volume, MOUNT, tar_directory(path, "src"), MOUNT)
            result.source_digest, result.source_version = sources.tree_digest(path), "local"
            return
        self._run_step(cell, "fetch", [command], image, volume, logs, result, network=True)
        result.source_version, result.source_digest = self._source_meta(image, volume)

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

    def _inspect(self, recipe: Recipe, cell: Cell, image: Image, volume: str, logs: Path, result: CellResult,
                 built: bool) -> None:
        """Facts whatever the outcome (toolchain, package database), linkage once the build produced binaries."""
        commands = facts.toolchain_commands()
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
        found = facts.verdicts(texts, self.matrix.flavors[cell.flavor].soname)
        result.ghc = found.ghc.as_dict()
        result.ssl = found.ssl if built else None
        result.packages = found.packages
        result.flags = [{"name": flag.name, "evidence": list(flag.evidence)} for flag in found.flags]
        if built and found.wrong_flavor and result.status in ("pass", "test-fail"):
            # Binaries of another flavor than asked for answer nothing about this cell: never a pass.
            result.status, result.cause, result.evidence = "build-fail", "link", list(found.wrong_flavor)

    def _read_text(self, image: Image, volume: str, path: str) -> str:
        data = self.engine.read_file(image.tag, volume, MOUNT, path)
        return data.decode(errors="replace") if data else ""

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.run_dir))
