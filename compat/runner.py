"""Run cells: image, fetch, prepare, configure, build, test, inspect, probe; each step timed and logged.

The runner only orchestrates and records what happened (`Collected`); `compat.verdict.judge` alone
decides what it means.
"""

from __future__ import annotations

import datetime
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from compat import sources
from compat.cells import (
    Cell,
    CellEngine,
    Collected,
    EngineLost,
    Images,
    ProbeSettings,
    Stopped,
    plan,
    volume_name,
)
from compat.engine import KEEP_FAILED, LABEL, EngineDropped
from compat.errors import ToolchainUnavailable
from compat.fetching import Fetching
from compat.gathering import INSPECT_TIMEOUT, PROBE_RUNS
from compat.images import IMAGES_DIR, Image, ImageBuildFailed
from compat.kept import SourceStore
from compat.matrix import Matrix
from compat.outcome import Outcome, StepRecord
from compat.progress import step_ended
from compat.results import CellResult, judge_again
from compat.status import Status
from compat.steps import (  # noqa: F401 - names the runner's users import from here
    BUILD_ENV,
    FIRST_LIBRARIES,
    MOUNT,
    OUT,
    PROBE_SCRIPT,
    RELINK_SCRIPT,
    SRC,
    commands,
    expand,
    test_setup,
    where,
)
from compat.tarballs import tar_directory
from compat.toolchains import kind_of

# The cells' names, where the runner's users have always found them (they live in compat.cells).
__all__ = ["INSPECT_TIMEOUT", "PROBE_RUNS", "Cell", "CellEngine", "CellRunner", "Collected", "EngineLost", "Images", "ProbeSettings", "Stopped", "plan",
           "volume_name"]

LOST_ENGINE_GRACE = 5  # seconds a failing engine is given to show whether it is going away
MISSING_PACKAGES = "/usr/share/ganeti-compat/missing-packages.txt"  # written by images/*.Dockerfile


