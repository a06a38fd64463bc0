"""Cabal version ranges, and whether a set of pinned Hackage packages satisfies a project's build-depends.

A bindist toolchain (GHC 7.8, 7.10) gets its Haskell libraries from pinned Hackage tarballs, not from
Debian: the pins must satisfy the bounds of the source they are meant for, and together with GHC's own
boot packages they must cover every package it depends on (`cabal update` cannot fill a gap offline).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

Version = tuple[int, ...]
Range = tuple[tuple[tuple[str, Version, bool], ...], ...]  # any of (all of (operator, version, wildcard))

VERSION = r"\d{1,9}(?:\.\d{1,9}){0,9}"
CONSTRAINT = re.compile(rf"\s*(>=|<=|==|\^>=|>|<)\s*({VERSION})(\.\*)?\s*")
PACKAGE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
# A Hackage sdist as it is downloaded: NAME-VERSION.tar.gz (a name's parts may hold digits, a version only digits).
SDIST = re.compile(rf"(?P<name>{PACKAGE.pattern}?)-(?P<version>{VERSION})\.tar\.gz")


def version(text: str) -> Version:
    if not re.fullmatch(VERSION, text):
        raise ValueError(f"not a version: {text[:40]!r}")
    return tuple(int(part) for part in text.split("."))


def show(v: Version) -> str:
    return ".".join(map(str, v))


RANGE_TOKEN = re.compile(r"\s*(\|\||&&|\(|\)|(?:\^>=|>=|<=|==|>|<)\s*[0-9.]+(?:\.\*)?(?![0-9.*]))")


def parse_range(text: str) -> Range:
    """`>= 1.2 && < 1.3 || == 2.*`, `^>= 1.2.3`, parentheses, `-any`, `-none`; ValueError for anything else.
    The answer is a disjunction of conjunctions (what `satisfies` reads)."""
    if text.strip() in ("", "-any"):
        return ((),)
    if text.strip() == "-none":
        return ()
    tokens, position = [], 0
    while text[position:].strip():
        match = RANGE_TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"not a version range: {text[:80]!r}")
        tokens.append(match.group(1))
        position = match.end()
    parsed, rest = _alternatives(tokens, text)
    if rest:
        raise ValueError(f"not a version range: {text[:80]!r}")
    return parsed


def _alternatives(tokens: list[str], text: str) -> tuple[Range, list[str]]:
    result, rest = _conjunction(tokens, text)
    while rest[:1] == ["||"]:
        more, rest = _conjunction(rest[1:], text)
        result += more
    return result, rest


def _conjunction(tokens: list[str], text: str) -> tuple[Range, list[str]]:
    result, rest = _factor(tokens, text)
    while rest[:1] == ["&&"]:
        more, rest = _factor(rest[1:], text)
        result = tuple(left + right for left in result for right in more)
    return result, rest


def _factor(tokens: list[str], text: str) -> tuple[Range, list[str]]:
    if not tokens or tokens[0] in ("||", "&&", ")"):
        raise ValueError(f"not a version range: {text[:80]!r}")
    if tokens[0] == "(":
        inner, rest = _alternatives(tokens[1:], text)
        if rest[:1] != [")"]:
            raise ValueError(f"not a version range: {text[:80]!r}")
        return inner, rest[1:]
    match = CONSTRAINT.fullmatch(tokens[0])
    if match is None:
        raise ValueError(f"not a version range: {text[:80]!r}")
    operator, number, wildcard = match.group(1), version(match.group(2)), bool(match.group(3))
    if wildcard and operator != "==":
        raise ValueError(f"a wildcard only follows ==: {text[:80]!r}")
    if operator == "^>=":
        return (((">=", number, False), ("<", major_bound(number), False)),), tokens[1:]
    return (((operator, number, wildcard),),), tokens[1:]


def major_bound(v: Version) -> Version:
    """The upper end of `^>= v`: the next major version, whose first two components are the major one (as
    Cabal's majorUpperBound: 1.2.3 -> 1.3, and 4 -> 4.1, not 5)."""
    return (v[0], v[1] + 1) if len(v) > 1 else (v[0], 1)


def _holds(v: Version, operator: str, bound: Version, wildcard: bool) -> bool:
    if wildcard:
        return v[:len(bound)] == bound
    # Versions compare as Cabal compares them: 1.2 < 1.2.0 (a longer version with the same prefix is newer).
    return {">=": v >= bound, ">": v > bound, "<=": v <= bound, "<": v < bound, "==": v == bound}[operator]


def satisfies(v: Version, wanted: Range) -> bool:
    return any(all(_holds(v, *constraint) for constraint in alternative) for alternative in wanted)


Depends = dict[str, tuple[str, Range]]  # package -> (its range as written, parsed)


def read_build_depends(text: str) -> tuple[Depends, list[str]]:
    """`package<TAB>range` lines (comments start with #): the ranges, and the lines that are neither a
    package name and a range, said as they are (never silently read as "any version")."""
    depends: Depends = {}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, _, bound = line.partition("\t")
        try:
            if not PACKAGE.fullmatch(name):
                raise ValueError(f"not a package name: {name[:40]!r}")
            depends[name] = (bound.strip(), parse_range(bound))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    return depends, problems


def sdist_version(file_name: str) -> tuple[str, Version] | None:
    """(package, version) of a Hackage sdist's file name; None for any other file (e.g. the GHC bindist)."""
    match = SDIST.fullmatch(file_name)
    return (match.group("name"), version(match.group("version"))) if match else None


@dataclass(frozen=True)
class Closure:
    violations: tuple[str, ...]  # "lens-4.12.3: the source wants < 4.8"
    missing: tuple[str, ...]  # packages the source depends on that neither GHC nor a pin provides


def check(depends: Depends, pins: dict[str, Version], boot: dict[str, Version]) -> Closure:
    """Each dependency against the pin of it, else GHC's boot package of it, else missing."""
    violations, missing = [], []
    for name, (written, wanted) in sorted(depends.items()):
        have = pins.get(name, boot.get(name))
        if have is None:
            missing.append(name)
        elif not satisfies(have, wanted):
            where = "pinned" if name in pins else "shipped with GHC"
            violations.append(f"{name}-{show(have)} ({where}): the source wants {written}")
    return Closure(tuple(violations), tuple(missing))


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


@dataclass
class _Line:
    indent: int
    text: str
    children: list[_Line]


FIELD = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)\s*:(.*)", re.DOTALL)
BUILT = ("library", "executable", "custom-setup")  # sections Setup configure && build needs the depends of
NOT_BUILT = ("test-suite", "benchmark", "source-repository", "flag")
CALL = re.compile(r"\s*([A-Za-z]+)\s*\(([^()]*)\)")
BRACE_INDENT = 10_000  # what one level of braces counts as, in columns
MAX_FLAGS = 8  # automatic flags tried both ways; a package with more is read with its defaults only


