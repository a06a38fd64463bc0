"""Toolchain images: content-addressed tags, bases pulled or bootstrapped, bindists verified first."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import secrets
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from compat import frozen
from compat.analysis.versions import sdist_version
from compat.engine import LABEL, Engine, EngineRefused
from compat.errors import ToolchainUnavailable
from compat.matrix import Download, Recipe, Toolchain
from compat.pins import HASKELL_LIBRARY, PROBLEM, boot_packages, plan_hackage

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
BASE_REPOSITORY = "ganeti-compat/base"
# What every cell needs besides the toolchain: fetching and patching sources, and inspecting binaries.
COMMON_PACKAGES = ("ca-certificates", "curl", "xz-utils", "bzip2", "quilt", "patch", "git", "binutils", "file",
                   "debian-archive-keyring")
DOWNLOAD_TIMEOUT = 30
DEBIAN_GHC = ("ghc", "ghc-prof", "ghc-doc")
MISSING_NAMED = 8  # missing downloads named per line of an unavailable cell's evidence
FRESHNESS_TIMEOUT = 300
PROVISIONAL = "new"  # marks the tag of an image until its installed packages name it (provisional_tag)
FETCH_TOOLCHAIN = "fetch"  # reserved in compat.matrix: never the name of a toolchain of the matrix
FETCH_RECIPE = Recipe("fetch", (), {}, None, ())  # COMMON_PACKAGES are all it needs


def fetcher(suite: str) -> Toolchain:
    """The helper whose container fetches and verifies every cell's source, whatever suite the cell's toolchain
    is on: jessie's apt cannot verify today's archive (its keys expired), nor its git and curl today's TLS."""
    return Toolchain(FETCH_TOOLCHAIN, f"fetches and verifies sources on {suite}", "debian", suite, "", (), "",
                     apt_options=("Acquire::Check-Valid-Until=false",))


def provisional_tag(repository: str, plan_digest: str) -> str:
    """The tag of an image being built until its installed packages name it: this build's own (pid and a random
    part), since two processes may build one plan at once and each retags what it built."""
    return f"{repository}:{plan_digest[:16]}-{PROVISIONAL}-{os.getpid()}-{secrets.token_hex(4)}"


def is_provisional(tag: str) -> bool:
    """Whether a tag is a build in flight (or a killed one's): `<plan>-new-…`, or `<plan>-new` before issue 17.
    A final tag's second part is hexadecimal, never "new"."""
    return tag.rpartition(":")[2].split("-")[1:2] == [PROVISIONAL]


def repository_of(toolchain: str, flavor: str | None = None) -> str:
    """The image repository of a toolchain, or of one of its flavors: a valid Docker name for every valid
    toolchain and flavor name (compat.matrix.NAME), never the same for two of them (names hold no "--")."""
    return f"ganeti-compat/{toolchain}" + (f"--{flavor}" if flavor else "")


