"""matrix.yaml: load, validate with the path of each error, and hand out frozen dataclasses."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from compat.errors import ConfigError

STEPS = ("prepare", "configure", "build", "test")
TOOLCHAIN_KINDS = ("debian", "bindist")
SOURCE_KINDS = ("debian", "git", "tarball", "path")
DEFAULT_TIMEOUTS = {"fetch": 900, "prepare": 1800, "configure": 1800, "build": 5400, "test": 1800, "probe": 600}
PLACEHOLDERS = ("jobs", "out", "version", "flavor")

T = TypeVar("T")


@dataclass(frozen=True)
class Download:
    name: str
    url: str
    sha256: str | None = None
    sha1: str | None = None


@dataclass(frozen=True)
class Flavor:
    name: str
    dev_package: str
    soname: str


@dataclass(frozen=True)
class Toolchain:
    name: str
    description: str
    kind: str
    suite: str
    ghc: str
    flavors: tuple[str, ...]
    default_flavor: str
    mirror: str | None = None
    apt_options: tuple[str, ...] = ()
    apt_sources: tuple[str, ...] = ()  # extra sources.list lines, e.g. experimental on top of sid
    packages: tuple[str, ...] = ()
    downloads: tuple[Download, ...] = ()


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    kind: str
    recipe: str
    package: str | None = None
    suite: str | None = None
    version: str | None = None
    patches: bool = True
    url: str | None = None
    ref: str | None = None
    sha256: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    packages: tuple[str, ...]
    steps: dict[str, tuple[tuple[str, ...], ...]]
    junit: str | None
    binaries: tuple[str, ...]
    relink: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Expectation:
    """A known failure: cells matching `cell` (a shell-style pattern over toolchain--source--flavor) are
    expected not to pass, or, with `test`, that one test is expected to fail in them."""

    cell: str
    reason: str
    test: str | None = None
    bug: str | None = None


@dataclass(frozen=True)
class Matrix:
    path: Path
    toolchains: dict[str, Toolchain]
    flavors: dict[str, Flavor]
    sources: dict[str, Source]
    recipes: dict[str, Recipe]
    timeouts: dict[str, int]
    default_sources: tuple[str, ...] = field(default=())
    abi_baseline: str | None = None
    expected: tuple[Expectation, ...] = ()
    flaky_flips: int = 2  # a cell is flaky when its status flipped more than this ...
    flaky_window: int = 10  # ... in its last this many runs
    retention: int = 30  # runs the nightly keeps


class _Reader:
    """Walks the parsed YAML and raises ConfigError naming the file and the field path."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.file}: {path}: {message}")

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                raise self.fail(f"{path}.{key}", f"unknown key{_did_you_mean(str(key), allowed)}; expected one of: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                raise self.fail(path, f"missing required key '{key}'")
        return value

    def string(self, value: Any, path: str, pattern: str | None = None, what: str = "") -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected a non-empty string, got {_kind(value)}")
        if pattern and not re.fullmatch(pattern, value):
            raise self.fail(path, f"'{value}' is not {what or 'valid'}")
        return value

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        """A list of strings; a list inside it (a YAML alias) is spliced in."""
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list of strings, got {_kind(value)}")
        return tuple(self.string(item, item_path) for item, item_path in _spliced(value, path))

    def name(self, value: Any, path: str, known: dict[str, Any] | tuple[str, ...], what: str) -> str:
        text = self.string(value, path)
        if text not in known:
            raise self.fail(path, f"unknown {what} '{text}'{_did_you_mean(text, tuple(known))}")
        return text

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        text = self.string(value, path)
        if text not in choices:
            raise self.fail(path, f"'{text}' is not one of: {', '.join(choices)}{_did_you_mean(text, choices)}")
        return text

    def positive_int(self, value: Any, path: str, unit: str = "seconds") -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise self.fail(path, f"expected a positive number of {unit}, got {value!r}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {value!r}")
        return value

    def each(self, value: Any, path: str, parse: Callable[[str, Any, str], T]) -> dict[str, T]:
        if not isinstance(value, dict) or not value:
            raise self.fail(path, f"expected a non-empty mapping of names, got {_kind(value)}")
        return {str(key): parse(str(key), item, f"{path}.{key}") for key, item in value.items()}


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(type(value), type(value).__name__)


def _did_you_mean(word: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


HEX = {"sha256": 64, "sha1": 40}


def _spliced(items: Any, path: str) -> list[tuple[Any, str]]:
    """Items with their paths; a list inside the list is spliced in (so YAML anchors can share pins)."""
    if not isinstance(items, list):
        return [(items, path)]
    out: list[tuple[Any, str]] = []
    for i, item in enumerate(items):
        out += _spliced(item, f"{path}[{i}]") if isinstance(item, list) else [(item, f"{path}[{i}]")]
    return out


def _download(r: _Reader, value: Any, path: str) -> Download:
    d = r.mapping(value, path, ("name", "url", "sha256", "sha1"), ("name", "url"))
    sums = {k: r.string(d[k], f"{path}.{k}", f"[0-9a-f]{{{n}}}", f"a {n}-digit lowercase hex {k}") for k, n in HEX.items() if k in d}
    if not sums:
        raise r.fail(path, "a download must be pinned: give sha256 (or sha1)")
    url = r.string(d["url"], f"{path}.url", r"(https?|file)://\S+", "an http(s) or file URL")
    return Download(r.string(d["name"], f"{path}.name"), url, sums.get("sha256"), sums.get("sha1"))


def _toolchain(r: _Reader, flavors: dict[str, Flavor], name: str, value: Any, path: str) -> Toolchain:
    keys = ("description", "kind", "suite", "ghc", "flavors", "default_flavor", "mirror", "apt_options", "apt_sources",
            "packages", "downloads")
    t = r.mapping(value, path, keys, ("kind", "suite", "ghc", "flavors"))
    kind = r.choice(t["kind"], f"{path}.kind", TOOLCHAIN_KINDS)
    names = r.strings(t["flavors"], f"{path}.flavors")
    if not names:
        raise r.fail(f"{path}.flavors", "list at least one SSL flavor")
    for i, flavor in enumerate(names):
        r.name(flavor, f"{path}.flavors[{i}]", flavors, "flavor")
    default = r.name(t.get("default_flavor", names[0]), f"{path}.default_flavor", names, "flavor of this toolchain")
    downloads = tuple(_download(r, d, p) for d, p in _spliced(t.get("downloads") or [], f"{path}.downloads"))
    if kind == "bindist" and not any(d.name == "ghc" for d in downloads):
        raise r.fail(f"{path}.downloads", "a bindist toolchain needs a download named 'ghc'")
    return Toolchain(
        name=name,
        description=r.string(t.get("description", f"GHC {t['ghc']} ({kind}, {t['suite']})"), f"{path}.description"),
        kind=kind,
        suite=r.string(t["suite"], f"{path}.suite", r"[a-z][a-z0-9.-]*", "a Debian suite name"),
        ghc=r.string(t["ghc"], f"{path}.ghc", r"\d+(\.\d+)+", "a GHC version like 9.6.6"),
        flavors=names,
        default_flavor=default,
        mirror=r.string(t["mirror"], f"{path}.mirror", r"https?://\S+", "an http(s) URL") if "mirror" in t else None,
        apt_options=r.strings(t.get("apt_options"), f"{path}.apt_options"),
        apt_sources=tuple(r.string(line, p, r"deb(-src)? (\[[^]\n]*\] )?\S+://\S+ \S+( [^\n]*)?",
                                   "a one-line apt source like 'deb http://deb.debian.org/debian experimental main'")
                          for line, p in _spliced(t.get("apt_sources") or [], f"{path}.apt_sources")),
        packages=r.strings(t.get("packages"), f"{path}.packages"),
        downloads=downloads,
    )


SOURCE_FIELDS = {
    "debian": ("package", "suite"),
    "git": ("url", "ref"),
    "tarball": ("url", "sha256"),
    "path": ("path",),
}


def _source(r: _Reader, recipes: dict[str, Recipe], name: str, value: Any, path: str) -> Source:
    keys = ("description", "kind", "recipe", "package", "suite", "version", "patches", "url", "ref", "sha256", "path")
    s = r.mapping(value, path, keys, ("kind", "recipe"))
    kind = r.choice(s["kind"], f"{path}.kind", SOURCE_KINDS)
    for needed in SOURCE_FIELDS[kind]:
        if needed not in s:
            raise r.fail(path, f"a '{kind}' source needs '{needed}'")
    text: dict[str, str] = {k: r.string(s[k], f"{path}.{k}") for k in ("package", "suite", "version", "url", "ref", "path")
                            if k in s}
    if "sha256" in s:
        text["sha256"] = r.string(s["sha256"], f"{path}.sha256", "[0-9a-f]{64}", "a 64-digit lowercase hex sha256")
    return Source(
        name=name,
        description=r.string(s.get("description", f"{kind} source {name}"), f"{path}.description"),
        kind=kind,
        recipe=r.name(s["recipe"], f"{path}.recipe", recipes, "recipe"),
        patches=r.boolean(s.get("patches", True), f"{path}.patches"),
        **text,
    )


def _command(r: _Reader, value: Any, path: str) -> tuple[str, ...]:
    argv = r.strings(value, path)
    if not argv:
        raise r.fail(path, "a command is a non-empty list of arguments")
    for i, arg in enumerate(argv):
        for placeholder in re.findall(r"\{(\w+)\}", arg):
            if placeholder not in PLACEHOLDERS:
                raise r.fail(f"{path}[{i}]", f"unknown placeholder '{{{placeholder}}}'{_did_you_mean(placeholder, PLACEHOLDERS)}; known: {', '.join(PLACEHOLDERS)}")
    return argv


def _recipe(r: _Reader, name: str, value: Any, path: str) -> Recipe:
    d = r.mapping(value, path, ("packages", "steps", "relink", "junit", "binaries"), ("steps",))
    steps_raw = r.mapping(d["steps"], f"{path}.steps", STEPS, ("build",))
    steps: dict[str, tuple[tuple[str, ...], ...]] = {}
    for step in STEPS:
        commands = steps_raw.get(step) or []
        if not isinstance(commands, list):
            raise r.fail(f"{path}.steps.{step}", f"expected a list of commands, got {_kind(commands)}")
        steps[step] = tuple(_command(r, c, f"{path}.steps.{step}[{i}]") for i, c in enumerate(commands))
    relink = d.get("relink") or []
    if not isinstance(relink, list):
        raise r.fail(f"{path}.relink", f"expected a list of commands, got {_kind(relink)}")
    return Recipe(
        name=name,
        packages=r.strings(d.get("packages"), f"{path}.packages"),
        steps=steps,
        relink=tuple(_command(r, c, f"{path}.relink[{i}]") for i, c in enumerate(relink)),
        junit=r.string(d["junit"], f"{path}.junit") if "junit" in d else None,
        binaries=r.strings(d.get("binaries"), f"{path}.binaries"),
    )


def _expectation(r: _Reader, value: Any, path: str) -> Expectation:
    e = r.mapping(value, path, ("cell", "test", "reason", "bug"), ("cell", "reason"))
    return Expectation(
        cell=r.string(e["cell"], f"{path}.cell", r"[A-Za-z0-9.+_*?\[\]~-]+--[A-Za-z0-9.+_*?\[\]~-]+--[A-Za-z0-9.+_*?\[\]~-]+",
                      "a cell pattern TOOLCHAIN--SOURCE--FLAVOR (each part may use * and ?)"),
        reason=r.string(e["reason"], f"{path}.reason"),
        test=r.string(e["test"], f"{path}.test") if "test" in e else None,
        bug=r.string(e["bug"], f"{path}.bug", r"https?://\S+", "an http(s) URL") if "bug" in e else None)


def _flavor(r: _Reader, name: str, value: Any, path: str) -> Flavor:
    d = r.mapping(value, path, ("dev_package", "soname"), ("dev_package", "soname"))
    return Flavor(name, r.string(d["dev_package"], f"{path}.dev_package"), r.string(d["soname"], f"{path}.soname"))


def parse(data: Any, file: Path) -> Matrix:
    """Validate parsed YAML into a Matrix; raise ConfigError naming the bad field."""
    r = _Reader(file)
    top = r.mapping(data, "matrix", ("toolchains", "flavors", "sources", "recipes", "timeouts", "default_sources",
                                     "abi_baseline", "expected", "flaky", "retention"),
                    ("toolchains", "flavors", "sources", "recipes"))
    flavors = r.each(top["flavors"], "flavors", lambda n, v, p: _flavor(r, n, v, p))
    recipes = r.each(top["recipes"], "recipes", lambda n, v, p: _recipe(r, n, v, p))
    toolchains = r.each(top["toolchains"], "toolchains", lambda n, v, p: _toolchain(r, flavors, n, v, p))
    sources = r.each(top["sources"], "sources", lambda n, v, p: _source(r, recipes, n, v, p))
    timeouts = dict(DEFAULT_TIMEOUTS)
    raw_timeouts = r.mapping(top.get("timeouts") or {}, "timeouts", tuple(DEFAULT_TIMEOUTS))
    timeouts.update({k: r.positive_int(v, f"timeouts.{k}") for k, v in raw_timeouts.items()})
    defaults = r.strings(top.get("default_sources"), "default_sources") or tuple(sources)
    for i, name in enumerate(defaults):
        r.name(name, f"default_sources[{i}]", sources, "source")
    baseline = r.name(top["abi_baseline"], "abi_baseline", toolchains, "toolchain") if "abi_baseline" in top else None
    raw_expected = top.get("expected") or []
    if not isinstance(raw_expected, list):
        raise r.fail("expected", f"expected a list of known failures, got {_kind(raw_expected)}")
    expected = tuple(_expectation(r, item, f"expected[{i}]") for i, item in enumerate(raw_expected))
    flaky = r.mapping(top.get("flaky") or {}, "flaky", ("flips", "window"))
    flips = r.positive_int(flaky["flips"], "flaky.flips", "status flips") if "flips" in flaky else 2
    window = r.positive_int(flaky["window"], "flaky.window", "runs") if "window" in flaky else 10
    retention = r.positive_int(top["retention"], "retention", "runs") if "retention" in top else 30
    return Matrix(file, toolchains, flavors, sources, recipes, timeouts, defaults, baseline, expected, flips, window,
                  retention)


def load(file: Path) -> Matrix:
    """Read and validate a matrix file."""
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}; pass an existing matrix file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError(f"{file}: {where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse(data, file)


def pick(known: Mapping[str, T], name: str, what: str, file: Path) -> T:
    """Look a toolchain or source up by the name a user typed."""
    if name not in known:
        raise ConfigError(f"{file}: no {what} named '{name}'{_did_you_mean(name, tuple(known))}; known: {', '.join(known)}")
    return known[name]
