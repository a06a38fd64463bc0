"""A frozen suite against real apt: a local repository signed with a key that has already expired (what jessie on
archive.debian.org is), served over HTTP to containers and to mmdebstrap, offline from the archive.

The repository holds Debian bookworm's minbase packages (fetched once from deb.debian.org, so that mmdebstrap can
bootstrap from it) and one package of its own. Its Release files are signed by gpg with a faked clock, with a
key that expired in 2020: apt reports EXPKEYSIG, as it reports KEYEXPIRED for jessie. Without a pin apt refuses;
pinned, the image builds; a changed Release file is refused in one line, whether the tool or apt itself reads it.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from compat.engine import Engine
from compat.errors import ToolchainUnavailable
from compat.images import BASE_REPOSITORY, COMMON_PACKAGES, ImageBuilder, ImageBuildFailed, repository_of
from compat.matrix import Frozen, Recipe, Toolchain
from tests import bridge
from tests.conftest import ROOT

pytestmark = pytest.mark.docker
MARKER = "ganeti-compat-frozen-marker"
REGISTRY_SUITE, BOOTSTRAP_SUITE = "frozen-registry", "frozen-bootstrap"
SIGNED_AT = "20200101T120000"  # the key was made on 2020-01-01 and expired two days later


class FrozenRepository:
    """An apt repository of two suites, signed with an expired key; a path can be served other bytes, to
    everyone or to apt alone (told apart by its User-Agent: the tool fetches with Python's)."""

    def __init__(self, root: Path, host: str, gnupg: Path) -> None:
        self.root, self.gnupg = root, gnupg
        self.tampered: dict[str, tuple[bytes, bool]] = {}  # path -> (bytes, apt only)
        repo = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object) -> None:
                super().__init__(*args, directory=str(root))  # type: ignore[arg-type]

            def do_GET(self) -> None:
                served = repo.tampered.get(self.path)
                if served and (not served[1] or "APT" in self.headers.get("User-Agent", "")):
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(served[0])))
                    self.end_headers()
                    self.wfile.write(served[0])
                    return
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/debian"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, debs: Path, suites: tuple[str, ...]) -> None:
        pool = self.root / "debian" / "pool"
        pool.mkdir(parents=True)
        for deb in debs.glob("*.deb"):
            shutil.copyfile(deb, pool / deb.name)
        stanzas = []
        for deb in sorted(pool.glob("*.deb")):
            control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
            if deb.name.startswith("apt_"):  # Debian's override file makes apt required, its own control important
                control = control.replace("Priority: important", "Priority: required")
            data = deb.read_bytes()
            stanzas.append(f"{control.rstrip()}\nFilename: pool/{deb.name}\nSize: {len(data)}\n"
                           f"SHA256: {hashlib.sha256(data).hexdigest()}\n")
        packages = "\n".join(stanzas).encode()
        indices = {"main/binary-amd64/Packages": packages, "main/binary-amd64/Packages.gz": gzip.compress(packages, mtime=0)}
        for suite in suites:
            dists = self.root / "debian" / "dists" / suite
            for name, data in indices.items():
                (dists / name).parent.mkdir(parents=True, exist_ok=True)
                (dists / name).write_bytes(data)
            (dists / "Release").write_text(release(suite, "Wed, 01 Jan 2020 12:00:00 UTC", indices))
            self.sign(dists)

    def sign(self, dists: Path) -> None:
        for argv in (["--clearsign", "-o", "InRelease"], ["--detach-sign", "--armor", "-o", "Release.gpg"]):
            subprocess.run(["gpg", "--batch", "--yes", "--faked-system-time", SIGNED_AT, *argv, "Release"], cwd=dists,
                           env={**os.environ, "GNUPGHOME": str(self.gnupg)}, capture_output=True, check=True)

    def inrelease(self, suite: str) -> bytes:
        return (self.root / "debian" / "dists" / suite / "InRelease").read_bytes()

    def re_signed(self, suite: str) -> bytes:
        """The suite's InRelease as someone who holds the key could serve it instead: another date, same key."""
        scratch = self.root / "scratch"
        scratch.mkdir(exist_ok=True)
        text = (self.root / "debian" / "dists" / suite / "Release").read_text()
        (scratch / "Release").write_text(text.replace("Wed, 01 Jan 2020", "Thu, 02 Jan 2020"))
        self.sign(scratch)
        return (scratch / "InRelease").read_bytes()


