"""Images follow their suite, and the engine's step outcomes, against the real Docker engine.

The suite that moves is a small local apt repository served to the containers over HTTP: its one package
goes from version 1 to 2 between two runs, as a new upload reaches sid overnight.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from compat.engine import Engine, RunOutcome
from compat.images import Image, ImageBuilder
from compat.matrix import Limits, Recipe, Toolchain
from tests import bridge
from tests.conftest import ROOT

pytestmark = pytest.mark.docker
CANARY = "ganeti-compat-canary"


class AptRepository:
    """A flat apt repository ("deb [trusted=yes] URL ./") holding one version of one package."""

    def __init__(self, root: Path, host: str) -> None:
        self.root = root
        handler = lambda *args: http.server.SimpleHTTPRequestHandler(*args, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), handler)  # the containers' gateway reaches it
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, version: str) -> None:
        for old in self.root.glob("*.deb"):
            old.unlink()
        tree = self.root / "tree"
        shutil.rmtree(tree, ignore_errors=True)
        (tree / "DEBIAN").mkdir(parents=True)
        (tree / "DEBIAN" / "control").write_text(
            f"Package: {CANARY}\nVersion: {version}\nArchitecture: all\nMaintainer: ganeti-compat <tests@invalid>\n"
            "Description: a package that moves between two runs\n")
        deb = self.root / f"{CANARY}_{version}_all.deb"
        subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(tree), str(deb)], check=True,
                       capture_output=True)
        control = (tree / "DEBIAN" / "control").read_text()
        data = deb.read_bytes()
        packages = (f"{control}Filename: ./{deb.name}\nSize: {len(data)}\n"
                    f"SHA256: {hashlib.sha256(data).hexdigest()}\n\n").encode()
        (self.root / "Packages").write_bytes(packages)
        (self.root / "Packages.gz").write_bytes(gzip.compress(packages))
        release = "Date: Wed, 25 Nov 2026 00:00:00 UTC\nSHA256:\n" + "".join(
            f" {hashlib.sha256(blob).hexdigest()} {len(blob)} {name}\n"
            for name, blob in (("Packages", packages), ("Packages.gz", gzip.compress(packages))))
        (self.root / "Release").write_text(release)


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AptRepository]:
    gateway = bridge.gateway()
    repo = AptRepository(tmp_path_factory.mktemp("apt"), gateway)
    yield repo
    repo.server.shutdown()
    repo.server.server_close()


def canary_toolchain(repo: AptRepository) -> tuple[Toolchain, Recipe]:
    toolchain = Toolchain("canary", "a trixie toolchain with a moving package", "debian", "trixie", "9.6.6",
                          ("gnutls",), "gnutls", apt_sources=(f"deb [trusted=yes] {repo.url} ./",))
    recipe = Recipe("canary", (CANARY,), {"prepare": (), "configure": (), "build": (("true",),), "test": ()}, None, ())
    return toolchain, recipe


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A trixie base image (pulled, found, or bootstrapped as the tool does)."""
    trixie = Toolchain("trixie", "trixie", "debian", "trixie", "9.6.6", ("gnutls",), "gnutls")
    log = tmp_path_factory.mktemp("base") / "base.log"
    return ImageBuilder(Engine(), log.parent, lambda line: None).base(trixie, log)


def installed(engine: Engine, tag: str) -> str:
    code, text = engine.output(tag, ["dpkg-query", "-W", "-f=${Version}", CANARY], network=False, timeout=60)
    assert code == 0, text
    return text.strip()


def checks(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("$ check-freshness")]


