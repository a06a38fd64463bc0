"""What a Hackage package needs on a platform: a .cabal file's build-depends with every condition decided, and
whether a toolchain's pins satisfy every package it builds (cabal_syntax reads the file, versions the bounds)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from compat.analysis.cabal_syntax import NAME_FIELD, Field, Parser, Section, Unreadable, at_line
from compat.analysis.versions import PACKAGE, Range, Version, parse_range, satisfies, show, version


@dataclass(frozen=True)
class Platform:
    """What a .cabal file's conditions are evaluated against: a bindist toolchain's GHC on Linux x86-64."""

    ghc: Version
    os: str = "linux"
    arch: str = "x86_64"


@dataclass(frozen=True)
class Dependency:
    name: str
    written: str
    wanted: Range


@dataclass(frozen=True)
class Package:
    """What a Hackage package needs on a platform: the build-depends of its library and executables (and its
    custom-setup's setup-depends), with every `if` decided; test suites and benchmarks are not built, so
    theirs are left out. One set per flag assignment, in the order Setup configure tries them: each flag at
    its default first, then (unless manual) the other way, the first-declared flag varying slowest."""

    name: str
    version: Version
    variants: tuple[tuple[tuple[tuple[str, bool], ...], tuple[Dependency, ...]], ...]  # (flags, depends)

    @property
    def ident(self) -> str:
        return f"{self.name}-{show(self.version)}"

    @property
    def depends(self) -> tuple[Dependency, ...]:
        """With every flag at its default."""
        return self.variants[0][1]


BUILT = ("library", "executable", "custom-setup")  # sections Setup configure && build needs the depends of
NOT_BUILT = ("test-suite", "benchmark", "source-repository", "flag")
CALL = re.compile(r"\s*([A-Za-z]+)\s*\(([^()]*)\)")
MAX_FLAGS = 8  # automatic flags tried both ways; a package with more is read with its defaults only


def read_cabal(text: str, platform: Platform, file: str | None = None) -> Package:
    """A .cabal file's name, version and dependencies on the platform; ValueError naming the file (NAME.cabal,
    as Hackage names it, unless given) and the line of what it cannot read (common stanzas and foreign
    libraries came after the sdists of GHC 7's era)."""
    try:
        return _package(Parser(text).file(), platform)
    except ValueError as exc:
        line = f":{exc.line}" if isinstance(exc, Unreadable) else ""
        raise ValueError(f"{file or _file_name(text)}{line}: {exc}") from None


def _file_name(text: str) -> str:
    match = NAME_FIELD.search(text)
    return f"{match.group(1)}.cabal" if match else "the .cabal file"


def _package(top: tuple[Field | Section, ...], platform: Platform) -> Package:
    fields = {node.name: node for node in top if isinstance(node, Field)}
    if "name" not in fields or "version" not in fields:
        raise ValueError("no name: or version: field")
    with at_line(fields["version"].line):
        number = version(fields["version"].value)
    defaults, automatic = _flags(top)
    if len(automatic) > MAX_FLAGS:
        automatic = []
    variants = []
    for choice in itertools.product(*[(defaults[f], not defaults[f]) if f in automatic else (defaults[f],)
                                      for f in defaults]):
        flags = dict(zip(defaults, choice))
        variants.append((tuple(flags.items()), tuple(_package_depends(top, fields["name"].value, platform, flags))))
    return Package(fields["name"].value, number, tuple(variants))


def _flags(top: tuple[Field | Section, ...]) -> tuple[dict[str, bool], list[str]]:
    """Each flag's default, and which flags are automatic (Setup configure may turn those)."""
    defaults: dict[str, bool] = {}
    automatic: list[str] = []
    for node in top:
        if isinstance(node, Section) and node.name == "flag":
            with at_line(node.line):
                if len(node.args.split()) != 1:
                    raise ValueError(f"a flag section names one flag: flag {node.args[:60]}")
                settings = {field.name: field for field in node.body if isinstance(field, Field)}
                defaults[node.args.lower()] = _setting(settings, "default", True)
                if not _setting(settings, "manual", False):
                    automatic.append(node.args.lower())
    return defaults, automatic


def _setting(fields: dict[str, Field], name: str, otherwise: bool) -> bool:
    field = fields.get(name)
    if field is None:
        return otherwise
    with at_line(field.line):
        return _boolean(field.value)


def _boolean(value: str) -> bool:
    """True or False in any case, as Cabal 1.x reads them; anything else is no answer, not a default."""
    if value.lower() not in ("true", "false"):
        raise ValueError(f"neither True nor False: {value[:40]!r}")
    return value.lower() == "true"


def _package_depends(top: tuple[Field | Section, ...], name: str, platform: Platform,
                     flags: dict[str, bool]) -> list[Dependency]:
    depends: list[Dependency] = []
    has_library = any(isinstance(node, Section) and node.name == "library" for node in top)
    for node in top:
        with at_line(node.line):
            if isinstance(node, Field):
                if node.name == "build-depends" and not has_library:  # an old file's library, before sections
                    depends += _depends(node.value)
            elif node.name in ("common", "foreign-library"):
                raise ValueError(f"{node.name} stanzas are not read")
            elif node.name in BUILT:
                wanted, buildable = _section(node.body, platform, flags)
                depends += wanted if buildable else []
            elif node.name not in NOT_BUILT:
                raise ValueError(f"unknown section {node.name!r}")
    return [d for d in depends if d.name != name]


def _section(body: tuple[Field | Section, ...], platform: Platform,
             flags: dict[str, bool]) -> tuple[list[Dependency], bool]:
    """The dependencies of a section's body, and whether it is buildable. Every branch is read, taken or not,
    so that what cannot be read is said on every platform."""
    depends: list[Dependency] = []
    buildable = True
    taken: bool | None = None  # whether the last `if`/`elif` of this level was taken: decides its `else`
    for node in body:
        with at_line(node.line):
            if isinstance(node, Field):
                taken = None
                depends += _depends(node.value) if node.name in ("build-depends", "setup-depends") else []
                buildable = buildable and (node.name != "buildable" or _boolean(node.value))
                continue
            chosen, taken = _branch(node, taken, platform, flags)
            found, inner = _section(node.body, platform, flags)
            depends += found if chosen else []
            buildable = buildable and (inner or not chosen)
    return depends, buildable


def _branch(node: Section, taken: bool | None, platform: Platform,
            flags: dict[str, bool]) -> tuple[bool, bool | None]:
    """Whether an `if`, `elif` or `else` is chosen, and what decides the next `else` (None: none may follow)."""
    if node.name not in ("if", "elif", "else"):
        raise ValueError(f"neither a field nor a condition: {node.name} {node.args[:60]}".strip())
    if node.name != "if" and taken is None:
        raise ValueError(f"{node.name} without if")
    if node.name == "else":
        if node.args:
            raise ValueError(f"else takes no condition: else {node.args[:60]}")
        return not taken, None
    value = _condition(node.args, platform, flags)
    chosen = value if node.name == "if" else not taken and value
    return chosen, chosen or bool(taken)


def _depends(value: str) -> list[Dependency]:
    found = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        match = re.match(rf"({PACKAGE.pattern})(.*)", entry, re.DOTALL)
        if match is None:
            raise ValueError(f"not a dependency: {entry[:60]!r}")
        written = " ".join(match.group(2).split())
        found.append(Dependency(match.group(1), written or "-any", parse_range(written)))
    return found


def _condition(text: str, platform: Platform, flags: dict[str, bool]) -> bool:
    """`os(linux) && !flag(x) || impl(ghc >= 7.10)`, parenthesised as needed."""
    value, rest = _or(text.strip(), platform, flags)
    if rest.strip():
        raise ValueError(f"not a condition: {text[:60]!r}")
    return value


def _or(text: str, platform: Platform, flags: dict[str, bool]) -> tuple[bool, str]:
    return _chain(text, "||", lambda part: _chain(part, "&&", lambda operand: _not(operand, platform, flags)))


def _chain(text: str, operator: str, operand: Callable[[str], tuple[bool, str]]) -> tuple[bool, str]:
    """Operands joined by one operator (`&&` binds tighter: its chains are the operands of `||`)."""
    value, rest = operand(text)
    while rest.lstrip().startswith(operator):
        right, rest = operand(rest.lstrip()[len(operator):])
        value = (value or right) if operator == "||" else (value and right)
    return value, rest


def _not(text: str, platform: Platform, flags: dict[str, bool]) -> tuple[bool, str]:
    text = text.lstrip()
    if text.startswith("!"):
        value, rest = _not(text[1:], platform, flags)
        return not value, rest
    if text.startswith("("):
        value, rest = _or(text[1:], platform, flags)
        if not rest.lstrip().startswith(")"):
            raise ValueError(f"unbalanced parenthesis: {text[:60]!r}")
        return value, rest.lstrip()[1:]
    for literal in ("true", "false"):
        if text.lower().startswith(literal) and not text[len(literal):len(literal) + 1].isalnum():
            return literal == "true", text[len(literal):]
    match = CALL.match(text)
    if match is None:
        said = repr(text[:60]) if text.strip() else "nothing where one is wanted"
        raise ValueError(f"not a condition: {said}")
    test, argument = match.group(1).lower(), match.group(2).strip()
    if test == "os":
        value = argument.lower() == platform.os
    elif test == "arch":
        value = argument.lower() in ((platform.arch, "amd64") if platform.arch == "x86_64" else (platform.arch,))
    elif test == "impl":
        value = _impl(argument, platform)
    elif test == "flag":
        if argument.lower() not in flags:
            raise ValueError(f"flag({argument}) is not declared")
        value = flags[argument.lower()]
    else:
        raise ValueError(f"not a condition: {text[:60]!r}")
    return value, text[match.end():]


# A compiler's name is letters and digits (not digits alone), so `ghc>=7.10` is ghc and a range, as Cabal reads it.
IMPL = re.compile(r"\s*([A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*)(.*)", re.DOTALL)


def _impl(argument: str, platform: Platform) -> bool:
    """`impl(ghc >= 7.10)`, written with any spacing or none; another compiler is never this GHC."""
    match = IMPL.fullmatch(argument)
    if match is None:
        raise ValueError(f"not a compiler and a version range: impl({argument[:60]})")
    return match.group(1).lower() == "ghc" and satisfies(platform.ghc, parse_range(match.group(2)))


@dataclass(frozen=True)
class PinCheck:
    problems: tuple[str, ...]  # one line each: a dependency no pin nor GHC provides, or one outside its range
    order: tuple[str, ...]  # the pins' idents, each after every pin it depends on


def check_pins(packages: list[Package], boot: dict[str, Version] | None, compiler: str) -> PinCheck:
    """Whether pinned sdists, with GHC's boot packages, satisfy each other's dependencies (`boot` None: GHC's
    packages are not known, so a dependency no pin provides is taken to be one of them), and the order in
    which Setup can install them offline."""
    pins: dict[str, Package] = {}
    problems: list[str] = []
    for package in packages:
        if package.name in pins:
            problems.append(f"{package.name} is pinned twice: {pins[package.name].ident} and {package.ident}")
        pins.setdefault(package.name, package)
    wanted_by: dict[str, list[str]] = {}
    needs: dict[str, set[str]] = {name: set() for name in pins}
    for package in pins.values():
        for dependency in _variant(package, pins, boot):
            have = _candidates(dependency.name, pins, boot, compiler)
            if dependency.name in pins:
                needs[package.name].add(dependency.name)
            if not have:
                if boot is not None:
                    wanted_by.setdefault(dependency.name, []).append(f"{package.ident} ({dependency.written})")
            elif not any(satisfies(v, dependency.wanted) for v, _ in have):
                found = ", ".join(f"{show(v)} {where}" for v, where in have)
                problems.append(f"{package.ident} wants {dependency.name} {dependency.written}: {found}")
    problems += [f"{name} is neither pinned nor shipped with {compiler}: wanted by {', '.join(dict.fromkeys(who))}"
                 for name, who in sorted(wanted_by.items())]
    order: list[str] = []
    while needs:
        ready = sorted(name for name, wanted in needs.items() if not wanted - set(order))
        if not ready:
            problems.append(f"the pins need each other in a cycle: {', '.join(pins[n].ident for n in sorted(needs))}")
            ready = sorted(needs)
        for name in ready:
            order.append(name)
            del needs[name]
    return PinCheck(tuple(problems), tuple(pins[name].ident for name in order))


def _variant(package: Package, pins: dict[str, Package], boot: dict[str, Version] | None) -> tuple[Dependency, ...]:
    """The dependencies of the first flag assignment that pins and GHC satisfy, as Setup configure picks it."""
    def available(dependency: Dependency) -> bool:
        have = _candidates(dependency.name, pins, boot, "GHC")
        if boot is None and not have:
            return True
        return any(satisfies(v, dependency.wanted) for v, _ in have)
    # Failing that, the one that lacks the fewest (the earliest of those): its problems are the ones said.
    return min((depends for _, depends in package.variants), key=lambda depends: sum(not available(d) for d in depends))


def _candidates(name: str, pins: dict[str, Package], boot: dict[str, Version] | None,
                compiler: str) -> list[tuple[Version, str]]:
    """The versions of a package that could meet a dependency on it, each with where it comes from."""
    have = [(pins[name].version, "pinned")] if name in pins else []
    if boot is not None and name in boot:
        have.append((boot[name], f"shipped with {compiler}"))
    return have