def release(suite: str, date: str, indices: dict[str, bytes]) -> str:
    return (f"Origin: ganeti-compat tests\nSuite: {suite}\nCodename: {suite}\nDate: {date}\nArchitectures: amd64\n"
            "Components: main\nSHA256:\n" + "".join(f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}\n"
                                                   for name, data in indices.items()))


def marker_deb(directory: Path) -> None:
    tree = directory / "tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {MARKER}\nVersion: 1\nArchitecture: all\nMaintainer: ganeti-compat <tests@invalid>\n"
        "Description: installed only from the frozen suite\n")
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(tree), str(directory / f"{MARKER}_1_all.deb")],
                   capture_output=True, check=True)
    shutil.rmtree(tree)


@pytest.fixture(scope="module")
def frozen_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrozenRepository]:
    if shutil.which("mmdebstrap") is None or shutil.which("gpg") is None:
        pytest.skip("needs mmdebstrap and gpg on this machine")
    base = tmp_path_factory.mktemp("frozen")
    gnupg = base / "gnupg"
    gnupg.mkdir(mode=0o700)
    made = subprocess.run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--faked-system-time",
                           "20200101T000000", "--quick-gen-key", "ganeti-compat frozen test <frozen@invalid>", "ed25519",
                           "sign", "2d"], env={**os.environ, "GNUPGHOME": str(gnupg)}, capture_output=True, text=True,
                          check=False)
    assert made.returncode == 0, made.stderr
    (base / "expired.gpg").write_bytes(subprocess.run(["gpg", "--export"], env={**os.environ, "GNUPGHOME": str(gnupg)},
                                                      capture_output=True, check=True).stdout)
    debs = base / "debs"
    debs.mkdir()
    # bookworm's minbase packages and what every image of the tool installs, kept by mmdebstrap's sync-out hook:
    # what the repository serves, for a bootstrap and an image build.
    subprocess.run(["mmdebstrap", "--variant=minbase", "--skip=cleanup/apt/cache,essential/unlink",
                    f"--include={','.join(COMMON_PACKAGES)}",
                    f"--customize-hook=sync-out /var/cache/apt/archives {debs}", "bookworm", "/dev/null",
                    "http://deb.debian.org/debian"], capture_output=True, check=True, timeout=900)
    marker_deb(debs)
    # The containers reach this machine at the bridge's gateway (the subnet's first address unless IPAM names one).
    gateway = bridge.gateway()
    repo = FrozenRepository(base / "www", gateway, gnupg)
    repo.publish(debs, (REGISTRY_SUITE, BOOTSTRAP_SUITE))
    yield repo
    repo.server.shutdown()
    repo.server.server_close()
    # gpg started an agent for this home: end it, or a later run's home at the same path finds it.
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(gnupg)}, check=False)
    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith((f"debian:{REGISTRY_SUITE}", f"{BASE_REPOSITORY}:{BOOTSTRAP_SUITE}-",
                               "ganeti-compat/frozen-")):
                client.images.remove(tag, force=True)


RECIPE = Recipe("frozen", (MARKER,), {"prepare": (), "configure": (), "build": (("true",),), "test": ()}, None, ())


def toolchain(name: str, suite: str, repo: FrozenRepository, pin: str | None = None, keyring: Path | None = None
              ) -> Toolchain:
    return Toolchain(name, f"{suite}, frozen", "debian", suite, "0", ("gnutls",), "gnutls", mirror=repo.url,
                     keyring=str(keyring) if keyring else None, frozen=Frozen("InRelease", pin) if pin else None,
                     apt_options=("Acquire::Check-Valid-Until=false",))


def ensure(tc: Toolchain, tmp_path: Path, log: str) -> str:
    """The toolchain image of RECIPE, built by a builder of its own (each checks the Release file once a run)."""
    builder = ImageBuilder(Engine(), tmp_path / "cache", lambda line: None)
    try:
        return builder.ensure(tc, RECIPE, tmp_path / log).tag
    finally:
        builder.release()


def forget(name: str) -> None:
    client = docker.from_env()
    for image in client.images.list(name=repository_of(name)):
        for tag in image.tags:
            client.images.remove(tag, force=True)


