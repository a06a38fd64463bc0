"""A long, varied history of runs, the same every time, and every output the tool renders from it.

What the reports and `diff` say over it is kept in tests/data/history/ (`python -m tests.history_sample
write` renders it again): how the history is read may change, what it says may not, unless on purpose.
It holds what a night can hold: regressions, fixes, causes that change, tests that change state, flags,
expected failures and unexpected passes, errors and unavailable nights, flaky cells, a cell that is new
tonight, one that never ran, a cell file that cannot be read, session, interrupted, fault-injection,
bench and test runs, a run of an older version without run.json, and more runs than the window.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import io
import json
import random
import sys
from pathlib import Path

from compat.analysis.junit import case_states
from compat.cli import main
from compat.parts import FaultInjection, Flag, GhcFacts, HaskellTests, ProbeFacts, SslFacts
from compat.results import CellResult, RunRecord, cell_key, store, write_run
from compat.summary import write_summary

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "history"
PASSING = DATA / "ganeti" / "3.1-trixie-htest.jxml.xml"
TEN_FAILING = DATA / "ganeti" / "3.1-trixie-htest-without-generated-python.jxml.xml"
TOOLCHAINS = {"ghc90": "9.0.2", "ghc96": "9.6.6", "ghc910": "9.10.3"}
SOURCES = ("ganeti-3.1", "ganeti-3.0.2", "ganeti-2.16")
FLAVORS = ("gnutls", "openssl")
NIGHTS = 70
LAST = NIGHTS - 1
START = datetime.datetime(2026, 9, 1, 2, tzinfo=datetime.UTC)
# What each cell does over the nights (see `status`); ghc910--ganeti-2.16--openssl never runs.
BEHAVIOUR = {
    "ghc90--ganeti-3.1--gnutls": "stable", "ghc90--ganeti-3.1--openssl": "flaky",
    "ghc90--ganeti-3.0.2--gnutls": "always", "ghc90--ganeti-3.0.2--openssl": "always",
    "ghc90--ganeti-2.16--gnutls": "late", "ghc90--ganeti-2.16--openssl": "new-tonight",
    "ghc96--ganeti-3.1--gnutls": "regress", "ghc96--ganeti-3.1--openssl": "tests-change",
    "ghc96--ganeti-3.0.2--gnutls": "fixed", "ghc96--ganeti-3.0.2--openssl": "crash-tonight",
    "ghc96--ganeti-2.16--gnutls": "unavailable-streak", "ghc96--ganeti-2.16--openssl": "cause-change",
    "ghc910--ganeti-3.1--gnutls": "error-tonight", "ghc910--ganeti-3.1--openssl": "expected-flaky",
    "ghc910--ganeti-3.0.2--gnutls": "unavailable-tonight", "ghc910--ganeti-3.0.2--openssl": "stable",
    "ghc910--ganeti-2.16--gnutls": "flaky",
}
MATRIX = """\
abi_baseline: ghc96
default_sources: [ganeti-3.1, ganeti-3.0.2]
flavors:
  gnutls: {dev_package: libcurl4-gnutls-dev, soname: libcurl-gnutls.so.4}
  openssl: {dev_package: libcurl4-openssl-dev, soname: libcurl.so.4}
toolchains:
  ghc90: {description: GHC 9.0.2, kind: debian, suite: bookworm, ghc: "9.0.2", flavors: [gnutls, openssl]}
  ghc96: {description: GHC 9.6.6, kind: debian, suite: trixie, ghc: "9.6.6", flavors: [gnutls, openssl]}
  ghc910: {description: GHC 9.10.3, kind: debian, suite: sid, ghc: "9.10.3", flavors: [gnutls, openssl]}
