"""`compat shell CELL`: a shell in a container of the cell's exact image, where its failing command failed.

The volume `run --keep-failed` kept is opened as the cell left it. Otherwise a new volume gets the tool's
scripts and the cell's source (the tree kept by its digest, else fetched again and its digest checked), and
every command the cell ran before the failing one is replayed in a container as its step had it. The failing
command is printed, and written to /build/.compat/failing-command, to run again.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from compat.engine import LABEL, Engine
from compat.errors import CompatError
from compat.images import IMAGES_DIR
from compat.kept import SourceStore
from compat.matrix import Matrix
from compat.repro import Command, Located, failing, fetch_argv, quoted, recorded
from compat.results import CellResult
from compat.steps import BUILD_ENV, MOUNT, SCRIPTS, SRC, where
from compat.tarballs import tar_directory, tar_files

SHELL = ["sh", "-c", "if command -v bash >/dev/null; then exec bash; else exec sh; fi"]
REPLAY_TIMEOUT = 3600  # seconds a replayed command may take when the matrix gives its step none


def open_shell(engine: Engine, found: Located, m: Matrix, store: SourceStore, say: Callable[[str], None]) -> int:
    """Replay the cell up to its failing command (or open its kept volume), then attach a shell; its exit code."""
    result = found.result
    image = result.image_id or result.image or ""
    if engine.image_id(image) is None:
        raise CompatError(f"the image of {result.key} ({result.image}, {image}) is not on this engine: `python -m "
                          f"compat repro {result.key} --run {result.run_id}` prints a script that rebuilds it")
    failed = failing(result)
    if result.kept_volume and engine.volume_exists(result.kept_volume):
        say(f"{result.key}: the volume {result.kept_volume} as the cell left it (run {result.run_id}, --keep-failed)")
        return _attach(engine, image, result.kept_volume, failed, m, say)
    volume = f"ganeti-compat-shell-{result.run_id}-{secrets.token_hex(3)}"
    engine.create_volume(volume, {f"{LABEL}.shell": result.key})
    try:
        with tempfile.TemporaryDirectory(prefix="ganeti-compat-shell-") as tmp:
            _replay(engine, found, m, store, volume, Path(tmp), failed, say)
        return _attach(engine, image, volume, failed, m, say)
    finally:
        engine.remove_volume(volume)


def _attach(engine: Engine, image: str, volume: str, failed: Command | None, m: Matrix, say: Callable[[str], None]
            ) -> int:
    workdir = where(failed.step).workdir if failed is not None else SRC
    if failed is not None:
        script = f"cd {workdir} && {quoted(failed.argv)}\n".encode()
        engine.put_tree(image, volume, MOUNT, tar_files({".compat/failing-command": script}), MOUNT)
        say(f"the command that failed (step {failed.step}), to run again: {quoted(failed.argv)}")
        say(f"  (or: sh {SCRIPTS}/failing-command); exit the shell to remove the container")
    else:
        say("no command of this cell failed: a shell after its last step")
    return engine.interactive(image, SHELL, volume=volume, mount=MOUNT, workdir=workdir, env=BUILD_ENV, limits=m.limits)


def _replay(engine: Engine, found: Located, m: Matrix, store: SourceStore, volume: str, logs: Path,
            failed: Command | None, say: Callable[[str], None]) -> None:
    """The scripts, the source, then every command before the failing one, each in its step's container."""
    result, first = found.result, found.first
    phases: list[tuple[CellResult, bool]] = ([(first, True)] if first is not None else []) + [(result, False)]
    start = phases[0][0]
    start_image = start.image_id or start.image or ""
    engine.put_tree(start_image, volume, MOUNT, tar_directory(IMAGES_DIR / "scripts", ".compat"), MOUNT)
    _source(engine, start, start_image, m, store, volume, logs, say)
    for cell, is_first in phases:
        image = cell.image_id or cell.image or ""
        for command in recorded(cell, m):
            if is_first and command.step == "test":
                continue
            if not is_first and failed is not None and command == failed:
                return
            _run(engine, image, command, m, volume, logs, say)


def _run(engine: Engine, image: str, command: Command, m: Matrix, volume: str, logs: Path,
         say: Callable[[str], None]) -> None:
    at = where(command.step)
    say(f"replaying {command.step}: {quoted(command.argv)}")
    log = logs / f"{command.step}.log"
    ran = engine.run(image, list(command.argv), log=log, volume=volume, mount=MOUNT, workdir=at.workdir, root=at.root,
                     network=at.network, timeout=m.timeouts.get(command.step, REPLAY_TIMEOUT), env=BUILD_ENV,
                     labels={f"{LABEL}.shell": "1"}, limits=m.limits)
    if ran.exit_code != 0:
        tail = log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []
        raise CompatError(f"replaying step {command.step} failed this time (exit {ran.exit_code}), before the command "
                          f"the cell failed at: {quoted(command.argv)}" + "".join(f"\n  {line}" for line in tail))


def _source(engine: Engine, cell: CellResult, image: str, m: Matrix, store: SourceStore, volume: str, logs: Path,
            say: Callable[[str], None]) -> None:
    tree = store.get(cell.source_digest)
    if tree is not None:
        say(f"the source tree the cell built, kept by its digest {cell.source_digest}")
        engine.put_tree(image, volume, MOUNT, tree, MOUNT)
        return
    argv = fetch_argv(cell, m)
    if argv is None:
        raise CompatError(f"the source tree of {cell.key} (digest {cell.source_digest}) was not kept, and a path "
                          "source cannot be had again as it was")
    _run(engine, image, Command("fetch", tuple(argv)), m, volume, logs, say)
    digest = (engine.read_file(image, volume, MOUNT, f"{MOUNT}/meta/digest") or b"").decode().strip()
    if digest != cell.source_digest:
        raise CompatError(f"the source fetched now has digest {digest}; the cell built {cell.source_digest}")

