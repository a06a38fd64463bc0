"""The typed parts of a cell result (compat.parts, compat.findings.Investigation) store what the untyped
dictionaries stored: the same bytes for every file, the same refusals, and a part its file left fields out of
writes them out again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compat.findings import Investigation, Job
from compat.parts import FaultInjection, Flag, GhcFacts, HaskellTests, Part, ProbeFacts, SslFacts
from compat.results import PARTS, CellResult
from compat.status import Status
from compat.stored import load_json
from tests.conftest import DATA

CELLS = DATA / "cells"
WRITTEN = sorted((CELLS / "written").glob("*.json"))
RAW = sorted(path for path in (CELLS / "raw").glob("*.json") if not path.name.endswith(".main.json"))


def test_there_are_fixtures_of_every_kind() -> None:
    assert len(WRITTEN) >= 20 and len(RAW) >= 20
    statuses = {json.loads(path.read_text())["status"] for path in WRITTEN}
    assert statuses == {"pass", "test-fail", "build-fail", "crash", "timeout", "error", "unavailable"}


@pytest.mark.parametrize("path", WRITTEN, ids=lambda path: path.name)
def test_a_file_to_json_wrote_is_written_again_byte_for_byte(path: Path) -> None:
    text = path.read_text()
    result = CellResult.from_dict(load_json(path))
    assert result.to_json() == text
    assert json.loads(json.dumps(result.data())) == json.loads(text)
    assert CellResult.from_dict(json.loads(result.to_json())) == result


@pytest.mark.parametrize("path", RAW, ids=lambda path: path.name)
def test_any_other_file_is_written_and_refused_as_before(path: Path) -> None:
    made, refused = path.with_suffix(".main.json"), path.with_suffix(".main.error")
    if refused.exists():
        with pytest.raises((ValueError, TypeError)) as caught:
            CellResult.from_dict(load_json(path))
        assert f"{caught.type.__name__}: {caught.value}\n" == refused.read_text()
        return
    result = CellResult.from_dict(load_json(path))
    assert result.to_json() == made.read_text()
    assert json.loads(json.dumps(result.data())) == json.loads(made.read_text())
    assert CellResult.from_dict(json.loads(result.to_json())).to_json() == made.read_text()


def test_every_part_of_a_read_result_is_typed() -> None:
    result = CellResult.from_dict(load_json(CELLS / "raw" / "parts-numbers.json"))
    assert isinstance(result.ssl, SslFacts) and isinstance(result.probe, ProbeFacts)
    assert isinstance(result.fault_injection, FaultInjection) and isinstance(result.investigation, Investigation)
    assert result.investigation.jobs[0] == Job("rerun", "tonight", "tonight", "r-1", Status.PASS)
    assert result.investigation.minutes == 3 and result.investigation.reproducible is False
    partial = CellResult.from_dict(load_json(CELLS / "raw" / "parts-partial.json"))
    assert partial.tests == HaskellTests(3, 1, 2, absent=frozenset({"failed_names"}))
    assert partial.flags[0] == Flag("ssl:mixed-tls-stacks", absent=frozenset({"evidence"}))
    assert isinstance(partial.ghc, GhcFacts) and partial.ghc.version == "9.6.6" and partial.ghc.bignum_backend is None
    assert all(getattr(partial, name) is None or isinstance(getattr(partial, name), Part) for name in PARTS)


def test_a_part_leaves_out_what_its_file_left_out_and_an_empty_one_is_false() -> None:
    ssl = SslFacts.from_dict({"gmp_hook": True, "unknown": 1})
    assert ssl.to_dict() == {"gmp_hook": True} and ssl and ssl.tls_stacks == {}
    assert not SslFacts.from_dict({}) and SslFacts.from_dict({}).to_dict() == {}
    assert SslFacts() and "gmp_allocations_per_request" in SslFacts().to_dict()  # made, not read: every field
    assert ProbeFacts.from_dict({"requests": 2}).plain == "-"  # a run the file does not name
    with pytest.raises(ValueError, match=r"^ssl\.curl_flavors: text, not a list of text$"):
        SslFacts.from_dict({"curl_flavors": "gnutls"}, "ssl")
