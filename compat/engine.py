"""The one door to Docker: images, volumes and step containers (nothing else imports docker)."""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from compat.errors import EngineUnavailable
from compat.matrix import Limits

LABEL = "org.ganeti-compat"
OWNER = f"{LABEL}.owner"  # host:pid of the run that made a volume or holds an image
HOLDS = f"{LABEL}.holds"  # the image a never-started container keeps for its owner (Engine.hold)
KEEP_FAILED = f"{LABEL}.keep-failed"  # a volume `run --keep-failed` made: a failed cell's stays for `shell`
BUILD_USER = "builder"
HOW_TO_START = "start one (apt-get install docker.io; dockerd &) or point DOCKER_HOST at one"
NOT_EXECUTABLE = {127: "not found", 126: "not executable"}  # Engine.run writes "<this>: COMMAND" to the log
PING_TIMEOUT = 10.0  # seconds: whether the engine answers is asked quickly, even of a remote host gone silent
ANSWER_WAIT = 30.0  # seconds an engine whose connection broke is given to answer again (a dockerd restart)
RECONNECTS = 3  # broken connections one step survives while its container runs on (a remote engine's blips)


class EngineRefused(Exception):
    """The engine answered, but would not make or start the container (one line: its reason)."""


class EngineDropped(Exception):
    """The connection to the engine broke during a step and the step cannot be judged: the engine no longer
    answers, or the container ended meanwhile (a restarting dockerd kills it). Never the toolchain's doing."""


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int | None  # None when the step timed out
    out_of_memory: bool = False  # the kernel killed a process of it at its memory limit

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


