"""A YAML reader for distrusted files: PyYAML's safe loader bounded in bytes, depth, values (aliases
expanded) and text length, with duplicate keys refused; every refusal is one ConfigError line naming the file
and the line, never a traceback, a hang or gigabytes of memory."""

from __future__ import annotations

import reprlib
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from compat.errors import ConfigError

MAX_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_ITEMS = 20_000
MAX_TEXT = 4096


def error(*parts: object) -> ConfigError:
    """`file: where: what`, as the one line a user reads; values in it are already show()n, so only a line
    break in the file name itself could split it, and it is joined back."""
    return ConfigError(" ".join(": ".join(map(str, parts)).splitlines()))


SHOWN = reprlib.Repr()  # bounds nesting and the items shown of a list or mapping
SHOWN.maxstring = SHOWN.maxother = 80


def show(value: Any) -> str:
    """A value as a short quoted line: repr escapes line breaks and quotes, and long values are cut."""
    try:
        text = SHOWN.repr(value)
    except ValueError:  # an int too long for str()
        text = f"<a {type(value).__name__} too long to show>"
    return text if len(text) <= 80 else text[:77] + "..."


class _Refused(yaml.MarkedYAMLError):
    """YAML this tool refuses although PyYAML would read it: said as it is, at its line."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with what distrusted input needs: a duplicate key is refused (PyYAML keeps the
    last one silently), nesting is bounded (the composer recurses once per level), items are counted as if
    every alias were expanded (aliases share nodes, but the reader walks each use), and a value PyYAML
    cannot construct (2001-02-30 as a date) is one refusal at its line."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.items = 0
        self.sizes: dict[str, int] = {}  # anchor -> items of its value, aliases in it expanded

    def count(self, items: int, mark: Any) -> None:
        self.items += items
        if self.items > MAX_ITEMS:
            raise _Refused(f"more than {MAX_ITEMS} values, counting each use of an alias (the shipped matrix has "
                           "1,400): shrink the file or its aliases", mark)

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # an undefined alias is PyYAML's error
            if event.anchor not in self.sizes:  # its anchor is still open: the value would contain itself
                raise _Refused(f"alias *{event.anchor} is used inside its own anchor: remove it", event.start_mark)
            self.count(self.sizes[event.anchor], event.start_mark)
            return node
        if self.depth == MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep (a matrix needs 7): flatten it", event.start_mark)
        before = self.items
        self.count(1, event.start_mark)
        self.depth += 1
        node = super().compose_node(parent, index)
        self.depth -= 1
        if isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_TEXT:  # before an int is made of 1:2:3:...
            raise _Refused(f"a value longer than {MAX_TEXT} characters: shorten it", event.start_mark)
        if event.anchor is not None:
            self.sizes[event.anchor] = self.items - before
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` brings keys that may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                line = first.get(key)
            except TypeError:  # an unhashable key: PyYAML's own check says so
                continue
            if line is not None:
                raise _Refused(f"duplicate key {show(key)} (first on line {line}): keep one", key_node.start_mark)
            first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # PyYAML's constructors fail so on a date that does not exist, an int beyond str()'s 4300 digits
            # or a scalar with an explicit tag that does not fit (!!bool maybe).
            what = show(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            raise _Refused(f"{what} cannot be read as {node.tag.rpartition(':')[2]}: quote it if it is text",
                           node.start_mark) from None


def read_yaml(file: Path, usual: str, fix: str, missing: str) -> Any:
    """The data of a YAML file; `usual` says how large such a file is, `fix` and `missing` what to do when it
    is too large or cannot be read."""
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)  # never more: /dev/zero, or a log passed by mistake
    except OSError as exc:
        raise error(file, "cannot read", f"{exc.strerror or exc}; {missing}") from None
    if len(raw) > MAX_BYTES:
        raise error(file, f"larger than {MAX_BYTES // 1024} KiB ({usual})", fix)
    try:
        text = raw.decode("utf-8")  # strictly: never the locale's encoding, never a replacement character
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error(file, f"line {line}, byte {exc.start}",
                     f"not UTF-8 ({show(raw[exc.start:exc.end])}): save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:  # a control character: YAML allows none but tab and line breaks
        line = text.count("\n", 0, exc.position) + 1
        raise error(file, f"line {line}", f"character {show(chr(exc.character))} is not allowed in YAML: remove it"
                     ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = "; ".join(p for p in (exc.context, exc.problem) if p)
        raise error(file, where, problem if isinstance(exc, _Refused) else f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise error(file, "somewhere", f"not valid YAML: {exc}") from None
    return data
