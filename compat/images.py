"""Toolchain images: content-addressed tags, bases pulled or bootstrapped, bindists verified first."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compat.engine import LABEL, Engine
from compat.errors import ToolchainUnavailable
from compat.matrix import Download, Flavor, Recipe, Toolchain

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
BASE_REPOSITORY = "ganeti-compat/base"
# What every cell needs besides the toolchain: fetching and patching sources, and inspecting binaries.
COMMON_PACKAGES = ("ca-certificates", "curl", "xz-utils", "bzip2", "quilt", "patch", "git", "binutils", "file",
                   "debian-archive-keyring")
DOWNLOAD_TIMEOUT = 30


@dataclass(frozen=True)
class ImagePlan:
    """Everything that goes into a toolchain image; its tag is the hash of all of it."""

    toolchain: Toolchain
    dockerfile: str
    files: dict[str, bytes]

    def tag(self, base_id: str) -> str:
        digest = hashlib.sha256()
        digest.update(self.dockerfile.encode())
        digest.update(base_id.encode())
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name] + b"\0")
        for download in self.toolchain.downloads:
            digest.update(json.dumps([download.name, download.sha256, download.sha1]).encode())
        return f"ganeti-compat/{self.toolchain.name}:{digest.hexdigest()[:16]}"


@dataclass(frozen=True)
class Image:
    tag: str
    reused: bool
    base: str


def apt_conf(options: tuple[str, ...]) -> str:
    """matrix.yaml's 'Key=value' apt options as apt.conf lines."""
    lines = []
    for option in options:
        key, _, value = option.partition("=")
        lines.append(f'{key.strip()} "{value.strip()}";')
    return "\n".join(lines) + "\n"


def plan_image(toolchain: Toolchain, recipe: Recipe) -> ImagePlan:
    packages = list(dict.fromkeys(COMMON_PACKAGES + toolchain.packages + recipe.packages))
    dockerfile = (IMAGES_DIR / f"{toolchain.kind}.Dockerfile").read_text()
    files = {"apt.conf": apt_conf(toolchain.apt_options).encode(), "packages.txt": ("\n".join(packages) + "\n").encode()}
    return ImagePlan(toolchain, dockerfile, files)


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


