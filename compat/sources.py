"""How each kind of source reaches /build/src in a cell's volume (fetched at run time, never committed)."""

from __future__ import annotations

import hashlib
import os
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
        return ["sh", FETCH, "git", source.url, source.ref, source.commit or ""]
    return None


def local_path(source: Source, matrix_file: Path) -> Path:
    """A 'path' source, relative to the matrix file that names it."""
    assert source.path
    path = Path(source.path)
    return path if path.is_absolute() else (matrix_file.parent / path).resolve()


def tree_digest(directory: Path) -> str:
    """sha256 over every file's relative name, kind and content, so an unchanged tree has one digest and a
    tree the build would see differently (`chmod -x configure`, a link retargeted) has another."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_symlink() or p.is_file()):
        kind, data = _entry(path)
        # The length makes the stream unambiguous: a file's content may hold NULs and look like a name.
        digest.update(b"%s %d %s\0" % (kind, len(data), str(path.relative_to(directory)).encode()) + data)
    return digest.hexdigest()


def _entry(path: Path) -> tuple[bytes, bytes]:
    """A file as the container gets it (tar keeps modes and links): a symlink as its target, else whether
    it is executable and its content."""
    if path.is_symlink():
        return b"link", os.readlink(path).encode()
    return (b"exec" if path.stat().st_mode & 0o111 else b"file"), path.read_bytes()
