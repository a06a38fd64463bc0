"""`compat repro CELL`: a self-contained shell script that reproduces a cell with `docker` alone, for a bug report.

The script runs the cell's exact image (by the id its result recorded; where the engine lacks it, rebuilt from
its Dockerfile with the package versions of its manifest), puts in the tool's scripts and the cell's source
(the kept tree, embedded, for a `path` source; otherwise fetched as the night fetched it, its digest checked),
then every command the cell ran, each argument shell-quoted, in a container as the step had it (user, network,
working directory, limits). It exits with the failing command's exit code.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import shlex
import tarfile
from dataclasses import dataclass
from pathlib import Path

from compat import sources
from compat.errors import ConfigError
from compat.images import IMAGES_DIR, plan_image, repository_of
from compat.kept import SourceStore
from compat.matrix import Matrix
from compat.results import ORDINARY, CellResult, read_cell, run_records
from compat.steps import BUILD_ENV, MOUNT, commands, where
from compat.tarballs import tar_directory
from compat.toolchains import kind_of

EMBED_LIMIT = 8 << 20  # bytes of a gzipped tree embedded in a script; a larger one is fetched or read from its path
HEREDOC = "GANETI_COMPAT_EOF"
PHASE_STEPS = ("fetch", "prepare", "configure", "build", "test")


@dataclass(frozen=True)
class Located:
    """A stored cell result, its run directory, and the result whose compiled tree it relinked (same run)."""

    result: CellResult
    run_dir: Path
    first: CellResult | None = None


def locate(reports: Path, key: str, run: str | None) -> Located:
    """The cell's result in the named run, or its newest one in an ordinary run; ConfigError saying what exists."""
    runs = reports / "runs"
    candidates = [runs / run] if run else [run_dir for record, run_dir in reversed(run_records(reports))
                                             if record.kind in ORDINARY]
    for run_dir in candidates:
        path = run_dir / "cells" / f"{key}.json"
        if path.is_file() and not run_dir.is_symlink():
            try:
                result = read_cell(path)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{path}: cannot be read: {exc}") from None
            result.run_id = run_dir.name
            first = None
            if result.compiled_by:
                with_first = run_dir / "cells" / f"{result.compiled_by}.json"
                first = read_cell(with_first) if with_first.is_file() else None
            return Located(result, run_dir, first)
    where_ = f"run {run}" if run else f"any matrix or session run under {runs}"
    raise ConfigError(f"no result of cell {key!r} in {where_}; `python -m compat list` names the cells")


@dataclass(frozen=True)
class Command:
    step: str
    argv: tuple[str, ...]


def recorded(result: CellResult, m: Matrix | None, jobs: str = "2") -> list[Command]:
    """Every command the cell ran after its fetch, in order (the last is how it ended); for a result stored
    before commands were recorded, the matrix's recipe as it is now."""
    if result.outcome is not None and any(step.commands for step in result.outcome.steps):
        return [Command(step.name, argv) for step in result.outcome.steps if step.name in PHASE_STEPS[1:]
                for argv in step.commands]
    if m is None or result.source not in m.sources:
        return []
    recipe = m.recipes[m.sources[result.source].recipe]
    first = m.flavors[result.compiled_by.rsplit("--", 1)[-1]].soname if result.compiled_by else None
    values = {"jobs": jobs, "out": "/build/out", "flavor": result.flavor, "version": result.source_version or ""}
    return [Command(step, tuple(argv)) for step, argvs in commands(recipe, values, first) for argv in argvs]


def failing(result: CellResult) -> Command | None:
    """The command a failed cell ended with; None when no step failed (an inspection or the judge did)."""
    if result.outcome is None:
        return None
    for step in result.outcome.steps:
        if (step.exit_code != 0 or step.out_of_memory) and step.commands:
            return Command(step.name, step.commands[-1])
    return None


def fetch_argv(result: CellResult, m: Matrix | None) -> list[str] | None:
    """How the cell's source was fetched (from its outcome, else the matrix); None for a `path` source."""
    if result.outcome is not None:
        for step in result.outcome.steps:
            if step.name == "fetch" and step.commands:
                return list(step.commands[0])
    source = m.sources.get(result.source) if m is not None else None
    return sources.fetch_command(source) if source is not None else None


def quoted(argv: list[str] | tuple[str, ...]) -> str:
    return " ".join(shlex.quote(arg) for arg in argv)


