"""The bindist toolchains' Hackage pins against the bounds of the Ganeti of their era (captured data)."""

from __future__ import annotations

import pytest

from compat import matrix
from compat.analysis.cabal import check, parse_range, read_build_depends, satisfies, sdist_version, version
from tests.conftest import DATA, ROOT

ERA = DATA / "era"


def listed(name: str) -> dict[str, tuple[int, ...]]:
    """package -> version from a list of NAME-VERSION lines (build_chroot's) or NAME<TAB>VERSION lines."""
    found = {}
    for line in (ERA / name).read_text().splitlines():
        if line and not line.startswith("#"):
            package, _, number = line.rpartition("-") if "\t" not in line else line.partition("\t")
            found[package] = version(number)
    return found


def depends(tag: str) -> dict:
    found, problems = read_build_depends((ERA / f"build-depends-{tag}.tsv").read_text())
    # The extraction kept a line of the .cabal file's description; it is said, never read as "any version".
    assert problems == ["line 7: not a version range: '<http://www.ganeti.org>'"]
    return found


def matrix_pins(toolchain: str) -> dict[str, tuple[int, ...]]:
    downloads = matrix.load(ROOT / "matrix.yaml").toolchains[toolchain].downloads
    return dict(found for d in downloads if (found := sdist_version(d.name)) is not None)


@pytest.mark.parametrize("text, inside, outside", [
    (">= 4.2.4 && < 4.3", ["4.2.4", "4.2.5.1", "4.2.99"], ["4.2.3", "4.3", "4.3.0.1"]),
    (">= 2.4.2 && < 2.8", ["2.7.6"], ["2.8", "2.8.1"]),
    ("== 1.2.*", ["1.2", "1.2.0.1"], ["1.3", "1.20"]),
    ("< 1.0 || >= 2", ["0.9.9", "2", "3.1"], ["1.0", "1.5"]),
    ("^>= 1.2.3", ["1.2.3", "1.2.9"], ["1.2.2", "1.3"]),
    ("-any", ["0", "99"], []),
    (">= 1.2", ["1.2", "1.2.0"], ["1.1.9"]),  # 1.2.0 is newer than 1.2, as Cabal orders them
])
def test_version_ranges(text: str, inside: list[str], outside: list[str]) -> None:
    wanted = parse_range(text)
    assert all(satisfies(version(v), wanted) for v in inside)
    assert not any(satisfies(version(v), wanted) for v in outside)


@pytest.mark.parametrize("text", ["<http://www.ganeti.org>", ">= 1.2 &&", ">= 1.2.*", "~> 1.2", "1.2", ">= 1..2"])
def test_anything_else_is_no_range(text: str) -> None:
    with pytest.raises(ValueError, match="not a v|a wildcard only follows =="):
        parse_range(text)


def test_sdist_names() -> None:
    assert sdist_version("bytestring-builder-0.10.6.0.0.tar.gz") == ("bytestring-builder", (0, 10, 6, 0, 0))
    assert sdist_version("test-framework-quickcheck2-0.3.0.3.tar.gz") == ("test-framework-quickcheck2", (0, 3, 0, 3))
    assert sdist_version("nats-1.tar.gz") == ("nats", (1,))
    assert sdist_version("ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2") is None


def test_the_ghc710_pins_are_build_chroots_set() -> None:
    assert matrix_pins("ghc710") == listed("build_chroot-jessie-ghc710-e399d2066.txt")


def test_the_ghc710_pins_satisfy_ganeti_2_16_but_do_not_cover_it_without_cabal_update() -> None:
    closure = check(depends("v2.16.0"), matrix_pins("ghc710"), listed("ghc-7.10.2-boot-packages.txt"))
    assert closure.violations == ()
    # build_chroot filled these from `cabal update`: offline, they must be pinned too (issue 10, item 2).
    assert closure.missing == ("mtl", "network", "old-time", "random", "text", "zlib")


def test_the_ghc710_pins_do_not_satisfy_ganeti_2_15() -> None:
    closure = check(depends("v2.15.2"), matrix_pins("ghc710"), listed("ghc-7.10.2-boot-packages.txt"))
    assert closure.violations == ("json-0.9.1 (pinned): the source wants >= 0.5 && < 0.9",
                                  "lens-4.12.3 (pinned): the source wants >= 3.10 && < 4.8")


def test_build_chroots_ghc78_set_breaks_the_bounds_of_the_ganeti_it_was_pinned_for() -> None:
    pins = listed("build_chroot-jessie-ghc78-v2.16.0.txt")
    # Pinned at tag v2.16.0, yet QuickCheck 2.8.1 is outside v2.16.0's own "< 2.8"; and lens 4.9.1 outside
    # 2.15.2's "< 4.8". Whatever pins ghc78 gets, this check says so before any download.
    assert check(depends("v2.16.0"), pins, {}).violations == (
        "QuickCheck-2.8.1 (pinned): the source wants >= 2.4.2 && < 2.8",)
    assert check(depends("v2.15.2"), pins, {}).violations == (
        "QuickCheck-2.8.1 (pinned): the source wants >= 2.4.2 && < 2.8",
        "json-0.9.1 (pinned): the source wants >= 0.5 && < 0.9",
        "lens-4.9.1 (pinned): the source wants >= 3.10 && < 4.8")
