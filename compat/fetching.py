"""A cell's source: fetched in the fetch image, put from a local path, or put back as kept; its version and
digest; and the unchanged result an earlier run left for it, looked up by that digest, once a run a source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from compat import reuse, sources
from compat.cells import Cell, Collected, Images
from compat.errors import ToolchainUnavailable
from compat.gathering import Gathering
from compat.images import FETCH_RECIPE, Image, ImageBuildFailed, fetcher
from compat.kept import SourceStore, joined
from compat.outcome import StepRecord
from compat.results import CellResult
from compat.steps import MOUNT
from compat.tarballs import tar_directory, tar_files


class Fetching(Gathering):
    """The part of compat.runner.CellRunner that puts a cell's source into its volume."""

    images: Images
    kept: SourceStore | None
    source: str | None
    reuse: bool
    history: tuple[Path, ...]
    fetched: dict[str, tuple[str | None, str]]
    _step: Callable[[Cell, str, list[list[str]], Image, str, Path, CellResult, Collected], bool]

    def _take_earlier(self, cell: Cell, image: Image, result: CellResult, seen: Collected, built_by: Cell | None,
                      taken_first: Cell | None) -> bool:
        """Fingerprint the cell now that its source is known; take an earlier result of the same inputs.

        A further flavor relinks `built_by`'s tree. When the first flavor was itself taken, the further one
        is looked up as the relink of it it would have been, then as the compilation of its own it will be."""
        if not result.source_digest:
            return False  # what was fetched is unknown: nothing can be the same
        ways = [built_by] if built_by is not None else [taken_first, None] if taken_first is not None else [None]
        for relinks in ways:
            result.fingerprint = reuse.fingerprint(
                image=image.tag, source_digest=result.source_digest, recipe=self.matrix.recipes[cell.source.recipe],
                flavor=self.matrix.flavors[cell.flavor],
                relinks=self.matrix.flavors[relinks.flavor] if relinks is not None else None,
                timeouts=self.matrix.timeouts, limits=self.matrix.limits,
                probe={"requests": self.probe.requests, "fault": self.probe.fault})
            found = reuse.earlier_result(self.history, cell.key, result.fingerprint, self.run_id) \
                if self.reuse else None
            if found is not None:
                seen.taken = reuse.take(*found, self.run_dir, result)
                return True
        return False

    def _take_by_fetched(self, cell: Cell, image: Image, result: CellResult, seen: Collected,
                         taken_first: Cell | None) -> bool:
        """Take an earlier result by the digest this run already fetched of the cell's source, without fetching
        it again: an unchanged matrix fetches each source once. What is not taken is fetched as usual."""
        known = self.fetched.get(cell.source.name)
        if not self.reuse or self.source is not None or known is None:
            return False
        result.source_version, result.source_digest = known
        if self._take_earlier(cell, image, result, seen, None, taken_first):
            return True
        result.source_version = result.source_digest = result.fingerprint = None
        return False

    def _fetch(self, cell: Cell, image: Image, volume: str, logs: Path, result: CellResult, seen: Collected) -> bool:
        command = sources.fetch_command(cell.source)
        if self.source is not None:
            return self._put_kept(cell, image, volume, logs, result, seen)
        if command is None:
            path = sources.local_path(cell.source, self.matrix.path)
            tree = tar_directory(path, "src")
            self.engine.put_tree(image.tag, volume, MOUNT, tree, MOUNT)
            # The same record fetch-source leaves, so a further flavor reads it from the tree like any other.
            digest = sources.tree_digest(path)
            meta = tar_files({"meta/version": f"local-{digest[:12]}\n".encode(), "meta/digest": f"{digest}\n".encode()})
            self.engine.put_tree(image.tag, volume, MOUNT, meta, MOUNT)
            if self.kept is not None and not self.kept.has(digest):
                self.kept.put(digest, joined(tree, meta))
        else:
            try:
                helper = self._fetcher()
            except (ToolchainUnavailable, ImageBuildFailed) as exc:
                said = f"compat-fetch: the {self.matrix.fetch_suite} image that fetches sources cannot be had: {exc}"
                (logs / "fetch.log").write_text(said + "\n")
                result.logs["fetch"] = self._relative(logs / "fetch.log")
                seen.steps.append(StepRecord("fetch", 1, result.logs["fetch"]))
                return False
            if not self._step(cell, "fetch", [command], helper, volume, logs, result, seen):
                return False
        result.source_version, result.source_digest = self._source_meta(image, volume)
        if result.source_digest:
            self.fetched[cell.source.name] = (result.source_version, result.source_digest)
        if command is not None and self.kept is not None and result.source_digest \
                and not self.kept.has(result.source_digest):
            parts = [self.engine.read_archive(image.tag, volume, MOUNT, f"{MOUNT}/{name}") for name in ("src", "meta")]
            self.kept.put(result.source_digest, joined(*[part for part in parts if part]))
        return True

    def _put_kept(self, cell: Cell, image: Image, volume: str, logs: Path, result: CellResult, seen: Collected) -> bool:
        """An investigation's source: the tree kept by its digest, as it was fetched that night."""
        tree = self.kept.get(self.source) if self.kept is not None else None
        log = logs / "fetch.log"
        result.logs["fetch"] = self._relative(log)
        if tree is None:
            log.write_text(f"compat-fetch: the source tree of digest {self.source} was not kept "
                           "(reports/cache/sources/): it cannot be had again\n")
            seen.steps.append(StepRecord("fetch", 1, result.logs["fetch"]))
            return False
        self.engine.put_tree(image.tag, volume, MOUNT, tree, MOUNT)
        log.write_text(f"compat-fetch: the source tree kept by its digest {self.source}\n")
        result.source_version, result.source_digest = self._source_meta(image, volume)
        return True

    def _fetcher(self) -> Image:
        """The helper image every fetch runs in (compat.images.fetcher): the cell's own image only builds."""
        log = self.run_dir / "images" / "fetch.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        return self.images.ensure(fetcher(self.matrix.fetch_suite), FETCH_RECIPE, log)

    def _source_meta(self, image: Image, volume: str) -> tuple[str | None, str | None]:
        version = self._read_text(image, volume, "/build/meta/version").strip() or None
        digest = self._read_text(image, volume, "/build/meta/digest").strip() or None
        return version, digest