def installed(tag: str) -> str:
    code, text = Engine().output(tag, ["sh", "-c", (f"dpkg-query -W -f='${{Version}}' {MARKER}; echo; "
                                       "cat /etc/apt/sources.list")], network=False, timeout=60)
    assert code == 0, text
    return text


def one_line(exc: pytest.ExceptionInfo[ToolchainUnavailable]) -> str:
    said = str(exc.value)
    assert "\n" not in said, said
    return said


def test_a_frozen_suite_from_a_registry_base_builds_only_pinned(frozen_repository: FrozenRepository,
                                                                 tmp_path: Path) -> None:
    repo = frozen_repository
    # debian:<suite> as a registry would serve it: a Debian base that trusts the suite's key, which has expired.
    bookworm = Toolchain("bookworm", "bookworm", "debian", "bookworm", "0", ("gnutls",), "gnutls")
    base = ImageBuilder(Engine(), tmp_path, lambda line: None).base(bookworm, tmp_path / "base.log")
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        for name, data in (("Dockerfile", f"FROM {base}\nCOPY expired.gpg /etc/apt/trusted.gpg.d/frozen-test.gpg\n"
                                          .encode()), ("expired.gpg", (repo.root.parent / "expired.gpg").read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    docker.from_env().images.build(fileobj=io.BytesIO(context.getvalue()), custom_context=True,
                                   tag=f"debian:{REGISTRY_SUITE}", rm=True)

    # Without a pin: apt refuses the suite for its expired key, as jessie's apt does with KEYEXPIRED.
    with pytest.raises(ImageBuildFailed) as refused:
        ensure(toolchain("frozen-registry", REGISTRY_SUITE, repo), tmp_path, "unpinned.log")
    text = refused.value.log_text
    assert "The following signatures were invalid: EXPKEYSIG" in text, text
    assert f"The repository '{repo.url} {REGISTRY_SUITE} InRelease' is not signed." in text, text  # apt's E:, coloured

    # A changed Release file: refused in one line before anything is built.
    pin = hashlib.sha256(repo.inrelease(REGISTRY_SUITE)).hexdigest()
    pinned = toolchain("frozen-registry", REGISTRY_SUITE, repo, pin)
    path = f"/debian/dists/{REGISTRY_SUITE}/InRelease"
    repo.tampered[path] = (repo.re_signed(REGISTRY_SUITE), False)
    with pytest.raises(ToolchainUnavailable) as changed:
        ensure(pinned, tmp_path, "changed.log")
    assert one_line(changed).startswith(f"frozen-registry: {REGISTRY_SUITE}'s InRelease at {repo.url}/dists/"
                                        f"{REGISTRY_SUITE}/InRelease has sha256 ")
    assert one_line(changed).endswith(f"matrix.yaml pins {pin}: refused (a frozen suite does not change; if it was "
                                      "re-signed, check the new file and pin it)")

    # The tool was shown the pinned file, apt another: apt's own copy is checked before anything is installed.
    repo.tampered[path] = (repo.re_signed(REGISTRY_SUITE), True)
    with pytest.raises(ToolchainUnavailable) as behind:
        ensure(pinned, tmp_path, "behind.log")
    assert one_line(behind).startswith(f"frozen-registry: frozen-release: {REGISTRY_SUITE}'s InRelease at ")
    assert one_line(behind).endswith(f"as apt read it has sha256 "
                                     f"{hashlib.sha256(repo.tampered[path][0]).hexdigest()}, matrix.yaml pins {pin}: refused")

    # Pinned and unchanged: the image builds from that suite, trusted on its own source line alone.
    del repo.tampered[path]
    forget("frozen-registry")
    text = installed(ensure(pinned, tmp_path, "pinned.log"))
    assert text.splitlines()[0] == "1", text
    assert f"deb [trusted=yes] {repo.url} {REGISTRY_SUITE} main" in text.splitlines()[1:], text
    assert "frozen-release: " in (tmp_path / "pinned.log").read_text()


def test_a_frozen_suite_bootstraps_through_mmdebstrap_only_pinned(frozen_repository: FrozenRepository,
                                                                  tmp_path: Path) -> None:
    repo = frozen_repository
    # Without a pin, the keyring of the suite (its key has expired): mmdebstrap's apt refuses it. The keyring
    # where apt's unprivileged methods can read it, as /usr/share/keyrings is.
    readable = Path(tempfile.mkdtemp(prefix="ganeti-compat-keyring-"))
    try:
        readable.chmod(0o755)
        expired = readable / "expired.gpg"
        shutil.copyfile(repo.root.parent / "expired.gpg", expired)
        expired.chmod(0o644)
        with pytest.raises(ToolchainUnavailable, match="bootstrapping Debian frozen-bootstrap with mmdebstrap failed"):
            ensure(toolchain("frozen-bootstrap", BOOTSTRAP_SUITE, repo, keyring=expired), tmp_path, "unpinned.log")
    finally:
        shutil.rmtree(readable)
    text = (tmp_path / "unpinned.log").read_text()
    assert "The following signatures were invalid: EXPKEYSIG" in text, text
    assert f"The repository '{repo.url} {BOOTSTRAP_SUITE} InRelease' is not signed." in text, text

    pin = hashlib.sha256(repo.inrelease(BOOTSTRAP_SUITE)).hexdigest()
    pinned = toolchain("frozen-bootstrap", BOOTSTRAP_SUITE, repo, pin)
    path = f"/debian/dists/{BOOTSTRAP_SUITE}/InRelease"
    repo.tampered[path] = (repo.re_signed(BOOTSTRAP_SUITE), False)
    with pytest.raises(ToolchainUnavailable) as changed:
        ensure(pinned, tmp_path, "changed.log")
    assert one_line(changed).endswith(f"matrix.yaml pins {pin}: refused (a frozen suite does not change; if it was "
                                      "re-signed, check the new file and pin it)")

    # apt alone served another Release: the setup hook refuses it before mmdebstrap downloads a package.
    repo.tampered[path] = (repo.re_signed(BOOTSTRAP_SUITE), True)
    with pytest.raises(ToolchainUnavailable) as behind:
        ensure(pinned, tmp_path, "behind.log")
    assert one_line(behind).startswith(f"frozen-bootstrap: frozen-release: {BOOTSTRAP_SUITE}'s InRelease at ")
    assert one_line(behind).endswith(f"matrix.yaml pins {pin}: refused")
    assert "downloading packages" not in (tmp_path / "behind.log").read_text()

    del repo.tampered[path]
    text = installed(ensure(pinned, tmp_path, "pinned.log"))
    assert text.splitlines()[0] == "1", text
    assert f"deb [trusted=yes] {repo.url} {BOOTSTRAP_SUITE} main" in text.splitlines()[1:], text
    bases = [t for image in docker.from_env().images.list(name=BASE_REPOSITORY) for t in image.tags
             if t.startswith(f"{BASE_REPOSITORY}:{BOOTSTRAP_SUITE}-")]
    assert len(bases) == 1, bases


def test_the_ghc710_session_ends_unavailable_in_seconds_naming_the_downloads_and_jessies_release(tmp_path: Path
                                                                                                   ) -> None:
    # `nox -s ghc710` is `python -m compat run --toolchain ghc710`: here on the shipped matrix with every
    # upstream host (GHC's, Hackage, the archive) moved to a port that refuses, as they are out of reach here.
    text = (ROOT / "matrix.yaml").read_text()
    for host in ("https://downloads.haskell.org", "https://hackage.haskell.org", "http://archive.debian.org"):
        text = text.replace(host, "http://127.0.0.1:9")
    (tmp_path / "matrix.yaml").write_text(text)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "compat", "--matrix", str(tmp_path / "matrix.yaml"), "--reports",
                           str(tmp_path / "reports"), "run", "--toolchain", "ghc710"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    elapsed = time.monotonic() - start
    assert done.returncode == 4, done.stderr
    assert elapsed < 60, elapsed  # 1.5 s measured here
    cells = [json.loads(path.read_text()) for path in (tmp_path / "reports" / "runs").glob("*/cells/*.json")]
    assert {(cell["source"], cell["status"]) for cell in cells} == {("ganeti-2.16.2", "unavailable")}
    evidence = cells[0]["evidence"]
    assert evidence[0].startswith("82 of 82 downloads of ghc710 cannot be had") and "--downloads DIR" in evidence[0]
    assert evidence[-1] == ("ghc710: jessie's InRelease at http://127.0.0.1:9/debian/dists/jessie/InRelease cannot be "
                            "fetched ([Errno 111] Connection refused)")