def _base64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def rebuild_lines(result: CellResult, m: Matrix | None, variable: str) -> list[str]:
    """A shell function that rebuilds a cell's image from its Dockerfile, pinning each package the image
    installs to the version of the cell's manifest, then its flavor layer; sets `variable` to the new tag."""
    name = f"rebuild_{variable.lower()}"
    toolchain = m.toolchains.get(result.toolchain) if m is not None else None
    source = m.sources.get(result.source) if m is not None else None
    if toolchain is None or source is None or not kind_of(toolchain).script_rebuilds or m is None:
        why = (f"toolchain {result.toolchain} is a {toolchain.kind} toolchain, whose downloads a script does not carry"
               if toolchain is not None and not kind_of(toolchain).script_rebuilds else
               f"the matrix no longer defines {result.toolchain} and {result.source}")
        said = f"cannot rebuild the image here: {why}; `python -m compat run --toolchain {result.toolchain}` builds it"
        return [f"{name}() {{", f"    say {shlex.quote(said)}", "    exit 2", "}"]
    plan = plan_image(toolchain, m.recipes[source.recipe])
    wanted = plan.files["packages.txt"].decode().split()
    pinned = [f"{package}={result.manifest[package]}" if package in result.manifest else package for package in wanted]
    files = plan.files | {"packages.txt": ("\n".join(pinned) + "\n").encode(), "Dockerfile": plan.dockerfile.encode()}
    flavor = m.flavors[result.flavor]
    layer = {"Dockerfile": (IMAGES_DIR / "flavor.Dockerfile").read_bytes(),
             "link-shared-first": (IMAGES_DIR / "scripts" / "link-shared-first").read_bytes()}
    tag = f"{repository_of(result.toolchain, result.flavor)}-repro:{hashlib.sha256(str(result.image).encode()).hexdigest()[:16]}"
    return [
        f"# {result.image}: {toolchain.description}, rebuilt from images/debian.Dockerfile with the package versions",
        "# of the cell's manifest (`apt-get install PACKAGE=VERSION`). A version the suite no longer serves is had from",
        f"# snapshot.debian.org: give BASE an image of {toolchain.suite} whose apt points there.",
        f"{name}() {{",
        '    context=$(mktemp -d)',
        f"    base64 -d > \"$context/context.tar.gz\" <<'{HEREDOC}'",
        _base64(_tar_gz(files)).rstrip("\n"), HEREDOC,
        '    tar -xzf "$context/context.tar.gz" -C "$context" && rm "$context/context.tar.gz"',
        (f'    docker build -q -t {shlex.quote(tag + "-toolchain")} --build-arg "BASE=${{BASE:-debian:{toolchain.suite}}}" '
        '--build-arg REFRESH=repro "$context" >&2'),
        '    rm -rf "$context" && context=$(mktemp -d)',
        f"    base64 -d > \"$context/context.tar.gz\" <<'{HEREDOC}'",
        _base64(_tar_gz(layer)).rstrip("\n"), HEREDOC,
        '    tar -xzf "$context/context.tar.gz" -C "$context" && rm "$context/context.tar.gz"',
        (f'    docker build -q -t {shlex.quote(tag)} --build-arg BASE={shlex.quote(tag + "-toolchain")} '
        f'--build-arg SONAME={shlex.quote(flavor.soname)} "$context" >&2'),
        '    rm -rf "$context"',
        f"    {variable}={shlex.quote(tag)}",
        "}",
    ]


