"""`validate`, `list` and `clean`: the matrix checked and listed, and what killed runs left behind removed."""

from __future__ import annotations

import argparse
import json
import sys

from compat import expected
from compat import matrix as matrix_module
from compat.commands.selection import names, shard
from compat.exits import EXIT_OK
from compat.runner import plan

KEPT_MAX_AGE = 7 * 86400  # seconds a volume `--keep-failed` kept stays before `clean` removes it


def cmd_validate(args: argparse.Namespace) -> int:
    m = matrix_module.load(args.matrix)
    for entry in expected.unmatched(m.expected, expected.matrix_cells(m)):
        print(f"ganeti-compat: {args.matrix}: warning: expected entry '{entry.cell}' matches no cell of the matrix",
              file=sys.stderr)
    print(f"{args.matrix}: ok: {len(m.toolchains)} toolchains, {len(m.sources)} sources, {len(m.flavors)} flavors, "
          f"{len(m.recipes)} recipes")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """The cells of the matrix, selected like `run` (by default: every source, not only the default ones)."""
    m = matrix_module.load(args.matrix)
    toolchains = names(args.toolchain, m.toolchains, list(m.toolchains), "toolchain", args.matrix)
    source_names = names(args.source, m.sources, list(m.sources), "source", args.matrix)
    flavors = names(args.flavor, m.flavors, list(m.flavors), "flavor", args.matrix)
    cells = [cell for group in shard(plan(m, toolchains, source_names, flavors), args.shard) for cell in group]
    if args.json:
        print(json.dumps([{"toolchain": c.toolchain.name, "source": c.source.name, "flavor": c.flavor,
                           "tags": c.toolchain.tags + (["default"] if c.source.name in m.sources_of(c.toolchain.name)
                                                        else [])}
                          for c in cells], indent=2))
    else:
        for c in cells:
            print(f"{c.key}\t{c.toolchain.description}")
    return EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    """What killed runs left behind (stopped containers, unused volumes, partial downloads), and with
    --images the tool's images that no toolchain of the matrix uses."""
    from compat.engine import LABEL, Engine
    from compat.freshness import forget_gone
    from compat.images import FETCH_TOOLCHAIN, unused_images
    from compat.investigate import to_keep
    from compat.kept import SourceStore

    m = matrix_module.load(args.matrix)
    engine = Engine()
    removed = engine.remove_leftovers(args.min_age, args.kept_max_age)
    for partial in (args.reports / "cache" / "downloads").glob("*.part"):
        partial.unlink()
        removed.append(f"partial download {partial}")
    kept_images, kept_digests = to_keep(args.reports, m.retention)
    for path in SourceStore(args.reports / "cache" / "sources").prune(kept_digests):
        removed.append(f"kept source tree {path.name}")
    if args.images:
        images = engine.images_labelled(f"{LABEL}=1")
        toolchains = set(m.toolchains) | {FETCH_TOOLCHAIN}
        suites = {t.suite for t in m.toolchains.values()} | {m.fetch_suite}
        for tag in unused_images(images, toolchains, suites):
            if tag in kept_images:
                continue  # a baseline's image, kept for investigations
            if engine.remove_image(tag):
                removed.append(f"image {tag}")
    present = {image_id for _, image_id, _ in engine.images_labelled(f"{LABEL}=1")}
    for path in forget_gone(args.reports / "cache", present):
        removed.append(f"freshness of a removed image {path.name}")
    for thing in removed:
        print(f"removed {thing}")
    print(f"ganeti-compat: removed {len(removed)} thing(s)", file=sys.stderr)
    return EXIT_OK