class Engine:
    """A Docker engine from DOCKER_HOST or the local socket; every container it makes it removes."""

    def __init__(self, read_timeout: float = 900) -> None:
        try:
            self.client = docker.from_env(timeout=read_timeout)
            # A step may print nothing for longer than any read timeout (a quiet link, a long test):
            # its log stream gets a client that waits as long as the container lives.
            self.stream_client = docker.from_env(timeout=None)
            self.ping_client = docker.from_env(timeout=PING_TIMEOUT)
            self.client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            reason = str(exc).splitlines()[0][:160]
            raise EngineUnavailable(f"no Docker engine answers ({reason}): {HOW_TO_START}") from None

    def close(self) -> None:
        self.client.close()
        self.stream_client.close()
        self.ping_client.close()

    def alive(self) -> bool:
        """Whether the engine still answers (after a failure: the engine's, or the cell's?)."""
        try:
            return bool(self.ping_client.ping())
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return False

    def cpus(self) -> int:
        """How many CPUs the engine's machine has (the {jobs} of a recipe)."""
        return int(self.client.info().get("NCPU") or 1)

    def memory(self) -> int:
        """Bytes of memory of the engine's machine (how many groups fit at once)."""
        return int(self.client.info().get("MemTotal") or 0)

    # images
    def image_id(self, ref: str) -> str | None:
        try:
            return str(self.client.images.get(ref).id)
        except docker.errors.ImageNotFound:
            return None

    def images_named(self, repository: str) -> list[tuple[str, str]]:
        """(tag, id) of local images of a repository, newest first."""
        found = []
        for image in self.client.images.list(name=repository):
            for tag in image.tags:
                if tag.startswith(repository + ":"):
                    found.append((tag, str(image.id), str(image.attrs.get("Created", ""))))
        return [(tag, image_id) for tag, image_id, _ in sorted(found, key=lambda t: t[2], reverse=True)]

    def images_labelled(self, label: str) -> list[tuple[str, str, dict[str, str]]]:
        """(tag, id, labels) of every tagged local image carrying a label ("key=value"), newest first."""
        found = []
        for image in self.client.images.list(filters={"label": label}):
            labels = dict(image.labels or {})
            found += [(tag, str(image.id), labels, str(image.attrs.get("Created", ""))) for tag in image.tags]
        return [(tag, image_id, labels) for tag, image_id, labels, _ in sorted(found, key=lambda t: t[3], reverse=True)]

    def labels(self, ref: str) -> dict[str, str]:
        try:
            return dict(self.client.images.get(ref).labels or {})
        except docker.errors.ImageNotFound:
            return {}

    def retag(self, source: str, target: str) -> None:
        """Give an image its final tag and drop the provisional one."""
        repository, _, tag = target.rpartition(":")
        self.client.images.get(source).tag(repository, tag)
        self.client.images.remove(source, noprune=True)

    def remove_image(self, ref: str) -> bool:
        """Remove an image tag; one still in use by a container, another image or a live run (Engine.hold)
        stays (False)."""
        self._let_go_of_dead_holders()
        try:
            self.client.images.remove(ref)
            return True
        except docker.errors.APIError:
            return False

    def hold(self, ref: str) -> str | None:
        """Keep an image for this process while it lives, between its steps too: a container of it that never
        starts, labelled with its owner. Docker removes no image a container uses, whichever run (of whatever
        reports directory) asks. The holder's id, or None when the image is gone."""
        try:
            holder = self.client.containers.create(ref, command=["true"], network_disabled=True,
                                                   labels={LABEL: "1", OWNER: _owner(), HOLDS: ref})
        except docker.errors.ImageNotFound:
            return None
        return str(holder.id)

    def let_go(self, holder: str) -> None:
        """Remove a holder: its image may go once no other run holds or uses it. An engine that is gone keeps
        it; the next run removes it once this process has ended (`_let_go_of_dead_holders`)."""
        try:
            _discard(self.client.containers.get(holder))
        except (docker.errors.APIError, requests.exceptions.ConnectionError):
            pass

    def _let_go_of_dead_holders(self) -> None:
        """The holders of runs that ended without letting go (killed): they keep nothing any more."""
        for holder in self.client.containers.list(all=True, filters={"label": HOLDS}):
            if not _owner_alive(holder.labels):
                _discard(holder)

    def pull(self, ref: str) -> str | None:
        """Pull an image; None (with the reason left to the caller) when no registry answers."""
        try:
            return str(self.client.images.pull(ref).id)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return None

    def import_tarball(self, tarball: Path, repository: str, tag: str, labels: dict[str, str]) -> str:
        changes = [f'LABEL {key}="{value}"' for key, value in labels.items()]
        # import_image_from_stream is refused by dockerd 20.10 ("header line too long"); a file is not.
        self.client.api.import_image_from_file(str(tarball), repository=repository, tag=tag, changes=changes)
        image_id = self.image_id(f"{repository}:{tag}")
        if image_id is None:
            raise RuntimeError(f"docker import of {tarball} produced no image {repository}:{tag}")
        return image_id

    def build(self, context: Path, tag: str, buildargs: dict[str, str], labels: dict[str, str],
              on_line: Callable[[str], None]) -> tuple[bool, list[str]]:
        """Build context/Dockerfile; (ok, log lines). The log streams to on_line as it comes."""
        lines: list[str] = []
        ok = True
        stream = self.client.api.build(path=str(context), tag=tag, buildargs=buildargs, labels=labels,
                                       rm=True, forcerm=True, decode=True, network_mode="default")
        for chunk in stream:
            text = chunk.get("stream") or chunk.get("status") or ""
            if "error" in chunk:
                ok = False
                text = "ERROR: " + str(chunk["error"])
            for line in text.splitlines():
                if line.strip():
                    lines.append(line)
                    on_line(line)
        return ok and self.image_id(tag) is not None, lines

    # volumes
    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        # Between two steps a live run's volume is in no container: its owner tells `clean` to leave it.
        self.client.volumes.create(name=name, labels={LABEL: "1", OWNER: _owner(), **labels})

    def remove_volume(self, name: str) -> None:
        try:
            self.client.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass

    def put_tree(self, image: str, volume: str, mount: str, tar_bytes: bytes, dest: str) -> None:
        """Unpack a tar archive into a volume (works on remote engines: no bind mounts)."""
        container = self.client.containers.create(image, command=["true"], volumes={volume: {"bind": mount, "mode": "rw"}},
                                                  labels={LABEL: "1"}, network_disabled=True)
        try:
            container.put_archive(dest, tar_bytes)
        finally:
            _discard(container)

    def read_file(self, image: str, volume: str, mount: str, path: str) -> bytes | None:
        """The content of one file in a volume, or None when it does not exist."""
        container = self.client.containers.create(image, command=["true"], volumes={volume: {"bind": mount, "mode": "ro"}},
                                                  labels={LABEL: "1"}, network_disabled=True)
        try:
            stream, _ = container.get_archive(path)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                member = archive.next()
                extracted = archive.extractfile(member) if member else None
                return extracted.read() if extracted else None
        except docker.errors.NotFound:
            return None
        finally:
            _discard(container)

    def read_archive(self, image: str, volume: str, mount: str, path: str) -> bytes | None:
        """A directory (or file) of a volume as tar bytes, named by its last part; None when it does not exist."""
        container = self.client.containers.create(image, command=["true"], volumes={volume: {"bind": mount, "mode": "ro"}},
                                                  labels={LABEL: "1"}, network_disabled=True)
        try:
            stream, _ = container.get_archive(path)
            return b"".join(stream)
        except docker.errors.NotFound:
            return None
        finally:
            _discard(container)

    def volume_exists(self, name: str) -> bool:
        try:
            self.client.volumes.get(name)
            return True
        except docker.errors.NotFound:
            return False

    def interactive(self, image: str, argv: list[str], *, volume: str, mount: str, workdir: str, env: dict[str, str],
                    limits: Limits | None = None) -> int:
        """A command attached to this terminal (or to stdin without one), in a container of `image` on `volume`,
        as the build user without a network: `compat shell`. The docker CLI attaches; its exit code."""
        return subprocess.call(interactive_argv(image, argv, volume=volume, mount=mount, workdir=workdir, env=env,
                                                limits=limits, tty=sys.stdin.isatty()))

    # steps
    def run(self, image: str, argv: list[str], *, log: Path, volume: str | None, mount: str, workdir: str,
            root: bool, network: bool, timeout: float, env: dict[str, str], labels: dict[str, str],
            limits: Limits | None = None) -> RunOutcome:
        """Run one command to completion, appending its output to log; kill it past the timeout.

        No container gets privileges, capabilities beyond Docker's default set, the Docker socket or a way to
        gain privileges (no-new-privileges: setuid binaries do not raise them); only fetch and prepare get a
        network. With limits, memory (swap included) and the number of processes are capped."""
        capped: dict[str, Any] = {}
        if limits:
            memory = f"{limits.memory_mib}m"
            capped = {"mem_limit": memory, "memswap_limit": memory, "pids_limit": limits.pids}
        container = self.client.containers.create(
            image, command=argv, working_dir=workdir, user="root" if root else BUILD_USER,
            environment=env, volumes={volume: {"bind": mount, "mode": "rw"}} if volume else {},
            network_mode="bridge" if network else "none", labels={LABEL: "1", **labels}, detach=True,
            privileged=False, security_opt=["no-new-privileges"], **capped)
        with _removed(container):
            try:
                container.start()
            except docker.errors.APIError as exc:
                # The runtime could not exec the command: Docker records 127 (not found) or 126 (not executable).
                container.reload()
                code = int(container.attrs["State"].get("ExitCode") or 0)
                if code not in NOT_EXECUTABLE:
                    raise
                with log.open("a") as out:
                    print(f"{NOT_EXECUTABLE[code]}: {argv[0]}", file=out)
                    print(str(exc.explanation or exc), file=out)
                return RunOutcome(code)
            pump = _Pump(self.stream_client.api.logs(container.id, stream=True, follow=True), log)
            exit_code = self._wait(container, timeout)
            pump.finish(self.client.api.logs(container.id, stream=False))
            container.reload()
            out_of_memory = bool(container.attrs["State"].get("OOMKilled"))
        return RunOutcome(exit_code, out_of_memory)

    def _wait(self, container: Any, timeout: float) -> int | None:
        """The exit code, or None when the container was killed at its timeout. A broken connection is no
        timeout: while the engine answers again and the container runs on, the wait goes on (bounded)."""
        deadline = time.monotonic() + timeout
        for _ in range(RECONNECTS + 1):
            try:
                status: dict[str, Any] = container.wait(timeout=max(1.0, deadline - time.monotonic()))
                return int(status.get("StatusCode", -1))
            except requests.exceptions.RequestException as exc:
                if _read_timed_out(exc):
                    return self._kill(container)
                self._check_running(container, _one_line(exc))
        raise EngineDropped(f"the connection to the Docker engine broke {RECONNECTS + 1} times in one step")

    def _check_running(self, container: Any, why: str) -> None:
        """After a broken connection: return when the engine answers again and the container still runs. Else
        the step is lost with the engine: a container a restarting dockerd killed did not crash."""
        if not self._answers_within(ANSWER_WAIT):
            raise EngineDropped(f"the Docker engine stopped answering: {why}")
        try:
            container.reload()
            state = container.attrs["State"]
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise EngineDropped(f"the connection to the Docker engine broke ({why}) and the step's container "
                                f"cannot be seen ({_one_line(exc)})") from None
        if state.get("Status") != "running":
            raise EngineDropped(f"the connection to the Docker engine broke ({why}) and the step's container no "
                                f"longer runs ({state.get('Status')}, exit code {state.get('ExitCode')})")

    def _answers_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        return True

    @staticmethod
    def _kill(container: Any) -> int | None:
        """Kill a container past its timeout: None, or its exit code if it exited before the kill landed
        (that exit is the step's outcome, not a tool error)."""
        try:
            container.kill()
            return None
        except docker.errors.APIError:
            container.reload()
            if container.attrs["State"]["Status"] == "exited":
                return int(container.attrs["State"]["ExitCode"])
            raise

    def output(self, image: str, argv: list[str], *, network: bool, timeout: float) -> tuple[int | None, str]:
        """Run one command as root in a throwaway container of an image, without a volume: (exit code, output)."""
        with tempfile.TemporaryDirectory(prefix="ganeti-compat-output-") as tmp:
            log = Path(tmp) / "output.log"
            try:
                ran = self.run(image, argv, log=log, volume=None, mount="", workdir="/", root=True, network=network,
                               timeout=timeout, env={}, labels={})
            except docker.errors.APIError as exc:
                raise EngineRefused(str(exc.explanation or exc).splitlines()[0][:200]) from None
            return ran.exit_code, log.read_text(errors="replace") if log.exists() else ""

    def remove_labelled(self, key: str, value: str) -> None:
        """Remove what a run left behind (containers, then volumes) after an interruption."""
        selector = {"label": f"{key}={value}"}
        for container in self.client.containers.list(all=True, filters=selector):
            _discard(container)
        for volume in self.client.volumes.list(filters=selector):
            # Its group may have removed it meanwhile, or started one last container on it (in use): the
            # caller asks again once its groups have stopped.
            _discard(volume)

    def remove_leftovers(self, min_age: float, kept_max_age: float = float("inf")) -> list[str]:
        """Stopped containers and unused volumes of the tool (a killed run's). Running ones are another
        run's, and so are stopped ones younger than min_age seconds: a live run removes its own. A live run's
        holder of an image (Engine.hold) stays, and so does a failed cell's volume `--keep-failed` kept, until
        it is older than kept_max_age seconds."""
        removed = []
        now = datetime.datetime.now(datetime.UTC)
        for container in self.client.containers.list(all=True, filters={"label": LABEL}):
            state = container.attrs.get("State", {})
            since = state.get("FinishedAt") if container.status in ("exited", "dead") else container.attrs.get("Created")
            if container.status not in ("created", "exited", "dead") or _age(since, now) < min_age:
                continue
            if _owner_alive(container.labels):
                continue
            container.remove(force=True)
            removed.append(f"container {container.name}")
        for volume in self.client.volumes.list(filters={"label": LABEL}):
            labels = volume.attrs.get("Labels") or {}
            if _owner_alive(labels) or (KEEP_FAILED in labels and _age(volume.attrs.get("CreatedAt"), now) < kept_max_age):
                continue
            try:
                volume.remove()
                removed.append(f"volume {volume.name}")
            except docker.errors.APIError:
                pass  # in use by a running step
        return removed


