"""The bindist toolchains' Hackage pins against the bounds of the Ganeti of their era (captured data)."""

from __future__ import annotations

import pytest

from compat import matrix
from compat.analysis.cabal import Dependency, Package, check_pins
from compat.analysis.versions import (
    Closure,
    check,
    parse_range,
    read_build_depends,
    satisfies,
    sdist_version,
    show,
    version,
)
from compat.pins import boot_packages
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
    # The extraction of 2.15 and 2.16.0 kept a line of the .cabal file's description; it is said, never read
    # as "any version".
    assert problems == ([] if tag == "v2.16.2" else ["line 7: not a version range: '<http://www.ganeti.org>'"])
    return found


# Ganeti 2.16.2's flags (tests/data/era/ghc710-newname-keywords.txt): MonadCatchIO-transformers sits behind flag
# mcio_xformers, True by default; build-depends-v2.16.2.tsv lists it without a bound.
FLAGGED = {"MonadCatchIO-transformers": ("mcio_xformers", True)}


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


def captured(toolchain: str) -> list[Package]:
    """The pins of a toolchain as Setup configure reads them on its GHC (tests/data/era/hackage-build-depends.tsv)."""
    config = {"ghc78": "G78", "ghc710": "G710"}[toolchain]
    found: dict[str, list[Dependency]] = {}
    for line in (ERA / "hackage-build-depends.tsv").read_text().splitlines():
        if line.startswith("#"):
            continue
        ident, where, name, written = line.split("\t")
        if where in ("both", config):
            found.setdefault(ident, [])
            if name != "-":
                found[ident].append(Dependency(name, written, parse_range(written)))
    packages = []
    for name, number in matrix_pins(toolchain).items():
        ident = f"{name}-{show(number)}"
        assert ident in found, f"{ident}: no build-depends captured"
        packages.append(Package(name, number, (((), tuple(found[ident])),)))
    return packages


def boot(toolchain: str) -> dict[str, tuple[int, ...]]:
    found = boot_packages(matrix.load(ROOT / "matrix.yaml").toolchains[toolchain].ghc)
    assert found is not None
    return found


def test_the_ghc710_pins_are_build_chroots_set_and_what_its_cabal_update_filled_in() -> None:
    pins, chroot = matrix_pins("ghc710"), listed("build_chroot-jessie-ghc710-e399d2066.txt")
    assert {name: pins[name] for name in chroot} == chroot
    assert sorted(set(pins) - set(chroot)) == ["HTTP", "cabal-install", "mtl", "network", "network-uri", "old-locale",
                                               "old-time", "parsec", "random", "stm", "text", "zlib"]
    assert pins["cabal-install"] == (1, 22, 6, 0)


def test_the_ghc78_pins_are_build_chroots_own_where_it_chose() -> None:
    pins, chroot = matrix_pins("ghc78"), listed("build_chroot-jessie-ghc78-v2.16.0.txt")
    differ = {name: (show(number), show(pins[name]) if name in pins else None)
              for name, number in chroot.items() if pins.get(name) != number}
    # Lint and documentation tools are not pinned; QuickCheck 2.8.1 breaks v2.16.0's own "< 2.8".
    assert differ == {"QuickCheck": ("2.8.1", "2.7.6"), "cabal-file-th": ("0.2.3", None), "happy": ("1.19.5", None),
                      "hlint": ("1.9.20", None), "hscolour": ("1.23", None), "shelltestrunner": ("1.3.5", None)}
    assert (pins["lens"], pins["vector"], pins["hashable"], pins["cabal-install"]) == (
        (4, 9, 1), (0, 10, 12, 3), (1, 2, 3, 2), (1, 22, 4, 0))


@pytest.mark.parametrize("toolchain", ["ghc78", "ghc710"])
def test_the_pins_are_a_closure_with_ghcs_own_packages(toolchain: str) -> None:
    checked = check_pins(captured(toolchain), boot(toolchain), toolchain)
    assert checked.problems == ()
    order = checked.order
    for needed in ("HTTP", "network", "zlib", "mtl", "stm", "random"):  # cabal-install is built like the others
        assert order.index(next(i for i in order if i.startswith(f"{needed}-"))) < order.index(
            next(i for i in order if i.startswith("cabal-install-")))


@pytest.mark.parametrize("toolchain", ["ghc78", "ghc710"])
def test_the_pins_cover_ganeti_2_16_within_its_bounds(toolchain: str) -> None:
    assert check(depends("v2.16.0"), matrix_pins(toolchain), boot(toolchain)) == Closure((), ())


def test_without_a_pin_the_closure_says_what_lacks_it() -> None:
    packages = [p for p in captured("ghc710") if p.name != "text"]
    problems = check_pins(packages, boot("ghc710"), "GHC 7.10.2").problems
    assert problems[0].startswith("text is neither pinned nor shipped with GHC 7.10.2: wanted by attoparsec-0.12.1.6 (")


def test_the_ghc710_pins_do_not_satisfy_ganeti_2_15() -> None:
    closure = check(depends("v2.15.2"), matrix_pins("ghc710"), boot("ghc710"))
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


@pytest.mark.parametrize("toolchain", ["ghc78", "ghc710"])
@pytest.mark.parametrize("mcio_xformers", [True, False])
def test_the_pins_cover_ganeti_2_16_2_with_either_setting_of_its_flag(toolchain: str, mcio_xformers: bool) -> None:
    wanted = {name: bound for name, bound in depends("v2.16.2").items()
              if name not in FLAGGED or FLAGGED[name][1] == mcio_xformers}
    assert ("MonadCatchIO-transformers" in wanted) is mcio_xformers and "semigroups" in wanted
    assert check(wanted, matrix_pins(toolchain), boot(toolchain)) == Closure((), ())


@pytest.mark.parametrize("toolchain", ["ghc78", "ghc710"])
def test_ganeti_2_16_2s_new_and_flagged_dependencies_are_read_not_assumed(toolchain: str) -> None:
    pins = matrix_pins(toolchain)
    assert pins["semigroups"] == (0, 16, 2, 2)  # 2.16.2 wants >= 0.15.0; 2.16.0 did not name it
    assert "semigroups" not in depends("v2.16.0")
    without = {name: number for name, number in pins.items() if name not in ("semigroups", "MonadCatchIO-transformers")}
    closure = check(depends("v2.16.2"), without, boot(toolchain))  # the flag at its default wants it
    assert closure.missing == ("MonadCatchIO-transformers", "semigroups")
    # The wider bounds of 2.16.2: build_chroot's own QuickCheck 2.8.1 fits it, not 2.16.0.
    quickcheck = {**pins, "QuickCheck": (2, 8, 1)}
    assert check(depends("v2.16.2"), quickcheck, boot(toolchain)).violations == ()
    assert check(depends("v2.16.0"), quickcheck, boot(toolchain)).violations == (
        "QuickCheck-2.8.1 (pinned): the source wants >= 2.4.2 && < 2.8",)