@dataclass(frozen=True)
class ImagePlan:
    """Everything that goes into a toolchain image besides what the suite serves on the day it is built."""

    toolchain: Toolchain
    dockerfile: str
    files: dict[str, bytes]

    def digest(self, base_id: str) -> str:
        digest = hashlib.sha256()
        digest.update(self.dockerfile.encode())
        digest.update(base_id.encode())
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name] + b"\0")
        for download in self.toolchain.downloads:
            digest.update(json.dumps([download.name, download.sha256, download.sha1]).encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class Image:
    tag: str
    reused: bool
    base: str
    freshness: str | None = None  # what the run found about the suite, for the report


class ImageBuildFailed(Exception):
    """docker build failed (e.g. apt could not install the suite's packages); the judge reads the log."""

    def __init__(self, message: str, log_text: str) -> None:
        super().__init__(message)
        self.log_text = log_text


@dataclass(frozen=True)
class Freshness:
    """What check-freshness found in an existing image: the packages that moved, and the Release dates."""

    changes: tuple[str, ...]
    releases: tuple[str, ...]
    failure: str | None = None  # why the check could not say

    def summary(self, suite: str) -> str:
        if self.failure:
            return f"freshness unknown: {self.failure}"
        as_of = f" as of {self.releases[0]}" if self.releases else ""
        if not self.changes:
            return f"up to date with {suite}{as_of}"
        shown = ", ".join(self.changes[:6]) + (f" and {len(self.changes) - 6} more" if len(self.changes) > 6 else "")
        return f"{suite}{as_of} moved: {shown}"


def parse_freshness(text: str, exit_code: int | None) -> Freshness:
    """Read images/scripts/check-freshness's output."""
    if exit_code != 0:
        last = next((line for line in reversed(text.splitlines()) if line.strip()), "no output")
        return Freshness((), (), f"the check exited with {exit_code}: {last}" if exit_code is not None
                         else "the check timed out")
    changes, releases = [], []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "moved" and len(words) == 4:
            changes.append(f"{words[1]} {words[2]} -> {words[3]}")
        elif words[0] == "removed" and len(words) == 3:
            changes.append(f"{words[1]} {words[2]} -> removed")
        elif words[0] == "new" and len(words) == 2:
            changes.append(f"{words[1]} now packaged")
        elif words[0] == "gone" and len(words) == 3:
            changes.append(f"{words[1]} {words[2]} -> no longer served")
        elif words[0] == "release" and len(words) >= 3:
            releases.append(" ".join(words[2:]))
    return Freshness(tuple(changes), tuple(releases))


def apt_conf(options: tuple[str, ...]) -> str:
    """matrix.yaml's 'Key=value' apt options as apt.conf lines."""
    lines = []
    for option in options:
        key, _, value = option.partition("=")
        lines.append(f'{key.strip()} "{value.strip()}";')
    return "\n".join(lines) + "\n"


def hackage_names(toolchain: Toolchain) -> set[str]:
    """The Hackage packages a bindist toolchain pins, lower-cased as Debian names them."""
    return {found[0].lower() for download in toolchain.downloads if (found := sdist_version(download.name))}


def bindist_split(toolchain: Toolchain, recipe: Recipe) -> tuple[list[str], list[str]]:
    """A recipe's Debian packages on a bindist toolchain: those to install (never Debian's GHC nor its
    Haskell libraries, which would bring the suite's own GHC beside the bindist and mix two ABIs, nor a tool
    a pin provides, such as cabal-install), and the libghc-X-dev packages whose X neither a pinned Hackage
    sdist nor GHC itself provides (the build will lack them)."""
    pinned = hackage_names(toolchain)
    shipped = {name.lower() for name in boot_packages(toolchain.ghc) or ()}
    install, unpinned = [], []
    for package in recipe.packages:
        library = HASKELL_LIBRARY.fullmatch(package)
        if library is not None:
            if library.group(1) not in pinned | shipped:
                unpinned.append(package)
        elif package not in DEBIAN_GHC and package not in pinned:
            install.append(package)
    return install, unpinned


def base_source(toolchain: Toolchain) -> str:
    """The suite's own sources.list line at its mirror: `[trusted=yes]` for a frozen suite, on that line alone."""
    return frozen.source_line(toolchain) if toolchain.frozen else f"deb {toolchain.mirror} {toolchain.suite} main"


def plan_image(toolchain: Toolchain, recipe: Recipe) -> ImagePlan:
    wanted, unpinned = bindist_split(toolchain, recipe) if toolchain.kind == "bindist" else (list(recipe.packages), [])
    packages = list(dict.fromkeys(COMMON_PACKAGES + toolchain.packages + tuple(wanted)))
    dockerfile = (IMAGES_DIR / f"{toolchain.kind}.Dockerfile").read_text()
    files = {"apt.conf": apt_conf(toolchain.apt_options).encode(),
             "sources.list": "".join(f"{line}\n" for line in toolchain.apt_sources).encode(),
             # A pulled debian:<suite> names the suite's usual home, which an archived suite (jessie) has left:
             # with a mirror, the image's apt uses it instead, as the bootstrapped base does.
             "base-sources.list": f"{base_source(toolchain)}\n".encode() if toolchain.mirror else b"",
             # A frozen suite's pin, checked against the Release file apt read before it installs anything.
             "frozen-release": frozen.pin_file(toolchain),
             "check-frozen-release": frozen.SCRIPT.read_bytes(),
             "packages.txt": ("\n".join(packages) + "\n").encode()}
    if toolchain.kind == "bindist":
        # Not missing-packages.txt, which check-freshness reads: jessie serving them is no news (issue 17).
        files["unpinned-packages.txt"] = "".join(f"{package}\n" for package in unpinned).encode()
        files["hackage-order.txt"] = b""  # with_hackage_order fills it in once the sdists are at hand
        files["install-sdists"] = (IMAGES_DIR / "scripts" / "install-sdists").read_bytes()
    return ImagePlan(toolchain, dockerfile, files)


def with_hackage_order(plan: ImagePlan, downloads: dict[str, Path], log: Path) -> ImagePlan:
    """The plan with the order its pinned sdists install in; ImageBuildFailed (a deps verdict) when they are
    not a closure with GHC's own packages, before an hour of building says so."""
    toolchain = plan.toolchain
    hackage = plan_hackage(toolchain.ghc, {name: path for name, path in downloads.items() if sdist_version(name)})
    with log.open("a") as out:
        for line in hackage.notes:
            print(f"note: {line}", file=out)
        for line in hackage.problems:
            print(f"{PROBLEM}{line}", file=out)
    if hackage.problems:
        raise ImageBuildFailed(f"the pinned Hackage sdists of {toolchain.name} cannot be installed offline: "
                               f"{hackage.problems[0]} (log: {log})",
                               "\n".join(PROBLEM + line for line in hackage.problems))
    return replace(plan, files={**plan.files, "hackage-order.txt": "".join(f"{name}\n" for name in hackage.order).encode()})


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
    """Makes each toolchain image follow its suite: an image is reused only while the suite still serves
    every package it installed, at the installed version; otherwise it is rebuilt (base upgraded too).

    The tag is `ganeti-compat/<toolchain>:<plan>-<installed>`: a hash of everything that goes into the
    image (Dockerfile, base, package list, apt options and sources, download checksums) and a hash of the
    package versions it ended up with.

    Safe to call from several threads (a group asking for its image while the next group's is prepared):
    one lock per image, base suite and download, so a second caller waits for the first one's work and
    then takes its result.

    Every image it hands out it holds (Engine.hold) until release(): another run's rebuild, or `clean`,
    removes a superseded image only once no live run holds it (issue 17).
    """

    def __init__(self, engine: Engine, cache: Path, say: Callable[[str], None], mirrors: tuple[str, ...] = ()) -> None:
        self.engine = engine
        self.cache = cache
        self.say = say
        self.mirrors = mirrors  # --downloads: directories or URLs holding the pinned files, asked before upstream
        self.unreachable: dict[str, str] = {}  # host -> why: asked once per run, not once per file
        self.known: dict[str, Image] = {}
        self.ready: dict[tuple[str, str], Image] = {}  # (toolchain, recipe) -> its image in this run
        self.failed: dict[tuple[str, str], ToolchainUnavailable | ImageBuildFailed] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._holders: dict[str, str] = {}  # tag -> its holder; each under its own lock ("image", "plan", "flavor")
        self._checked: dict[str, str | None] = {}  # a frozen suite's Release, checked once a run
        self.protected: set[str] = set()  # tags of images a cell's baseline ran in: never removed as superseded

    def release(self) -> None:
        """The run is over: let go of its images (they may go once superseded and no other run holds them)."""
        for tag in list(self._holders):
            self._let_go(tag)

    def _hold(self, tag: str) -> bool:
        """Hold an image for this run; False when it is gone (another run removed it first)."""
        if tag in self._holders:
            return True
        holder = self.engine.hold(tag)
        if holder is not None:
            self._holders[tag] = holder
        return holder is not None

    def _let_go(self, tag: str) -> None:
        holder = self._holders.pop(tag, None)
        if holder is not None:
            self.engine.let_go(holder)

    def _lock(self, *key: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())

    def ensure(self, toolchain: Toolchain, recipe: Recipe, log: Path) -> Image:
        """The toolchain image for a recipe, worked out once a run (each flavor, and the group's preparation
        ahead of it, ask again: the downloads are not hashed nor the base looked up again); one found
        unavailable, or whose build failed, is not tried again in this run (the build log says why)."""
        key = (toolchain.name, recipe.name)
        with self._lock("image", *key):
            if key in self.failed:
                raise self.failed[key]
            if key not in self.ready:
                try:
                    self.ready[key] = self._ensure(toolchain, recipe, log)
                except (ToolchainUnavailable, ImageBuildFailed) as exc:
                    self.failed[key] = exc
                    raise
            return self.ready[key]

    def _ensure(self, toolchain: Toolchain, recipe: Recipe, log: Path) -> Image:
        plan = plan_image(toolchain, recipe)
        refused = self._frozen(toolchain)  # first, with the downloads: a toolchain that cannot be had fails in seconds
        try:
            downloads = self._downloads(toolchain)
        except ToolchainUnavailable as exc:
            raise ToolchainUnavailable(f"{exc}\n{refused}" if refused else str(exc)) from None
        if refused:
            raise ToolchainUnavailable(refused)
        if toolchain.kind == "bindist":
            plan = with_hackage_order(plan, downloads, log)
        base = self.base(toolchain, log)
        plan_digest = plan.digest(self.engine.image_id(base) or base)
        with self._lock("plan", plan_digest):  # two recipes may need the same image: built once
            return self._ensure_plan(toolchain, plan, plan_digest, base, downloads, log)

    def _ensure_plan(self, toolchain: Toolchain, plan: ImagePlan, plan_digest: str, base: str,
                     downloads: dict[str, Path], log: Path) -> Image:
        if plan_digest in self.known:
            return self.known[plan_digest]
        current = self._current(plan_digest)
        if current is not None and not self._hold(current):
            current = None  # removed since it was listed: build anew
        if current is None:
            image = self._rebuild(plan, plan_digest, base, downloads, "first build", log)
        else:
            freshness = self._check(current, log)
            summary = freshness.summary(toolchain.suite)
            if freshness.failure or not freshness.changes:
                # A check that could not run (mirror lost) keeps the image and says so in every cell.
                self.say(f"image {current}: {summary}" + ("" if freshness.failure else ": reused, not rebuilt"))
                image = Image(current, True, base, summary)
            else:
                self.say(f"image {current} is stale: {summary}; rebuilding")
                self._let_go(current)  # superseded: this run will not use it
                image = self._rebuild(plan, plan_digest, base, downloads, summary, log)
        self.known[plan_digest] = image
        return image

    def _rebuild(self, plan: ImagePlan, plan_digest: str, base: str, downloads: dict[str, Path], why: str,
                 log: Path) -> Image:
        tag = self._build(plan, plan_digest, base, downloads, why, log)
        self._forget_older(plan_digest, keep=tag)
        return Image(tag, False, base, f"built now ({why})")

    def _current(self, plan_digest: str) -> str | None:
        """The newest local image built from this plan (flavor layers are not toolchain images)."""
        for tag, _, labels in self.engine.images_labelled(f"{LABEL}.plan={plan_digest}"):
            if f"{LABEL}.flavor" not in labels and not is_provisional(tag):
                return tag
        return None

    def _check(self, tag: str, log: Path) -> Freshness:
        script = (IMAGES_DIR / "scripts" / "check-freshness").read_text()
        with log.open("a") as out:
            print(f"$ check-freshness in {tag}", file=out)
        try:
            exit_code, text = self.engine.output(tag, ["sh", "-c", script, "check-freshness"], network=True,
                                                 timeout=FRESHNESS_TIMEOUT)
        except EngineRefused as exc:
            # The engine could not give the check a network (e.g. no bridge on this engine): say so, go on.
            return Freshness((), (), f"the check could not run: {exc}")
        with log.open("a") as out:
            out.write(text)
        return parse_freshness(text, exit_code)

    def _build(self, plan: ImagePlan, plan_digest: str, base: str, downloads: dict[str, Path], refresh: str,
               log: Path) -> str:
        """Build, then tag by the package versions the image ended up with."""
        repository = repository_of(plan.toolchain.name)
        provisional = provisional_tag(repository, plan_digest)
        self.say(f"building image {repository} on {base} ({refresh}; log: {log})")
        files = {"Dockerfile": plan.dockerfile.encode(), **plan.files}
        labels = {LABEL: "1", f"{LABEL}.toolchain": plan.toolchain.name, f"{LABEL}.ghc": plan.toolchain.ghc,
                  f"{LABEL}.plan": plan_digest}
        stamp = hashlib.sha256(f"{refresh}\0{datetime.datetime.now(datetime.UTC).isoformat()}".encode()).hexdigest()
        try:
            self._docker_build(files, downloads, provisional, {"BASE": base, "REFRESH": stamp[:16]}, labels, log,
                               f"image for {plan.toolchain.name}")
        except ImageBuildFailed as exc:
            refused = refusal(exc.log_text)
            if refused:  # the mirror served apt another Release than the one checked: as if it had been checked
                raise ToolchainUnavailable(f"{plan.toolchain.name}: {refused}") from None
            raise
        self._hold(provisional)  # the holder keeps the image, whatever its tag: retagging keeps the hold
        exit_code, installed = self.engine.output(provisional, ["dpkg-query", "-W", "-f=${Package}\t${Version}\n"],
                                                  network=False, timeout=FRESHNESS_TIMEOUT)
        if exit_code != 0:
            raise ImageBuildFailed(f"dpkg-query failed in {provisional}", installed)
        tag = f"{repository}:{plan_digest[:16]}-{hashlib.sha256(installed.encode()).hexdigest()[:12]}"
        self.engine.retag(provisional, tag)
        if provisional in self._holders:
            self._holders[tag] = self._holders.pop(provisional)
        return tag

    def _forget_older(self, plan_digest: str, keep: str) -> None:
        """Older images of the plan (and their flavor layers, first) are superseded: free their space. Another
        process's build in flight is no older image."""
        older = [(tag, labels) for tag, _, labels in self.engine.images_labelled(f"{LABEL}.plan={plan_digest}")
                 if tag != keep and not is_provisional(tag) and tag not in self.protected]
        for tag, _ in sorted(older, key=lambda item: f"{LABEL}.flavor" not in item[1]):
            self.engine.remove_image(tag)

    def flavored(self, image: Image, toolchain: Toolchain, flavor: str, soname: str, log: Path) -> Image:
        """The toolchain image with libcurl.so pointing at one flavor's runtime library."""
        dockerfile = (IMAGES_DIR / "flavor.Dockerfile").read_text()
        wrapper = (IMAGES_DIR / "scripts" / "link-shared-first").read_bytes()
        base_id = self.engine.image_id(image.tag) or image.tag
        digest = hashlib.sha256(f"{dockerfile}\0{base_id}\0{soname}\0".encode() + wrapper).hexdigest()[:16]
        tag = f"{repository_of(toolchain.name, flavor)}:{digest}"
        with self._lock("flavor", tag):
            return self._flavored(tag, image, toolchain, flavor, soname, dockerfile, wrapper, log)

    def _flavored(self, tag: str, image: Image, toolchain: Toolchain, flavor: str, soname: str, dockerfile: str,
                  wrapper: bytes, log: Path) -> Image:
        if tag in self.known:
            return self.known[tag]
        reused = self._hold(tag)
        if not reused:
            self.say(f"building image {tag}: libcurl.so -> {soname}")
            plan_label = self.engine.labels(image.tag).get(f"{LABEL}.plan", "")
            labels = {LABEL: "1", f"{LABEL}.toolchain": toolchain.name, f"{LABEL}.flavor": flavor,
                      f"{LABEL}.plan": plan_label}
            self._docker_build({"Dockerfile": dockerfile.encode(), "link-shared-first": wrapper}, {}, tag,
                               {"BASE": image.tag, "SONAME": soname},
                               labels, log, f"the {flavor} flavor of {toolchain.name}")
            self._hold(tag)
        self.known[tag] = Image(tag, reused and image.reused, image.base, image.freshness)
        return self.known[tag]

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
            raise ImageBuildFailed(f"{what} failed to build: {last} (log: {log})", "\n".join(lines))

    def base(self, toolchain: Toolchain, log: Path) -> str:
        """debian:<suite> from a registry, else a local bootstrapped base, else one bootstrapped now."""
        ref = f"debian:{toolchain.suite}"
        with self._lock("base", toolchain.suite):
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
        if toolchain.keyring and not Path(toolchain.keyring).is_file():
            raise ToolchainUnavailable(f"bootstrapping Debian {toolchain.suite} needs the keyring {toolchain.keyring} "
                                       "(apt-get install debian-archive-keyring)")
        refused = self._frozen(toolchain)
        if refused:
            raise ToolchainUnavailable(refused)
        with tempfile.TemporaryDirectory(prefix="ganeti-compat-base-") as tmp:
            tarball = Path(tmp) / "base.tar"
            (Path(tmp) / "check-frozen-release").write_bytes(frozen.SCRIPT.read_bytes())
            (Path(tmp) / "frozen-release").write_bytes(frozen.pin_file(toolchain))
            argv = bootstrap_argv(toolchain, tarball, Path(tmp))
            with log.open("a") as out:
                done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                said = refusal(log.read_text(errors="replace"))
                raise ToolchainUnavailable(f"{toolchain.name}: {said}" if said else
                                           f"bootstrapping Debian {toolchain.suite} with mmdebstrap failed "
                                           f"(exit {done.returncode}; log: {log})")
            self.engine.import_tarball(tarball, BASE_REPOSITORY, tag, {LABEL: "1", f"{LABEL}.suite": toolchain.suite})
        return f"{BASE_REPOSITORY}:{tag}"

    def _frozen(self, toolchain: Toolchain) -> str | None:
        """A frozen suite's Release file fetched and checked against its pin, once a run: None when it is the
        pinned one (or the suite is not frozen), else the one line that says why not."""
        if toolchain.frozen is None:
            return None
        url = frozen.release_url(toolchain)
        with self._lock("frozen", url, toolchain.frozen.sha256 or ""):
            key = f"frozen {url} {toolchain.frozen.sha256}"
            if key not in self._checked:
                self._checked[key] = frozen.check(toolchain, self.unreachable)
            return self._checked[key]

    def _downloads(self, toolchain: Toolchain) -> dict[str, Path]:
        """Every pinned file of the toolchain, verified; unavailable naming every file that cannot be had."""
        found, missing = {}, []
        for download in toolchain.downloads:
            try:
                found[download.name] = self._download(toolchain, download)
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

    def _download(self, toolchain: Toolchain, download: Download) -> Path:
        key = download.sha256 or download.sha1 or download.name
        with self._lock("download", key):
            return self._fetch_download(toolchain, download, self.cache / "downloads" / key)

    def _fetch_download(self, toolchain: Toolchain, download: Download, path: Path) -> Path:
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
                    return self._take(download, Path(where), where, path, copy=True)
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
            return self._take(download, partial, where, path, copy=False)
        raise DownloadMissing(filename, upstream)

    @staticmethod
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


def bootstrap_argv(toolchain: Toolchain, tarball: Path, scripts: Path) -> list[str]:
    """mmdebstrap for a toolchain's base: its apt options, keyring and mirror, as its image's apt uses them.
    A frozen suite: its one source line `[trusted=yes]`, no keyring, and apt's update run in the setup hook
    (mmdebstrap then skips its own), followed by check-frozen-release (in `scripts`, with the pin file):
    before any package is downloaded, the Release file apt read must be the pinned one."""
    argv = ["mmdebstrap", "--variant=minbase"]
    argv += [f"--aptopt={line}" for line in apt_conf(toolchain.apt_options).splitlines() if line]
    argv += [f"--keyring={toolchain.keyring}"] if toolchain.keyring else []
    if toolchain.frozen:
        script, pins = (shlex.quote(str(scripts / name)) for name in ("check-frozen-release", "frozen-release"))
        hook = f'APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get update && sh {script} "$1/var/lib/apt/lists" {pins}'
        argv += ["--skip=update", f"--setup-hook={hook}"]
        return argv + [toolchain.suite, str(tarball), frozen.source_line(toolchain)]
    argv += [toolchain.suite, str(tarball)]
    return argv + ([toolchain.mirror] if toolchain.mirror else [])


def refusal(log_text: str) -> str | None:
    """check-frozen-release's one line of refusal in a log, if it refused."""
    return next((line.strip() for line in log_text.splitlines()
                 if line.strip().startswith(frozen.REFUSED) and line.rstrip().endswith("refused")), None)


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


def tar_files(files: dict[str, bytes]) -> bytes:
    """Files (relative name -> content) as tar bytes, owned by the build user, for Engine.put_tree."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.gid, info.uname, info.gname = len(data), 1000, 1000, "builder", "builder"
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unused_images(images: list[tuple[str, str, dict[str, str]]], toolchains: set[str], suites: set[str]) -> list[str]:
    """Tags of the tool's images that no current toolchain uses: toolchains the matrix no longer has, images
    of an older tag scheme (no plan), all but the newest image of a plan, bases of suites no toolchain uses,
    and older bases of a suite. `images` is (tag, id, labels), newest first; flavor layers come first in
    the answer, so their parents can go after them."""
    unused, newest_plan, newest_base = [], set(), set()
    for tag, _, labels in images:
        toolchain, plan, suite = labels.get(f"{LABEL}.toolchain"), labels.get(f"{LABEL}.plan"), labels.get(f"{LABEL}.suite")
        if toolchain is not None:
            key = (plan, labels.get(f"{LABEL}.flavor"))
            if toolchain not in toolchains or not plan or key in newest_plan:
                unused.append(tag)
            newest_plan.add(key)
        elif suite is not None:
            if suite not in suites or suite in newest_base:
                unused.append(tag)
            newest_base.add(suite)
    flavored = {tag for tag, _, labels in images if f"{LABEL}.flavor" in labels}
    return sorted(unused, key=lambda tag: tag not in flavored)
