"""Toolchain kinds: how GHC gets into a toolchain's image. Adding a kind is one module registered here;
nothing else in the package asks which kind a toolchain is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from compat.toolchains.bindist import Bindist
from compat.toolchains.debian import Debian
from compat.toolchains.kind import IMAGES_DIR, PackageChoice, ToolchainKind

if TYPE_CHECKING:
    from compat.matrix import Toolchain

__all__ = ["IMAGES_DIR", "PackageChoice", "ToolchainKind", "kind_of", "named", "names", "register", "unregister"]

_KINDS: dict[str, ToolchainKind] = {}


def register(kind: ToolchainKind) -> ToolchainKind:
    """Make a kind known to matrix.yaml and to image planning."""
    if kind.name in _KINDS:
        raise ValueError(f"toolchain kind {kind.name!r} is registered already")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    del _KINDS[name]


def names() -> tuple[str, ...]:
    return tuple(_KINDS)


def kind_of(toolchain: Toolchain) -> ToolchainKind:
    return _KINDS[toolchain.kind]


def named(name: str) -> ToolchainKind:
    return _KINDS[name]


for _builtin in (Debian(), Bindist()):
    register(_builtin)
