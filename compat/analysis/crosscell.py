"""Verdicts that need several cells: failures common to every toolchain, ABI drift against a baseline."""

from __future__ import annotations

from compat.analysis.abi import HsPackage, drift
from compat.results import CellResult


def common_failures(results: list[CellResult]) -> dict[str, set[str]]:
    """Per source, the tests that fail in every cell whose tests ran, when those cells span at least two
    toolchains: the environment, not the GHC (two flavors of one toolchain share its GHC)."""
    common: dict[str, set[str]] = {}
    for source in {r.source for r in results}:
        ran = [r for r in results if r.source == source and r.tests]
        if len({r.toolchain for r in ran}) >= 2:
            common[source] = set.intersection(*(set(r.tests.failed_names) for r in ran if r.tests))
    return common


def _packages(result: CellResult) -> dict[str, HsPackage]:
    return {name: HsPackage(name, version_abi[0], version_abi[1]) for name, version_abi in result.packages.items()}


def drift_against(results: list[CellResult], baseline: str, focus: set[str]) -> dict[str, list[tuple[str, str, str]]]:
    """Per non-baseline toolchain and source ("toolchain--source"; the package database is the same in
    every flavor), the packages in focus (lower-case names) whose version or ABI moved."""
    tables = {}
    for result in results:
        key = f"{result.toolchain}--{result.source}"
        if result.toolchain == baseline or not result.packages or key in tables:
            continue
        base = next((r for r in results if r.toolchain == baseline and r.source == result.source and r.packages), None)
        if base is None:
            continue
        current, before = _packages(result), _packages(base)
        wanted = {name for name in set(current) | set(before) if name.lower() in focus}
        tables[key] = drift(before, current, wanted)
    return tables


def focus_packages(debian_packages: tuple[str, ...]) -> set[str]:
    """The Haskell packages a recipe asks Debian for: libghc-X-dev names X."""
    return {p[len("libghc-"):-len("-dev")] for p in debian_packages if p.startswith("libghc-") and p.endswith("-dev")}
