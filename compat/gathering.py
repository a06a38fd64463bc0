"""What a cell's runner asks of its container besides the recipe's steps: the facts (toolchain, packages,
linkage) whatever the outcome, and the HTTPS probe once it built."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from compat import facts
from compat.cells import Cell, CellEngine, Collected, ProbeSettings, Stopped
from compat.engine import LABEL
from compat.images import Image
from compat.matrix import Matrix, Recipe
from compat.progress import step_ended
from compat.results import CellResult
from compat.steps import MOUNT, PROBE_SCRIPT, SRC

INSPECT_TIMEOUT = 120
PROBE_RUNS = 4  # each probe run may take a quarter of the probe's timeout


class Gathering:
    """The part of compat.runner.CellRunner that asks questions in a cell's container and records answers."""

    engine: CellEngine
    matrix: Matrix
    run_dir: Path
    run_id: str
    say: Callable[[str], None]
    probe: ProbeSettings
    stopping: threading.Event

    def _go_on(self) -> None:
        if self.stopping.is_set():
            raise Stopped()

    def _inspect(self, recipe: Recipe, cell: Cell, image: Image, volume: str, logs: Path, result: CellResult,
                 seen: Collected, fetched: bool) -> None:
        """Facts whatever the outcome (toolchain, package database, installed packages), the project's own
        modules once its source is in place, linkage once the build produced binaries. A question that
        went unanswered is recorded, never dropped."""
        questions = facts.toolchain_commands()
        if fetched:
            questions.update(facts.source_commands())
        if seen.built():
            questions.update(facts.binary_commands(recipe.binaries))
        start = time.monotonic()
        for name, question in questions.items():
            self._go_on()
            log = logs / name
            log.unlink(missing_ok=True)
            ran = self.engine.run(image.tag, question.argv, log=log, volume=volume, mount=MOUNT,
                                  workdir=SRC if fetched else MOUNT, root=False, network=False,
                                  timeout=INSPECT_TIMEOUT, env={}, labels={f"{LABEL}.run": self.run_id},
                                  limits=self.matrix.limits)
            seen.texts[name] = result.logs[name.rsplit(".", 1)[0]] = self._relative(log)
            if ran.timed_out:
                seen.incomplete.append(f"{name}: `{' '.join(question.argv[:2])}` timed out after {INSPECT_TIMEOUT} s")
            elif ran.exit_code not in question.answered:
                seen.incomplete.append(f"{name}: `{' '.join(question.argv[:2])}` exited with {ran.exit_code}")
        result.timings["inspect"] = round(time.monotonic() - start, 1)

    def _probe(self, cell: Cell, image: Image, volume: str, logs: Path, result: CellResult, seen: Collected) -> None:
        """HTTPS through the curl binding on loopback, plain, with a counting and (if asked) a hostile GMP hook."""
        limit = self.matrix.timeouts["probe"]
        argv = ["sh", PROBE_SCRIPT, str(self.probe.requests), str(limit // PROBE_RUNS)]
        argv += [self.probe.fault] if self.probe.fault else []
        self._go_on()
        log = logs / "probe.log"
        log.unlink(missing_ok=True)
        result.logs["probe"] = self._relative(log)
        self.say(f"{cell.key}: probe ...")
        start, wall = time.monotonic(), time.time()
        ran = self.engine.run(image.tag, argv, log=log, volume=volume, mount=MOUNT, workdir=MOUNT, root=False,
                              network=False, timeout=limit, env={"HOME": "/home/builder"},
                              labels={f"{LABEL}.run": self.run_id, f"{LABEL}.step": "probe"},
                              limits=self.matrix.limits)
        result.timings["probe"] = round(time.monotonic() - start, 1)
        step_ended(self.say, f"{cell.key}.probe", f"{cell.key}: probe ended in {result.timings['probe']:.0f} s", log,
                   wall, ran.timed_out or ran.exit_code != 0, plain=False)
        seen.probe, seen.probe_timed_out = result.logs["probe"], ran.timed_out

    def _read_text(self, image: Image, volume: str, path: str) -> str:
        data = self.engine.read_file(image.tag, volume, MOUNT, path)
        return data.decode(errors="replace") if data else ""

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.run_dir))
