"""Toolchain kinds: adding one is one module registered in compat.toolchains, and image planning is a pure
function of matrix.yaml, worked out before any engine call."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from compat import matrix, toolchains
from compat.errors import ConfigError
from compat.images import ImageBuilder
from compat.matrix import Recipe, Toolchain
from compat.planning import COMMON_PACKAGES, plan_image, with_pins
from compat.toolchains import PackageChoice
from tests.conftest import ROOT
from tests.memory_engine import MemoryImageEngine

DEFAULT = yaml.safe_load((ROOT / "matrix.yaml").read_text())


class Overlay:
    """A throwaway kind: GHC from an overlay archive whose keyring is a pinned download."""

    name = "overlay"
    build_seconds = 600
    script_rebuilds = False

    def __init__(self, dockerfile: Path) -> None:
        self._dockerfile = dockerfile

    def dockerfile(self) -> Path:
        return self._dockerfile

    def packages(self, toolchain: Toolchain, recipe: Recipe) -> PackageChoice:
        return PackageChoice(tuple(p for p in recipe.packages if p != "ghc"), ("ghc",))

    def plan_files(self, choice: PackageChoice) -> dict[str, bytes]:
        return {"overlay-left-out.txt": "".join(f"{p}\n" for p in choice.left_out).encode()}

    def pin_files(self, toolchain: Toolchain, downloads: dict[str, Path], log: Path) -> dict[str, bytes]:
        return {"overlay-keyring": downloads["keyring"].read_bytes()}

    def pinned_by(self, toolchain: Toolchain) -> str | None:
        return f"the overlay of {toolchain.name}"

    def matrix_problem(self, download_names: set[str]) -> str | None:
        return None if "keyring" in download_names else "an overlay toolchain needs a download named 'keyring'"


@pytest.fixture
def overlay(tmp_path: Path) -> Iterator[Overlay]:
    dockerfile = tmp_path / "overlay.Dockerfile"
    dockerfile.write_text("ARG BASE\nFROM $BASE\nCOPY overlay-keyring /etc/apt/keyrings/overlay.gpg\n")
    kind = Overlay(dockerfile)
    toolchains.register(kind)
    try:
        yield kind
    finally:
        toolchains.unregister(kind.name)


def with_overlay(downloads: list[dict[str, str]]) -> dict:
    data = copy.deepcopy(DEFAULT)
    data["toolchains"]["ghc912"] = {"kind": "overlay", "suite": "sid", "ghc": "9.12.2", "flavors": ["gnutls"],
                                    "downloads": downloads}
    return data


KEYRING = {"name": "keyring", "url": "https://overlay.example/keyring.gpg", "sha256": "0" * 64}


def test_a_toolchain_kind_registered_alone_is_planned_and_validated(overlay: Overlay, tmp_path: Path) -> None:
    m = matrix.parse(with_overlay([KEYRING]), Path("matrix.yaml"))
    ghc912, recipe = m.toolchains["ghc912"], m.recipes["ganeti-3.1"]
    plan = plan_image(ghc912, recipe)
    assert plan.dockerfile == overlay.dockerfile().read_text()
    assert plan.files["overlay-left-out.txt"] == b"ghc\n"
    assert "ghc" not in plan.packages and plan.packages[:len(COMMON_PACKAGES)] == list(COMMON_PACKAGES)
    keyring = tmp_path / "keyring.gpg"
    keyring.write_bytes(b"key")
    assert with_pins(plan, {"keyring": keyring}, tmp_path / "log").files["overlay-keyring"] == b"key"
    assert toolchains.kind_of(ghc912).pinned_by(ghc912) == "the overlay of ghc912"
    with pytest.raises(ConfigError, match=r"toolchains\.ghc912\.downloads: an overlay toolchain needs a download "
                       "named 'keyring'"):
        matrix.parse(with_overlay([]), Path("matrix.yaml"))


def test_an_unregistered_kind_is_no_kind_of_matrix_yaml(tmp_path: Path) -> None:
    toolchains.register(Overlay(tmp_path / "overlay.Dockerfile"))
    toolchains.unregister("overlay")
    with pytest.raises(ConfigError, match=r"toolchains\.ghc912\.kind: 'overlay' is not one of: debian, bindist"):
        matrix.parse(with_overlay([KEYRING]), Path("matrix.yaml"))


def test_a_kind_is_registered_once(overlay: Overlay) -> None:
    with pytest.raises(ValueError, match="registered already"):
        toolchains.register(overlay)


def test_image_planning_needs_no_engine_and_orders_common_toolchain_then_recipe_packages() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    ghc96, recipe = m.toolchains["ghc96"], m.recipes["ganeti-3.1"]
    plan = plan_image(ghc96, recipe)  # no engine anywhere: a pure function of matrix.yaml
    expected = list(dict.fromkeys(COMMON_PACKAGES + ghc96.packages + recipe.packages))
    assert plan.packages == expected
    assert plan_image(ghc96, recipe) == plan


def test_what_each_builtin_kind_pins_and_leaves_to_its_freshness_check() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    ghc710, ghc96 = m.toolchains["ghc710"], m.toolchains["ghc96"]
    assert toolchains.kind_of(ghc710).pinned_by(ghc710) == "ghc710"
    assert toolchains.kind_of(ghc96).pinned_by(ghc96) is None
    # What a bindist image leaves out on purpose is what its freshness check ignores (issue 17).
    bindist = plan_image(ghc710, m.recipes["ganeti-3.1"])
    assert bindist.files["unpinned-packages.txt"].decode().split() == ["libghc-cryptonite-dev", "libghc-regex-tdfa-dev"]
    assert "unpinned-packages.txt" not in plan_image(ghc96, m.recipes["ganeti-3.1"]).files
    assert toolchains.names() == ("debian", "bindist")


def test_no_module_outside_the_registry_asks_which_kind_a_toolchain_is() -> None:
    package = ROOT / "compat"
    for module in package.rglob("*.py"):
        if module.parent.name == "toolchains":
            continue
        text = module.read_text()
        for literal in ('"bindist"', "toolchain.kind ==", "toolchain.kind !=", "TOOLCHAIN_KINDS"):
            assert literal not in text, f"{module.relative_to(package)} names {literal}"


def test_the_flavors_of_one_image_ask_its_suite_once_a_run(tmp_path: Path) -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    ghc96, recipe = m.toolchains["ghc96"], m.recipes["ganeti-3.1"]
    engine = MemoryImageEngine()
    log = tmp_path / "image.log"
    ImageBuilder(engine, tmp_path, lambda line: None).ensure(ghc96, recipe, log)  # type: ignore[arg-type]  # built
    images = ImageBuilder(engine, tmp_path, lambda line: None)  # type: ignore[arg-type]  # the next run
    for flavor in ghc96.flavors:
        image = images.ensure(ghc96, recipe, log)
        images.flavored(image, ghc96, flavor, m.flavors[flavor].soname, log)
    assert len(engine.checks) == 1
