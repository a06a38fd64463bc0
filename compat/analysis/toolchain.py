"""Facts about a GHC toolchain from `ghc --info` and `ghc-pkg list --simple-output`."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GhcFacts:
    version: str | None
    integer_library: str | None
    integer_library_version: str | None
    bignum_backend: str | None

    @property
    def replaces_gmp_allocator(self) -> bool | None:
        """integer-gmp before 1.0 installs its own GMP allocator (the old runtime's hazard)."""
        if self.integer_library != "integer-gmp" or not self.integer_library_version:
            return None if self.integer_library is None else False
        return int(self.integer_library_version.split(".")[0]) < 1

    def as_dict(self) -> dict[str, object]:
        return {"version": self.version, "integer_library": self.integer_library,
                "integer_library_version": self.integer_library_version, "bignum_backend": self.bignum_backend,
                "replaces_gmp_allocator": self.replaces_gmp_allocator}


def parse_ghc_info(text: str) -> dict[str, str]:
    """`ghc --info` is a Haskell list of string pairs, which Python's literal syntax also reads."""
    try:
        pairs = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return {}
    return {str(key): str(value) for key, value in pairs}


def parse_package_list(text: str) -> dict[str, str]:
    """`ghc-pkg list --simple-output`: name-version words, to {name: version}."""
    packages = {}
    for word in text.split():
        match = re.fullmatch(r"(.+)-(\d+(?:\.\d+)*)", word.strip("()"))
        if match:
            packages[match.group(1)] = match.group(2)
    return packages


def ghc_facts(info_text: str, package_list_text: str) -> GhcFacts:
    info = parse_ghc_info(info_text)
    packages = parse_package_list(package_list_text)
    for library in ("ghc-bignum", "integer-gmp", "integer-simple"):
        if library in packages:
            backend = info.get("bignum backend", "gmp") if library == "ghc-bignum" else None
            return GhcFacts(info.get("Project version"), library, packages[library], backend)
    return GhcFacts(info.get("Project version"), None, None, None)
