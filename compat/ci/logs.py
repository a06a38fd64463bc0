"""What a run prints when it runs as a CI job: each cell step as a collapsible section holding its log, an
error annotation for each failing cell, and (GitHub) the grid in the job's summary page.

Known by the environment: GitLab sets GITLAB_CI=true, GitHub Actions GITHUB_ACTIONS=true. Anywhere else
nothing here prints: the terminal's output stays what it was. A step's log is the build's own output, so it
is printed inert: escape sequences and control characters removed (a GitLab section marker needs ESC), and on
GitHub between `::stop-commands::` and its token, so that no line of a log can be read as a workflow command.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from compat.verdict import printable

GITLAB, GITHUB = "gitlab", "github"
TAIL_LINES = 200  # of a step's log in its section; the whole log is in the run's artifact
MAX_SUMMARY = 1_000_000  # bytes: GitHub takes at most 1 MiB of a step's summary
SECTION = "\x1b[0Ksection_{}:{}:{}\r\x1b[0K"


def detect(environ: Mapping[str, str]) -> str | None:
    if environ.get("GITLAB_CI") == "true":
        return GITLAB
    if environ.get("GITHUB_ACTIONS") == "true":
        return GITHUB
    return None


def section_name(text: str) -> str:
    """GitLab takes letters, digits, `_`, `.` and `-` in a section's name."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "_" for c in text)[:100] or "step"


def tail(log: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last lines of a log, printable, after a line saying where the whole log is when lines were left out."""
    window = lines * 600
    try:
        with log.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - window))
            text = handle.read(window).decode(errors="replace")
    except OSError as exc:
        return [f"(no log: {exc.strerror})"]
    found = text.splitlines()
    if size > window:
        found = found[1:]  # the window's first line is cut
    kept = found[-lines:]
    cut = size > window or len(found) > lines
    return ([f"(the last {len(kept)} lines; the whole log: {log})"] if cut else []) + [printable(line) for line in kept]


def section(ci: str, out: TextIO, name: str, title: str, body: list[str], started: float, failed: bool) -> None:
    """One collapsible section: collapsed unless it failed (GitLab; GitHub's groups are always collapsed)."""
    if ci == GITLAB:
        options = "" if failed else "[collapsed=true]"
        print(SECTION.format("start", int(started), section_name(name) + options) + title, file=out)
        print("\n".join(body), file=out)
        print(SECTION.format("end", int(time.time()), section_name(name)), file=out, flush=True)
    else:
        token = secrets.token_hex(16)
        print(f"::group::{_data(title)}", file=out)
        print(f"::stop-commands::{token}", file=out)
        print("\n".join(body), file=out)
        print(f"::{token}::", file=out)
        print("::endgroup::", file=out, flush=True)


def annotate(ci: str | None, out: TextIO, title: str, message: str) -> None:
    """An error annotation (GitHub); on GitLab the failing cells are the report job's JUnit report."""
    if ci == GITHUB:
        print(f"::error title={_property(title)}::{_data(message)}", file=out, flush=True)


def summary(ci: str | None, environ: Mapping[str, str], markdown: str) -> bool:
    """Append the Markdown to the job's summary page (GitHub); whether it was written."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if ci != GITHUB or not target:
        return False
    data = markdown.encode()
    if len(data) > MAX_SUMMARY:
        data = data[:MAX_SUMMARY].rsplit(b"\n", 1)[0] + b"\n\n(cut: the whole report is in the reports artifact)\n"
    with Path(target).open("ab") as handle:
        handle.write(data + b"\n")
    return True


def _data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped (GitHub's toolkit does the same)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