def _lines(text: str) -> list[_Line]:
    """The file's lines as a tree by indentation; comments and blank lines dropped. A section or condition
    opened with `{` (some files of the era write `Library {` ... `}`) nests as if indented."""
    root = _Line(-1, "", [])
    stack = [root]
    depth = 0
    for raw in text.expandtabs(8).splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("--"):
            continue
        while stripped.startswith("}"):
            depth -= 1
            stripped = stripped[1:].strip()
        opens = stripped.endswith("{") and FIELD.fullmatch(stripped) is None
        stripped = stripped.removesuffix("{").strip() if opens else stripped
        if depth < 0 or "{" in stripped and opens:
            raise ValueError(f"braces out of place: {raw.strip()[:60]!r}")
        if stripped:
            indent = depth * BRACE_INDENT + len(raw) - len(raw.lstrip())
            while stack[-1].indent >= indent:
                stack.pop()
            line = _Line(indent, stripped, [])
            stack[-1].children.append(line)
            stack.append(line)
        depth += opens
    return root.children


def _value(line: _Line, first: str) -> str:
    """A field's value: its first line and every line indented under it."""
    parts = [first]
    pending = list(line.children)
    while pending:
        child = pending.pop(0)
        parts.append(child.text)
        pending[:0] = child.children
    return " ".join(part.strip() for part in parts if part.strip())


