"""The runtime probe measures TLS, not Integer arithmetic: run on this machine's GHCs with a program that hooks
GMP's allocator as GHC 7.8's runtime did and does its Integer work through GMP (tests/fixtures/gmphook).

images/scripts/run-probe builds that program instead of the real probe (GANETI_COMPAT_PROBE_PROGRAM) in a real
toolchain image of each flavor, serves HTTPS on loopback, and runs it plainly, counted, as its baseline, and
under the hostile hook; compat.analysis.probe and the judge read what it printed.
"""

from __future__ import annotations

import base64
import re

import pytest

from compat import matrix
from compat.analysis.probe import ProbeOutcome, parse_probe
from compat.engine import Engine
from compat.images import ImageBuilder
from compat.verdict import CellOutcome, Step, judge
from tests.conftest import ROOT

pytestmark = pytest.mark.docker
FIXTURES = ROOT / "tests" / "fixtures"
FILES = {"/build/.compat/run-probe": ROOT / "images" / "scripts" / "run-probe",
         "/build/.compat/probe/Probe.hs": ROOT / "images" / "scripts" / "probe" / "Probe.hs",
         "/build/.compat/probe/gmpshim.c": ROOT / "images" / "scripts" / "probe" / "gmpshim.c",
         "/tmp/gmphook/Probe.hs": FIXTURES / "gmphook" / "Probe.hs",
         "/tmp/gmphook/gmphook.c": FIXTURES / "gmphook" / "gmphook.c"}
# Each file arrives base64-encoded as an argument; then run-probe, as the builder the runner runs it as.
SCRIPT = ('set -e; while [ $# -gt 2 ]; do mkdir -p "$(dirname "$1")"; printf %s "$2" | base64 -d > "$1"; shift 2; done; '
          'chown -R builder /build /tmp/gmphook; '
          'su builder -s /bin/sh -c "HOME=/home/builder GANETI_COMPAT_PROBE_PROGRAM=/tmp/gmphook '
          'GANETI_COMPAT_PROBE_ROUNDS=20 sh /build/.compat/run-probe $1 120 $2"')


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The curlint fixture's toolchain images of both GHCs here, in both flavors: "ghc96/gnutls" -> tag."""
    m = matrix.load(FIXTURES / "matrix.yaml")
    cache = tmp_path_factory.mktemp("images")
    builder = ImageBuilder(Engine(), cache, lambda line: None)
    found = {}
    try:
        for name in ("ghc96", "ghc90"):
            toolchain = m.toolchains[name]
            image = builder.ensure(toolchain, m.recipes["curlint"], cache / "image.log")
            for flavor in toolchain.flavors:
                flavored = builder.flavored(image, toolchain, flavor, m.flavors[flavor].soname, cache / "image.log")
                found[f"{name}/{flavor}"] = flavored.tag
    finally:
        builder.release()
    return found


def own(text: str) -> int:
    """What the program's own GMP allocator saw in its counting run (gmphook.c says so at exit)."""
    counts = re.findall(r"gmphook: the program's own allocator saw (\d+) allocations", text)
    assert len(counts) >= 3, text  # plain, counting, baseline (and hostile, unless it crashed)
    return int(counts[1])


def probe(tag: str, requests: int) -> tuple[ProbeOutcome, str]:
    files = [part for target, source in FILES.items()
             for part in (target, base64.b64encode(source.read_bytes()).decode())]
    code, text = Engine().output(tag, ["sh", "-c", SCRIPT, "sh", *files, str(requests), "hostile-gmp"],
                                 network=False, timeout=900)
    assert code == 0 and "probe-exit build" not in text, text
    return parse_probe(text, requests), text


@pytest.mark.parametrize("where", ["ghc96/gnutls", "ghc90/gnutls"])
def test_integer_work_through_a_hooked_gmp_without_tls_is_no_tls_allocation_and_no_gnutls_blame(
        images: dict[str, str], where: str) -> None:
    outcome, text = probe(images[where], 0)
    assert outcome.verdict("plain") == "pass", text
    counting = outcome.attributed["counting"]
    assert counting["tls"] == 0 and counting["unknown"] == 0, text
    # Every round's Integer went through the program's own hook, the shim in front of it, and is the program's.
    assert counting["other"] == own(text) >= 20 and outcome.callers["counting"] == f"probe={own(text)}", text
    assert outcome.attributed["hostile"]["poisoned"] == 0 and outcome.verdict("hostile") == "pass", text
    says = judge(CellOutcome(steps=(Step("build", 0),), probe=outcome)).fault_injection
    assert says is not None and "GnuTLS crashes" not in says.says, says
    assert says.says.startswith("TLS made no GMP allocation: nothing was poisoned (pass)"), says


@pytest.mark.parametrize("where", ["ghc96/gnutls", "ghc90/gnutls"])
def test_tls_requests_through_gnutls_are_counted_apart_from_the_integer_work(images: dict[str, str], where: str
                                                                               ) -> None:
    outcome, text = probe(images[where], 5)
    counting = outcome.attributed["counting"]
    assert counting["tls"] > 0 and counting["other"] >= 20 and counting["unknown"] == 0, text
    # GnuTLS's allocations too went to the program's hook: the hazard itself (GHC 7.8 put them on its heap).
    assert counting["tls"] + counting["other"] == own(text), text
    per_request = outcome.per_request()
    assert per_request == round(counting["tls"] / 5, 1) and per_request > 0, text
    # The baseline (the same Integer work, no request) made no TLS allocation, and about as many of the others.
    assert outcome.attributed["baseline"]["tls"] == 0, text
    assert "libhogweed" in outcome.callers["counting"] or "libgnutls" in outcome.callers["counting"], text
    # Poisoning only what GnuTLS allocates kills the TLS request; the Integers keep the program's allocator.
    assert outcome.verdict("hostile").startswith("crash"), text  # so it printed no counts at exit, but said:
    assert (outcome.first_poisoned or "").startswith(("libhogweed", "libgnutls", "libnettle")), text
    says = judge(CellOutcome(steps=(Step("build", 0),), probe=outcome)).fault_injection
    assert says is not None and says.says.startswith("GnuTLS crashes under a hostile GMP allocator hook"), says


def test_tls_requests_through_openssl_make_no_tls_gmp_allocation_although_the_program_hooks_gmp(
        images: dict[str, str]) -> None:
    outcome, text = probe(images["ghc96/openssl"], 5)
    counting = outcome.attributed["counting"]
    assert counting["other"] == own(text) >= 20 and counting["tls"] == 0, text  # the old probe: all TLS's
    assert outcome.per_request() == 0.0
    assert outcome.verdict("hostile") == "pass", text  # the old shim poisoned the Integers too, and blamed GnuTLS
