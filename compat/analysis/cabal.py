"""Cabal version ranges, and whether a set of pinned Hackage packages satisfies a project's build-depends.

A bindist toolchain (GHC 7.8, 7.10) gets its Haskell libraries from pinned Hackage tarballs, not from
Debian: the pins must satisfy the bounds of the source they are meant for, and together with GHC's own
boot packages they must cover every package it depends on (`cabal update` cannot fill a gap offline).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


BUILT = ("library", "executable", "custom-setup")  # sections Setup configure && build needs the depends of
NOT_BUILT = ("test-suite", "benchmark", "source-repository", "flag")
CALL = re.compile(r"\s*([A-Za-z]+)\s*\(([^()]*)\)")
MAX_FLAGS = 8  # automatic flags tried both ways; a package with more is read with its defaults only


class _Unreadable(ValueError):
    """What the reader cannot read, at a line of the file (read_cabal names the file)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@contextmanager
def _at(line: int) -> Iterator[None]:
    """A ValueError from within is said at this line, unless a construct inside it already names its own."""
    try:
        yield
    except _Unreadable:
        raise
    except ValueError as exc:
        raise _Unreadable(line, str(exc)) from None


@dataclass(frozen=True)
class _Field:
    name: str  # lower-case, as Cabal compares field names
    value: str  # its lines, joined by spaces
    line: int


@dataclass(frozen=True)
class _Section:
    name: str  # lower-case: library, if, flag, ...
    args: str  # as written on its line: `flag(a) && impl(ghc>=7.10)`, a flag's name
    line: int
    body: tuple[_Field | _Section, ...]


# What Cabal's lexer (Cabal-syntax Distribution/Fields/Lexer.x) reads: outside a field's value, names, strings,
# operators, parentheses, `:` and braces; a field's value is opaque text, split at braces only inside `{ }`.
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # never U+2028 and the other breaks str.splitlines knows
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SKIPPED = re.compile(r"[ \t\xa0]*|[ \t]*--.*")  # blank and comment lines, wherever a line starts
INDENT = " \t\xa0"  # Cabal counts a tab and a no-break space as one column each
BRACE = re.compile(r"[{}]")
SYMBOLS = r",=<>+*&|!$%^@#?/\\~"
NAME = re.compile(rf"[^ \t:\"{{}}()\[\]{SYMBOLS}]+")
OPERATOR = re.compile(rf"[{SYMBOLS}.-]+")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
NAME_FIELD = re.compile(r"^name[ \t]*:[ \t]*([A-Za-z0-9-]+)[ \t\r]*$", re.IGNORECASE | re.MULTILINE)
SECTION, LAYOUT, BRACES = "section", "layout", "braces"  # the lexer's modes: section syntax, a field's value


@dataclass(frozen=True)
class _Token:
    kind: str  # indent, name, string, operator, :, {, }, text (a line of a value), eof, stray (unreadable)
    text: str
    line: int  # 1-based
    start: int  # column where it starts
    after: tuple[int, int]  # (row, column) past it; column -1 is the start of a row, before its indentation


def _lex(rows: list[str], at: tuple[int, int], mode: str) -> _Token:
    """The next token from `at` in a mode; the parser chooses the mode, as Cabal's parser sets the lexer's."""
    row, column = at
    while row < len(rows):
        if column < 0 and SKIPPED.fullmatch(rows[row]):
            row += 1
        elif column < 0:
            return _line_start(rows[row], row, mode)
        else:
            rest = rows[row][column:]
            column += len(rest) - len(rest.lstrip(" \t"))
            if column < len(rows[row]) and not (mode == SECTION and rows[row].startswith("--", column)):
                return _section_token(rows[row], row, column) if mode == SECTION else \
                    _text_token(rows[row], row, column, mode)
            row, column = row + 1, -1
    return _Token("eof", "", len(rows), 0, (len(rows), -1))


def _line_start(text: str, row: int, mode: str) -> _Token:
    """A line's indentation; in section syntax a line that starts with a brace is that brace alone (so that
    `library` and a `{` on the next line read as one), and a braced value's lines have no indentation."""
    width = len(text) - len(text.lstrip(INDENT))
    if mode == BRACES:
        return _text_token(text, row, width, mode)
    if mode == SECTION and text.lstrip(" \t")[:1] in ("{", "}"):
        column = len(text) - len(text.lstrip(" \t"))
        return _Token(text[column], text[column], row + 1, column, (row, column + 1))
    return _Token("indent", str(width), row + 1, 0, (row, width))


