"""Image planning: what goes into a toolchain's image (Dockerfile, files, packages in order), worked out
from matrix.yaml alone, before any engine call; the toolchain's kind says what is its own."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from compat import frozen
from compat.matrix import Recipe, Toolchain
from compat.toolchains import kind_of
from compat.toolchains.kind import IMAGES_DIR

# What every cell needs besides the toolchain: fetching and patching sources, and inspecting binaries.
COMMON_PACKAGES = ("ca-certificates", "curl", "xz-utils", "bzip2", "quilt", "patch", "git", "binutils", "file",
                   "debian-archive-keyring")


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

    @property
    def packages(self) -> list[str]:
        """The Debian packages the image installs, in order."""
        return self.files["packages.txt"].decode().split()


def apt_conf(options: tuple[str, ...]) -> str:
    """matrix.yaml's 'Key=value' apt options as apt.conf lines."""
    lines = []
    for option in options:
        key, _, value = option.partition("=")
        lines.append(f'{key.strip()} "{value.strip()}";')
    return "\n".join(lines) + "\n"


def base_source(toolchain: Toolchain) -> str:
    """The suite's own sources.list line at its mirror: `[trusted=yes]` for a frozen suite, on that line alone."""
    return frozen.source_line(toolchain) if toolchain.frozen else f"deb {toolchain.mirror} {toolchain.suite} main"


def plan_image(toolchain: Toolchain, recipe: Recipe) -> ImagePlan:
    kind = kind_of(toolchain)
    choice = kind.packages(toolchain, recipe)
    packages = list(dict.fromkeys(COMMON_PACKAGES + toolchain.packages + choice.install))
    files = {"apt.conf": apt_conf(toolchain.apt_options).encode(),
             "sources.list": "".join(f"{line}\n" for line in toolchain.apt_sources).encode(),
             # A pulled debian:<suite> names the suite's usual home, which an archived suite (jessie) has left:
             # with a mirror, the image's apt uses it instead, as the bootstrapped base does.
             "base-sources.list": f"{base_source(toolchain)}\n".encode() if toolchain.mirror else b"",
             # A frozen suite's pin, checked against the Release file apt read before it installs anything.
             "frozen-release": frozen.pin_file(toolchain),
             "check-frozen-release": frozen.SCRIPT.read_bytes(),
             "packages.txt": ("\n".join(packages) + "\n").encode(),
             **kind.plan_files(choice)}
    return ImagePlan(toolchain, kind.dockerfile().read_text(), files)


def with_pins(plan: ImagePlan, downloads: dict[str, Path], log: Path) -> ImagePlan:
    """The plan with what its kind makes of the verified downloads (a bindist: the order its sdists install in)."""
    pinned = kind_of(plan.toolchain).pin_files(plan.toolchain, downloads, log)
    return replace(plan, files={**plan.files, **pinned}) if pinned else plan


__all__ = ["COMMON_PACKAGES", "IMAGES_DIR", "ImagePlan", "apt_conf", "base_source", "plan_image", "with_pins"]
