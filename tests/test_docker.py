"""Real cells in real containers: the curlint fixture on trixie's GHC 9.6 and bookworm's GHC 9.0."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import docker
import pytest
import yaml

from compat import matrix
from compat.analysis.probe import parse_probe
from compat.engine import Engine
from compat.images import Image, ImageBuilder
from compat.pins import plan_hackage
from tests import bridge
from tests.conftest import ROOT
from tests.sdists import ALPHA, ZETA, write_sdist
from tests.test_summary import summarised

pytestmark = pytest.mark.docker
FIXTURES = ROOT / "tests" / "fixtures"


def variant(base: Path, name: str, file: str, old: str, new: str) -> Path:
    """A copy of the fixture with one real change in one file."""
    target = base / name
    shutil.copytree(FIXTURES / "curlint", target)
    path = target / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return target


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cells")
    data = yaml.safe_load((FIXTURES / "matrix.yaml").read_text())
    sources = {"curlint": FIXTURES / "curlint",
               "curlint-testfail": variant(base, "testfail", "tests/Tests.hs", "15511210043330985984000000",
                                           "15511210043330985984000001"),
               "curlint-deps": variant(base, "deps", "curlint.cabal", "curl >= 1.3 && < 1.4", "curl >= 99"),
               "curlint-compile": variant(base, "compile", "src/CurlInt.hs", "digits = length . show . abs",
                                          "digits = length . abs")}
    data["sources"] = {name: {"kind": "path", "path": str(path), "recipe": "curlint"} for name, path in sources.items()}
    # A test step that hangs, to interrupt a run in the middle of a container.
    data["recipes"]["curlint-hangs"] = dict(data["recipes"]["curlint"], steps=dict(
        data["recipes"]["curlint"]["steps"], test=[["sleep", "600"]]))
    data["sources"]["curlint-hangs"] = {"kind": "path", "path": str(FIXTURES / "curlint"), "recipe": "curlint-hangs"}
    data["recipes"]["curlint-uninstallable"] = dict(data["recipes"]["curlint"], packages=[
        *data["recipes"]["curlint"]["packages"], "libcurl4-openssl-dev"])
    data["sources"]["curlint-uninstallable"] = {"kind": "path", "path": str(FIXTURES / "curlint"),
                                                "recipe": "curlint-uninstallable"}
    # A bindist whose download cannot be had: what GHC 7.8 and 7.10 are on a machine without upstream access.
    data["toolchains"]["ghc-gone"] = {
        "kind": "bindist", "suite": "jessie", "ghc": "7.10.2", "flavors": ["openssl"],
        "downloads": [{"name": "ghc", "url": "http://127.0.0.1:9/ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2",
                       "sha1": "f028e4a07995353a47286478fc8644f66defa227"}]}
    (base / "matrix.yaml").write_text(yaml.safe_dump(data))
    return base


def run(workspace: Path, run_id: str, toolchain: str, sources: str, *extra: str, fresh: bool = True
        ) -> tuple[int, str, dict[str, dict]]:
    """Run cells through the real command line (each cell really run, unless fresh is False); their
    results by "source/flavor"."""
    done = subprocess.run([sys.executable, "-m", "compat", "--matrix", str(workspace / "matrix.yaml"),
                           "--reports", str(workspace / "reports"), "run", "--toolchain", toolchain,
                           "--source", sources, "--run-id", run_id, *(["--fresh"] if fresh else []), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=2400, check=False)
    assert "Traceback" not in done.stderr + done.stdout
    stored = workspace / "reports" / "runs" / run_id / "run.json"
    record = json.loads(stored.read_text()) if stored.exists() else {}
    if record.get("finished") and not record.get("interrupted"):
        assert summarised(workspace / "reports" / "runs" / run_id)  # what the reports read of the run
    cells = {}
    for path in (workspace / "reports" / "runs" / run_id / "cells").glob("*.json"):
        result = json.loads(path.read_text())
        cells[f"{result['source']}/{result['flavor']}"] = result
    return done.returncode, done.stderr, cells


def assert_links(cell: dict, flavor: str) -> None:
    """The linkage facts confirm the flavor the cell asked for, and the probe measures what TLS asks of GMP."""
    assert cell["ssl"]["curl_flavors"] == [flavor], cell["ssl"]
    assert "ssl:flavor-mismatch" not in [flag["name"] for flag in cell["flags"]]
    assert cell["ssl"]["gmp_hook"] is False
    assert cell["probe"]["plain"] == "pass" and cell["probe"]["counting"] == "pass", cell["probe"]
    per_request = cell["probe"]["gmp_allocations_per_request"]
    assert per_request > 0 if flavor == "gnutls" else per_request == 0


def test_trixie_cells_pass_fail_tests_deps_and_compile_in_both_flavors(workspace: Path) -> None:
    code, progress, cells = run(workspace, "trixie", "ghc96", "curlint,curlint-testfail,curlint-deps,curlint-compile",
                                "--jobs", "2")
    assert code == 1
    assert "2 groups at once, make -j1 each" in progress  # two groups share the cores, each its own volume
    ok = cells["curlint/gnutls"]
    assert ok["status"] == "pass", ok
    assert ok["tests"] == {"total": 3, "passed": 3, "failed": 0, "failed_names": []}
    assert ok["ghc"]["version"] == "9.6.6" and ok["ghc"]["integer_library"] == "ghc-bignum"
    assert set(ok["timings"]) >= {"image", "configure", "build", "test"}
    assert_links(ok, "gnutls")

    openssl = cells["curlint/openssl"]
    assert openssl["status"] == "pass", openssl
    assert openssl["compiled_by"] == "ghc96--curlint--gnutls"  # relinked, not recompiled
    assert "configure" not in openssl["timings"]
    assert_links(openssl, "openssl")

    for flavor in ("gnutls", "openssl"):
        failing = cells[f"curlint-testfail/{flavor}"]
        assert failing["status"] == "test-fail"
        assert failing["tests"]["failed_names"] == ["Integer/factorial 25"]
        assert_links(failing, flavor)

        deps = cells[f"curlint-deps/{flavor}"]
        assert (deps["status"], deps["cause"]) == ("build-fail", "deps")
        assert any("curl >=99" in line for line in deps["evidence"]), deps["evidence"]

        compile_ = cells[f"curlint-compile/{flavor}"]
        assert (compile_["status"], compile_["cause"]) == ("build-fail", "compile")
        assert any(line.startswith("src/CurlInt.hs:") and "error" in line for line in compile_["evidence"])


def test_a_further_flavor_relinks_executables_against_its_libcurl_and_libraries_as_they_were(workspace: Path) -> None:
    # The shared library only Template Haskell loads keeps the first flavor's libcurl (byte for byte the
    # library it was, so GHC >= 9.4 compiles nothing again); the executables, inspected, link their own.
    code, _, cells = run(workspace, "kept-libraries", "ghc96", "curlint", "--keep")
    volume = "ganeti-compat-kept-libraries--ghc96--curlint"
    client = docker.from_env()
    try:
        assert code == 0 and cells["curlint/openssl"]["compiled_by"] == "ghc96--curlint--gnutls"
        assert_links(cells["curlint/openssl"], "openssl")
        needed = client.containers.run(
            cells["curlint/openssl"]["image"],
            ["sh", "-c", "for so in /build/src/dist/build/libHScurlint-*.so; do readelf -d \"$so\"; done"],
            volumes={volume: {"bind": "/build", "mode": "ro"}}, network_disabled=True, remove=True).decode()
        assert "libcurl-gnutls.so.4" in needed and "[libcurl.so.4]" not in needed, needed
    finally:
        client.volumes.get(volume).remove(force=True)


def test_bookworm_cells_pass_in_both_flavors_and_images_are_reused(workspace: Path) -> None:
    code, _, cells = run(workspace, "bookworm-1", "ghc90", "curlint")
    assert code == 0
    for flavor in ("gnutls", "openssl"):
        assert cells[f"curlint/{flavor}"]["status"] == "pass"
        assert cells[f"curlint/{flavor}"]["ghc"]["version"] == "9.0.2"
        assert_links(cells[f"curlint/{flavor}"], flavor)
    # Nothing changed: the image is checked against its suite and reused, the source fetched and found the
    # same, and each cell takes its result from bookworm-1 instead of building, testing and probing again.
    code, progress, again = run(workspace, "bookworm-2", "ghc90", "curlint", fresh=False)
    assert code == 0
    assert "reused, not rebuilt" in progress
    assert "every cell was unchanged since an earlier run and reused" in progress
    for flavor in ("gnutls", "openssl"):
        cell, earlier = again[f"curlint/{flavor}"], cells[f"curlint/{flavor}"]
        assert cell["image_reused"] is True and cell["image"] == earlier["image"]
        assert (cell["reused_from"], cell["run_id"], cell["fingerprint"]) == ("bookworm-1", "bookworm-2",
                                                                             earlier["fingerprint"])
        assert cell["tests"] == earlier["tests"] and "build" not in cell["timings"]
        assert (workspace / "reports" / "runs" / "bookworm-2" / cell["logs"]["build"]).is_file()


def test_an_unchanged_run_fetches_its_source_once_for_every_cell(workspace: Path, tmp_path: Path) -> None:
    # The curlint tree as a tarball served to the containers, each download counted.
    served_dir = tmp_path / "served"
    served_dir.mkdir()
    with tarfile.open(served_dir / "curlint-0.1.tar.gz", "w:gz") as archive:
        archive.add(FIXTURES / "curlint", arcname="curlint-0.1")
    served = bridge.Served(served_dir)
    try:
        data = yaml.safe_load((workspace / "matrix.yaml").read_text())
        data["sources"] = {"served": {"kind": "tarball", "url": f"{served.url}curlint-0.1.tar.gz", "recipe": "curlint",
                                      "sha256": hashlib.sha256((served_dir / "curlint-0.1.tar.gz").read_bytes()).hexdigest()}}
        (tmp_path / "matrix.yaml").write_text(yaml.safe_dump(data))
        code, _, first = run(tmp_path, "served-1", "ghc96", "served")
        assert code == 0 and [first[f"served/{f}"]["status"] for f in ("gnutls", "openssl")] == ["pass", "pass"]
        assert len(served.requests) == 1  # the further flavor relinks the first one's tree
        code, _, again = run(tmp_path, "served-2", "ghc96", "served", fresh=False)
        assert code == 0 and [again[f"served/{f}"]["reused_from"] for f in ("gnutls", "openssl")] == ["served-1"] * 2
        # The first cell fetched the source and found it unchanged; the further one is taken by that digest.
        assert len(served.requests) == 2
        assert "fetch" in again["served/gnutls"]["timings"] and "fetch" not in again["served/openssl"]["timings"]
    finally:
        served.close()


def test_fault_injection_is_reported_apart_and_never_changes_the_matrix(workspace: Path) -> None:
    code, _, before = run(workspace, "plain", "ghc96", "curlint")
    assert code == 0
    report_before = json.loads((workspace / "reports" / "latest.json").read_text())
    code, _, cells = run(workspace, "fault", "ghc96", "curlint", "--probe-fault", "hostile-gmp")
    assert code == 0  # the hazard was installed by the tool: no verdict on the toolchain
    gnutls, openssl = cells["curlint/gnutls"], cells["curlint/openssl"]
    assert gnutls["status"] == "pass" and "ssl:gmp-allocator-conflict" not in [f["name"] for f in gnutls["flags"]]
    assert gnutls["fault_injection"]["hostile_gmp"] == "crash (SIGSEGV)"
    assert gnutls["ssl_recommendation"] == before["curlint/gnutls"]["ssl_recommendation"]
    assert openssl["fault_injection"]["hostile_gmp"] == "pass"
    assert json.loads((workspace / "reports" / "runs" / "fault" / "run.json").read_text())["kind"] == "fault-injection"
    report = json.loads((workspace / "reports" / "latest.json").read_text())
    assert [c["run_id"] for c in report["cells"] if c["source"] == "curlint"] == \
        [c["run_id"] for c in report_before["cells"] if c["source"] == "curlint"]
    assert {c["run_id"] for c in report["fault_injection"]} == {"fault"}
    text = (workspace / "reports" / "latest.md").read_text()
    assert "## Fault injection" in text and "GnuTLS crashes under a hostile GMP allocator hook" in text


def test_packages_apt_cannot_install_together_are_a_dependency_failure_not_unavailable(workspace: Path) -> None:
    # trixie's libghc-curl-dev needs libcurl4-gnutls-dev, which conflicts with libcurl4-openssl-dev.
    code, progress, cells = run(workspace, "uninstallable", "ghc96", "curlint-uninstallable", "--flavor", "gnutls")
    assert code == 1, progress
    cell = cells["curlint-uninstallable/gnutls"]
    assert (cell["status"], cell["cause"]) == ("build-fail", "deps")
    assert cell["evidence"][0] == "The following packages have unmet dependencies:"
    assert any("Conflicts: libcurl4-openssl-dev" in line for line in cell["evidence"])


@pytest.mark.parametrize("stop, code, said", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_or_sigterm_leaves_no_container_or_volume_behind(workspace: Path, stop: int, code: int, said: str) -> None:
    # Names of this attempt only: an attempt that fails leaves nothing a later one would trip over.
    attempt = f"{said}-{os.getpid()}-{time.monotonic_ns()}"
    run_id = f"stopped-{attempt}"
    command = [sys.executable, "-m", "compat", "--matrix", str(workspace / "matrix.yaml"), "--reports",
               str(workspace / "reports"), "run", "--toolchain", "ghc96", "--source", "curlint-hangs",
               "--run-id", run_id]
    # A background job's children start with SIGINT ignored; a person's Ctrl-C reaches a foreground one.
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    client = docker.from_env()
    selector = {"label": f"org.ganeti-compat.run={run_id}"}
    with subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                          preexec_fn=restore) as process:  # noqa: PLW1509 (the test runs no threads)
        assert process.stderr is not None
        other_volume = other_container = None
        ended = False
        # Everything the run says is kept by a reader thread, so that a failure below can show it.
        seen: list[str] = []
        reader = threading.Thread(target=lambda: seen.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
        reader.start()
        try:
            deadline = time.monotonic() + 600
            while not any("curlint-hangs--gnutls: test ..." in line for line in seen) and time.monotonic() < deadline:
                assert process.poll() is None, "".join(seen)
                time.sleep(0.5)
            assert any("test ..." in line for line in seen), "".join(seen)  # the run reached its hanging step
            # Another run's container and volume, running beside this one: they must outlive this run's end.
            other = {"org.ganeti-compat": "1", "org.ganeti-compat.run": f"other-{attempt}"}
            other_volume = client.volumes.create(f"ganeti-compat-other-{attempt}--t--s", labels=other)
            # Generous: an engine committing a 2 GB image layer for another job holds container creation back.
            # The step runs a short command before the hanging one: wait for the one that hangs.
            deadline = time.monotonic() + 180
            hangs = lambda: [c for c in client.containers.list(filters=selector) if c.attrs["Config"]["Cmd"] == [
                "sleep", "600"]]
            while not hangs() and time.monotonic() < deadline:
                time.sleep(0.5)
            running = hangs()
            assert running, (f"the test step's container should be running (run exited: {process.poll()}); "
                             f"it said:\n{''.join(seen)}")
            other_container = client.containers.run(running[0].image.id, ["sleep", "300"], labels=other, detach=True,
                                                    volumes={other_volume.name: {"bind": "/build", "mode": "rw"}},
                                                    network_disabled=True)
            process.send_signal(stop)
            exited = process.wait(timeout=120)
            reader.join(timeout=30)
            rest = "".join(seen)
            assert exited == code, rest
            other_container.reload()
            assert other_container.status == "running"
            assert [v.name for v in client.volumes.list(filters={"label": f"org.ganeti-compat.run=other-{attempt}"})] == [
                other_volume.name]
            ended = True
        finally:
            if not ended:  # end the run and what it started, so that the failure is this attempt's alone
                process.kill()
                process.wait()
                for container in client.containers.list(all=True, filters=selector):
                    container.remove(force=True)
                for volume in client.volumes.list(filters=selector):
                    volume.remove(force=True)
            if other_container is not None:
                other_container.remove(force=True)
            if other_volume is not None:
                other_volume.remove(force=True)
    assert f"{said}: removing this run's containers and volumes" in rest
    record = json.loads((workspace / "reports" / "runs" / run_id / "run.json").read_text())
    assert record["interrupted"] is True
    assert client.containers.list(all=True, filters=selector) == []
    assert client.volumes.list(filters=selector) == []


def test_unreachable_bindist_is_unavailable_naming_the_download(workspace: Path) -> None:
    code, progress, cells = run(workspace, "gone", "ghc-gone", "curlint")
    assert code == 4
    cell = cells["curlint/openssl"]
    assert cell["status"] == "unavailable"
    assert cell["evidence"][0].startswith("1 of 1 downloads of ghc-gone cannot be had; looked in 127.0.0.1:9 (")
    assert "--downloads DIR" in cell["evidence"][0]
    assert cell["evidence"][1:] == ["missing: ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2"]
    # The offline way in: an empty directory is named among the places looked in; a file of the right name
    # and the wrong content is one line naming both digests.
    offline = workspace / "offline"
    offline.mkdir()
    code, _, cells = run(workspace, "gone-offline", "ghc-gone", "curlint", "--downloads", str(offline))
    assert code == 4
    assert f"looked in {offline}, 127.0.0.1:9 (" in cells["curlint/openssl"]["evidence"][0]
    (offline / "ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2").write_bytes(b"not the bindist")
    code, _, cells = run(workspace, "gone-wrong", "ghc-gone", "curlint", "--downloads", str(offline))
    assert code == 4
    assert cells["curlint/openssl"]["evidence"] == [
        (f"{offline}/ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2 does not match its pin: sha1 is "
        f"{hashlib.sha1(b'not the bindist').hexdigest()}, matrix.yaml pins f028e4a07995353a47286478fc8644f66defa227")]
    assert "unavailable" in progress


def test_a_real_change_between_two_runs_is_a_regression_unless_expected(workspace: Path, tmp_path: Path) -> None:
    source = tmp_path / "curlint-nightly"
    shutil.copytree(FIXTURES / "curlint", source)
    data = yaml.safe_load((workspace / "matrix.yaml").read_text())
    data["sources"] = {"curlint-nightly": {"kind": "path", "path": str(source), "recipe": "curlint"}}
    nightly = tmp_path / "nightly"
    nightly.mkdir()
    (nightly / "matrix.yaml").write_text(yaml.safe_dump(data))
    key = "ghc96--curlint-nightly--gnutls"
    code, _, first = run(nightly, "night-1", "ghc96", "curlint-nightly", "--flavor", "gnutls")
    assert code == 0 and first["curlint-nightly/gnutls"]["status"] == "pass"
    tests = source / "tests" / "Tests.hs"
    tests.write_text(tests.read_text().replace("15511210043330985984000000", "15511210043330985984000001"))
    code, _, second = run(nightly, "night-2", "ghc96", "curlint-nightly", "--flavor", "gnutls")
    assert code == 1 and second["curlint-nightly/gnutls"]["status"] == "test-fail"

    def compat_diff() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "compat", "--matrix", str(nightly / "matrix.yaml"), "--reports",
                               str(nightly / "reports"), "diff"], cwd=ROOT, capture_output=True, text=True, check=False)

    found = compat_diff()
    assert found.returncode == 1, found.stderr
    regressions = found.stdout.split("### Regressions\n\n")[1].split("\n\n")[0].splitlines()
    before, after = (first["curlint-nightly/gnutls"]["manifest"]["source"],
                     second["curlint-nightly/gnutls"]["manifest"]["source"])
    assert regressions[0].startswith(f"- `{key}`: pass -> test-fail: 1 of 3 tests failed (compared with ")
    assert regressions[1:] == [
                               "  - tests newly failing (1): Integer/factorial 25",
                               f"  - changed beside it: source {before} -> {after}"]
    report = (nightly / "reports" / "latest.md").read_text()
    assert report.index("### Regressions") < report.index("| toolchain")

    data["expected"] = [{"cell": "ghc96--curlint-nightly--*", "test": "Integer/factorial*",
                         "reason": "the fixture was changed to fail"}]
    (nightly / "matrix.yaml").write_text(yaml.safe_dump(data))
    found = compat_diff()
    assert found.returncode == 0, found.stdout
    assert "### Regressions" not in found.stdout
    assert (f"- `{key}`: pass -> test-fail: expected (test Integer/factorial\\*): the fixture was changed to fail"
            in found.stdout)  # Markdown: a bare * would open emphasis


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_the_page_of_a_real_run_reads_in_chromium_and_shows_hostile_text_as_text(workspace: Path,
                                                                                  tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (.ci/run installs it)"
    hostile = tmp_path / "curlint-hostile"
    shutil.copytree(FIXTURES / "curlint", hostile)
    tests = hostile / "tests" / "Tests.hs"
    tests.write_text(tests.read_text().replace('"factorial 25"', '"factorial <script>document.title=\\"pwned\\"</script>"')
                     .replace("15511210043330985984000000", "15511210043330985984000001"))
    data = yaml.safe_load((workspace / "matrix.yaml").read_text())
    data["sources"] = {"curlint": {"kind": "path", "path": str(FIXTURES / "curlint"), "recipe": "curlint"},
                       "curlint-hostile": {"kind": "path", "path": str(hostile), "recipe": "curlint"}}
    page_dir = tmp_path / "page"
    page_dir.mkdir()
    (page_dir / "matrix.yaml").write_text(yaml.safe_dump(data))
    code, _, cells = run(page_dir, "page", "ghc96", "curlint,curlint-hostile", "--flavor", "gnutls")
    assert code == 1 and cells["curlint-hostile/gnutls"]["status"] == "test-fail"
    page = page_dir / "reports" / "latest.html"
    profile = ["--user-data-dir=" + str(tmp_path / "chromium-profile")]
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, *profile, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    report = json.loads((page_dir / "reports" / "latest.json").read_text())
    assert dom.count("class=\"cell status-") == len(report["cells"]) == 2
    assert "<title>pwned</title>" not in dom and "<title>Ganeti toolchain" in dom.replace("\n", "")
    assert 'factorial &lt;script&gt;document.title="pwned"&lt;/script&gt;' in dom  # shown as text
    artifacts = ROOT / "reports" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "latest-html.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, *profile, "--window-size=1280,1600", f"--screenshot={shot}",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000


def test_faults_of_a_cell_are_outcomes_and_the_other_cells_run_on(workspace: Path, tmp_path: Path) -> None:
    data = yaml.safe_load((workspace / "matrix.yaml").read_text())
    data["timeouts"] = dict(data["timeouts"], test=10)
    curlint = data["recipes"]["curlint"]
    steps = lambda **changed: dict(curlint, steps=dict(curlint["steps"], **changed))
    data["recipes"] = {
        "curlint": curlint,
        "hangs": steps(test=[["sleep", "600"]]),
        # The test process dies of SIGSEGV (as a child: PID 1 of a container ignores the signal).
        "segfaults": steps(test=[["sh", "-c", "sh -c 'kill -SEGV $$'"]]),
        # Steps after the fetch have no network: proven by a build step that tries to reach the mirror.
        "reaches-out": steps(build=[["curl", "-sS", "--max-time", "10", "http://deb.debian.org/debian/"]]),
    }
    here = str(FIXTURES / "curlint")
    data["sources"] = {
        "curlint": {"kind": "path", "path": here, "recipe": "curlint"},
        "hangs": {"kind": "path", "path": here, "recipe": "hangs"},
        "segfaults": {"kind": "path", "path": here, "recipe": "segfaults"},
        "reaches-out": {"kind": "path", "path": here, "recipe": "reaches-out"},
        "unreachable": {"kind": "tarball", "url": "http://127.0.0.1:9/curlint-0.1.tar.gz", "sha256": "0" * 64,
                        "recipe": "curlint"},
    }
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "matrix.yaml").write_text(yaml.safe_dump(data))
    code, _, cells = run(faults, "faults", "ghc96", "hangs,segfaults,reaches-out,unreachable,curlint", "--flavor", "gnutls")
    assert code == 1
    verdict = {name.split("/")[0]: (cell["status"], cell["cause"], cell["evidence"]) for name, cell in cells.items()}
    assert verdict["hangs"][:2] == ("timeout", None)
    assert verdict["hangs"][2][0] == "step test ran past its timeout of 10 s"
    assert verdict["segfaults"][:2] == ("crash", None)
    assert "exit code 139: killed by SIGSEGV" in verdict["segfaults"][2]
    assert verdict["reaches-out"][:2] == ("build-fail", "unknown")
    assert any("Could not resolve host" in line for line in verdict["reaches-out"][2]), verdict["reaches-out"]
    assert verdict["unreachable"][:2] == ("error", "fetch")
    assert "compat-fetch: cannot download http://127.0.0.1:9/curlint-0.1.tar.gz" in verdict["unreachable"][2]
    assert verdict["curlint"][0] == "pass"  # the others ran on


class SecondEngine:
    """A second dockerd on its own socket and data directory: one a test may stop and start again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = f"unix://{root}/docker.sock"
        self.process: subprocess.Popen[bytes] | None = None

    BRIDGE, ADDRESS = "gc-test-br0", "172.31.251.1/24"

    def start(self) -> None:
        # A bridge of its own: with `--bridge none` dockerd deletes docker0, the first engine's bridge, and
        # every later container of the first engine fails to start.
        if subprocess.run(["ip", "link", "show", self.BRIDGE], capture_output=True, check=False).returncode:
            for command in (["ip", "link", "add", self.BRIDGE, "type", "bridge"],
                            ["ip", "addr", "add", self.ADDRESS, "dev", self.BRIDGE],
                            ["ip", "link", "set", self.BRIDGE, "up"]):
                subprocess.run(command, check=True)
        self.process = subprocess.Popen(
            ["dockerd", "--host", self.host, "--data-root", str(self.root / "data"), "--exec-root",
             str(self.root / "exec"), "--pidfile", str(self.root / "docker.pid"), "--bridge", self.BRIDGE,
             "--iptables=false", "--ip-masq=false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:  # a plain socket: docker-py leaks one for each refused connection
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(self.root / "docker.sock"))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
            time.sleep(0.5)
        with contextlib.closing(docker.DockerClient(base_url=self.host)) as client:
            client.ping()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
            self.process = None

    def remove(self) -> None:
        self.stop()
        subprocess.run(["ip", "link", "delete", self.BRIDGE], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def test_an_engine_lost_mid_run_leaves_an_incomplete_run_that_resumes(workspace: Path, tmp_path: Path) -> None:
    code, _, cells = run(workspace, "for-second-engine", "ghc96", "curlint", "--flavor", "gnutls")
    assert code == 0
    image = cells["curlint/gnutls"]["image"]
    with contextlib.closing(Engine()) as engine:
        plan = engine.labels(image)["org.ganeti-compat.plan"]
        toolchain = next(tag for tag, _, labels in engine.images_labelled(f"org.ganeti-compat.plan={plan}")
                         if "org.ganeti-compat.flavor" not in labels and not tag.endswith("-new"))
        base = next(tag for tag, _ in engine.images_named("ganeti-compat/base")
                    if tag.startswith("ganeti-compat/base:trixie-"))
    second = SecondEngine(Path(tempfile.mkdtemp(prefix="gc-d2-", dir="/tmp")))  # a short socket path
    second.start()
    try:
        # The toolchain image, its flavor layer and base, as the second engine's own (no registry here).
        with subprocess.Popen(["docker", "save", image, toolchain, base], stdout=subprocess.PIPE) as save:
            subprocess.run(["docker", "-H", second.host, "load", "-q"], stdin=save.stdout, check=True,
                           capture_output=True)
        assert save.returncode == 0
        data = yaml.safe_load((workspace / "matrix.yaml").read_text())
        recipe = data["recipes"]["curlint"]
        data["recipes"]["slow"] = dict(recipe, steps=dict(recipe["steps"], test=[["sleep", "25"]]))
        data["sources"] = {"curlint": {"kind": "path", "path": str(FIXTURES / "curlint"), "recipe": "curlint"},
                           "slow": {"kind": "path", "path": str(FIXTURES / "curlint"), "recipe": "slow"}}
        lost = tmp_path / "lost"
        lost.mkdir()
        (lost / "matrix.yaml").write_text(yaml.safe_dump(data))
        command = [sys.executable, "-m", "compat", "--matrix", str(lost / "matrix.yaml"), "--reports",
                   str(lost / "reports"), "run", "--toolchain", "ghc96", "--source", "curlint,slow", "--flavor",
                   "gnutls", "--run-id", "lost"]
        environment = dict(os.environ, DOCKER_HOST=second.host)
        with subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True, env=environment) as process:
            assert process.stderr is not None
            for line in process.stderr:
                if "ghc96--slow--gnutls: test ..." in line:
                    break
            time.sleep(2)
            second.stop()
            rest = process.stderr.read()
            assert process.wait(timeout=120) == 3, rest
        assert rest.strip().splitlines()[-1].startswith("ganeti-compat: the Docker engine stopped answering: ")
        assert rest.strip().endswith("run lost is incomplete: `python -m compat run --resume lost` once an engine "
                                     "answers")
        run_dir = lost / "reports" / "runs" / "lost"
        record = json.loads((run_dir / "run.json").read_text())
        assert record["interrupted"] is True and "stopped answering" in record["reason"]
        finished = json.loads((run_dir / "cells" / "ghc96--curlint--gnutls.json").read_text())
        in_flight = json.loads((run_dir / "cells" / "ghc96--slow--gnutls.json").read_text())
        assert finished["status"] == "pass" and (in_flight["status"], in_flight["cause"]) == ("error", "engine")

        second.start()
        done = subprocess.run([*command[:-2], "--resume", "lost"], cwd=ROOT, capture_output=True, text=True,
                              env=environment, timeout=600, check=False)
        assert "resuming run lost: 1 cell(s) kept, 1 to run" in done.stderr, done.stderr
        again = json.loads((run_dir / "cells" / "ghc96--curlint--gnutls.json").read_text())
        assert again["started"] == finished["started"]  # not redone
        resumed = json.loads((run_dir / "cells" / "ghc96--slow--gnutls.json").read_text())
        assert resumed["status"] != "error", resumed["evidence"]
        assert json.loads((run_dir / "run.json").read_text())["interrupted"] is False
    finally:
        second.remove()
        assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True, check=False).returncode == 0


