"""How each kind of source reaches /build/src in a cell's volume (fetched at run time, never committed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from compat.matrix import Source

SCRIPTS = "/build/.compat"
FETCH = f"{SCRIPTS}/fetch-source"


def fetch_command(source: Source) -> list[str] | None:
    """The argument list that fetches a source inside the container; None for a local path."""
    if source.kind == "debian":
        assert source.package and source.suite
        return ["sh", FETCH, "debian", source.package, source.suite, source.version or "", "yes" if source.patches else "no"]
    if source.kind == "tarball":
        assert source.url and source.sha256
        return ["sh", FETCH, "tarball", source.url, source.sha256]
    if source.kind == "git":
        assert source.url and source.ref
        return ["sh", FETCH, "git", source.url, source.ref]
    return None


def local_path(source: Source, matrix_file: Path) -> Path:
    """A 'path' source, relative to the matrix file that names it."""
    assert source.path
    path = Path(source.path)
    return path if path.is_absolute() else (matrix_file.parent / path).resolve()


def tree_digest(directory: Path) -> str:
    """sha256 over the relative names and contents of every file, so an unchanged tree has one digest."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
