"""GHC as the suite packages it: the recipe's packages installed as they are."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from compat.toolchains.kind import IMAGES_DIR, PackageChoice

if TYPE_CHECKING:
    from compat.matrix import Recipe, Toolchain


class Debian:
    name = "debian"
    build_seconds = 1800
    script_rebuilds = True

    def dockerfile(self) -> Path:
        return IMAGES_DIR / "debian.Dockerfile"

    def packages(self, toolchain: Toolchain, recipe: Recipe) -> PackageChoice:
        return PackageChoice(tuple(recipe.packages))

    def plan_files(self, choice: PackageChoice) -> dict[str, bytes]:
        return {}

    def pin_files(self, toolchain: Toolchain, downloads: dict[str, Path], log: Path) -> dict[str, bytes]:
        return {}

    def pinned_by(self, toolchain: Toolchain) -> str | None:
        return None

    def matrix_problem(self, download_names: set[str]) -> str | None:
        return None
