"""How the groups of a run share the machine: later groups' images are prepared while earlier groups
compile, and with `--jobs N` N groups run at once, each given its share of the cores.

Image builds and base bootstraps mostly wait on the network (apt downloads); compiling Ganeti waits on
the CPU. Run in series, every image build adds its minutes to the run; prepared ahead, it overlaps a
compile and a group finds its images ready (or waits only for the rest of a build already under way).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

GROUP_MEMORY = 2 << 30  # about what one Ganeti build takes (GHC with make -j2)
STOP_WAIT = 60.0  # seconds a stopped run waits for its groups to leave their killed containers

Group = TypeVar("Group")


def default_jobs(cpus: int, memory_bytes: int, memory_mib: int) -> int:
    """Groups at once: two cores each (one core per group leaves GHC's make -j nothing to spread), and
    never more than the memory holds: a group's step may use its limit (limits.memory_mib), and past the
    engine's memory the host's OOM killer, not the limit, kills a compile (a crash nobody caused)."""
    per_group = max(GROUP_MEMORY, memory_mib << 20)
    return max(1, min(cpus // 2, memory_bytes // per_group))


def choose_jobs(asked: int | None, cpus: int, memory_bytes: int, memory_mib: int, groups: int,
                say: Callable[[str], None]) -> int:
    """Groups at once, as asked (`--jobs`) or by default, never more than there are groups. An asked
    number that may need more memory than the engine has is said in one line, not refused: the user
    may know the steps stay well under their limit."""
    jobs = min(asked or default_jobs(cpus, memory_bytes, memory_mib), max(1, groups))
    if asked and memory_bytes and jobs * (memory_mib << 20) > memory_bytes:
        say(f"--jobs {jobs}: {jobs} groups may use {jobs * memory_mib} MiB at once (limits.memory_mib "
            f"{memory_mib} each), the engine has {memory_bytes >> 20} MiB: the host may kill a step (a crash)")
    return jobs


def cores_per_group(cpus: int, jobs: int) -> int:
    return max(1, cpus // jobs)


class Schedule(Generic[Group]):
    """Runs `run_group` over the groups in order on `jobs` threads, while one more thread calls `prepare`
    on each group in the same order, ahead of them.

    `prepare` must be safe to call at the same time as `run_group` of the same group (the image builder
    is: one lock per image) and must not raise: whatever it could not do, the group meets again and
    reports. The first exception of a `run_group` stops the schedule and is raised by `run`; `stop()`
    (an interrupt) makes `run` return as soon as the threads are told, and `wait_stopped` lets the caller
    give them time to leave their steps.
    """

    def __init__(self, groups: Sequence[Group], run_group: Callable[[Group], None],
                 prepare: Callable[[Group], None], jobs: int) -> None:
        self.groups, self.run_group, self.prepare, self.jobs = list(groups), run_group, prepare, max(1, jobs)
        self.stopping = threading.Event()
        self.failure: BaseException | None = None
        self._todo: queue.SimpleQueue[Group] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._finished = threading.Semaphore(0)

    def run(self) -> None:
        for group in self.groups:
            self._todo.put(group)
        # Daemon threads: an interrupted run exits without waiting for an image build to end.
        preparer = threading.Thread(target=self._prepare_all, name="prepare", daemon=True)
        preparer.start()
        workers = [threading.Thread(target=self._work, name=f"group-{n}", daemon=True)
                   for n in range(min(self.jobs, len(self.groups)))]
        self._threads = workers
        for worker in workers:
            worker.start()
        for _ in workers:
            self._finished.acquire()  # interruptible: Ctrl-C reaches the main thread here
        if self.failure is not None:
            raise self.failure

    def stop(self) -> None:
        self.stopping.set()

    def wait_stopped(self, timeout: float = STOP_WAIT) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def _prepare_all(self) -> None:
        for group in self.groups:
            if self.stopping.is_set():
                return
            self.prepare(group)

    def _work(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    group = self._todo.get_nowait()
                except queue.Empty:
                    return
                self.run_group(group)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            if self.failure is None and not self.stopping.is_set():
                self.failure = exc
            self.stopping.set()
        finally:
            self._finished.release()