def _text_token(text: str, row: int, column: int, mode: str) -> _Token:
    """A field's value: the rest of the line, braces and all, in layout; up to a brace, inside braces."""
    if mode == BRACES and text[column] in "{}":
        return _Token(text[column], text[column], row + 1, column, (row, column + 1))
    brace = BRACE.search(text, column) if mode == BRACES else None
    end = brace.start() if brace else len(text)
    return _Token("text", text[column:end], row + 1, column, (row, end))


def _section_token(text: str, row: int, column: int) -> _Token:
    if text[column] in ':{}()[]':
        kind = "operator" if text[column] in "()[]" else text[column]
        return _Token(kind, text[column], row + 1, column, (row, column + 1))
    found = [(len(m.group()), -rank, kind, m) for rank, (kind, pattern) in enumerate(
        (("string", STRING), ("name", NAME), ("operator", OPERATOR))) if (m := pattern.match(text, column))]
    if not found:
        return _Token("stray", text[column], row + 1, column, (row, column + 1))
    _, _, kind, match = max(found)  # the longest; of equal ones, the name (as the lexer's rules are ordered)
    return _Token(kind, match.group(), row + 1, column, (row, match.end()))


class _Parser:
    """Cabal's grammar (Distribution/Fields/Parser.hs) over `_lex`: a section or a field in layout (on a line of
    its own, its body indented deeper) or in braces; a field's value in layout is every following line indented
    deeper than its name, whatever it holds."""

    def __init__(self, text: str) -> None:
        self.rows = LINE_BREAK.split(text.removeprefix("\ufeff"))
        for number, row in enumerate(self.rows, 1):
            if control := CONTROL.search(row):  # Cabal's lexer stops at one, wherever it is
                raise _Unreadable(number, f"a control character {control.group()!r}")
        self.at = (0, -1)

    def peek(self, mode: str = SECTION) -> _Token:
        return _lex(self.rows, self.at, mode)

    def take(self, token: _Token) -> _Token:
        self.at = token.after
        return token

    def many(self, kinds: tuple[str, ...], mode: str = SECTION) -> list[_Token]:
        """The tokens of these kinds that come next, taken."""
        taken = []
        while (token := self.peek(mode)).kind in kinds:
            taken.append(self.take(token))
        return taken

    def fail(self, token: _Token) -> _Unreadable:
        what = {"{": "braces", "}": "braces", "eof": "the end of the file"}.get(token.kind, repr(token.text))
        said = f": {self.rows[token.line - 1].strip()[:60]!r}" if token.kind != "eof" else ""
        return _Unreadable(token.line, f"{what} out of place{said}")

    def file(self) -> tuple[_Field | _Section, ...]:
        elements = self.elements(0)
        if (token := self.peek()).kind != "eof":
            raise self.fail(token)
        return elements

    def elements(self, level: int) -> tuple[_Field | _Section, ...]:
        """The fields and sections of one body: each on a line indented at least `level`, or right after a brace."""
        found: list[_Field | _Section] = []
        while True:
            token = self.peek()
            if token.kind == "indent" and int(token.text) >= level:
                self.take(token)
                found.append(self.element(self.name(), int(token.text) + 1, layout=True))
            elif token.kind == "name":
                found.append(self.element(self.take(token), 0, layout=False))
            else:
                return tuple(found)

    def name(self) -> _Token:
        token = self.peek()
        if token.kind != "name":
            raise self.fail(token)
        return self.take(token)

    def element(self, name: _Token, level: int, layout: bool) -> _Field | _Section:
        if self.peek().kind == ":":
            self.take(self.peek())
            return _Field(name.text.lower(), " ".join(line.strip() for line in self.value(level, layout)), name.line)
        args = self.many(("name", "string", "operator"))
        written = self.rows[name.line - 1][args[0].start:args[-1].after[1]] if args else ""
        if self.peek().kind != "{" and not layout:
            raise _Unreadable(name.line, f"{name.text!r} after a brace wants ':' or a '{{' on its line")
        return _Section(name.text.lower(), written.strip(), name.line, self.body(level))

    def body(self, level: int) -> tuple[_Field | _Section, ...]:
        opened = self.peek()
        if opened.kind != "{":
            return self.elements(level)
        self.take(opened)
        inner = self.elements(0)
        if (token := self.peek()).kind == "indent":
            self.take(token)
        self.close(opened)
        return inner

    def value(self, level: int, layout: bool) -> list[str]:
        """A field's lines: in braces if a `{` comes next; else in layout, the rest of its line and every line
        indented at least `level` (or, after a brace on its line, the rest of that line alone)."""
        opened = self.peek()
        if opened.kind == "{":
            self.take(opened)
            lines = [token.text for token in self.many(("text",), BRACES)]
            self.close(opened)
            return lines
        mode = LAYOUT if layout else BRACES
        lines = [self.take(token).text for token in [self.peek(mode)] if token.kind == "text"]
        while layout and (token := self.peek(LAYOUT)).kind == "indent" and int(token.text) >= level:
            self.take(token)
            lines.append(self.take(self.peek(LAYOUT)).text)
        return lines

    def close(self, opened: _Token) -> None:
        token = self.peek()
        if token.kind != "}":
            raise _Unreadable(token.line, f"no '}}' closes the '{{' of line {opened.line}")
        self.take(token)


