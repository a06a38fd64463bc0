"""A frozen suite (jessie on the archive) trusted by the pinned sha256 of its Release file, not by its expired keys.

Without Docker: the matrix fields, apt's names of its lists files, the image plan and mmdebstrap's command, the
tool's own fetch-and-check against a local HTTP server, and images/scripts/check-frozen-release run here. The
real apt, in containers and in mmdebstrap, against a repository signed with an expired key: test_frozen_docker.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from compat import frozen
from compat.errors import ToolchainUnavailable
from compat.images import IMAGES_DIR, ImageBuilder, bootstrap_argv, plan_image, refusal
from compat.matrix import Download, Frozen, Toolchain
from tests.test_images_and_runner import default
from tests.test_matrix import error_for, load_default

RELEASE = b"Origin: Debian\nSuite: oldoldstable\nCodename: jessie\nSHA256:\n"
PIN = hashlib.sha256(RELEASE).hexdigest()


def jessie(mirror: str = "http://archive.debian.org/debian", sha256: str | None = PIN, **changes: object) -> Toolchain:
    return dataclasses.replace(default().toolchains["ghc710"], mirror=mirror, frozen=Frozen("InRelease", sha256),
                               **changes)


def test_jessie_is_a_frozen_suite_not_yet_pinned_and_without_a_keyring() -> None:
    for name in ("ghc78", "ghc710"):
        toolchain = default().toolchains[name]
        assert toolchain.frozen == Frozen("InRelease", None) and toolchain.keyring is None
        assert frozen.release_url(toolchain) == "http://archive.debian.org/debian/dists/jessie/InRelease"


def test_a_frozen_suite_is_validated_with_the_path_of_each_mistake() -> None:
    data = load_default()
    data["toolchains"]["ghc710"]["frozen"] = {"release": "Releases"}
    assert error_for(data) == ("matrix.yaml: toolchains.ghc710.frozen.release: 'Releases' is not one of: InRelease, "
                               "Release (did you mean 'Release'?)")
    data["toolchains"]["ghc710"]["frozen"] = {"sha256": "F" * 64}
    assert error_for(data).endswith("frozen.sha256: '" + "F" * 64 + "' is not a 64-digit lowercase hex sha256")
    data["toolchains"]["ghc710"]["frozen"] = {"sha256": PIN}
    data["toolchains"]["ghc710"]["keyring"] = "/usr/share/keyrings/debian-archive-removed-keys.gpg"
    assert error_for(data) == ("matrix.yaml: toolchains.ghc710.keyring: a frozen suite is trusted by its pinned Release "
                               "file, not a keyring (its keys have expired): remove 'keyring'")
    del data["toolchains"]["ghc710"]["keyring"], data["toolchains"]["ghc710"]["mirror"]
    assert error_for(data) == ("matrix.yaml: toolchains.ghc710.frozen: a frozen suite is fetched from its mirror: give "
                               "'mirror' too")


@pytest.mark.parametrize("mirror, suite, prefix", [
    ("http://archive.debian.org/debian", "jessie", "archive.debian.org_debian_dists_jessie_"),
    ("http://archive.debian.org/debian/", "jessie", "archive.debian.org_debian_dists_jessie_"),
    # what apt 2.6 named a repository served on the Docker bridge (seen in /var/lib/apt/lists)
    ("http://172.17.0.1:18931/", "frozen", "172.17.0.1:18931_dists_frozen_"),
    ("http://user:secret@mirror.example/debian_archive", "jessie/updates",
     "mirror.example_debian%5farchive_dists_jessie_updates_"),
])
def test_the_lists_files_are_named_as_apt_names_them(mirror: str, suite: str, prefix: str) -> None:
    assert frozen.lists_prefix(mirror, suite) == prefix


def test_only_the_frozen_suites_own_line_is_trusted_and_its_pin_is_checked_before_anything_is_installed() -> None:
    toolchain = jessie(apt_sources=("deb http://archive.debian.org/debian-security jessie/updates main",))
    plan = plan_image(toolchain, default().recipes["ganeti-2.x"])
    assert plan.files["base-sources.list"] == b"deb [trusted=yes] http://archive.debian.org/debian jessie main\n"
    assert plan.files["sources.list"] == b"deb http://archive.debian.org/debian-security jessie/updates main\n"
    assert plan.files["frozen-release"] == (
        f"archive.debian.org_debian_dists_jessie_ {PIN} jessie's InRelease at "
        "http://archive.debian.org/debian/dists/jessie/InRelease\n").encode()
    assert plan.files["check-frozen-release"] == frozen.SCRIPT.read_bytes()
    assert plan.digest("base") != plan_image(jessie(sha256="0" * 64), default().recipes["ganeti-2.x"]).digest("base")
    for kind in ("debian", "bindist"):
        dockerfile = (IMAGES_DIR / f"{kind}.Dockerfile").read_text()
        update = dockerfile.index("apt-get update")
        checked = dockerfile.index("check-frozen-release /var/lib/apt/lists /usr/share/ganeti-compat/frozen-release")
        assert update < checked < dockerfile.index("apt-get dist-upgrade") < dockerfile.index("apt-get install")


def test_mmdebstrap_updates_in_its_setup_hook_and_checks_the_pin_before_it_downloads(tmp_path: Path) -> None:
    argv = bootstrap_argv(jessie(), tmp_path / "base.tar", tmp_path / "s")
    assert argv == [
        "mmdebstrap", "--variant=minbase", '--aptopt=Acquire::Check-Valid-Until "false";', "--skip=update",
        (f'--setup-hook=APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get update && sh {tmp_path}/s/check-frozen-release '
         f'"$1/var/lib/apt/lists" {tmp_path}/s/frozen-release'),
        "jessie", str(tmp_path / "base.tar"), "deb [trusted=yes] http://archive.debian.org/debian jessie main"]
    assert not any(arg.startswith("--keyring") for arg in argv)


def test_the_release_file_is_named_accepted_or_refused_in_one_line() -> None:
    assert frozen.refusal(jessie(), RELEASE) is None
    changed = frozen.refusal(jessie(), RELEASE + b"tampered\n")
    actual = hashlib.sha256(RELEASE + b"tampered\n").hexdigest()
    assert changed == (f"ghc710: jessie's InRelease at http://archive.debian.org/debian/dists/jessie/InRelease has "
                       f"sha256 {actual}, matrix.yaml pins {PIN}: refused (a frozen suite does not change; if it was "
                       "re-signed, check the new file and pin it)")
    unpinned = frozen.refusal(jessie(sha256=None), RELEASE)
    assert unpinned is not None and "\n" not in unpinned
    assert unpinned.startswith(f"ghc710: jessie's InRelease at http://archive.debian.org/debian/dists/jessie/InRelease "
                               f"is not pinned: its sha256 is {PIN}; check that file, then pin it as "
                               "toolchains.ghc710.frozen.sha256 in matrix.yaml")


class Mirror:
    """A mirror on this machine serving one suite's InRelease, whatever bytes the test gives it."""

    def __init__(self) -> None:
        self.release: bytes | None = RELEASE
        self.asked = 0
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.asked += 1
                found = self.path == "/debian/dists/jessie/InRelease" and mirror.release is not None
                self.send_response(200 if found else 404)
                self.end_headers()
                if found:
                    self.wfile.write(mirror.release or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/debian"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    served = Mirror()
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_the_tool_fetches_and_checks_the_release_file_before_anything_is_built(mirror: Mirror, tmp_path: Path) -> None:
    assert frozen.check(jessie(mirror.url), {}) is None
    mirror.release = RELEASE.replace(b"jessie", b"jessie-tampered")
    said = frozen.check(jessie(mirror.url), {})
    assert said is not None and "\n" not in said and said.endswith(
        f"matrix.yaml pins {PIN}: refused (a frozen suite does not change; if it was re-signed, check the new file "
        "and pin it)")
    mirror.release = None
    assert frozen.check(jessie(mirror.url), {}) == (
        f"ghc710: jessie's InRelease at {mirror.url}/dists/jessie/InRelease cannot be fetched (HTTP 404)")
    # Refused before the engine is asked anything (there is none here), and once a run.
    mirror.release = RELEASE + b"x"
    builder = ImageBuilder(None, tmp_path, lambda line: None)  # type: ignore[arg-type]
    toolchain = jessie(mirror.url, downloads=())
    for _ in range(2):
        with pytest.raises(ToolchainUnavailable, match=r"^ghc710: jessie's InRelease at .* refused \(a frozen [^\n]*$"):
            builder.ensure(toolchain, default().recipes["ganeti-2.x"], tmp_path / "image.log")
    assert mirror.asked == 4  # the three checks above, then once for the builder


def test_missing_downloads_and_an_unpinned_release_are_said_together(mirror: Mirror, tmp_path: Path) -> None:
    toolchain = jessie(mirror.url, sha256=None,
                       downloads=(Download("ghc", "http://127.0.0.1:9/ghc-7.10.2.tar.bz2", sha1="0" * 40),))
    builder = ImageBuilder(None, tmp_path, lambda line: None)  # type: ignore[arg-type]
    with pytest.raises(ToolchainUnavailable) as caught:
        builder.ensure(toolchain, default().recipes["ganeti-2.x"], tmp_path / "image.log")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("1 of 1 downloads of ghc710 cannot be had") and "--downloads DIR" in lines[0]
    assert lines[1] == "missing: ghc-7.10.2.tar.bz2"
    assert lines[2].startswith(f"ghc710: jessie's InRelease at {mirror.url}/dists/jessie/InRelease is not pinned: "
                               f"its sha256 is {PIN}")


def check_lists(tmp_path: Path, stored: dict[str, bytes], pins: str) -> tuple[int, str]:
    """images/scripts/check-frozen-release on a lists directory holding `stored`."""
    lists = tmp_path / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    for name, data in stored.items():
        (lists / name).write_bytes(data)
    (tmp_path / "pins").write_text(pins)
    done = subprocess.run(["sh", str(frozen.SCRIPT), str(lists), str(tmp_path / "pins")], capture_output=True,
                          text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def test_the_release_file_apt_read_is_checked_by_its_hash_whatever_apt_named_it(tmp_path: Path) -> None:
    prefix = "archive.debian.org_debian_dists_jessie_"
    pins = f"{prefix} {PIN} jessie's InRelease at http://archive.debian.org/debian/dists/jessie/InRelease\n"
    # apt 2.6 keeps an InRelease whose signature it could not accept under the name Release.
    assert check_lists(tmp_path / "a", {f"{prefix}Release": RELEASE}, pins)[0] == 0
    assert check_lists(tmp_path / "b", {f"{prefix}InRelease": RELEASE}, pins)[0] == 0
    code, said = check_lists(tmp_path / "c", {f"{prefix}InRelease": RELEASE + b"x"}, pins)
    assert code == 1 and len(said.splitlines()) == 1
    assert said.startswith("frozen-release: jessie's InRelease at http://archive.debian.org/debian/dists/jessie/"
                           "InRelease as apt read it has sha256 ")
    assert refusal(f"Step 5/9\n{said}The command returned a non-zero code: 1\n") == said.strip()
    code, said = check_lists(tmp_path / "d", {"elsewhere_dists_jessie_InRelease": RELEASE}, pins)
    assert code == 1 and "apt read no Release file of jessie's InRelease" in said
    assert check_lists(tmp_path / "e", {}, "")[0] == 0  # nothing frozen
