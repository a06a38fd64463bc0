"""The runner's orchestration (grouping, relink order, volume lifecycle, what each cell reads) on an
in-memory engine; what Docker does is tested against the real engine in test_docker.py."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compat import matrix, sources
from compat.engine import EngineDropped
from compat.errors import ToolchainUnavailable
from compat.images import Image, repository_of
from compat.parts import HaskellTests
from compat.results import CellResult
from compat.runner import FIRST_LIBRARIES, CellRunner, EngineLost, Stopped, plan
from tests.conftest import DATA, ROOT
from tests.memory_engine import MemoryEngine, MemoryImages

CURLINT = ROOT / "tests" / "fixtures" / "curlint"
BINARY = "dist/build/curlint-tests/curlint-tests"
# run-probe's output when HTTPS worked and TLS made no GMP allocation (the OpenSSL flavor on a modern GHC).
PROBE_OUTPUT = "probe-exit plain 0\ngmp-shim: allocations 0 (counting)\nprobe-exit counting 0\n"
JUNIT = "/build/out/junit.xml"
SONAMES = {"gnutls": "libcurl-gnutls.so.4", "openssl": "libcurl.so.4"}
PASSING = b'<testsuites><testsuite><testcase classname="Integer" name="factorial 25"/></testsuite></testsuites>'


def toolchain_text(name: str) -> str:
    return (DATA / "toolchains" / "trixie" / name).read_text()


def linkage(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
    """What inspect-build prints: each binary's libcurl, as the image that linked it left it."""
    lines = []
    for binary in argv[2:]:
        flavor = files.get(f"/build/src/{binary}", b"").decode()
        if not flavor:
            lines.append(f"== missing {binary}")
            continue
        soname = SONAMES[flavor]
        lines += [f"== object {binary}", f"needed {soname}", f"resolved {soname} /usr/lib/x86_64-linux-gnu/{soname}"]
    return 0, "\n".join(lines) + "\n"