def read_cabal(text: str, platform: Platform, file: str | None = None) -> Package:
    """A .cabal file's name, version and dependencies on the platform; ValueError naming the file (NAME.cabal,
    as Hackage names it, unless given) and the line of what it cannot read (common stanzas and foreign
    libraries came after the sdists of GHC 7's era)."""
    try:
        return _package(_Parser(text).file(), platform)
    except ValueError as exc:
        line = f":{exc.line}" if isinstance(exc, _Unreadable) else ""
        raise ValueError(f"{file or _file_name(text)}{line}: {exc}") from None


def _file_name(text: str) -> str:
    match = NAME_FIELD.search(text)
    return f"{match.group(1)}.cabal" if match else "the .cabal file"


def _package(top: tuple[_Field | _Section, ...], platform: Platform) -> Package:
    fields = {node.name: node for node in top if isinstance(node, _Field)}
    if "name" not in fields or "version" not in fields:
        raise ValueError("no name: or version: field")
    with _at(fields["version"].line):
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


def _flags(top: tuple[_Field | _Section, ...]) -> tuple[dict[str, bool], list[str]]:
    """Each flag's default, and which flags are automatic (Setup configure may turn those)."""
    defaults: dict[str, bool] = {}
    automatic: list[str] = []
    for node in top:
        if isinstance(node, _Section) and node.name == "flag":
            with _at(node.line):
                if len(node.args.split()) != 1:
                    raise ValueError(f"a flag section names one flag: flag {node.args[:60]}")
                settings = {field.name: field for field in node.body if isinstance(field, _Field)}
                defaults[node.args.lower()] = _setting(settings, "default", True)
                if not _setting(settings, "manual", False):
                    automatic.append(node.args.lower())
    return defaults, automatic


def _setting(fields: dict[str, _Field], name: str, otherwise: bool) -> bool:
    field = fields.get(name)
    if field is None:
        return otherwise
    with _at(field.line):
        return _boolean(field.value)


def _boolean(value: str) -> bool:
    """True or False in any case, as Cabal 1.x reads them; anything else is no answer, not a default."""
    if value.lower() not in ("true", "false"):
        raise ValueError(f"neither True nor False: {value[:40]!r}")
    return value.lower() == "true"


def _package_depends(top: tuple[_Field | _Section, ...], name: str, platform: Platform,
                     flags: dict[str, bool]) -> list[Dependency]:
    depends: list[Dependency] = []
    has_library = any(isinstance(node, _Section) and node.name == "library" for node in top)
    for node in top:
        with _at(node.line):
            if isinstance(node, _Field):
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


def _section(body: tuple[_Field | _Section, ...], platform: Platform,
             flags: dict[str, bool]) -> tuple[list[Dependency], bool]:
    """The dependencies of a section's body, and whether it is buildable. Every branch is read, taken or not,
    so that what cannot be read is said on every platform."""
    depends: list[Dependency] = []
    buildable = True
    taken: bool | None = None  # whether the last `if`/`elif` of this level was taken: decides its `else`
    for node in body:
        with _at(node.line):
            if isinstance(node, _Field):
                taken = None
                depends += _depends(node.value) if node.name in ("build-depends", "setup-depends") else []
                buildable = buildable and (node.name != "buildable" or _boolean(node.value))
                continue
            chosen, taken = _branch(node, taken, platform, flags)
            found, inner = _section(node.body, platform, flags)
            depends += found if chosen else []
            buildable = buildable and (inner or not chosen)
    return depends, buildable


def _branch(node: _Section, taken: bool | None, platform: Platform,
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
