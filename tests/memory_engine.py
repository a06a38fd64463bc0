"""An in-memory engine for the runner's orchestration tests: volumes are dicts of files, and each command
is answered by a handler the test gives. Docker's own behaviour is tested against the real engine."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compat.engine import RunOutcome
from compat.images import Image
from compat.matrix import Limits, Recipe, Toolchain

# A handler gets the volume's files, the command and the image; it may change the files; it returns
# (exit code, None for a timeout; output).
Handler = Callable[[dict[str, bytes], list[str], str], tuple[int | None, str]]


@dataclass
class Call:
    image: str
    argv: list[str]
    volume: str | None
    workdir: str
    root: bool
    network: bool
    limits: Limits | None = None


@dataclass
class MemoryEngine:
    handlers: list[tuple[tuple[str, ...], Handler]] = field(default_factory=list)
    volumes: dict[str, dict[str, bytes]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # volume lifecycle, in order
    lost: bool = False  # the engine stopped answering
    out_of_memory: set[str] = field(default_factory=set)  # commands the kernel kills at the memory limit
    gone: set[str] = field(default_factory=set)  # image tags removed from the engine

    def on(self, prefix: tuple[str, ...], handler: Handler) -> None:
        """Answer commands starting with prefix (the most recently added handler first)."""
        self.handlers.insert(0, (prefix, handler))

    def alive(self) -> bool:
        return not self.lost

    def cpus(self) -> int:
        return 2

    def image_id(self, ref: str) -> str | None:
        if ref in self.gone or ref.removeprefix("sha256:").replace("-", "/", 1) in self.gone:
            return None
        return ref if ref.startswith("sha256:") else f"sha256:{ref.replace('/', '-')}"

    def hold(self, ref: str) -> str | None:
        return None if self.image_id(ref) is None else f"holder-of-{ref}"

    def let_go(self, holder: str) -> None:
        pass

    def read_archive(self, image: str, volume: str, mount: str, path: str) -> bytes | None:
        """The files under `path` of a volume as tar bytes named from its last part."""
        prefix, name = path.rstrip("/") + "/", path.rstrip("/").rsplit("/", 1)[-1]
        found = {f"{name}/{file[len(prefix):]}": data for file, data in self.volumes.get(volume, {}).items()
                 if file.startswith(prefix)}
        if not found:
            return None
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for member, data in found.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        self.events.append(f"create {name}")
        self.volumes[name] = {}

    def remove_volume(self, name: str) -> None:
        self.events.append(f"remove {name}")
        self.volumes.pop(name, None)

    def put_tree(self, image: str, volume: str, mount: str, tar_bytes: bytes, dest: str) -> None:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
            for member in archive.getmembers():
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted:
                    self.volumes[volume][f"{dest}/{member.name}"] = extracted.read()

    def read_file(self, image: str, volume: str, mount: str, path: str) -> bytes | None:
        return self.volumes.get(volume, {}).get(path)

    def run(self, image: str, argv: list[str], *, log: Path, volume: str | None, mount: str, workdir: str,
            root: bool, network: bool, timeout: float, env: dict[str, str], labels: dict[str, str],
            limits: Limits | None = None) -> RunOutcome:
        self.calls.append(Call(image, list(argv), volume, workdir, root, network, limits))
        files = self.volumes.setdefault(volume, {}) if volume else {}
        code, output = self.answer(files, list(argv), image)
        with log.open("a") as out:
            out.write(output)
        return RunOutcome(code, argv[0] in self.out_of_memory)

    def answer(self, files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        """The first handler whose prefix argv starts with; exit 0 and no output when none does."""
        for prefix, handler in self.handlers:
            if tuple(argv[:len(prefix)]) == prefix:
                return handler(files, argv, image)
        return 0, ""

    def commands(self) -> list[list[str]]:
        return [call.argv for call in self.calls]


@dataclass
class MemoryImages:
    """Every toolchain image exists; each flavor is a tag of its own; `suffix` names a rebuilt image."""

    suffix: str = ""

    def ensure(self, toolchain: Toolchain, recipe: Recipe, log: Path) -> Image:
        return Image(f"img/{toolchain.name}{self.suffix}", True, "base", "up to date with test")

    def flavored(self, image: Image, toolchain: Toolchain, flavor: str, soname: str, log: Path) -> Image:
        return Image(f"{image.tag}-{flavor}", True, image.base, image.freshness)

    def release(self) -> None:
        pass


@dataclass
class MemoryImageEngine:
    """An engine's images for ImageBuilder: tags naming image ids (oldest first), builds, holds, and Docker's
    refusal to remove the last tag of an image a container uses. Every base is there; check-freshness says
    `moves` once an image exists."""

    installed: str = "ghc\t9.6.6-4\n"  # what dpkg-query lists in a new image
    moves: str = ""  # check-freshness's output
    lists: str = ""  # the digest of the suite's Release files, as check-freshness says it ("" for none)
    checks: list[str] = field(default_factory=list)  # "full IMAGE" or "lists IMAGE", each check-freshness asked
    tags: dict[str, str] = field(default_factory=dict)
    image_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)  # holder -> image id
    built: list[str] = field(default_factory=list)  # the tags builds were given
    holds: int = 0  # holders made so far, for their names

    def image_id(self, ref: str) -> str | None:
        return "sha256:base" if ref.startswith("debian:") else self.tags.get(ref)

    def images_labelled(self, label: str) -> list[tuple[str, str, dict[str, str]]]:
        key, _, value = label.partition("=")
        return [(tag, image, self.image_labels[image]) for tag, image in reversed(self.tags.items())
                if self.image_labels[image].get(key) == value]

    def labels(self, ref: str) -> dict[str, str]:
        return dict(self.image_labels.get(self.tags.get(ref, ""), {}))

    def build(self, context: Path, tag: str, buildargs: dict[str, str], labels: dict[str, str],
              on_line: Callable[[str], None]) -> tuple[bool, list[str]]:
        image = f"sha256:{len(self.image_labels):064x}"
        self.image_labels[image], self.tags[tag] = dict(labels), image
        self.built.append(tag)
        return True, []

    def output(self, image: str, argv: list[str], *, network: bool, timeout: float) -> tuple[int, str]:
        if argv[0] == "dpkg-query":
            return 0, self.installed
        said = f"lists {self.lists}\n" if self.lists else ""
        if "--lists" in argv:
            self.checks.append(f"lists {image}")
            return 0, said
        self.checks.append(f"full {image}")
        return 0, self.moves + said

    def retag(self, source: str, target: str) -> None:
        self.tags[target] = self.tags.pop(source)

    def remove_image(self, ref: str) -> bool:
        image = self.tags.get(ref)
        if image is None or (list(self.tags.values()).count(image) == 1 and image in self.held.values()):
            return False
        del self.tags[ref]
        return True

    def hold(self, ref: str) -> str | None:
        if ref not in self.tags:
            return None
        self.holds += 1
        holder = f"holder-{self.holds}"
        self.held[holder] = self.tags[ref]
        return holder

    def let_go(self, holder: str) -> None:
        self.held.pop(holder, None)
