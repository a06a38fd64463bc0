"""Where a bindist toolchain's files come from: the cache, a --downloads directory or mirror, then upstream;
every file verified against its pin; what cannot be had is named, with every place it was looked for."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from compat.errors import ToolchainUnavailable
from compat.images import ImageBuilder
from compat.matrix import Download, Toolchain
from tests.test_images_and_runner import default

GONE = "http://127.0.0.1:9"  # nothing listens there: refused at once


def toolchain(*downloads: Download) -> Toolchain:
    """ghc710 with these downloads; its frozen suite's Release is tests/test_frozen.py's."""
    return dataclasses.replace(default().toolchains["ghc710"], downloads=downloads, frozen=None)


def pinned(name: str, content: bytes, url: str | None = None) -> Download:
    return Download(name, url or f"{GONE}/files/{name}", sha256=hashlib.sha256(content).hexdigest())


def builder(tmp_path: Path, said: list[str], *mirrors: str) -> ImageBuilder:
    return ImageBuilder(None, tmp_path / "cache", said.append, mirrors=mirrors)  # type: ignore[arg-type]


def test_a_file_in_the_downloads_directory_is_verified_and_used_without_the_network(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / "lens-4.12.3.tar.gz").write_bytes(b"lens sdist")
    said: list[str] = []
    found = builder(tmp_path, said, str(offline))._downloads(toolchain(pinned("lens-4.12.3.tar.gz", b"lens sdist")))
    assert found["lens-4.12.3.tar.gz"].read_bytes() == b"lens sdist"
    assert not [line for line in said if "downloading" in line]


def test_a_file_of_the_right_name_and_wrong_content_is_one_line_naming_both_digests(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / "ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2").write_bytes(b"not the bindist")
    ghc = pinned("ghc", b"the bindist", f"{GONE}/~ghc/7.10.2/ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2")
    with pytest.raises(ToolchainUnavailable) as raised:
        builder(tmp_path, [], str(offline))._downloads(toolchain(ghc))
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{offline}/ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2 does not match its pin: ")
    assert hashlib.sha256(b"the bindist").hexdigest() in message
    assert hashlib.sha256(b"not the bindist").hexdigest() in message


def test_an_empty_directory_names_every_missing_file_and_where_it_was_looked_for(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    offline.mkdir()
    wanted = toolchain(pinned("ghc", b"g", f"{GONE}/~ghc/ghc-7.10.2.tar.bz2"), pinned("lens-4.12.3.tar.gz", b"l"),
                       pinned("json-0.9.1.tar.gz", b"j"))
    said: list[str] = []
    with pytest.raises(ToolchainUnavailable) as raised:
        builder(tmp_path, said, str(offline))._downloads(wanted)
    first, *names = str(raised.value).splitlines()
    assert first.startswith(f"3 of 3 downloads of ghc710 cannot be had; looked in {offline}, 127.0.0.1:9 (")
    assert first.endswith("give it with --downloads DIR or COMPAT_DOWNLOADS")
    assert names == ["missing: ghc-7.10.2.tar.bz2, lens-4.12.3.tar.gz, json-0.9.1.tar.gz"]
    # One host that refuses is asked once, not once per file.
    assert len([line for line in said if "downloading" in line]) == 1


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP mirror (what an air-gapped buildd's admin serves) over a directory."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mirror", served
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        return super().translate_path(path.removeprefix("/mirror"))

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_local_http_mirror_serves_the_pinned_files(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    url, served = mirror
    (served / "json-0.9.1.tar.gz").write_bytes(b"json sdist")
    said: list[str] = []
    found = builder(tmp_path, said, url)._downloads(toolchain(pinned("json-0.9.1.tar.gz", b"json sdist")))
    assert found["json-0.9.1.tar.gz"].read_bytes() == b"json sdist"
    assert said == [f"ghc710: downloading {url}/json-0.9.1.tar.gz"]
    # Cached once verified: the next run takes it from the cache.
    (served / "json-0.9.1.tar.gz").unlink()
    again: list[str] = []
    assert builder(tmp_path, again, url)._downloads(toolchain(pinned("json-0.9.1.tar.gz", b"json sdist")))
    assert again == []