sources:
  ganeti-3.1: {description: Ganeti 3.1, kind: debian, package: ganeti, suite: sid, recipe: r}
  ganeti-3.0.2: {description: Ganeti 3.0.2, kind: debian, package: ganeti, suite: bookworm, version: 3.0.2-3, recipe: r}
  ganeti-2.16: {description: Ganeti 2.16, kind: debian, package: ganeti, suite: bookworm, version: 2.16.0-5, recipe: r}
recipes:
  r:
    packages: [ghc, libghc-lens-dev, libghc-network-dev, libghc-curl-dev]
    steps:
      configure: [[./configure]]
      build: [[make]]
      test: [[exe/htest, "--jxml={out}/htest.xml"]]
    junit: htest.xml
    binaries: [exe/htest]
expected:
  - {cell: 'ghc90--ganeti-3.0.2--*', status: build-fail, cause: deps, reason: lens is too new for 3.0.2}
  - {cell: 'ghc910--ganeti-3.1--openssl', status: test-fail, reason: flaky upstream, bug: 'https://example.org/1'}
  - {cell: 'ghc96--ganeti-3.1--*', test: 'Luxi/*', reason: luxi needs generated Python}
"""


def status(behaviour: str, night: int, rng: random.Random) -> tuple[str, str | None]:
    """(status, cause) of a cell that behaves so, on this night."""
    if behaviour == "expected-flaky" and night >= LAST - 1:
        return ("test-fail", None) if night == LAST else ("pass", None)
    if behaviour in ("flaky", "expected-flaky"):
        return ("test-fail", None) if rng.random() < 0.4 else ("pass", None)
    if behaviour == "always":
        return "build-fail", "deps"
    if behaviour == "regress":
        return ("test-fail", None) if night >= 62 else ("pass", None)
    if behaviour == "fixed":
        return ("pass", None) if night >= 65 else ("build-fail", "compile")
    if behaviour == "unavailable-streak":
        return ("unavailable", None) if 64 <= night < LAST else ("pass", None)
    if behaviour == "cause-change":
        return "build-fail", "compile" if night == LAST else "deps"
    tonight = {"crash-tonight": ("crash", None), "error-tonight": ("error", "runner"),
               "unavailable-tonight": ("unavailable", None)}
    if night == LAST and behaviour in tonight:
        return tonight[behaviour]
    if night % 17 == 5 and behaviour == "stable":
        return "error", "engine"
    return "pass", None


def result(key: str, night: int, run_id: str, started: str, rng: random.Random, run_dir: Path) -> CellResult:
    toolchain, source, flavor = key.split("--")
    found, cause = status(BEHAVIOUR[key], night, rng)
    version = TOOLCHAINS[toolchain]
    cell = CellResult(toolchain, source, flavor, status=found, cause=cause, run_id=run_id, started=started,
                      timings={"configure": 30.0, "build": round(180 + 60 * rng.random(), 1), "test": 41.5},
                      image=f"ganeti-compat/{toolchain}-{flavor}:{night // 20}",
                      image_freshness=f"up to date with its suite as of {started[:10]}",
                      fingerprint=f"{rng.getrandbits(64):016x}", source_version=f"{source[7:]}-{night // 30}")
    if found == "unavailable":
        cell.evidence = [f"the image of {toolchain} cannot be had: apt failed"]
        return cell
    if found == "error":
        cell.evidence = ["the Docker engine stopped answering"]
        return cell
    cell.ghc = GhcFacts(version, "ghc-bignum", "1.3", "gmp", replaces_gmp_allocator=False)
    cell.manifest = {"ghc": f"{version}-{1 + night // 25}", "libghc-lens-dev": f"5.2.{night // 9}-1",
                     "libghc-network-dev": "3.1.4-2", f"libcurl-{flavor}": "8.11.1-1", "source": cell.source_version or ""}
    cell.packages = {"lens": [f"5.2.{night // 9 if toolchain != 'ghc96' else 3}", f"abi{toolchain}{night // 9}"],
                     "network": ["3.1.4", "abinet"], "base": [version, f"abibase{toolchain}"]}
    cell.ssl = SslFacts(binaries=("exe/htest",), curl_flavors=(flavor,), gmp_loaded=True, gmp_hook=False,
                        tls_stacks={flavor: ("exe/htest", f"libcurl-{flavor}.so.4", f"lib{flavor}.so.30")},
                        gmp_allocations_per_request=0)
    cell.probe = ProbeFacts(requests=20, plain="pass", counting="pass", hostile="not run",
                            gmp_allocations_per_request=0 if flavor == "openssl" else 12, built=True, timed_out=False)
    cell.ssl_recommendation = f"GnuTLS safe with {toolchain} (ghc-bignum does not hook GMP's allocator)"
    cell.logs = {"build": f"cells/{key}/build.log", "test": f"cells/{key}/test.log"}
    if flavor == "openssl":
        cell.compiled_by = cell_key(toolchain, source, "gnutls")
    if night % 2 == 0 and BEHAVIOUR[key] == "stable":
        cell.reused_from = f"n{night - 1:04d}"
    if night == LAST and key == "ghc96--ganeti-3.1--gnutls":
        cell.flags = [Flag("ssl:mixed-tls-stacks", ("exe/htest loads gnutls and openssl",))]
    if night < LAST and key == "ghc910--ganeti-3.0.2--openssl":
        cell.flags = [Flag("abi:hash-mismatch", ("lens-5.2 abi differs",))]
    if found == "build-fail":
        cell.evidence = ["rejecting: lens-5.2.7 (conflict: ganeti => lens<5.2)"] if cause == "deps" else \
            [f"src/Ganeti/Query.hs:{100 + night % 3}:1: error: not in scope"]
    elif found == "crash":
        cell.evidence = ["step test: killed by SIGSEGV"]
    elif found in ("pass", "test-fail"):
        junit = TEN_FAILING if found == "test-fail" else PASSING
        text = junit.read_text()
        if BEHAVIOUR[key] == "tests-change" and night == LAST:
            text = text.replace('name="CallEncoding" classname="Luxi"', 'name="CallEncoding2" classname="Luxi"')
        path = run_dir / "cells" / key / "junit.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        cell.logs["junit"] = str(path.relative_to(run_dir))
        failed = failing(text)
        cell.tests = HaskellTests(456, 456 - len(failed), len(failed), tuple(failed))
        if found == "test-fail":
            cell.evidence = [f"{len(failed)} of 456 tests failed", *failed[:3]]
    return cell


@functools.cache
def failing(junit: str) -> list[str]:
    return sorted(name for name, ok in case_states(junit).items() if not ok)


def keys(night: int) -> list[str]:
    """The cells a night ran: every cell but the one that never runs, those that are not there yet."""
    return [key for key, behaviour in BEHAVIOUR.items()
            if not (behaviour == "late" and night < 50) and not (behaviour == "new-tonight" and night < LAST)]


def run(reports: Path, run_id: str, when: datetime.datetime, cells: list[str], night: int, rng: random.Random,
        kind: str | None = "matrix", complete: bool = True, fault: bool = False, summary: bool = True) -> None:
    run_dir = reports / "runs" / run_id
    started = when.isoformat()
    for key in cells:
        cell = result(key, night, run_id, started, rng, run_dir)
        if fault:
            cell.status, cell.cause, cell.evidence = "crash", None, ["the hostile probe crashed"]
            cell.fault_injection = FaultInjection("crash (SIGSEGV)", "GnuTLS crashes under a hostile GMP hook", 12)
        if kind is not None and not complete and key.endswith("gnutls"):
            cell.status, cell.cause, cell.evidence = "crash", None, ["interrupted mid-step"]
        store(run_dir, cell)
    if kind is not None:
        finished = (when + datetime.timedelta(hours=1)).isoformat()
        write_run(run_dir, RunRecord(run_id, kind, "digest", "0.1.0", started, finished,
                                     interrupted=not complete, reason=None if complete else "interrupted",
                                     cells=cells))
        if complete and summary:
            write_summary(run_dir)


def write_history(reports: Path, nights: int = NIGHTS, summaries: str = "most") -> None:
    """`nights` nights and the runs of other kinds between them; the summaries of "all" complete runs, of
    "most" (every tenth night has none, as a run of an older version), or of "none"."""
    rng = random.Random(18)
    for night in range(nights):
        day = START + datetime.timedelta(days=night)
        run(reports, f"n{night:04d}", day, keys(night), night, rng, summary=summaries == "all" or summaries == "most" and night % 10 != 3)
        hour = datetime.timedelta(hours=12)
        if night % 9 == 0:
            run(reports, f"s{night:04d}", day + hour, ["ghc910--ganeti-3.1--gnutls", "ghc910--ganeti-3.1--openssl"],
                night, rng, kind="session", summary=summaries != "none")
        if night % 13 == 7:
            run(reports, f"i{night:04d}", day + hour, ["ghc96--ganeti-3.1--gnutls", "ghc96--ganeti-3.1--openssl"],
                night, rng, complete=False)
        if night % 11 == 4:
            run(reports, f"f{night:04d}", day + hour, ["ghc96--ganeti-3.1--gnutls"], night, rng,
                kind="fault-injection", fault=True, summary=summaries != "none")
        if night in (20, 40):
            run(reports, f"{'bench' if night == 20 else 'test'}{night}", day + hour, ["ghc90--ganeti-3.1--gnutls"],
                night, rng, kind="bench" if night == 20 else "test", summary=summaries != "none")
        if night == 30:
            run(reports, "legacy30", day + hour, ["ghc96--ganeti-3.1--openssl"], night, rng, kind=None)
    if nights > 66:  # a cell file cut short, inside the window
        path = reports / "runs" / "n0066" / "cells" / "ghc96--ganeti-3.0.2--openssl.json"
        path.write_text(path.read_text()[:200])


def _call(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def render_all(base: Path) -> dict[str, str]:
    """Every output over the history under `base` (matrix.yaml, reports/): the reports' files, `report --run`'s,
    and what `diff` says without and with named runs; the directory's path is written as BASE."""
    reports, matrix_file = base / "reports", base / "matrix.yaml"
    common = ("--matrix", str(matrix_file), "--reports", str(reports))
    said: dict[str, str] = {}

    def keep(name: str, code: int, out: str, err: str) -> None:
        said[name] = f"exit {code}\n--- stdout\n{out}--- stderr\n{err}"

    names = ("latest.md", "latest.json", "latest.html", "matrix.junit.xml", "feed.atom", "badge.svg")
    for name, extra in (("report", ()), ("report-run", ("--run", f"n{LAST - 1:04d}"))):
        keep(name, *_call(*common, "report", *extra))
        said |= {f"{name}-{file}": (reports / file).read_text() for file in names}
    for name, extra in (("diff", ()), ("diff-named", (f"n{LAST - 30:04d}", f"n{LAST:04d}")),
                        ("diff-session", (f"s{LAST - 6:04d}", f"n{LAST:04d}"))):
        keep(name, *_call(*common, "diff", *extra))
    return {name: text.replace(str(base), "BASE") for name, text in said.items()}


def make(base: Path, nights: int = NIGHTS, summaries: str = "most") -> Path:
    base.mkdir(parents=True, exist_ok=True)
    (base / "matrix.yaml").write_text(MATRIX)
    write_history(base / "reports", nights, summaries)
    return base


if __name__ == "__main__" and sys.argv[1:] == ["write"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        outputs = render_all(make(Path(tmp)))
    GOLDEN.mkdir(parents=True, exist_ok=True)
    (GOLDEN / "outputs.json").write_text(json.dumps(outputs, indent=1, sort_keys=True) + "\n")