class CellRunner(Fetching):
    """Runs groups of cells (the flavors of a toolchain and source) in fresh volumes; a failed cell is a
    result, never an exception."""

    def __init__(self, engine: CellEngine, matrix: Matrix, run_dir: Path, say: Callable[[str], None],
                 images: Images, keep: bool = False, probe: ProbeSettings | None = None, reuse: bool = False,
                 cores: int | None = None, history: tuple[Path, ...] = (), keep_failed: bool = False,
                 kept: SourceStore | None = None, source: str | None = None) -> None:
        self.engine, self.matrix, self.run_dir, self.say, self.keep = engine, matrix, run_dir, say, keep
        self.keep_failed = keep_failed  # a failed cell's volume stays, as it was, for `compat shell`
        self.kept = kept  # where each fetched tree is kept by its digest (investigations, shell, repro)
        self.source = source  # an investigation's source: the tree kept by this digest, instead of a fetch
        self.reuse = reuse  # take the results of unchanged cells from earlier runs (compat.reuse)
        # Each source's (version, digest) as this run last fetched it: a further group of the same source looks
        # for an unchanged result by it before fetching again.
        self.fetched: dict[str, tuple[str | None, str]] = {}
        # Where those runs are: this run's reports directory, and others (a CI job's copy of the pipeline's history).
        self.history = (run_dir.parent.parent, *history)
        self.images = images
        self.probe = probe or ProbeSettings()
        self.run_id = run_dir.name
        self.jobs = str(cores or engine.cpus())  # the recipe's {jobs}: this group's share of the cores
        self.stopping = threading.Event()

    def stop(self) -> None:
        """No group starts another step; the step under way ends when its container is removed. The run lets
        go of its images: a step under way keeps its own by its container."""
        self.stopping.set()
        self.images.release()

    def prepare_images(self, cells: list[Cell]) -> None:
        """Build (or check) a group's images ahead of it. What fails here the group meets again when it
        asks for them, and reports: unavailable and failed builds are remembered for the run."""
        for cell in cells:
            if self.stopping.is_set():
                return
            try:
                self._flavored_image(cell, self._image_log(cell))
                if sources.fetch_command(cell.source) is not None:
                    self._fetcher()
            except Exception:  # noqa: BLE001,S110 - the group asks again and reports it
                pass

    def run_group(self, cells: list[Cell], done: Callable[[CellResult], None]) -> None:
        """The flavors of one toolchain and source: the first compiles, each further flavor relinks and tests.

        Compilation does not depend on the libcurl flavor; linking does. So once a flavor's build
        completed, the next one reuses its tree, removes every binary that links libcurl, and runs the
        recipe's relink commands and then its build commands, which link them against that flavor's
        libcurl.so.
        """
        volume = volume_name(self.run_id, cells[0].toolchain.name, cells[0].source.name)
        kept: set[str] = set()  # volumes of failed cells that --keep-failed keeps
        built_by: Cell | None = None  # the flavor whose tree the further ones relink
        taken_first: Cell | None = None  # the first flavor, when it was taken unchanged: no tree was built
        try:
            for cell in cells:
                result = CellResult(cell.toolchain.name, cell.source.name, cell.flavor, run_id=self.run_id,
                                    started=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
                seen = Collected()
                try:
                    image = self._image(cell, result, seen)
                    if image is not None:
                        if volume in kept:  # a kept tree stays as its cell left it: the next flavor compiles its own
                            volume = f"{volume_name(self.run_id, cell.toolchain.name, cell.source.name)}--{cell.flavor}"
                            built_by = None
                        if built_by is None:
                            self.engine.remove_volume(volume)  # a failed flavor's tree is not reused
                            labels = {f"{LABEL}.run": self.run_id} | ({KEEP_FAILED: "1"} if self.keep_failed else {})
                            self.engine.create_volume(volume, labels)
                        self._cell(cell, image, volume, result, seen, built_by, taken_first)
                        if built_by is None and seen.built():
                            built_by = cell
                        if built_by is None and taken_first is None and seen.taken is not None:
                            taken_first = cell
                except Exception as exc:  # noqa: BLE001 - the runner failed, not the cell: say so and go on
                    seen.runner_error = self._runner_error(cell, result, exc)
                    seen.engine_lost = self._engine_lost(exc, seen.runner_error)
                self._go_on()
                if seen.taken is not None:
                    result = seen.taken
                    self.say(f"{cell.key}: {result.status}: unchanged since run {result.reused_from}, reused")
                    done(result)
                    continue
                try:
                    self._judge(cell, result, seen)
                except Exception as exc:  # noqa: BLE001 - a fact the judge could not read: still a cell
                    result.status, result.cause = Status.ERROR, "runner"
                    result.evidence = [self._runner_error(cell, result, exc)]
                reason = f": {result.evidence[0]}" if not result.status.meaningful and result.evidence else ""
                self.say(f"{cell.key}: {result.status}{' (' + result.cause + ')' if result.cause else ''}{reason}")
                if self.keep_failed and result.status.failed and result.image and not seen.engine_lost:
                    kept.add(volume)
                    result.kept_volume = volume
                    self.say(f"{cell.key}: its volume {volume} is kept: `python -m compat shell {cell.key} --run "
                             f"{self.run_id}` opens it")
                done(result)
                if seen.engine_lost:
                    raise EngineLost(seen.engine_lost)
        finally:
            if not self.keep and volume not in kept and self.engine.alive():
                self.engine.remove_volume(volume)

    def _judge(self, cell: Cell, result: CellResult, seen: Collected) -> None:
        recipe = self.matrix.recipes[cell.source.recipe]
        result.outcome = Outcome(
            soname=self.matrix.flavors[cell.flavor].soname, unavailable=seen.unavailable,
            runner_error=seen.runner_error, engine_lost=seen.engine_lost, steps=tuple(seen.steps),
            expects_tests=bool(recipe.steps["test"]), junit_name=recipe.junit, junit=seen.junit,
            texts=dict(seen.texts), incomplete=tuple(seen.incomplete), binaries=recipe.binaries, probe=seen.probe,
            probe_requests=self.probe.requests, probe_timed_out=seen.probe_timed_out,
            missing_packages=seen.missing_packages, suite=cell.toolchain.suite,
            pinned_by=kind_of(cell.toolchain).pinned_by(cell.toolchain))
        judge_again(result, self.run_dir)

    def _engine_lost(self, exc: Exception, error: str) -> str | None:
        """Why the engine, not the cell, ended a step: it said so (the connection broke under the step, even
        if the engine answers again), or it no longer answers; None when the tool itself failed."""
        if isinstance(exc, EngineDropped):
            return str(exc)
        # A dockerd that is stopping still answers a ping for a moment while it refuses to create containers:
        # ask again a little later before blaming the tool.
        if self.engine.alive():
            time.sleep(LOST_ENGINE_GRACE)
            if self.engine.alive():
                return None
        return f"the Docker engine stopped answering: {error}"

    def _runner_error(self, cell: Cell, result: CellResult, exc: Exception) -> str:
        """The exception in one line; the traceback goes to the cell's runner-error.log."""
        log = self.run_dir / "cells" / cell.key / "runner-error.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(traceback.format_exception(exc)))
        result.logs["runner-error"] = self._relative(log)
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

    def _image(self, cell: Cell, result: CellResult, seen: Collected) -> Image | None:
        """The toolchain image in the cell's flavor; None when it cannot be had (unavailable, or apt failed)."""
        image_log = self._image_log(cell)
        result.logs["image"] = self._relative(image_log)
        self._go_on()
        self.say(f"{cell.key}: image")
        start, wall, failed = time.monotonic(), time.time(), True
        try:
            image = self._flavored_image(cell, image_log)
            failed = False
        except ToolchainUnavailable as exc:
            with image_log.open("a") as out:
                print(f"unavailable: {exc}", file=out)
            seen.unavailable = str(exc)
            return None
        except ImageBuildFailed as exc:
            # The cell's own copy: the group's image log goes on growing with the next flavor's checks.
            failure = self.run_dir / "cells" / cell.key / "image-failure.log"
            failure.parent.mkdir(parents=True, exist_ok=True)
            failure.write_text(exc.log_text)
            result.logs["image-failure"] = self._relative(failure)
            seen.steps.append(StepRecord("image", 1, self._relative(failure)))
            return None
        finally:
            result.timings["image"] = round(time.monotonic() - start, 1)
            step_ended(self.say, f"{cell.key}.image", f"{cell.key}: image {'failed' if failed else 'ready'} in "
                       f"{result.timings['image']:.0f} s", image_log, wall, failed, plain=False)
        result.image, result.image_reused, result.image_freshness = image.tag, image.reused, image.freshness
        result.image_id = self.engine.image_id(image.tag)
        return image

    def _image_log(self, cell: Cell) -> Path:
        log = self.run_dir / "images" / f"{cell.toolchain.name}--{cell.source.recipe}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        return log

    def _flavored_image(self, cell: Cell, log: Path) -> Image:
        flavor = self.matrix.flavors[cell.flavor]
        image = self.images.ensure(cell.toolchain, self.matrix.recipes[cell.source.recipe], log)
        return self.images.flavored(image, cell.toolchain, flavor.name, flavor.soname, log)

    def _cell(self, cell: Cell, image: Image, volume: str, result: CellResult, seen: Collected,
              built_by: Cell | None, taken_first: Cell | None) -> None:
        """The cell's steps, then the facts of its container, then the probe once something was built."""
        recipe = self.matrix.recipes[cell.source.recipe]
        logs = self.run_dir / "cells" / cell.key
        logs.mkdir(parents=True, exist_ok=True)
        values = {"jobs": self.jobs, "out": OUT, "flavor": cell.flavor, "version": ""}
        fetched = built_by is not None
        try:
            if built_by is not None:
                result.compiled_by = built_by.key
                result.source_version, result.source_digest = self._source_meta(image, volume)
            else:
                if self._take_by_fetched(cell, image, result, seen, taken_first):
                    return
                self.engine.put_tree(image.tag, volume, MOUNT, tar_directory(IMAGES_DIR / "scripts", ".compat"), MOUNT)
                fetched = self._fetch(cell, image, volume, logs, result, seen)
            if fetched and self._take_earlier(cell, image, result, seen, built_by, taken_first):
                return
            if fetched:
                values["version"] = result.source_version or ""
                first = self.matrix.flavors[built_by.flavor].soname if built_by is not None else None
                for step, argvs in commands(recipe, values, first):
                    if not self._step(cell, step, argvs, image, volume, logs, result, seen):
                        break
                if any(s.name == "test" for s in seen.steps) and recipe.junit:
                    junit = self._read_text(image, volume, f"{OUT}/{recipe.junit}")
                    if junit:
                        (logs / "junit.xml").write_text(junit)
                        seen.junit = result.logs["junit"] = self._relative(logs / "junit.xml")
                if seen.failed() and not seen.built():
                    seen.missing_packages = tuple(self._read_text(image, volume, MISSING_PACKAGES).split())
        finally:
            if seen.taken is None:
                self._inspect(recipe, cell, image, volume, logs, result, seen, fetched)
        if seen.built():
            self._probe(cell, image, volume, logs, result, seen)

    def _step(self, cell: Cell, step: str, commands: list[list[str]], image: Image, volume: str, logs: Path,
              result: CellResult, seen: Collected) -> bool:
        """Run a step's commands in order until one fails; record it; whether it completed."""
        if not commands:
            return True
        log = logs / f"{step}.log"
        log.unlink(missing_ok=True)
        result.logs[step] = self._relative(log)
        self.say(f"{cell.key}: {step} ...")
        budget = float(self.matrix.timeouts[step])
        start, wall = time.monotonic(), time.time()
        exit_code: int | None = 0
        out_of_memory = False
        ran_commands: list[tuple[str, ...]] = []
        at = where(step)
        try:
            for argv in commands:
                self._go_on()
                with log.open("a") as out:
                    out.write(f"$ {' '.join(argv)}\n")
                remaining = budget - (time.monotonic() - start)
                ran_commands.append(tuple(argv))
                ran = self.engine.run(image.tag, argv, log=log, volume=volume, mount=MOUNT, workdir=at.workdir,
                                      root=at.root, network=at.network, timeout=remaining, env=BUILD_ENV,
                                      labels={f"{LABEL}.run": self.run_id, f"{LABEL}.step": step},
                                      limits=self.matrix.limits)
                exit_code, out_of_memory = ran.exit_code, ran.out_of_memory
                if exit_code != 0 or out_of_memory:
                    break
        finally:
            result.timings[step] = round(time.monotonic() - start, 1)
        memory = self.matrix.limits.memory_mib if out_of_memory else None
        seen.steps.append(StepRecord(step, exit_code, result.logs[step], budget, memory, tuple(ran_commands)))
        completed = exit_code == 0 and not out_of_memory
        step_ended(self.say, f"{cell.key}.{step}",
                   f"{cell.key}: {step} {'done' if completed else 'failed'} in {result.timings[step]:.0f} s", log, wall,
                   not completed)
        return completed
