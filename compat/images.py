"""Toolchain images: content-addressed tags, bases pulled or bootstrapped, bindists verified first."""

from __future__ import annotations

import datetime
import hashlib
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compat import frozen
from compat.bootstrap import BASE_REPOSITORY, bootstrap, bootstrap_argv, refusal
from compat.downloads import Downloads, verify
from compat.engine import LABEL, Engine, EngineRefused
from compat.errors import ImageBuildFailed, ToolchainUnavailable
from compat.freshness import FRESHNESS_TIMEOUT, Freshness, parse_freshness, parse_lists, recall, remember
from compat.matrix import Recipe, Toolchain
from compat.planning import COMMON_PACKAGES, IMAGES_DIR, ImagePlan, apt_conf, plan_image, with_pins
from compat.toolchains.bindist import hackage_names

# Re-exported: where callers found them before planning, downloads and the bootstrap had modules of their own.
__all__ = [
    "BASE_REPOSITORY",
    "COMMON_PACKAGES",
    "FRESHNESS_TIMEOUT",
    "IMAGES_DIR",
    "Freshness",
    "ImageBuildFailed",
    "ImagePlan",
    "apt_conf",
    "bootstrap_argv",
    "hackage_names",
    "parse_freshness",
    "plan_image",
    "refusal",
    "verify",
]
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
class Image:
    tag: str
    reused: bool
    base: str
    freshness: str | None = None  # what the run found about the suite, for the report


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
        self.downloads = Downloads(cache, say, mirrors)
        self.unreachable = self.downloads.unreachable  # host -> why, shared with the frozen suites' checks
        self.known: dict[str, Image] = {}
        self.ready: dict[tuple[str, str], Image] = {}  # (toolchain, recipe) -> its image in this run
        self.failed: dict[tuple[str, str], ToolchainUnavailable | ImageBuildFailed] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._holders: dict[str, str] = {}  # tag -> its holder; each under its own lock ("image", "plan", "flavor")
        self._checked: dict[str, str | None] = {}  # a frozen suite's Release, checked once a run
        self._lists: dict[str, str | None] = {}  # an apt configuration -> its Release files' digest, once a run
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
        plan = with_pins(plan, downloads, log)
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
            freshness = self._freshness(plan, base, current, log)
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

    def _freshness(self, plan: ImagePlan, base: str, tag: str, log: Path) -> Freshness:
        """The last full check's answer while the suite's Release files are the ones it read, else a full check."""
        image_id = self.engine.image_id(tag)
        remembered = recall(self.cache, image_id) if image_id else None
        if remembered is not None and remembered.lists == self._suite_lists(plan, base, tag, log):
            with log.open("a") as out:
                print(f"# {tag}: the Release files are those of its last full check: up to date", file=out)
            return remembered
        found = self._check(tag, log)
        if image_id:
            remember(self.cache, image_id, found)
        return found

    def _suite_lists(self, plan: ImagePlan, base: str, tag: str, log: Path) -> str | None:
        """The digest of the Release files an image's apt reads, asked once a run for every image that reads
        the same sources with the same options (the same suite, in the matrix as it is): in the first one."""
        digest = hashlib.sha256((self.engine.image_id(base) or base).encode())
        for name in ("apt.conf", "sources.list", "base-sources.list", "frozen-release"):
            digest.update(b"\0" + plan.files.get(name, b""))
        key = digest.hexdigest()
        with self._lock("lists", key):
            if key not in self._lists:
                try:
                    self._lists[key] = parse_lists(*self._run_check(tag, log, "--lists"))
                except EngineRefused:
                    self._lists[key] = None  # the full check says why
            return self._lists[key]

    def _check(self, tag: str, log: Path) -> Freshness:
        try:
            return parse_freshness(*self._run_check(tag, log))
        except EngineRefused as exc:
            # The engine could not give the check a network (e.g. no bridge on this engine): say so, go on.
            return Freshness((), (), f"the check could not run: {exc}")

    def _run_check(self, tag: str, log: Path, *args: str) -> tuple[str, int | None]:
        script = (IMAGES_DIR / "scripts" / "check-freshness").read_text()
        with log.open("a") as out:
            print(" ".join(("$ check-freshness", *args, "in", tag)), file=out)
        exit_code, text = self.engine.output(tag, ["sh", "-c", script, "check-freshness", *args], network=True,
                                             timeout=FRESHNESS_TIMEOUT)
        with log.open("a") as out:
            out.write(text)
        return text, exit_code

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
        return bootstrap(self.engine, toolchain, log, self.say, self._frozen)

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
        return self.downloads.all_of(toolchain)


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