class ImageBuilder:
    """Makes each toolchain image once: reused when its tag exists, built otherwise."""

    def __init__(self, engine: Engine, cache: Path, say: Callable[[str], None]) -> None:
        self.engine = engine
        self.cache = cache
        self.say = say
        self.known: dict[str, Image] = {}
        self.unavailable: dict[str, ToolchainUnavailable] = {}

    def ensure(self, toolchain: Toolchain, recipe: Recipe, log: Path) -> Image:
        """The toolchain image for a recipe; a toolchain found unavailable is not tried again in this run."""
        if toolchain.name in self.unavailable:
            raise self.unavailable[toolchain.name]
        try:
            return self._ensure(toolchain, recipe, log)
        except ToolchainUnavailable as exc:
            self.unavailable[toolchain.name] = exc
            raise

    def _ensure(self, toolchain: Toolchain, recipe: Recipe, log: Path) -> Image:
        plan = plan_image(toolchain, recipe)
        downloads = self._downloads(toolchain)  # first: an unreachable bindist fails in seconds
        base = self._base(toolchain, log)
        base_id = self.engine.image_id(base) or base
        tag = plan.tag(base_id)
        if tag in self.known:
            return self.known[tag]
        if self.engine.image_id(tag):
            self.say(f"image {tag} is up to date: reused, not rebuilt")
            image = Image(tag, True, base)
        else:
            self.say(f"building image {tag} on {base} (log: {log})")
            self._build(plan, tag, base, downloads, log)
            image = Image(tag, False, base)
        self.known[tag] = image
        return image

    def flavored(self, image: Image, toolchain: Toolchain, flavor: Flavor, log: Path) -> Image:
        """The toolchain image with libcurl.so pointing at one flavor's runtime library."""
        dockerfile = (IMAGES_DIR / "flavor.Dockerfile").read_text()
        base_id = self.engine.image_id(image.tag) or image.tag
        digest = hashlib.sha256(f"{dockerfile}\0{base_id}\0{flavor.soname}".encode()).hexdigest()[:16]
        tag = f"ganeti-compat/{toolchain.name}-{flavor.name}:{digest}"
        if tag in self.known:
            return self.known[tag]
        reused = self.engine.image_id(tag) is not None
        if not reused:
            self.say(f"building image {tag}: libcurl.so -> {flavor.soname}")
            labels = {LABEL: "1", f"{LABEL}.toolchain": toolchain.name, f"{LABEL}.flavor": flavor.name}
            self._docker_build({"Dockerfile": dockerfile.encode()}, {}, tag, {"BASE": image.tag, "SONAME": flavor.soname},
                               labels, log, f"the {flavor.name} flavor of {toolchain.name}")
        self.known[tag] = Image(tag, reused and image.reused, image.base)
        return self.known[tag]

    def _build(self, plan: ImagePlan, tag: str, base: str, downloads: dict[str, Path], log: Path) -> None:
        files = {"Dockerfile": plan.dockerfile.encode(), **plan.files}
        labels = {LABEL: "1", f"{LABEL}.toolchain": plan.toolchain.name, f"{LABEL}.ghc": plan.toolchain.ghc}
        self._docker_build(files, downloads, tag, {"BASE": base}, labels, log, f"image for {plan.toolchain.name}")

    def _docker_build(self, files: dict[str, bytes], downloads: dict[str, Path], tag: str, buildargs: dict[str, str],
                      labels: dict[str, str], log: Path, what: str) -> None:
        with tempfile.TemporaryDirectory(prefix="ganeti-compat-image-") as tmp:
            context = Path(tmp)
            for name, data in files.items():
                (context / name).write_bytes(data)
            (context / "downloads" / "hackage").mkdir(parents=True)
            for name, path in downloads.items():
                # Hackage sdists keep their names (cabal reads name-version from them); the rest are named by role.
                target = context / "downloads" / ("hackage" if name.endswith(".tar.gz") else "") / name
                shutil.copyfile(path, target)
            with log.open("a") as out:
                ok, lines = self.engine.build(context, tag, buildargs, labels,
                                              lambda line: print(line, file=out, flush=True))
        if not ok:
            last = next((line for line in reversed(lines) if line.strip()), "no output")
            raise ToolchainUnavailable(f"{what} failed to build: {last} (log: {log})")

    def _base(self, toolchain: Toolchain, log: Path) -> str:
        ref = f"debian:{toolchain.suite}"
        if self.engine.image_id(ref) or self.engine.pull(ref):
            return ref
        prefix = f"{BASE_REPOSITORY}:{toolchain.suite}-"
        local = [tag for tag, _ in self.engine.images_named(BASE_REPOSITORY) if tag.startswith(prefix)]
        if local:
            return local[0]
        return self._bootstrap(toolchain, log)

    def _bootstrap(self, toolchain: Toolchain, log: Path) -> str:
        tag = f"{toolchain.suite}-{datetime.date.today():%Y%m%d}"
        self.say(f"no registry serves debian:{toolchain.suite}: bootstrapping {BASE_REPOSITORY}:{tag} with mmdebstrap")
        if shutil.which("mmdebstrap") is None:
            raise ToolchainUnavailable(f"debian:{toolchain.suite} cannot be pulled and mmdebstrap is not installed "
                                       "(apt-get install mmdebstrap)")
        with tempfile.TemporaryDirectory(prefix="ganeti-compat-base-") as tmp:
            tarball = Path(tmp) / "base.tar"
            argv = ["mmdebstrap", "--variant=minbase"]
            argv += [f"--aptopt={line}" for line in apt_conf(toolchain.apt_options).splitlines() if line]
            argv += [toolchain.suite, str(tarball)]
            argv += [toolchain.mirror] if toolchain.mirror else []
            with log.open("a") as out:
                done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                raise ToolchainUnavailable(f"bootstrapping Debian {toolchain.suite} with mmdebstrap failed "
                                           f"(exit {done.returncode}; log: {log})")
            self.engine.import_tarball(tarball, BASE_REPOSITORY, tag, {LABEL: "1", f"{LABEL}.suite": toolchain.suite})
        return f"{BASE_REPOSITORY}:{tag}"

    def _downloads(self, toolchain: Toolchain) -> dict[str, Path]:
        return {download.name: self._download(toolchain, download) for download in toolchain.downloads}

    def _download(self, toolchain: Toolchain, download: Download) -> Path:
        key = download.sha256 or download.sha1 or download.name
        path = self.cache / "downloads" / key
        if path.exists() and verify(path, download) is None:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        self.say(f"{toolchain.name}: downloading {download.url}")
        try:
            with urllib.request.urlopen(download.url, timeout=DOWNLOAD_TIMEOUT) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        except (urllib.error.URLError, OSError) as exc:
            partial.unlink(missing_ok=True)
            reason = getattr(exc, "reason", None) or exc
            raise ToolchainUnavailable(f"download '{download.name}' failed: {download.url}: {reason}") from None
        mismatch = verify(partial, download)
        if mismatch:
            partial.unlink()
            raise ToolchainUnavailable(f"download '{download.name}' from {download.url} does not match: {mismatch}")
        partial.rename(path)
        return path


def tar_directory(directory: Path, arcname: str) -> bytes:
    """A directory as tar bytes, owned by the build user, for Engine.put_tree."""
    buffer = io.BytesIO()

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 1000
        info.uname = info.gname = "builder"
        return info

    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(directory, arcname=arcname, filter=owned)
    return buffer.getvalue()