def build(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
    files[f"/build/src/{BINARY}"] = image.rsplit("-", 1)[-1].encode()  # linked in the flavor of the image
    return 0, "Linking dist/build/curlint-tests/curlint-tests ...\n"


def relink(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
    files.pop(f"/build/src/{BINARY}", None)
    return 0, f"relink: /build/src/{BINARY}\n"


def writes_junit(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
    files[JUNIT] = PASSING
    return 0, "Test Cases  Total\n Passed  1\n"


def remove(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
    for path in argv[2:]:
        files.pop(path, None)
    return 0, ""


@pytest.fixture
def engine() -> MemoryEngine:
    return answering_engine()


def answering_engine() -> MemoryEngine:
    """Answers the curlint fixture's commands, and inspections with trixie's real outputs."""
    engine = MemoryEngine()
    answers = {"ghc": "ghc-info.txt", "ghc-pkg": "ghc-pkg-dump.txt", "dpkg-query": "dpkg-libghc.tsv"}
    for command, name in answers.items():
        engine.on((command,), lambda files, argv, image, name=name: (0, toolchain_text(name)))
    engine.on(("ghc-pkg", "list"), lambda files, argv, image: (0, toolchain_text("ghc-pkg-list.txt")))
    engine.on(("ghc-pkg", "check"), lambda files, argv, image: (0, toolchain_text("ghc-pkg-check.txt")))
    engine.on(("find",), lambda files, argv, image: (0, "./src/CurlInt.hs\n./tests/Tests.hs\n"))
    engine.on(("sh", "/build/.compat/inspect-build"), linkage)
    engine.on(("sh", "/build/.compat/relink-curl-binaries"), relink)
    engine.on(("sh", "/build/.compat/run-probe"), lambda files, argv, image: (0, PROBE_OUTPUT))
    engine.on(("runhaskell", "Setup.hs", "build"), build)
    engine.on(("rm", "-f"), remove)
    engine.on((BINARY,), writes_junit)
    engine.on(("sh", FIRST_LIBRARIES), lambda files, argv, image: engine.answer(files, argv[3:], image))
    return engine


def run(engine: MemoryEngine, tmp_path: Path, flavors: list[str] | None = None) -> list[CellResult]:
    m = matrix.load(ROOT / "tests" / "fixtures" / "matrix.yaml")
    runner = CellRunner(engine, m, tmp_path / "runs" / "r1", lambda line: None, MemoryImages())
    results: list[CellResult] = []
    for group in plan(m, ["ghc96"], ["curlint"], flavors):
        runner.run_group(group, results.append)
    return results


def test_the_first_flavor_compiles_and_a_further_flavor_relinks_its_tree(engine: MemoryEngine, tmp_path: Path) -> None:
    gnutls, openssl = run(engine, tmp_path)
    assert (gnutls.status, openssl.status) == ("pass", "pass"), (gnutls.evidence, openssl.evidence)
    assert gnutls.tests == openssl.tests == HaskellTests(1, 1, 0, ())
    assert openssl.compiled_by == "ghc96--curlint--gnutls" and gnutls.compiled_by is None
    steps = [call.argv[:6] for call in engine.calls if call.image == "img/ghc96-openssl" and call.argv[0] in
             ("sh", "runhaskell", "rm", "mkdir", BINARY) and "inspect-build" not in call.argv[1]]
    assert steps == [["sh", "/build/.compat/relink-curl-binaries", "/build/src"],  # relink first,
                     # then the recipe's build links the flavor, shared libraries the first flavor's libcurl,
                     ["sh", FIRST_LIBRARIES, "libcurl-gnutls.so.4", "runhaskell", "Setup.hs", "build"],
                     ["rm", "-f", JUNIT], ["mkdir", "-p", "/build/out"],  # no JUnit file of the first flavor,
                     [BINARY, "--jxml=/build/out/junit.xml"],  # then its own tests,
                     ["sh", "/build/.compat/run-probe", "20", "150"]]  # and its own probe
    assert not any(argv[:2] == ["runhaskell", "Setup.hs"] and argv[2] == "configure"
                   for argv in (c.argv for c in engine.calls if c.image == "img/ghc96-openssl"))
    assert openssl.ssl is not None and openssl.ssl.curl_flavors == ("openssl",)
    volume = "ganeti-compat-r1--ghc96--curlint"
    assert engine.events == [f"remove {volume}", f"create {volume}", f"remove {volume}"]  # one tree, then gone
    assert openssl.manifest == gnutls.manifest == {"source": f"local-{sources.tree_digest(CURLINT)[:12]}"}
    assert gnutls.image_freshness == "up to date with test"


@pytest.mark.parametrize("exit_code", [137, 0])
def test_every_container_gets_the_matrix_limits_and_a_step_killed_at_its_memory_limit_is_a_crash(
        engine: MemoryEngine, tmp_path: Path, exit_code: int) -> None:
    engine.out_of_memory.add(BINARY)
    engine.on((BINARY,), lambda files, argv, image: (exit_code, "Test Cases  Total\n" if exit_code else ""))
    gnutls, = run(engine, tmp_path, ["gnutls"])
    assert (gnutls.status, gnutls.cause) == ("crash", "memory")
    assert gnutls.evidence[0] == ("step test: the kernel killed a process at the memory limit of 8192 MiB "
                                  "(limits.memory_mib in matrix.yaml)")
    assert {call.limits for call in engine.calls} == {matrix.Limits(memory_mib=8192, pids=4096)}


@pytest.mark.parametrize("exit_code", [0, 1])
def test_a_flavor_whose_tests_write_no_junit_never_gets_the_first_flavors_counts(
        engine: MemoryEngine, tmp_path: Path, exit_code: int) -> None:
    def second_flavor_writes_nothing(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        if image.endswith("gnutls"):
            return writes_junit(files, argv, image)
        return exit_code, "curlint-tests: <stdout>: commitBuffer: invalid argument\n"

    engine.on((BINARY,), second_flavor_writes_nothing)
    gnutls, openssl = run(engine, tmp_path)
    assert gnutls.status == "pass"
    assert openssl.status == "test-fail" and openssl.tests is None
    assert openssl.evidence[0] == f"the tests exited with {exit_code} and wrote no JUnit file junit.xml"


def test_a_flavor_that_failed_to_build_leaves_no_tree_to_relink(engine: MemoryEngine, tmp_path: Path) -> None:
    def gnutls_fails(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        if image.endswith("gnutls"):
            return 1, "src/CurlInt.hs:9:10: error: [GHC-83865]\n    Couldn't match type\n"
        return build(files, argv, image)

    engine.on(("runhaskell", "Setup.hs", "build"), gnutls_fails)
    gnutls, openssl = run(engine, tmp_path)
    assert (gnutls.status, gnutls.cause) == ("build-fail", "compile")
    assert openssl.status == "pass" and openssl.compiled_by is None
    assert ["runhaskell", "Setup.hs", "configure", "--user"] in [c.argv for c in engine.calls
                                                                   if c.image == "img/ghc96-openssl"]
    volume = "ganeti-compat-r1--ghc96--curlint"
    assert engine.events == [f"remove {volume}", f"create {volume}", f"remove {volume}", f"create {volume}",
                             f"remove {volume}"]


def test_a_binary_the_relink_removed_and_did_not_rebuild_is_a_link_failure(engine: MemoryEngine,
                                                                            tmp_path: Path) -> None:
    def builds_only_gnutls(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        return build(files, argv, image) if image.endswith("gnutls") else (0, "Up to date\n")

    engine.on(("runhaskell", "Setup.hs", "build"), builds_only_gnutls)
    engine.on((BINARY,), writes_junit)
    _, openssl = run(engine, tmp_path)
    assert (openssl.status, openssl.cause) == ("build-fail", "link")
    assert openssl.evidence == [f"missing after the build: {BINARY}"]


def test_a_failure_of_the_runner_is_a_cell_and_the_volume_still_goes(engine: MemoryEngine, tmp_path: Path) -> None:
    def engine_lost(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        raise ConnectionError("Connection aborted: the engine went away")

    engine.on(("runhaskell", "Setup.hs", "build"), engine_lost)
    results = run(engine, tmp_path, ["gnutls"])
    assert [(r.status, r.cause) for r in results] == [("error", "runner")]
    assert results[0].evidence[0] == "ConnectionError: Connection aborted: the engine went away"
    assert (tmp_path / "runs" / "r1" / results[0].logs["runner-error"]).read_text().startswith("Traceback")
    assert engine.events[-1] == "remove ganeti-compat-r1--ghc96--curlint"


def test_an_inspection_that_times_out_is_visible_and_blocks_a_pass(engine: MemoryEngine, tmp_path: Path) -> None:
    engine.on(("sh", "/build/.compat/inspect-build"), lambda files, argv, image: (None, ""))
    (gnutls,) = run(engine, tmp_path, ["gnutls"])
    assert (gnutls.status, gnutls.cause) == ("error", "facts")
    incomplete = next(flag for flag in gnutls.flags if flag.name == "facts:incomplete")
    assert incomplete.evidence[0] == "linkage.txt: `sh /build/.compat/inspect-build` timed out after 120 s"
    assert gnutls.ssl_recommendation == "unknown: the binaries' linkage could not be inspected"


def test_an_engine_that_stops_answering_ends_the_run_with_the_cell_in_flight_an_error(
        engine: MemoryEngine, tmp_path: Path) -> None:
    def engine_gone(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        engine.lost = True
        raise ConnectionError("('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))")

    engine.on(("runhaskell", "Setup.hs", "build"), engine_gone)
    m = matrix.load(ROOT / "tests" / "fixtures" / "matrix.yaml")
    runner = CellRunner(engine, m, tmp_path / "runs" / "r1", lambda line: None, MemoryImages())
    results: list[CellResult] = []
    with pytest.raises(EngineLost, match="the Docker engine stopped answering: ConnectionError"):
        for group in plan(m, ["ghc96"], ["curlint"]):
            runner.run_group(group, results.append)
    assert [(r.flavor, r.status, r.cause) for r in results] == [("gnutls", "error", "engine")]  # openssl never started
    assert "remove ganeti-compat-r1--ghc96--curlint" not in engine.events[2:]  # nothing asked of a dead engine


def test_a_connection_lost_under_a_step_is_the_engines_error_even_when_the_engine_answers_again(
        engine: MemoryEngine, tmp_path: Path) -> None:
    # A dockerd restart killed the compile: the engine answers again, but the step says nothing of the toolchain.
    lost = ("the connection to the Docker engine broke (ConnectionError: Connection aborted.) and the step's "
            "container no longer runs (exited, exit code 137)")

    def restarted(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        raise EngineDropped(lost)

    engine.on(("runhaskell", "Setup.hs", "build"), restarted)
    m = matrix.load(ROOT / "tests" / "fixtures" / "matrix.yaml")
    runner = CellRunner(engine, m, tmp_path / "runs" / "r1", lambda line: None, MemoryImages())
    results: list[CellResult] = []
    with pytest.raises(EngineLost, match=re.escape(lost)):
        for group in plan(m, ["ghc96"], ["curlint"]):
            runner.run_group(group, results.append)
    assert [(r.flavor, r.status, r.cause, r.evidence) for r in results] == [("gnutls", "error", "engine", [lost])]
    assert engine.events[-1] == "remove ganeti-compat-r1--ghc96--curlint"  # the engine answers: its volume goes


# Docker's grammar for a repository path component and for a volume name (moby's names.go).
DOCKER_REPOSITORY = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
DOCKER_VOLUME = r"[a-zA-Z0-9][a-zA-Z0-9_.-]+"
NAMES = st.from_regex(matrix.NAME, fullmatch=True).filter(
    lambda name: matrix.valid_name(name) and name not in (*matrix.RESERVED_TOOLCHAINS, matrix.SELECT_ALL))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(toolchain=NAMES, source=NAMES, recipe=NAMES, run_id=st.from_regex(matrix.RUN_ID, fullmatch=True))
def test_whatever_names_the_matrix_accepts_a_run_writes_only_in_its_run_directory_and_docker_takes_every_name(
        toolchain: str, source: str, recipe: str, run_id: str) -> None:
    data = yaml.safe_load((ROOT / "tests" / "fixtures" / "matrix.yaml").read_text())
    data["toolchains"] = {toolchain: data["toolchains"]["ghc96"]}
    data["recipes"] = {recipe: data["recipes"]["curlint"]}
    data["sources"] = {source: {"kind": "path", "path": str(CURLINT), "recipe": recipe}}
    m = matrix.parse(data, ROOT / "tests" / "fixtures" / "matrix.yaml")
    engine = answering_engine()
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp)
        run_dir = top / "reports" / "runs" / run_id
        runner = CellRunner(engine, m, run_dir, lambda line: None, MemoryImages())
        results: list[CellResult] = []
        for group in plan(m, [toolchain], [source]):
            runner.run_group(group, results.append)
        assert [r.status for r in results] == ["pass", "pass"], [r.evidence for r in results]
        written = [path for path in top.rglob("*") if path.is_file()]
        assert written and all(path.resolve().is_relative_to(run_dir.resolve()) for path in written)
    volumes = {event.split(" ", 1)[1] for event in engine.events}
    assert len(volumes) == 1 and all(re.fullmatch(DOCKER_VOLUME, volume) for volume in volumes)
    for flavor in (None, *m.toolchains[toolchain].flavors):
        assert re.fullmatch(DOCKER_REPOSITORY, repository_of(toolchain, flavor))


def test_a_stopped_runner_starts_no_further_step_and_delivers_no_result(engine: MemoryEngine, tmp_path: Path) -> None:
    m = matrix.load(ROOT / "tests" / "fixtures" / "matrix.yaml")
    runner = CellRunner(engine, m, tmp_path / "runs" / "r1", lambda line: None, MemoryImages())

    def interrupted_build(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
        runner.stop()  # Ctrl-C while the build runs: its container is removed, it ends killed
        return 137, "Killed\n"

    engine.on(("runhaskell", "Setup.hs", "build"), interrupted_build)
    results: list[CellResult] = []
    with pytest.raises(Stopped):
        runner.run_group(plan(m, ["ghc96"], ["curlint"])[0], results.append)
    assert results == []  # a killed build is not a build failure of the toolchain
    assert engine.commands()[-1][0] == "runhaskell"  # no test, inspection or probe after it
    assert engine.events[-1].startswith("remove ") and not engine.volumes


def test_a_stopped_run_lets_go_of_its_images(engine: MemoryEngine, tmp_path: Path) -> None:
    # Issue 17: what a run holds stays only while it lives; stop() is how every run ends (compat.commands.run).
    class Held(MemoryImages):
        released = 0

        def release(self) -> None:
            self.released += 1

    images = Held()
    CellRunner(engine, matrix.load(ROOT / "tests" / "fixtures" / "matrix.yaml"), tmp_path / "runs" / "r1",
               lambda line: None, images).stop()
    assert images.released == 1


def fetched_matrix(tmp_path: Path) -> matrix.Matrix:
    """The fixture matrix with its source fetched (a tarball) rather than copied from a directory."""
    data = yaml.safe_load((ROOT / "tests" / "fixtures" / "matrix.yaml").read_text())
    data["sources"]["curlint"] = {"kind": "tarball", "url": "http://example.invalid/curlint-0.1.tar.gz",
                                  "sha256": "0" * 64, "recipe": "curlint"}
    (tmp_path / "matrix.yaml").write_text(yaml.safe_dump(data))
    return matrix.load(tmp_path / "matrix.yaml")


def fetches(files: dict[str, bytes], argv: list[str], image: str) -> tuple[int, str]:
    files["/build/meta/version"], files["/build/meta/digest"] = b"0.1\n", b"ab" * 32 + b"\n"
    return 0, "fetched\n"


def test_a_source_is_fetched_in_the_helper_image_and_only_built_in_the_toolchains(
        engine: MemoryEngine, tmp_path: Path) -> None:
    # An old toolchain's image (jessie) cannot verify today's archive nor reach today's TLS: no cell fetches in it.
    m = fetched_matrix(tmp_path)
    engine.on(("sh", sources.FETCH), fetches)
    runner = CellRunner(engine, m, tmp_path / "runs" / "r1", lambda line: None, MemoryImages())
    results: list[CellResult] = []
    for group in plan(m, ["ghc96"], ["curlint"], None):
        runner.run_group(group, results.append)
    assert [(r.status, r.source_version) for r in results] == [("pass", "0.1"), ("pass", "0.1")]
    fetched = [call for call in engine.calls if call.argv[:2] == ["sh", sources.FETCH]]
    assert [(call.image, call.network) for call in fetched] == [("img/fetch", True)]  # once: the next flavor relinks
    assert {call.image for call in engine.calls if call not in fetched} <= {"img/ghc96-gnutls", "img/ghc96-openssl"}


def test_a_fetch_helper_that_cannot_be_had_is_a_fetch_error_of_the_cell(engine: MemoryEngine, tmp_path: Path) -> None:
    class NoHelper(MemoryImages):
        def ensure(self, toolchain: matrix.Toolchain, recipe: matrix.Recipe, log: Path) -> Image:
            if toolchain.name == "fetch":
                raise ToolchainUnavailable("debian:bookworm cannot be pulled and mmdebstrap is not installed")
            return super().ensure(toolchain, recipe, log)

    m = fetched_matrix(tmp_path)
    runner = CellRunner(engine, m, tmp_path / "runs" / "r1", lambda line: None, NoHelper())
    results: list[CellResult] = []
    for group in plan(m, ["ghc96"], ["curlint"], ["gnutls"]):
        runner.run_group(group, results.append)
    assert (results[0].status, results[0].cause) == ("error", "fetch")
    assert tuple(results[0].evidence) == (("compat-fetch: the bookworm image that fetches sources cannot be had: "
                                   "debian:bookworm cannot be pulled and mmdebstrap is not installed"),)
    assert not [call for call in engine.calls if call.argv[:2] == ["sh", sources.FETCH]]