def _field(line: _Line) -> tuple[str, str] | None:
    match = FIELD.fullmatch(line.text)
    if match is None or line.text.split()[0].lower() in ("if", "elif", "else"):
        return None
    return match.group(1).lower(), _value(line, match.group(2))


def read_cabal(text: str, platform: Platform) -> Package:
    """A .cabal file's name, version and dependencies on the platform; ValueError naming what it cannot read
    (common stanzas and foreign libraries came after the sdists of GHC 7's era)."""
    top = _lines(text)
    fields = {found[0]: found[1] for line in top if (found := _field(line))}
    if "name" not in fields or "version" not in fields:
        raise ValueError("no name: or version: field")
    defaults: dict[str, bool] = {}
    automatic: list[str] = []
    for line in top:
        words = line.text.split()
        if words[0].lower() == "flag" and len(words) == 2:
            settings = {found[0]: found[1].lower() for child in line.children if (found := _field(child))}
            defaults[words[1].lower()] = settings.get("default", "true") == "true"
            if settings.get("manual", "false") != "true":
                automatic.append(words[1].lower())
    if len(automatic) > MAX_FLAGS:
        automatic = []
    variants = []
    for choice in itertools.product(*[(defaults[f], not defaults[f]) if f in automatic else (defaults[f],)
                                      for f in defaults]):
        flags = dict(zip(defaults, choice))
        variants.append((tuple(flags.items()), tuple(_package_depends(top, fields["name"], platform, flags))))
    return Package(fields["name"], version(fields["version"]), tuple(variants))


def _package_depends(top: list[_Line], name: str, platform: Platform, flags: dict[str, bool]) -> list[Dependency]:
    depends: list[Dependency] = []
    has_library = any(line.text.split()[0].lower() == "library" for line in top)
    for line in top:
        section = line.text.split()[0].lower()
        field = _field(line)
        if field is not None:
            if field[0] == "build-depends" and not has_library:  # an old file's library, before sections
                depends += _depends(field[1])
        elif section in ("common", "foreign-library"):
            raise ValueError(f"{section} stanzas are not read")
        elif section in BUILT:
            wanted, buildable = _section(line.children, platform, flags)
            depends += wanted if buildable else []
        elif section not in NOT_BUILT:
            raise ValueError(f"unknown section {section!r}")
    return [d for d in depends if d.name != name]


def _section(body: list[_Line], platform: Platform, flags: dict[str, bool]) -> tuple[list[Dependency], bool]:
    depends: list[Dependency] = []
    buildable = True
    taken: bool | None = None  # whether the last `if`/`elif` of this level was taken: decides its `else`
    for line in body:
        words = line.text.split(None, 1)
        keyword = words[0].lower()
        if keyword in ("if", "elif", "else"):
            if keyword == "if":
                taken = _condition(words[1] if len(words) > 1 else "", platform, flags)
                chosen = taken
            elif taken is None:
                raise ValueError(f"{keyword} without if: {line.text[:60]!r}")
            elif keyword == "elif":
                chosen = not taken and _condition(words[1] if len(words) > 1 else "", platform, flags)
                taken = taken or chosen
            else:
                chosen, taken = not taken, None
            if chosen:
                found, inner = _section(line.children, platform, flags)
                depends += found
                buildable = buildable and inner
            continue
        taken = None
        field = _field(line)
        if field is None:
            raise ValueError(f"neither a field nor a condition: {line.text[:60]!r}")
        if field[0] == "build-depends" or field[0] == "setup-depends":
            depends += _depends(field[1])
        elif field[0] == "buildable" and field[1].strip().lower() == "false":
            buildable = False
    return depends, buildable


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
        raise ValueError(f"not a condition: {text[:60]!r}")
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