def script(found: Located, m: Matrix | None, store: SourceStore, command_line: str, embed: bool = False) -> str:
    """The script (see the module's docstring)."""
    result, first = found.result, found.first
    phases: list[tuple[str, CellResult]] = [("FIRST_IMAGE", first)] if first is not None else []
    phases.append(("IMAGE", result))
    said = f"{result.status}{f' ({result.cause})' if result.cause else ''}"
    lines = ["#!/bin/sh",
             (f"# Reproduces ganeti-compat cell {result.key} of run {result.run_id} ({said}"
             f"{': ' + result.evidence[0] if result.evidence else ''}) with docker alone."),
             f"# Made by `{command_line}`. Exits with the failing command's exit code (0: nothing failed this time).",
             f"# Source: {result.source} {result.source_version or ''} (digest {result.source_digest or 'unknown'}).",
             "set -eu",
             'VOLUME="ganeti-compat-repro-$$"',
             "say() { printf 'repro: %s\\n' \"$*\" >&2; }",
             "trap 'docker volume rm -f \"$VOLUME\" >/dev/null 2>&1 || true' EXIT",
             "trap 'exit 130' INT TERM", ""]
    for variable, cell in phases:
        lines += [f"# the image the cell ran in: {cell.image}",
                  f"{variable}={shlex.quote(cell.image_id or cell.image or '')}"]
        lines += rebuild_lines(cell, m, variable)
        lines += [f'if ! docker image inspect "${variable}" >/dev/null 2>&1; then',
                  f'    say "image ${variable} is not on this engine: rebuilding it"',
                  f"    rebuild_{variable.lower()}", "fi", ""]
    limits = m.limits if m is not None else None
    capped = (f" --memory {limits.memory_mib}m --memory-swap {limits.memory_mib}m --pids-limit {limits.pids}"
              if limits else "")
    env = " ".join(f"-e {shlex.quote(f'{key}={value}')}" for key, value in BUILD_ENV.items())
    lines += ["# One container per command, as the tool runs a step: the build user, no network but for fetch and",
              "# prepare, no privileges, the matrix's limits.",
              "step() {",
              '    name=$1 image=$2 user=$3 network=$4 workdir=$5; shift 5',
              '    say "$name: $*"',
              f'    docker run --rm --user "$user" --network "$network" --security-opt no-new-privileges{capped} {env} \\',
              f'        -v "$VOLUME:{MOUNT}" -w "$workdir" "$image" "$@" || {{',
              '        code=$?; say "step $name failed with exit code $code: the cell\'s failure, reproduced"; exit "$code"; }',
              "}",
              f"unpack() {{ docker run --rm -i --user root --network none -v \"$VOLUME:{MOUNT}\" \"$1\" tar -xz -C {MOUNT}; }}",
              "docker volume create --label org.ganeti-compat=1 \"$VOLUME\" >/dev/null",
              f"# the tool's scripts, as {MOUNT}/.compat",
              f"base64 -d <<'{HEREDOC}' | unpack \"${phases[0][0]}\"",
              _base64(gzip.compress(tar_directory(IMAGES_DIR / "scripts", ".compat"))).rstrip("\n"), HEREDOC, ""]
    lines += _source_lines(phases[0][1], phases[0][0], m, store, embed)
    for variable, cell in phases:
        for command in recorded(cell, m):
            if cell is first and command.step == "test":
                continue  # the first flavor's tests ran before the relink; they change nothing it reads
            at = where(command.step)
            lines.append(f"step {command.step} \"${variable}\" {'root' if at.root else 'builder'} "
                         f"{'bridge' if at.network else 'none'} {at.workdir} {quoted(command.argv)}")
    lines += ["say \"every step passed: the cell's failure did not happen this time\"", ""]
    return "\n".join(lines)


def _source_lines(result: CellResult, variable: str, m: Matrix | None, store: SourceStore, embed: bool) -> list[str]:
    """Put the cell's source into the volume, and check its digest against the one the cell built."""
    digest = result.source_digest or ""
    check = [f"got=$(docker run --rm --network none -v \"$VOLUME:{MOUNT}\" \"${variable}\" cat {MOUNT}/meta/digest)",
             (f'[ "$got" = {shlex.quote(digest)} ] || {{ say "the source has digest $got now; the cell built '
             f'{digest}: not the same source"; exit 3; }}'), ""]
    argv = fetch_argv(result, m)
    tree = store.get(digest) if (argv is None or embed) else None
    packed = gzip.compress(tree) if tree is not None else b""
    if tree is not None and len(packed) <= EMBED_LIMIT:
        return [(f"# the source tree the cell built, as it was kept (sha256 of this gzipped tar: "
                f"{hashlib.sha256(packed).hexdigest()})"),
                f"base64 -d <<'{HEREDOC}' | unpack \"${variable}\"", _base64(packed).rstrip("\n"), HEREDOC, *check]
    if argv is not None:
        at = where("fetch")
        return ["# the source, fetched as the night fetched it (in the cell's image, with the network)",
                f"step fetch \"${variable}\" builder bridge {at.workdir} {quoted(argv)}", *check]
    path = (sources.local_path(m.sources[result.source], m.path) if m is not None and result.source in m.sources
            else None)
    if path is None:
        return ["say 'the source of this cell was not kept and the matrix no longer names it'", "exit 3"]
    return [f"# the path source as it is now ({'larger than a script carries' if tree is not None else 'not kept'})",
            f"tar -C {shlex.quote(str(path))} --transform 's,^\\.,src,' -cz . | unpack \"${variable}\"",
            (f"docker run --rm -i --user root --network none -v \"$VOLUME:{MOUNT}\" \"${variable}\" "
            f"sh -c 'mkdir -p {MOUNT}/meta && chown -R 1000:1000 {MOUNT}/src && printf %s\\\\n "
            f"{sources.tree_digest(path)} > {MOUNT}/meta/digest'"), *check]
