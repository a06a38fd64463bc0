"""A bindist toolchain's pinned Hackage sdists, read from their tarballs before its image is built: whether they
and GHC's boot packages are a closure (offline, nothing can fill a gap), and the order Setup installs them in."""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from compat.analysis.cabal import Package, Platform, check_pins, read_cabal
from compat.analysis.versions import Version, sdist_version, version

BOOT_DIR = Path(__file__).resolve().parent.parent / "images" / "ghc-boot"
MAX_CABAL = 1 << 20  # a .cabal file is a few KiB; a larger member is not read
HASKELL_LIBRARY = re.compile(r"libghc-(.+)-dev")  # Debian's name of Hackage package X (lower-cased)
PROBLEM = "pins: "  # how an image log says why the pins cannot be installed; compat.verdict reads it


@dataclass(frozen=True)
class HackagePlan:
    order: tuple[str, ...]  # sdist file names, each after the ones it depends on
    problems: tuple[str, ...]  # why the pins cannot all be installed offline
    notes: tuple[str, ...]  # what could not be checked, and why


def boot_packages(ghc: str) -> dict[str, Version] | None:
    """GHC's own packages, `name<TAB>version` in images/ghc-boot/<version>.tsv; None when not recorded."""
    path = BOOT_DIR / f"{ghc}.tsv"
    if not path.is_file():
        return None
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, number = line.partition("\t")
            found[name.strip()] = version(number.strip())
    return found


def sdist_cabal(path: Path, file_name: str) -> str:
    """The NAME.cabal inside NAME-VERSION.tar.gz (under its NAME-VERSION/ directory)."""
    found = sdist_version(file_name)
    if found is None:
        raise ValueError("not named NAME-VERSION.tar.gz")
    member = f"{file_name.removesuffix('.tar.gz')}/{found[0]}.cabal"
    with tarfile.open(path, "r:gz") as archive:
        for info in archive:
            if info.name.removeprefix("./") == member and info.isfile():
                if info.size > MAX_CABAL:
                    raise ValueError(f"{member} is larger than {MAX_CABAL} bytes")
                stream = archive.extractfile(info)
                assert stream is not None
                return stream.read().decode("utf-8", errors="replace")
    raise ValueError(f"no {member} in it")


def plan_hackage(ghc: str, sdists: dict[str, Path]) -> HackagePlan:
    """`sdists`: file name -> verified tarball. A .cabal that cannot be read is installed last, and said."""
    packages: list[Package] = []
    files: dict[str, str] = {}
    unread: list[str] = []
    notes: list[str] = []
    for name, path in sorted(sdists.items()):
        try:
            package = read_cabal(sdist_cabal(path, name), Platform(version(ghc)))
        except (ValueError, OSError, tarfile.TarError, EOFError) as exc:
            unread.append(name)
            notes.append(f"{name}: its .cabal cannot be read ({exc}); installed last, its dependencies unchecked")
            continue
        packages.append(package)
        files[package.ident] = name
    boot = boot_packages(ghc)
    if boot is None:
        notes.append(f"GHC {ghc}'s own packages are not recorded in {BOOT_DIR}/{ghc}.tsv: a dependency no pin "
                     "provides is taken to be one of them, and the build will tell")
    checked = check_pins(packages, boot, f"GHC {ghc}")
    return HackagePlan(tuple(files[ident] for ident in checked.order) + tuple(unread), checked.problems, tuple(notes))
