"""Markdown that no value can break: inline text, tables and fenced blocks.

Values come from logs, test names, sources and matrix.yaml; GitLab and GitHub render Markdown and the
HTML inside it. So a value is always one line, and its Markdown punctuation and HTML characters escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tabulate import tabulate

FENCE = "`" * 3
# What could start code, emphasis, HTML, an entity, a table cell or a link ("[text](url)": a "]" before "(").
_SPECIAL = re.compile(r"[\\`*<&|]|\](?=\()")
_ENTITIES = {"<": "&lt;", "&": "&amp;"}  # a lone ">" starts nothing inside a line


def inline(value: object) -> str:
    """One line of text that renders as itself: no line break, no emphasis, link, code span or HTML."""
    text = " ".join(str(value).split())
    return _SPECIAL.sub(lambda match: _ENTITIES.get(match.group(), "\\" + match.group()), text)


def table(rows: Sequence[Sequence[object]], headers: Sequence[object]) -> str:
    """A GitHub Markdown table; a value that is a list shows as lines of one cell ("<br>" between them)."""
    def cell(value: object) -> object:
        if isinstance(value, list):
            return "<br>".join(inline(part) for part in value)
        return inline(value) if isinstance(value, str) else value

    return str(tabulate([[cell(value) for value in row] for row in rows], headers=[inline(h) for h in headers],
                        tablefmt="github", disable_numparse=True))


def fenced(lines: Sequence[str]) -> list[str]:
    """Log lines in a code block that no line can close or leave."""
    return [FENCE] + [" ".join(line.replace(FENCE, "'''").splitlines()) for line in lines] + [FENCE, ""]
