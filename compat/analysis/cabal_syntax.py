"""The syntax of a .cabal file, read as Cabal's own lexer and parser read it: fields and sections, layout
or braces, a field's value as opaque text. What it cannot read is an error at its line, never a guess."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class Unreadable(ValueError):
    """What the reader cannot read, at a line of the file (read_cabal names the file)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@contextmanager
def at_line(line: int) -> Iterator[None]:
    """A ValueError from within is said at this line, unless a construct inside it already names its own."""
    try:
        yield
    except Unreadable:
        raise
    except ValueError as exc:
        raise Unreadable(line, str(exc)) from None


@dataclass(frozen=True)
class Field:
    name: str  # lower-case, as Cabal compares field names
    value: str  # its lines, joined by spaces
    line: int


@dataclass(frozen=True)
class Section:
    name: str  # lower-case: library, if, flag, ...
    args: str  # as written on its line: `flag(a) && impl(ghc>=7.10)`, a flag's name
    line: int
    body: tuple[Field | Section, ...]


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


class Parser:
    """Cabal's grammar (Distribution/Fields/Parser.hs) over `_lex`: a section or a field in layout (on a line of
    its own, its body indented deeper) or in braces; a field's value in layout is every following line indented
    deeper than its name, whatever it holds."""

    def __init__(self, text: str) -> None:
        self.rows = LINE_BREAK.split(text.removeprefix("\ufeff"))
        for number, row in enumerate(self.rows, 1):
            if control := CONTROL.search(row):  # Cabal's lexer stops at one, wherever it is
                raise Unreadable(number, f"a control character {control.group()!r}")
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

    def fail(self, token: _Token) -> Unreadable:
        what = {"{": "braces", "}": "braces", "eof": "the end of the file"}.get(token.kind, repr(token.text))
        said = f": {self.rows[token.line - 1].strip()[:60]!r}" if token.kind != "eof" else ""
        return Unreadable(token.line, f"{what} out of place{said}")

    def file(self) -> tuple[Field | Section, ...]:
        elements = self.elements(0)
        if (token := self.peek()).kind != "eof":
            raise self.fail(token)
        return elements

    def elements(self, level: int) -> tuple[Field | Section, ...]:
        """The fields and sections of one body: each on a line indented at least `level`, or right after a brace."""
        found: list[Field | Section] = []
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

    def element(self, name: _Token, level: int, layout: bool) -> Field | Section:
        if self.peek().kind == ":":
            self.take(self.peek())
            return Field(name.text.lower(), " ".join(line.strip() for line in self.value(level, layout)), name.line)
        args = self.many(("name", "string", "operator"))
        written = self.rows[name.line - 1][args[0].start:args[-1].after[1]] if args else ""
        if self.peek().kind != "{" and not layout:
            raise Unreadable(name.line, f"{name.text!r} after a brace wants ':' or a '{{' on its line")
        return Section(name.text.lower(), written.strip(), name.line, self.body(level))

    def body(self, level: int) -> tuple[Field | Section, ...]:
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
            raise Unreadable(token.line, f"no '}}' closes the '{{' of line {opened.line}")
        self.take(token)
