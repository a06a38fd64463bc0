"""A toolchain's pinned downloads: from the cache, the --downloads places, else upstream, each verified
against its pin; a host that does not answer is asked once a run."""

from __future__ import annotations

import hashlib
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from compat.errors import ToolchainUnavailable
from compat.matrix import Download, Toolchain

DOWNLOAD_TIMEOUT = 30
MISSING_NAMED = 8  # missing downloads named per line of an unavailable cell's evidence


def verify(path: Path, download: Download) -> str | None:
    """None when the file matches every pinned checksum, else what differs."""
    for algorithm, expected in (("sha256", download.sha256), ("sha1", download.sha1)):
        if expected is None:
            continue
        digest = hashlib.new(algorithm)
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            return f"{algorithm} is {digest.hexdigest()}, matrix.yaml pins {expected}"
    return None


class DownloadMissing(Exception):
    """No place had the file: what each upstream host said."""

    def __init__(self, filename: str, upstream: dict[str, str]) -> None:
        super().__init__(filename)
        self.filename, self.upstream = filename, upstream


def file_name(download: Download) -> str:
    """The name a mirror keeps a download under: the last part of its upstream URL."""
    return PurePosixPath(urllib.parse.urlsplit(download.url).path).name or download.name


def mirrored(place: str, filename: str) -> str:
    """A file in a --downloads place: a directory, or a URL under which the files are served."""
    if place.startswith(("http://", "https://")):
        return f"{place.rstrip('/')}/{urllib.parse.quote(filename)}"
    return str(Path(place) / filename)


class Downloads:
    """The run's downloads: one lock per file, so two threads wanting one file fetch it once."""

    def __init__(self, cache: Path, say: Callable[[str], None], mirrors: tuple[str, ...] = ()) -> None:
        self.cache = cache
        self.say = say
        self.mirrors = mirrors  # --downloads: directories or URLs holding the pinned files, asked before upstream
        self.unreachable: dict[str, str] = {}  # host -> why: asked once per run, not once per file
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def all_of(self, toolchain: Toolchain) -> dict[str, Path]:
        """Every pinned file of the toolchain, verified; unavailable naming every file that cannot be had."""
        found, missing = {}, []
        for download in toolchain.downloads:
            try:
                found[download.name] = self.one(toolchain, download)
            except DownloadMissing as exc:
                missing.append(exc)
        if missing:
            places = list(self.mirrors) + sorted({f"{host} ({reason})" for exc in missing
                                                  for host, reason in exc.upstream.items()})
            # One line says where it looked and what to do; the names follow, a few to a line (evidence lines
            # are bounded).
            names = [exc.filename for exc in missing]
            what = (f"{len(missing)} of {len(toolchain.downloads)} downloads of {toolchain.name} cannot be had; "
                    f"looked in {', '.join(places)}: put them, under the names below, in a directory (or a web "
                    "server's) and give it with --downloads DIR or COMPAT_DOWNLOADS")
            raise ToolchainUnavailable("\n".join([
                what, *(f"missing: {', '.join(names[n:n + MISSING_NAMED])}" for n in range(0, len(names), MISSING_NAMED))]))
        return found

    def one(self, toolchain: Toolchain, download: Download) -> Path:
        key = download.sha256 or download.sha1 or download.name
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            return self._fetch(toolchain, download, self.cache / "downloads" / key)

    def _fetch(self, toolchain: Toolchain, download: Download, path: Path) -> Path:
        """From the cache, else the first of the --downloads places that has it, else upstream. A file
        that is there but differs from its pin is an error of its own: never passed over for another."""
        if path.exists() and verify(path, download) is None:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        filename = file_name(download)
        upstream: dict[str, str] = {}
        for place in [*self.mirrors, None]:
            where = download.url if place is None else mirrored(place, filename)
            if not where.startswith(("http://", "https://")):
                if Path(where).is_file():
                    return _take(download, Path(where), where, path, copy=True)
                continue
            host = urllib.parse.urlsplit(where).netloc
            if host in self.unreachable:
                upstream[host] = self.unreachable[host]
                continue
            partial = path.with_suffix(".part")
            self.say(f"{toolchain.name}: downloading {where}")
            try:
                with urllib.request.urlopen(where, timeout=DOWNLOAD_TIMEOUT) as response, partial.open("wb") as out:
                    shutil.copyfileobj(response, out, 1 << 20)
            except urllib.error.HTTPError as exc:  # the host answers, without this file
                partial.unlink(missing_ok=True)
                upstream[host] = f"HTTP {exc.code}"
                continue
            except (urllib.error.URLError, OSError) as exc:
                partial.unlink(missing_ok=True)
                self.unreachable[host] = upstream[host] = str(getattr(exc, "reason", None) or exc)
                continue
            return _take(download, partial, where, path, copy=False)
        raise DownloadMissing(filename, upstream)


def _take(download: Download, found: Path, where: str, path: Path, copy: bool) -> Path:
    mismatch = verify(found, download)
    if mismatch:
        if not copy:
            found.unlink()
        raise ToolchainUnavailable(f"{where} does not match its pin: {mismatch}")
    if copy:
        shutil.copyfile(found, path)
    else:
        found.rename(path)
    return path