def interactive_argv(image: str, argv: list[str], *, volume: str, mount: str, workdir: str, env: dict[str, str],
                     limits: Limits | None, tty: bool) -> list[str]:
    """The docker command line of Engine.interactive: the same user, network, privileges and limits as a step."""
    command = ["docker", "run", "--rm", "-i", *(["-t"] if tty else []), "--user", BUILD_USER, "--network", "none",
               "--security-opt", "no-new-privileges", "-v", f"{volume}:{mount}", "-w", workdir,
               "--label", f"{LABEL}=1"]
    for key, value in env.items():
        command += ["-e", f"{key}={value}"]
    if limits:
        command += ["--memory", f"{limits.memory_mib}m", "--memory-swap", f"{limits.memory_mib}m",
                    "--pids-limit", str(limits.pids)]
    return [*command, image, *argv]


def _owner() -> str:
    """host:pid of this run, on what it makes: `clean` and other runs leave it while this process lives."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(labels: dict[str, str]) -> bool:
    """Whether the run that made a volume or holder may still use it: its process is alive on this host, or it ran on
    another host (whose processes cannot be seen from here: that host's `clean` removes it)."""
    host, _, pid = labels.get(OWNER, "").rpartition(":")
    if not host or not pid.isdigit():
        return False  # made by an older version, or by hand: a leftover like any other
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


@contextlib.contextmanager
def _removed(container: Any) -> Iterator[None]:
    """Remove a step's container however the step ends. After a lost engine, only if it answers: an error of
    its removal would hide why the step ended (`clean` removes what is left)."""
    try:
        yield
    except EngineDropped:
        with contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException):
            _discard(container)
        raise
    except BaseException:
        _discard(container)
        raise
    _discard(container)


