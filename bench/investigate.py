"""Investigating one regressed cell against building it once: what `compat investigate` costs.

    python bench/investigate.py [--toolchain ghc96] [--source ganeti-3.1] [--flavor gnutls] [--matrix matrix.yaml]

The worst case: the failure happens again and both axes changed, so an investigation runs three jobs (the
rerun, tonight's source on the baseline's image, the baseline's source on tonight's image; goal: at most 3
builds, and nothing else built: no image, no fetch). To have that case without waiting for a real upload, the
cell's recipe gets a last test command that fails (`false`, after the whole build and test suite), and the
baseline is the cell's own result made a pass, naming the same image under a second tag and the same tree kept
under a second digest: different names, so both axes count as changed, equal contents, so each job costs what
a real one would. Printed: the wall time of one build of the cell (a `run --fresh`, its images existing) and
of the investigation, their ratio, and how many of the investigation's jobs built. Runs go to a temporary
reports directory; the second tag is removed at the end. Needs a Docker engine; about four builds of the cell.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compat.engine import Engine
from compat.kept import SourceStore
from compat.results import RunRecord, read_cell, store, write_run
from compat.status import Status


def compat(matrix: Path, reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compat", "--matrix", str(matrix), "--reports", str(reports), *args],
                          cwd=ROOT, capture_output=True, text=True, check=False)


def failing_matrix(matrix: Path, source: str, into: Path) -> Path:
    """The matrix with the source's recipe ending in a test that fails, after everything a cell does."""
    data = yaml.safe_load(matrix.read_text())
    recipe = data["recipes"][data["sources"][source]["recipe"]]
    recipe["steps"]["test"] = [*recipe["steps"].get("test", []), ["false"]]
    for name, entry in data["sources"].items():
        if entry.get("kind") == "path" and not Path(entry["path"]).is_absolute():
            data["sources"][name]["path"] = str((matrix.parent / entry["path"]).resolve())
    into.write_text(yaml.safe_dump(data))
    return into


def fake_baseline(reports: Path, night: Path, key: str, engine: Engine) -> str:
    """A pass before the night naming the night's image under a second tag and its tree under a second digest."""
    result = read_cell(night / "cells" / f"{key}.json")
    second_tag = f"{(result.image or '').rpartition(':')[0]}:bench-baseline"
    engine.client.images.get(result.image_id or result.image).tag(*second_tag.split(":"))
    kept = SourceStore(reports / "cache" / "sources")
    tree = kept.get(result.source_digest)
    if tree is None:
        sys.exit(f"bench/investigate: the night's tree {result.source_digest} was not kept")
    digest = "0" * 64
    kept.put(digest, tree)
    baseline = reports / "runs" / "baseline"
    started = "2000-01-01T00:00:00+00:00"
    write_run(baseline, RunRecord("baseline", "session", "bench", "bench", started, finished=started, cells=[key]))
    result.status, result.cause, result.evidence = Status.PASS, None, []
    result.image, result.image_id, result.source_digest, result.run_id = second_tag, None, digest, "baseline"
    result.manifest = dict(result.manifest, source="baseline")
    store(baseline, result)
    return second_tag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=ROOT / "matrix.yaml")
    parser.add_argument("--toolchain", default="ghc96")
    parser.add_argument("--source", default="ganeti-3.1")
    parser.add_argument("--flavor", default="gnutls")
    args = parser.parse_args()
    key = f"{args.toolchain}--{args.source}--{args.flavor}"
    engine = Engine()
    with tempfile.TemporaryDirectory(prefix="ganeti-compat-bench-") as tmp:
        reports = Path(tmp) / "reports"
        matrix = failing_matrix(args.matrix, args.source, Path(tmp) / "matrix.yaml")
        cell = ["run", "--toolchain", args.toolchain, "--source", args.source, "--flavor", args.flavor, "--fresh"]
        warm = compat(matrix, reports, *cell, "--run-id", "warm")  # outside the timing: the images, as on any night
        if warm.returncode != 1:
            sys.exit(f"bench/investigate: the warm-up run exited {warm.returncode}:\n{warm.stderr[-2000:]}")
        shutil.rmtree(reports / "runs" / "warm")  # its tree stays kept; its failure is no baseline
        start = time.monotonic()
        night = compat(matrix, reports, *cell, "--run-id", "night")
        build = time.monotonic() - start
        if night.returncode != 1:
            sys.exit(f"bench/investigate: the night exited {night.returncode}:\n{night.stderr[-2000:]}")
        second_tag = fake_baseline(reports, reports / "runs" / "night", key, engine)
        try:
            start = time.monotonic()
            done = compat(matrix, reports, "investigate", key, "--run", "night")
            investigation = time.monotonic() - start
        finally:
            engine.remove_image(second_tag)
        if done.returncode != 0:
            sys.exit(f"bench/investigate: investigate exited {done.returncode}:\n{done.stderr[-2000:]}")
        found = read_cell(reports / "runs" / "night" / "cells" / f"{key}.json").investigation or {}
        jobs = found.get("jobs", [])
        timings = {job["name"]: json.loads((reports / "runs" / job["run_id"] / "cells" / f"{key}.json").read_text())
                   ["timings"] for job in jobs}
        timings["night"] = read_cell(reports / "runs" / "night" / "cells" / f"{key}.json").timings
        built = sum(1 for job in jobs if "build" in timings[job["name"]])
        images_built = "building image" in done.stderr
        digest = read_cell(reports / "runs" / "night" / "cells" / f"{key}.json").source_digest or ""
        tree = SourceStore(reports / "cache" / "sources").path(digest)
        tree_size = tree.stat().st_size if tree is not None and tree.exists() else 0
    print(f"conclusion: {found.get('says')}")
    print(f"jobs: {', '.join(job['name'] + ' ' + job['status'] for job in jobs)}; {built} of them built; "
          f"an image built: {'yes' if images_built else 'no'}; the kept source tree: {tree_size / 1e6:.1f} MB")
    for name, steps in timings.items():
        print(f"{name}: steps {sum(steps.values()):.0f} s ({', '.join(f'{step} {t:.0f}' for step, t in steps.items())})")
    print(f"one build of {key}: {build:.0f} s; its investigation: {investigation:.0f} s; ratio {investigation / build:.2f} "
          "(goal: at most 3)")


if __name__ == "__main__":
    main()