def test_an_image_is_rebuilt_when_its_suite_moves_and_reused_while_it_does_not(
        repository: AptRepository, tmp_path: Path) -> None:
    engine = Engine()
    toolchain, recipe = canary_toolchain(repository)
    said: list[str] = []

    def ensure() -> Image:
        # A new builder each time, as each run of the tool makes its own, and lets go of its images at its end.
        builder = ImageBuilder(engine, tmp_path / "cache", said.append)
        image = builder.ensure(toolchain, recipe, tmp_path / "image.log")
        builder.release()
        return image

    repository.publish("1")
    first = ensure()
    try:
        assert not first.reused and installed(engine, first.tag) == "1"
        unchanged = ensure()
        assert unchanged.reused and unchanged.tag == first.tag
        assert unchanged.freshness.startswith("up to date with trixie as of ")
        assert any("reused, not rebuilt" in line for line in said)
        # Issue 22: the next run asks the suite's Release files only, and they are the ones the check read.
        (tmp_path / "image.log").unlink()
        still = ensure()
        assert still == unchanged
        assert checks(tmp_path / "image.log") == [f"$ check-freshness --lists in {first.tag}"]

        repository.publish("2")  # the same Date: in a new Release file
        moved = ensure()
        assert checks(tmp_path / "image.log")[1:] == [f"$ check-freshness --lists in {first.tag}",
                                                      f"$ check-freshness in {first.tag}"]
        assert not moved.reused and moved.tag != first.tag
        assert f"{CANARY} 1 -> 2" in moved.freshness
        assert installed(engine, moved.tag) == "2"
        assert engine.image_id(first.tag) is None  # superseded, removed

        again = ensure()
        assert again.reused and again.tag == moved.tag
    finally:
        for tag, _, _ in engine.images_labelled("org.ganeti-compat.toolchain=canary"):
            engine.remove_image(tag)


def test_a_step_that_prints_nothing_for_longer_than_the_read_timeout_keeps_its_log(base: str, tmp_path: Path) -> None:
    engine = Engine(read_timeout=3)
    log = tmp_path / "quiet.log"
    ran = engine.run(base, ["sh", "-c", "echo before; sleep 8; echo after"], log=log, volume=None, mount="",
                     workdir="/", root=True, network=False, timeout=60, env={}, labels={})
    assert ran.exit_code == 0
    assert log.read_text() == "before\nafter\n"


def test_a_command_that_does_not_exist_is_exit_127_with_its_name(base: str, tmp_path: Path) -> None:
    engine = Engine()
    log = tmp_path / "missing.log"
    ran = engine.run(base, ["exe/htest", "--jxml=/build/out/htest.xml"], log=log, volume=None, mount="", workdir="/",
                     root=True, network=False, timeout=60, env={}, labels={})
    assert ran.exit_code == 127
    assert log.read_text().splitlines()[0] == "not found: exe/htest"
    ran = engine.run(base, ["/etc/passwd"], log=log, volume=None, mount="", workdir="/", root=True, network=False,
                     timeout=60, env={}, labels={})
    assert ran.exit_code == 126


def test_a_container_that_exits_as_its_timeout_fires_keeps_its_exit_code(base: str) -> None:
    engine = Engine()
    container = engine.client.containers.create(base, command=["sh", "-c", "exit 3"], labels={"org.ganeti-compat": "1"})
    try:
        container.start()
        container.wait(timeout=60)
        # The kill the timeout sends arrives after the exit: Docker answers 409, the step's exit stands.
        assert Engine._kill(container) == 3
    finally:
        container.remove(force=True)


def test_a_last_line_without_a_newline_is_never_lost(base: str) -> None:
    # The log stream can end before dockerd writes a last partial line: the engine completes it.
    engine = Engine()
    outputs = {engine.output(base, ["dpkg-query", "-W", "-f=${Version}", "dpkg"], network=False, timeout=60)
               for _ in range(8)}
    assert len(outputs) == 1 and next(iter(outputs))[1].startswith("1.")


HOLDER = ("import sys, time\nfrom compat.engine import Engine\nprint(Engine().hold(sys.argv[1]), flush=True)\n"
          "time.sleep(300)\n")  # another run of the tool, between two steps on an image


