"""What a step's outcome is when the connection to the engine breaks under it, on a fake docker client: a
dockerd restart or a blip of a remote DOCKER_HOST is the engine's loss, never a timeout or a crash. How the
real engine answers is tested in test_images_docker.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests.exceptions
import urllib3.exceptions

from compat import engine as engine_module
from compat.engine import Engine, EngineDropped, RunOutcome

Wait = Callable[[], dict[str, Any]]


def reset() -> dict[str, Any]:
    raise requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))


def read_timed_out() -> dict[str, Any]:
    # How docker-py's wait says its time ran out on a unix socket (measured with docker 7.1, requests 2.34).
    raise requests.exceptions.ConnectionError(urllib3.exceptions.ReadTimeoutError(
        None, "", "UnixHTTPConnectionPool(host='localhost', port=None): Read timed out."))  # type: ignore[arg-type]


@dataclass
class FakeDocker:
    """The parts of a docker client Engine.run uses, with one container whose waits the test scripts."""

    waits: list[Wait]
    up: bool = True  # whether the engine answers
    state: dict[str, Any] = field(default_factory=lambda: {"Status": "running", "ExitCode": 0, "OOMKilled": False})
    wait_timeouts: list[float] = field(default_factory=list)
    killed: bool = False
    removed: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)  # the container's, as of its last reload

    # the client
    @property
    def containers(self) -> FakeDocker:
        return self

    @property
    def api(self) -> FakeDocker:
        return self

    def ping(self) -> bool:
        self._answer()
        return True

    def close(self) -> None:
        pass

    def create(self, image: str, **options: Any) -> FakeDocker:
        return self

    def logs(self, container_id: str, stream: bool, follow: bool = False) -> Iterator[bytes] | bytes:
        return iter([b"compiling\n"]) if stream else b"compiling\n"

    # the container
    id = "c0ffee"

    def start(self) -> None:
        pass

    def wait(self, timeout: float) -> dict[str, Any]:
        self.wait_timeouts.append(timeout)
        return self.waits.pop(0)()

    def reload(self) -> None:
        self._answer()
        self.attrs = {"State": dict(self.state)}

    def kill(self) -> None:
        self._answer()
        self.killed = True

    def remove(self, force: bool) -> None:
        self._answer()
        self.removed = True

    def _answer(self) -> None:
        if not self.up:
            raise requests.exceptions.ConnectionError("('Connection aborted.', FileNotFoundError(2, 'No such file'))")


def engine_of(fake: FakeDocker, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr("compat.engine.docker.from_env", lambda timeout: fake)
    monkeypatch.setattr(engine_module, "ANSWER_WAIT", 0.2)
    return Engine()


def step(engine: Engine, tmp_path: Path, timeout: float = 600) -> RunOutcome:
    return engine.run("img", ["make"], log=tmp_path / "build.log", volume=None, mount="", workdir="/", root=False,
                      network=False, timeout=timeout, env={}, labels={})


def test_a_dockerd_restart_under_a_step_is_the_engines_loss_not_a_crash(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Restarting, dockerd killed the container: exit 137 is no SIGKILL of the toolchain's compile.
    fake = FakeDocker([reset], state={"Status": "exited", "ExitCode": 137, "OOMKilled": False})
    with pytest.raises(EngineDropped, match=r"^the connection to the Docker engine broke \(ConnectionError: .*\) and "
                                            r"the step's container no longer runs \(exited, exit code 137\)$"):
        step(engine_of(fake, monkeypatch), tmp_path)
    assert not fake.killed and fake.removed


def test_an_engine_that_does_not_answer_again_is_lost_and_its_container_left_to_clean(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeDocker([reset])
    engine = engine_of(fake, monkeypatch)
    fake.up = False
    with pytest.raises(EngineDropped, match=r"^the Docker engine stopped answering: ConnectionError: "):
        step(engine, tmp_path)  # not the ConnectionError of removing the container from a dead engine
    assert not fake.killed and not fake.removed


def test_a_blip_of_the_connection_while_the_container_runs_on_keeps_waiting_for_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeDocker([reset, lambda: {"StatusCode": 0}])
    assert step(engine_of(fake, monkeypatch), tmp_path, timeout=600) == RunOutcome(0)
    assert len(fake.wait_timeouts) == 2 and fake.wait_timeouts[1] <= fake.wait_timeouts[0] <= 600  # one deadline
    assert not fake.killed and fake.removed
    assert (tmp_path / "build.log").read_text() == "compiling\n"


def test_a_connection_that_keeps_breaking_is_waited_for_a_bounded_number_of_times(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeDocker([reset] * 10)
    with pytest.raises(EngineDropped, match=r"^the connection to the Docker engine broke 4 times in one step$"):
        step(engine_of(fake, monkeypatch), tmp_path)
    assert len(fake.wait_timeouts) == engine_module.RECONNECTS + 1 and fake.removed


def test_a_wait_that_runs_out_of_time_is_still_a_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeDocker([read_timed_out])
    assert step(engine_of(fake, monkeypatch), tmp_path, timeout=5) == RunOutcome(None)
    assert fake.killed and fake.removed
