"""How groups share the machine: images prepared ahead, N groups at once, a failure or a stop ends it."""

from __future__ import annotations

import dataclasses
import socket
import threading
from pathlib import Path

import pytest

from compat import downloads as downloads_module
from compat.errors import ToolchainUnavailable
from compat.images import ImageBuilder
from compat.matrix import Download
from compat.schedule import Schedule, choose_jobs, cores_per_group, default_jobs
from tests.test_images_and_runner import default

GiB = 1 << 30
WAIT = 10  # seconds: only reached when the behaviour under test is missing


def test_default_jobs_gives_each_group_two_cores_and_two_gib() -> None:
    assert default_jobs(2, 24 * GiB, 1024) == 1  # this machine: one group, make -j2
    assert default_jobs(16, 64 * GiB, 1024) == 8
    assert default_jobs(16, 5 * GiB, 1024) == 2  # memory bounds it, at 2 GiB a group under a smaller limit
    assert default_jobs(1, 512 << 20, 1024) == 1  # never none
    assert cores_per_group(16, 8) == 2 and cores_per_group(2, 4) == 1


def test_default_jobs_never_oversubscribes_the_memory_limit() -> None:
    # Each group's step may use limits.memory_mib: past the machine's memory the host's OOM killer, not the
    # limit, kills a compile, and the cell reads crash (SIGKILL).
    assert default_jobs(64, 64 * GiB, 8192) == 8
    assert default_jobs(64, 63 * GiB, 8192) == 7
    assert default_jobs(16, 24 * GiB, 8192) == 3
    assert default_jobs(16, 4 * GiB, 8192) == 1  # one group even when a step may use more than there is


def test_an_explicit_jobs_that_oversubscribes_memory_is_said_in_one_line() -> None:
    said: list[str] = []
    assert choose_jobs(4, 16, 24 * GiB, 8192, 10, said.append) == 4  # said, not refused
    assert said == [("--jobs 4: 4 groups may use 32768 MiB at once (limits.memory_mib 8192 each), the engine has "
                     "24576 MiB: the host may kill a step (a crash)")]
    said.clear()
    assert choose_jobs(3, 16, 24 * GiB, 8192, 10, said.append) == 3  # fits
    assert choose_jobs(8, 16, 24 * GiB, 8192, 2, said.append) == 2  # two groups are all there are: they fit
    assert choose_jobs(None, 16, 24 * GiB, 8192, 10, said.append) == 3
    assert choose_jobs(None, 16, 4 * GiB, 8192, 10, said.append) == 1  # the default is no user's choice
    assert said == []


def test_the_next_groups_images_are_prepared_while_a_group_runs() -> None:
    prepared: list[str] = []
    second_prepared = threading.Event()

    def prepare(group: str) -> None:
        prepared.append(group)
        if group == "b":
            second_prepared.set()

    ran: list[tuple[str, bool]] = []

    def run_group(group: str) -> None:
        # Group a does not end before b's images are being prepared: the two overlap.
        ran.append((group, second_prepared.wait(WAIT)))

    Schedule(["a", "b", "c"], run_group, prepare, jobs=1).run()
    assert ran == [("a", True), ("b", True), ("c", True)]
    assert prepared == ["a", "b", "c"]  # in the order the groups run


def test_jobs_run_that_many_groups_at_once_and_every_group_once() -> None:
    together = threading.Barrier(2, timeout=WAIT)
    ran: list[str] = []

    def run_group(group: str) -> None:
        if group in ("a", "b"):
            together.wait()  # a and b run at the same time, or this breaks
        ran.append(group)

    Schedule(["a", "b", "c", "d", "e"], run_group, lambda group: None, jobs=2).run()
    assert sorted(ran) == ["a", "b", "c", "d", "e"]


def test_a_group_that_raises_ends_the_schedule_and_is_raised() -> None:
    ran: list[str] = []

    def run_group(group: str) -> None:
        ran.append(group)
        if group == "b":
            raise RuntimeError("engine gone")

    with pytest.raises(RuntimeError, match="engine gone"):
        Schedule(["a", "b", "c", "d"], run_group, lambda group: None, jobs=1).run()
    assert ran == ["a", "b"]


def test_a_stopped_schedule_starts_no_further_group() -> None:
    ran: list[str] = []
    scheduled: Schedule[str]

    def run_group(group: str) -> None:
        ran.append(group)
        scheduled.stop()

    scheduled = Schedule(["a", "b", "c"], run_group, lambda group: None, jobs=1)
    scheduled.run()
    assert ran == ["a"]


def test_two_threads_asking_for_one_image_try_its_download_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    # A server that accepts and never answers: each download attempt lasts the whole (short) timeout, so
    # without the builder's lock both threads would be inside one at the same time.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    monkeypatch.setattr(downloads_module, "DOWNLOAD_TIMEOUT", 1)
    m = default()
    port = silent.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ghc.tar.bz2"
    slow = dataclasses.replace(m.toolchains["ghc710"], frozen=None, downloads=(Download("ghc", url, sha1="0" * 40),))
    said: list[str] = []
    builder = ImageBuilder(None, tmp_path, said.append)  # type: ignore[arg-type]  # fails before any engine call
    failures: list[str] = []

    def ask() -> None:
        try:
            builder.ensure(slow, m.recipes["ganeti-3.1"], tmp_path / "image.log")
        except ToolchainUnavailable as exc:
            failures.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
    finally:
        silent.close()
    assert [line for line in said if "downloading" in line] == [f"ghc710: downloading {url}"]
    assert len(failures) == 2 and failures[0] == failures[1]
    assert f"cannot be had; looked in 127.0.0.1:{port} (" in failures[0] and failures[0].endswith("\nmissing: ghc.tar.bz2")
