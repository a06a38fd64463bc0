"""What a toolchain kind is: the one interface image planning, matrix.yaml and the judge ask."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from compat.matrix import Recipe, Toolchain

IMAGES_DIR = Path(__file__).resolve().parent.parent.parent / "images"


@dataclass(frozen=True)
class PackageChoice:
    """A recipe's Debian packages on one toolchain: those its image installs, and those it leaves out on
    purpose (the build will lack them; the image's freshness check ignores the suite serving them)."""

    install: tuple[str, ...]
    left_out: tuple[str, ...] = field(default=())


class ToolchainKind(Protocol):
    """One way of providing GHC: its Dockerfile, its packages and pins, what it checks in matrix.yaml."""

    name: str
    build_seconds: int  # the longest its image may take to build: a CI job's budget
    script_rebuilds: bool  # whether a repro script can rebuild its image from the suite alone (no downloads)

    def dockerfile(self) -> Path: ...

    def packages(self, toolchain: Toolchain, recipe: Recipe) -> PackageChoice: ...

    def plan_files(self, choice: PackageChoice) -> dict[str, bytes]:
        """Files of the build context beyond the common ones (e.g. what the freshness check ignores)."""
        ...

    def pin_files(self, toolchain: Toolchain, downloads: dict[str, Path], log: Path) -> dict[str, bytes]:
        """Files that depend on the verified downloads (e.g. the order pinned sdists install in)."""
        ...

    def pinned_by(self, toolchain: Toolchain) -> str | None:
        """Who provides a missing Haskell library, for the verdict's evidence: the toolchain's pins, or the suite."""
        ...

    def matrix_problem(self, download_names: set[str]) -> str | None:
        """What matrix.yaml's toolchain lacks for this kind, or None."""
        ...
