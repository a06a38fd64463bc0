"""Fetched source trees kept by their digest (reports/cache/sources/), for investigations, `shell` and `repro`.

sid's old versions vanish from the archive, and a `path` source is edited in place: the tree a night built is
only had again if it was kept. A tree is kept as it was fetched (before prepare), with its meta/version and
meta/digest, as one gzipped tar whose name is its digest; `keep` says which digests stay (those named by a
result of the reports' window), and `prune` removes the rest.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
import tempfile
from pathlib import Path

DIGEST = re.compile(r"[0-9a-f]{16,128}")  # sha256 of a tree or tarballs, or a git commit


class SourceStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path | None:
        """Where a digest's tree is kept; None for a text that is no digest (a stored field is data)."""
        return self.root / f"{digest}.tar.gz" if DIGEST.fullmatch(digest) else None

    def has(self, digest: str | None) -> bool:
        path = self.path(digest) if digest else None
        return path is not None and path.is_file()

    def put(self, digest: str, tar_bytes: bytes) -> None:
        """Keep a tree (tar bytes holding src/ and meta/), written atomically; a digest kept already stays."""
        path = self.path(digest)
        if path is None or path.exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{path.name}.")
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; kept trees are shared like the reports
            with os.fdopen(fd, "wb") as out:
                out.write(gzip.compress(tar_bytes, compresslevel=6))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, digest: str | None) -> bytes | None:
        """The kept tree as tar bytes; None when it was not kept (or pruned)."""
        path = self.path(digest) if digest else None
        if path is None or not path.is_file():
            return None
        return gzip.decompress(path.read_bytes())

    def prune(self, keep: set[str]) -> list[Path]:
        """Remove every kept tree whose digest is not in `keep` (and partial writes); what was removed."""
        removed = []
        for path in sorted(self.root.glob("*.tar.gz")) + sorted(self.root.glob(".*.tar.gz.*")):
            if path.name.removesuffix(".tar.gz") not in keep:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def size(self) -> int:
        return sum(path.stat().st_size for path in self.root.glob("*.tar.gz")) if self.root.is_dir() else 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def joined(*archives: bytes) -> bytes:
    """Several tar archives (as Docker's get_archive gives them, one per directory) as one."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for data in archives:
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                for member in archive.getmembers():
                    out.addfile(member, archive.extractfile(member) if member.isfile() else None)
    return buffer.getvalue()