def _read_timed_out(exc: Exception) -> bool:
    """Whether a wait ran out of time. requests says so as ReadTimeout, or as a ConnectionError around
    urllib3's ReadTimeoutError when the time runs out in the body (dockerd sends the headers at once)."""
    return isinstance(exc, requests.exceptions.ReadTimeout) or any(
        isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args)


def _one_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _discard(item: Any) -> None:
    """Remove a container or volume the tool made. One already gone (removed by `clean`, say) was what was
    wanted; a conflict (a container's removal already under way, as an interrupted run's cleanup and the
    step's own meet; a volume still in use) is left to whoever removes it next."""
    try:
        item.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:
            raise


def _age(timestamp: str | None, now: datetime.datetime) -> float:
    """Seconds since a Docker timestamp (RFC 3339 with nanoseconds); 0 when there is none."""
    if not timestamp or timestamp.startswith("0001"):
        return 0.0
    then = datetime.datetime.fromisoformat(timestamp[:19]).replace(tzinfo=datetime.UTC)
    return (now - then).total_seconds()


class _Pump:
    """Copies a container's log stream into its log file as it comes, counting what it wrote."""

    def __init__(self, chunks: Iterator[bytes], log: Path) -> None:
        self.chunks, self.log, self.written = chunks, log, 0
        self.thread = threading.Thread(target=self._copy, daemon=True)
        self.thread.start()

    def _copy(self) -> None:
        with self.log.open("ab") as out:
            try:
                for chunk in self.chunks:
                    out.write(chunk)
                    out.flush()
                    self.written += len(chunk)
            except requests.exceptions.RequestException:
                pass  # the stream broke; finish() appends what it missed

    def finish(self, complete: bytes) -> None:
        """Once the container ended: append what the stream missed (it may end before a last partial line)."""
        self.thread.join(timeout=30)
        if not self.thread.is_alive() and len(complete) > self.written:
            with self.log.open("ab") as out:
                out.write(complete[self.written:])
