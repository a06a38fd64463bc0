"""The one door to Docker: images, volumes and step containers (nothing else imports docker)."""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from compat.errors import EngineUnavailable

LABEL = "org.ganeti-compat"
BUILD_USER = "builder"
HOW_TO_START = "start one (apt-get install docker.io; dockerd &) or point DOCKER_HOST at one"


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int | None  # None when the step timed out

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


class Engine:
    """A Docker engine from DOCKER_HOST or the local socket; every container it makes it removes."""

    def __init__(self) -> None:
        try:
            self.client = docker.from_env(timeout=900)
            self.client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            reason = str(exc).splitlines()[0][:160]
            raise EngineUnavailable(f"no Docker engine answers ({reason}): {HOW_TO_START}") from None

    def cpus(self) -> int:
        """How many CPUs the engine's machine has (the {jobs} of a recipe)."""
        return int(self.client.info().get("NCPU") or 1)

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
        self.client.volumes.create(name=name, labels={LABEL: "1", **labels})

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
            container.remove(force=True)

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
            container.remove(force=True)

    # steps
    def run(self, image: str, argv: list[str], *, log: Path, volume: str, mount: str, workdir: str,
            root: bool, network: bool, timeout: float, env: dict[str, str], labels: dict[str, str]) -> RunOutcome:
        """Run one command to completion, appending its output to log; kill it past the timeout."""
        container = self.client.containers.create(
            image, command=argv, working_dir=workdir, user="root" if root else BUILD_USER,
            environment=env, volumes={volume: {"bind": mount, "mode": "rw"}},
            network_mode="bridge" if network else "none", labels={LABEL: "1", **labels}, detach=True)
        try:
            container.start()
            pump = threading.Thread(target=_pump, args=(container.logs(stream=True, follow=True), log), daemon=True)
            pump.start()
            try:
                status: dict[str, Any] = container.wait(timeout=max(1.0, timeout))
                exit_code: int | None = int(status.get("StatusCode", -1))
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):  # the wait timed out
                container.kill()
                exit_code = None
            pump.join(timeout=30)
        finally:
            container.remove(force=True)
        return RunOutcome(exit_code)

    def remove_labelled(self, key: str, value: str) -> None:
        """Remove what a run left behind (containers, then volumes) after an interruption."""
        selector = {"label": f"{key}={value}"}
        for container in self.client.containers.list(all=True, filters=selector):
            container.remove(force=True)
        for volume in self.client.volumes.list(filters=selector):
            volume.remove(force=True)


def _pump(chunks: Iterator[bytes], log: Path) -> None:
    with log.open("ab") as out:
        for chunk in chunks:
            out.write(chunk)
            out.flush()
