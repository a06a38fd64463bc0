"""A frozen suite: an archived Debian release whose Release file can no longer change, trusted by its sha256.

jessie on archive.debian.org is signed only with keys that have expired (apt: `KEYEXPIRED 1587841717`), so
neither apt in an image nor mmdebstrap with the removed-keys keyring accepts it. matrix.yaml pins the sha256
of the Release file apt reads (`frozen: {release: InRelease, sha256: ...}`). The tool fetches that file and
checks the hash before anything is built; then apt uses that one repository with `[trusted=yes]` on its
source line alone, and, before a package is downloaded or installed, the Release file apt itself stored
must have the pinned hash too (scripts/check-frozen-release): apt checks every index against the Release
it read and every package against its index, so nothing that the pinned Release does not name is used.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from compat.matrix import Toolchain

SCRIPT = Path(__file__).resolve().parent.parent / "images" / "scripts" / "check-frozen-release"
REFUSED = "frozen-release: "  # how check-frozen-release starts the one line of its refusal
TIMEOUT = 30
MAX_RELEASE = 16 << 20  # a Release file is a few hundred KiB
# Characters apt's URItoFileName writes as %xx in the names of its lists files (besides controls and non-ASCII).
APT_QUOTED = set('\\|{}[]<>"^~_=!@#$%&*')


def release_url(toolchain: Toolchain) -> str:
    assert toolchain.mirror and toolchain.frozen
    return f"{toolchain.mirror.rstrip('/')}/dists/{toolchain.suite}/{toolchain.frozen.release}"


def what(toolchain: Toolchain) -> str:
    """How a refusal names the file: "jessie's InRelease at http://...". """
    assert toolchain.frozen
    return f"{toolchain.suite}'s {toolchain.frozen.release} at {release_url(toolchain)}"


def source_line(toolchain: Toolchain) -> str:
    """The one sources.list line apt may use despite the expired signature: the pinned suite's."""
    return f"deb [trusted=yes] {toolchain.mirror} {toolchain.suite} main"


def lists_prefix(mirror: str, suite: str) -> str:
    """What apt names the files of a suite in /var/lib/apt/lists, up to InRelease or Release, as its
    URItoFileName does: the URI without scheme and credentials, odd characters as %xx, '/' as '_'."""
    parts = urllib.parse.urlsplit(f"{mirror.rstrip('/')}/dists/{suite}/")
    uri = parts.netloc.rpartition("@")[2] + parts.path
    quoted = "".join(f"%{ord(c):02x}" if c in APT_QUOTED or not " " < c < "\x7f" else c for c in uri)
    return quoted.replace("/", "_")


def pin_file(toolchain: Toolchain) -> bytes:
    """What an image (and a bootstrap) keeps for check-frozen-release: prefix, sha256 and the file's name;
    empty when the suite is not frozen."""
    if toolchain.frozen is None or toolchain.mirror is None:
        return b""
    pin = toolchain.frozen.sha256 or "unpinned"  # matches no file: never built so, `check` refuses first
    return f"{lists_prefix(toolchain.mirror, toolchain.suite)} {pin} {what(toolchain)}\n".encode()


def refusal(toolchain: Toolchain, data: bytes) -> str | None:
    """None when the file is the pinned one; else the one line that refuses it (or says what to pin)."""
    assert toolchain.frozen
    actual = hashlib.sha256(data).hexdigest()
    if toolchain.frozen.sha256 is None:
        return (f"{toolchain.name}: {what(toolchain)} is not pinned: its sha256 is {actual}; check that file, then pin "
                f"it as toolchains.{toolchain.name}.frozen.sha256 in matrix.yaml (a frozen suite is trusted by that "
                "hash alone)")
    if actual != toolchain.frozen.sha256:
        return (f"{toolchain.name}: {what(toolchain)} has sha256 {actual}, matrix.yaml pins {toolchain.frozen.sha256}: "
                "refused (a frozen suite does not change; if it was re-signed, check the new file and pin it)")
    return None


def check(toolchain: Toolchain, unreachable: dict[str, str]) -> str | None:
    """Fetch the frozen suite's Release file and check it: None when it is the pinned one, else one line.
    `unreachable` (host -> why) is shared with the downloads, so a host that does not answer is asked once."""
    url = release_url(toolchain)
    host = urllib.parse.urlsplit(url).netloc
    if host in unreachable:
        return f"{toolchain.name}: {what(toolchain)} cannot be fetched ({unreachable[host]})"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            data = response.read(MAX_RELEASE + 1)
    except urllib.error.HTTPError as exc:
        return f"{toolchain.name}: {what(toolchain)} cannot be fetched (HTTP {exc.code})"
    except (urllib.error.URLError, OSError) as exc:
        unreachable[host] = str(getattr(exc, "reason", None) or exc)
        return f"{toolchain.name}: {what(toolchain)} cannot be fetched ({unreachable[host]})"
    if len(data) > MAX_RELEASE:
        return f"{toolchain.name}: {what(toolchain)} is larger than {MAX_RELEASE >> 20} MiB: no Release file"
    return refusal(toolchain, data)
