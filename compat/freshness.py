"""What an existing image's check-freshness (images/scripts/check-freshness) found: whether the suite still
serves what the image installed, said in one line for every cell that uses the image.

A full check is remembered (cache/freshness/, by image id) with the digest of the Release files it read: while
the suite's Release files are those, the suite serves what it served and the image's answer is the same, so a
run asks the suite once (`check-freshness --lists`), not each image."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from compat.results import write_atomic
from compat.stored import Fields, ListOf, Name, Text, load_json

FRESHNESS_TIMEOUT = 300
DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Freshness:
    """What check-freshness found in an existing image: the packages that moved, and the Release dates."""

    changes: tuple[str, ...]
    releases: tuple[str, ...]
    failure: str | None = None  # why the check could not say
    lists: str | None = None  # the Release files' digest, when they vouch for every index apt read

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
    changes, releases, lists = [], [], None
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
        elif words[0] == "lists" and len(words) == 2 and DIGEST.fullmatch(words[1]):
            lists = words[1]
    return Freshness(tuple(changes), tuple(releases), lists=lists)


def parse_lists(text: str, exit_code: int | None) -> str | None:
    """`check-freshness --lists`'s digest; None when it could not say (a full check will)."""
    return parse_freshness(text, exit_code).lists if exit_code == 0 else None


MEMORY = Fields({"lists": Name(DIGEST), "releases": ListOf(Text(200), 50)}, required=("lists", "releases"))


def _memory_path(cache: Path, image_id: str) -> Path:
    return cache / "freshness" / f"{image_id.removeprefix('sha256:')}.json"


def recall(cache: Path, image_id: str) -> Freshness | None:
    """The last full check that found the image up to date, if one is remembered and readable (a file that
    cannot be trusted is as if there were none: the image is checked in full)."""
    if not DIGEST.fullmatch(image_id.removeprefix("sha256:")):
        return None
    try:
        values = MEMORY.read(load_json(_memory_path(cache, image_id), 1 << 16), "")
    except (OSError, ValueError, TypeError, RecursionError):
        return None
    return Freshness((), tuple(values["releases"]), lists=values["lists"])


def remember(cache: Path, image_id: str, found: Freshness) -> None:
    """Keep a full check that found the image up to date and whose Release files vouch for every index."""
    if found.lists and not found.changes and not found.failure and DIGEST.fullmatch(image_id.removeprefix("sha256:")):
        write_atomic(_memory_path(cache, image_id),
                     json.dumps({"lists": found.lists, "releases": list(found.releases)}, indent=2) + "\n")


def forget_gone(cache: Path, image_ids: set[str]) -> list[Path]:
    """Forget the checks of images the engine no longer has (`clean`); returns the files removed."""
    present = {image_id.removeprefix("sha256:") for image_id in image_ids}
    gone = [path for path in sorted((cache / "freshness").glob("*.json")) if path.stem not in present]
    for path in gone:
        path.unlink()
    return gone