def curlint_image(engine: Engine, m: matrix.Matrix, tmp_path: Path) -> Image:
    """The fixture's GHC 9.6 image, not held (no holder container outlives the test)."""
    builder = ImageBuilder(engine, tmp_path / "cache", lambda line: None)
    image = builder.ensure(m.toolchains["ghc96"], m.recipes["curlint"], tmp_path / "image.log")
    builder.release()
    return image


def test_the_counting_shim_counts_through_an_allocator_the_program_installs_after_start_up(tmp_path: Path) -> None:
    # GHC <= 7.8's runtime installed its own GMP allocator during start-up, after the preloaded shim's
    # constructor; a C program doing the same stands in for it, built in a real toolchain image.
    m = matrix.load(FIXTURES / "matrix.yaml")
    engine = Engine()
    image = curlint_image(engine, m, tmp_path)
    shim = (ROOT / "images" / "scripts" / "probe" / "gmpshim.c").read_text()
    late = (FIXTURES / "late-allocator.c").read_text()
    script = ('cd /tmp && printf %s "$1" > shim.c && printf %s "$2" > late.c && '
              "gcc -shared -fPIC -o shim.so shim.c -lgmp -ldl && gcc -o late late.c -lgmp || exit 99; "
              "GANETI_COMPAT_PROBE_RUN=late LD_PRELOAD=/tmp/shim.so ./late; "
              "GANETI_COMPAT_PROBE_RUN=hostile GANETI_COMPAT_GMP_SHIM=hostile LD_PRELOAD=/tmp/shim.so ./late; "
              'echo "probe-exit hostile $?"')
    code, text = engine.output(image.tag, ["sh", "-c", script, "sh", shim, late], network=False, timeout=300)
    assert code == 0, text
    own = int(re.search(r"own allocations (\d+)", text).group(1))  # type: ignore[union-attr]
    probe = parse_probe(text, 1)
    assert own > 0 and probe.allocations["late"] == own, text  # every one counted, through the program's allocator
    assert probe.attributed["late"] == {"tls": 0, "other": own, "unknown": 0, "poisoned": 0}, text  # the program's
    assert "gmp-shim: the program installed its own allocator 1 time(s): counted through it (late)" in text
    # The hostile hook stays in front of it too, and poisons only what TLS libraries allocate: none here.
    assert probe.exits["hostile"] == 0 and probe.attributed["hostile"]["poisoned"] == 0, text


