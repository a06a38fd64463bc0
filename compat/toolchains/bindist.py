"""GHC from an upstream binary distribution (GHC 7.8/7.10 on a frozen jessie), its Haskell libraries
from pinned Hackage sdists installed offline in a checked order, never from Debian."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from compat.analysis.versions import sdist_version
from compat.errors import ImageBuildFailed
from compat.pins import HASKELL_LIBRARY, PROBLEM, boot_packages, plan_hackage
from compat.toolchains.kind import IMAGES_DIR, PackageChoice

if TYPE_CHECKING:
    from compat.matrix import Recipe, Toolchain

DEBIAN_GHC = ("ghc", "ghc-prof", "ghc-doc")


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


def hackage_order(toolchain: Toolchain, downloads: dict[str, Path], log: Path) -> bytes:
    """hackage-order.txt for the pinned sdists; ImageBuildFailed (a deps verdict) when they are not a closure
    with GHC's own packages, before an hour of building says so."""
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
    return "".join(f"{name}\n" for name in hackage.order).encode()


class Bindist:
    name = "bindist"
    build_seconds = 3600  # GHC's bindist installed, then each pinned sdist compiled
    script_rebuilds = False

    def dockerfile(self) -> Path:
        return IMAGES_DIR / "bindist.Dockerfile"

    def packages(self, toolchain: Toolchain, recipe: Recipe) -> PackageChoice:
        install, unpinned = bindist_split(toolchain, recipe)
        return PackageChoice(tuple(install), tuple(unpinned))

    def plan_files(self, choice: PackageChoice) -> dict[str, bytes]:
        # Not missing-packages.txt, which check-freshness reads: jessie serving them is no news (issue 17).
        return {"unpinned-packages.txt": "".join(f"{package}\n" for package in choice.left_out).encode(),
                "hackage-order.txt": b"",  # pin_files fills it in once the sdists are at hand
                "install-sdists": (IMAGES_DIR / "scripts" / "install-sdists").read_bytes()}

    def pin_files(self, toolchain: Toolchain, downloads: dict[str, Path], log: Path) -> dict[str, bytes]:
        return {"hackage-order.txt": hackage_order(toolchain, downloads, log)}

    def pinned_by(self, toolchain: Toolchain) -> str | None:
        return toolchain.name  # a Haskell library missing here is one none of its pins provides

    def matrix_problem(self, download_names: set[str]) -> str | None:
        return None if "ghc" in download_names else "a bindist toolchain needs a download named 'ghc'"
