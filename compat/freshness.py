"""What an existing image's check-freshness (images/scripts/check-freshness) found: whether the suite still
serves what the image installed, said in one line for every cell that uses the image."""

from __future__ import annotations

from dataclasses import dataclass

FRESHNESS_TIMEOUT = 300


@dataclass(frozen=True)
class Freshness:
    """What check-freshness found in an existing image: the packages that moved, and the Release dates."""

    changes: tuple[str, ...]
    releases: tuple[str, ...]
    failure: str | None = None  # why the check could not say

    def summary(self, suite: str) -> str:
        if self.failure:
            return f"freshness unknown: {self.failure}"
        as_of = f" as of {self.releases[0]}" if self.releases else ""
        if not self.changes:
            return f"up to date with {suite}{as_of}"
        shown = ", ".join(self.changes[:6]) + (f" and {len(self.changes) - 6} more" if len(self.changes) > 6 else "")
        return f"{suite}{as_of} moved: {shown}"


def parse_freshness(text: str, exit_code: int | None) -> Freshness:
    """Read images/scripts/check-freshness's output."""
    if exit_code != 0:
        last = next((line for line in reversed(text.splitlines()) if line.strip()), "no output")
        return Freshness((), (), f"the check exited with {exit_code}: {last}" if exit_code is not None
                         else "the check timed out")
    changes, releases = [], []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "moved" and len(words) == 4:
            changes.append(f"{words[1]} {words[2]} -> {words[3]}")
        elif words[0] == "removed" and len(words) == 3:
            changes.append(f"{words[1]} {words[2]} -> removed")
        elif words[0] == "new" and len(words) == 2:
            changes.append(f"{words[1]} now packaged")
        elif words[0] == "gone" and len(words) == 3:
            changes.append(f"{words[1]} {words[2]} -> no longer served")
        elif words[0] == "release" and len(words) >= 3:
            releases.append(" ".join(words[2:]))
    return Freshness(tuple(changes), tuple(releases))
