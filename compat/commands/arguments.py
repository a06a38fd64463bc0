"""The command line's argument types and shared help texts: each refuses a bad value in one line."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from compat import matrix as matrix_module
from compat.errors import ConfigError

CELL_KEY = r"(?=.{1,200}$)[a-z0-9._]+(?:-[a-z0-9._]+)*(?:--[a-z0-9._]+(?:-[a-z0-9._]+)*){2}"


def shard_argument(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count) <= 1000):
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not I/N with 1 <= I <= N <= 1000 (e.g. 2/4)")
    return int(index), int(count)



def cell_argument(text: str) -> str:
    if not re.fullmatch(CELL_KEY, text):
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a cell (TOOLCHAIN--SOURCE--FLAVOR, as `list` names them)")
    return text


def run_id_argument(text: str) -> str:
    if not re.fullmatch(matrix_module.RUN_ID, text):
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a plain name ({matrix_module.RUN_ID})")
    return text


DOWNLOADS_HELP = ("a directory, or an http(s) URL, holding bindist toolchains' files under their upstream names: "
                  "asked before upstream, every file verified against its pin; repeatable (default: $COMPAT_DOWNLOADS, "
                  "space-separated)")


def download_places(given: list[str] | None) -> tuple[str, ...]:
    """--downloads, else COMPAT_DOWNLOADS: directories must exist, so that a typo is not taken for a missing file."""
    places = given if given is not None else os.environ.get("COMPAT_DOWNLOADS", "").split()
    for place in places:
        if not place.startswith(("http://", "https://")) and not Path(place).is_dir():
            origin = "--downloads" if given is not None else "COMPAT_DOWNLOADS"
            raise ConfigError(f"{origin} {place}: not a directory; give a directory or an http(s) URL of the "
                              "toolchains' downloads")
    return tuple(places)


KEEP_FAILED_HELP = ("keep the volume of each cell that fails, as it was, for `python -m compat shell CELL --run ID` "
                    "(`clean` removes kept volumes older than --kept-max-age)")
JOBS_HELP = ("groups of toolchain x source at once, each with its share of the cores (default: one per two cores, "
             "as the engine's memory allows: limits.memory_mib each, at least 2 GiB)")


def jobs_argument(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number of groups from 1 to 64")
    return int(text)


def probe_requests(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number of requests from 1 to 1000")
    return int(text)