def test_an_image_another_live_run_holds_is_not_removed_until_that_run_ends(base: str, tmp_path: Path) -> None:
    # Issue 17: one run's rebuild removed the image another run (another process) was between two steps on.
    engine = Engine()
    tag = f"ganeti-compat/hold-test:{os.getpid()}"
    (tmp_path / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nLABEL org.ganeti-compat.test=hold\n")
    assert engine.build(tmp_path, tag, {"BASE": base}, {"org.ganeti-compat": "1"}, lambda line: None)[0]
    try:
        with subprocess.Popen([sys.executable, "-c", HOLDER, tag], cwd=ROOT, stdout=subprocess.PIPE, text=True) as other:
            try:
                assert other.stdout is not None and other.stdout.readline().strip() not in ("", "None")
                assert not engine.remove_image(tag) and engine.image_id(tag) is not None  # it lives: its image stays
            finally:
                other.kill()
        assert engine.remove_image(tag) and engine.image_id(tag) is None  # it ended without letting go
        assert docker.from_env().containers.list(all=True, filters={"label": f"org.ganeti-compat.holds={tag}"}) == []
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker.from_env().images.remove(tag, force=True)


def test_clean_removes_what_a_killed_run_left_and_nothing_running(base: str, tmp_path: Path) -> None:
    client = docker.from_env()
    labels = {"org.ganeti-compat": "1", "org.ganeti-compat.run": "killed"}
    volume = client.volumes.create("ganeti-compat-killed-test", labels=labels)
    # Volumes of runs, between two steps: one whose process is gone, one whose process is alive (this one).
    dead_pid = subprocess.Popen(["true"])  # a process that has ended: its pid names no live run
    dead_pid.wait()
    here = socket.gethostname()
    orphan = client.volumes.create("ganeti-compat-orphan-test", labels={
        **labels, "org.ganeti-compat.owner": f"{here}:{dead_pid.pid}"})
    live = client.volumes.create("ganeti-compat-live-test", labels={
        **labels, "org.ganeti-compat.run": "live", "org.ganeti-compat.owner": f"{here}:{os.getpid()}"})
    stopped = client.containers.create(base, command=["true"], labels=labels)
    running = client.containers.run(base, command=["sleep", "120"], labels=labels, detach=True)
    partial = tmp_path / "cache" / "downloads" / "ghc.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half a bindist")
    try:
        done = subprocess.run([sys.executable, "-m", "compat", "--reports", str(tmp_path), "clean", "--min-age", "0"], cwd=ROOT,
                              capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"removed container {stopped.name}" in done.stdout.splitlines()
        assert "removed volume ganeti-compat-killed-test" in done.stdout.splitlines()
        assert "removed volume ganeti-compat-orphan-test" in done.stdout.splitlines()
        assert "ganeti-compat-live-test" not in done.stdout  # a live run's, between two of its steps
        assert client.volumes.get(live.name)
        assert not partial.exists()
        running.reload()
        assert running.status == "running"  # another run's step
    finally:
        running.remove(force=True)
        for leftover in (stopped, volume, orphan, live):
            with contextlib.suppress(docker.errors.NotFound):
                leftover.remove(force=True)
    young = client.containers.create(base, command=["true"], labels=labels)
    try:
        done = subprocess.run([sys.executable, "-m", "compat", "--reports", str(tmp_path), "clean"], cwd=ROOT,
                              capture_output=True, text=True, check=False, timeout=120)
        assert f"removed container {young.name}" not in done.stdout  # a live run's, by default
    finally:
        young.remove(force=True)


def test_a_step_runs_without_privileges_or_the_docker_socket_and_within_the_matrix_limits(base: str,
                                                                                          tmp_path: Path) -> None:
    engine = Engine()
    limits = Limits(memory_mib=256, pids=64)

    def run(script: str) -> tuple[RunOutcome, str]:
        log = tmp_path / "step.log"
        log.unlink(missing_ok=True)
        ran = engine.run(base, ["sh", "-c", script], log=log, volume=None, mount="", workdir="/", root=True,
                         network=False, timeout=120, env={}, labels={}, limits=limits)
        return ran, log.read_text()

    ran, said = run("grep -E '^(NoNewPrivs|CapEff)' /proc/self/status; ls /var/run/docker.sock /run/docker.sock;"
                    " cat /proc/net/dev")
    status = dict(line.split(":\t") for line in said.splitlines() if line.startswith(("NoNewPrivs", "CapEff")))
    assert status["NoNewPrivs"] == "1"  # setuid binaries cannot raise privileges
    cap_sys_admin = 1 << 21
    assert not int(status["CapEff"], 16) & cap_sys_admin  # root in a step is Docker's unprivileged root
    assert all(f"cannot access '{socket}': No such file or directory" in said  # no Docker socket
               for socket in ("/var/run/docker.sock", "/run/docker.sock"))
    assert [line.split(":")[0].strip() for line in said.splitlines() if ":" in line and "|" not in line
            and not line.startswith(("NoNewPrivs", "CapEff", "ls"))] == ["lo"]  # no network but loopback
    # tail keeps a line that never ends: 1 GB of it meets the 256 MiB limit (swap included), and the kernel kills it.
    ran, said = run("head -c 1000000000 /dev/zero | tail -n 1 >/dev/null")
    assert ran.out_of_memory and ran.exit_code == 137, said
    ran, said = run("for i in $(seq 100); do sleep 30 & done; wait")
    assert ran.exit_code == 2 and "Cannot fork" in said and not ran.out_of_memory
    ran, _ = run("true")
    assert (ran.exit_code, ran.out_of_memory) == (0, False)