def test_pinned_sdists_install_offline_with_their_own_setup_in_the_order_their_cabal_files_give(tmp_path: Path) -> None:
    # What a bindist image does with its pinned Hackage sdists (images/scripts/install-sdists), on a real GHC:
    # no network, no package index, no cabal-install; in the order compat.pins reads from the tarballs.
    m = matrix.load(FIXTURES / "matrix.yaml")
    engine = Engine()
    image = curlint_image(engine, m, tmp_path)
    sdists = {f"{ident}.tar.gz": write_sdist(tmp_path, ident, files)
              for ident, files in (("compat-alpha-1.0", ALPHA), ("compat-zeta-0.1", ZETA))}
    plan = plan_hackage("9.6.6", sdists)
    assert plan.order == ("compat-zeta-0.1.tar.gz", "compat-alpha-1.0.tar.gz") and plan.problems == ()
    installer = (ROOT / "images" / "scripts" / "install-sdists").read_text()
    script = ('printf %s "$1" > /tmp/install-sdists && printf %s "$2" > /tmp/order && shift 2 && mkdir /tmp/sdists '
              '&& while [ $# -gt 0 ]; do printf %s "$2" | base64 -d > "/tmp/sdists/$1"; shift 2; done '
              "&& sh /tmp/install-sdists /tmp/order /tmp/sdists /usr/local && /usr/local/bin/compat-alpha")
    files = [part for name, path in sdists.items() for part in (name, base64.b64encode(path.read_bytes()).decode())]

    def install(order: tuple[str, ...]) -> tuple[int | None, str]:
        return engine.output(image.tag, ["sh", "-c", script, "sh", installer, "".join(f"{n}\n" for n in order), *files],
                             network=False, timeout=600)

    code, text = install(plan.order)
    assert code == 0 and "hello from compat-zeta via compat-alpha" in text, text
    # The flag on by default that wants a package nobody has was turned off by configure, as the reader said.
    assert "compat-nowhere" not in text, text
    code, text = install(tuple(reversed(plan.order)))  # the order matters: the other way round fails
    assert code != 0 and "compat-zeta" in text, text
