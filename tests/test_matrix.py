from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compat import matrix
from compat.errors import ConfigError
from tests.conftest import ROOT


def load_default() -> dict:
    return yaml.safe_load((ROOT / "matrix.yaml").read_text())


def error_for(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        matrix.parse(data, Path("matrix.yaml"))
    return str(caught.value)


def test_default_matrix_has_the_toolchains_the_packagers_expect() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    assert list(m.toolchains) == ["ghc78", "ghc710", "ghc88", "ghc90", "ghc96", "ghc910"]
    assert {t.kind for n, t in m.toolchains.items() if n in ("ghc78", "ghc710")} == {"bindist"}
    assert m.toolchains["ghc96"].suite == "trixie"
    assert m.default_sources == ("ganeti-3.1", "ganeti-3.0.2")
    assert set(m.flavors) == {"gnutls", "openssl"}


def test_every_bindist_download_is_pinned_and_shared_pins_are_spliced() -> None:
    m = matrix.load(ROOT / "matrix.yaml")
    for name in ("ghc78", "ghc710"):
        downloads = m.toolchains[name].downloads
        assert downloads[0].name == "ghc"
        assert all(d.sha256 or d.sha1 for d in downloads)
        assert any(d.name == "curl-1.3.8.tar.gz" and d.sha256 for d in downloads)
    assert m.toolchains["ghc78"].downloads[0].sha256 == "20b5731d268613bbf6e977dbb192a3a3b7b78d954c35edbfca4fb36b652e24f7"


def test_misspelled_flavor_names_the_path_and_suggests() -> None:
    data = load_default()
    data["toolchains"]["ghc710"]["flavors"] = ["openssl", "gnutsl"]
    assert error_for(data) == ("matrix.yaml: toolchains.ghc710.flavors[1]: unknown flavor 'gnutsl' "
                               "(did you mean 'gnutls'?)")


def test_misspelled_key_is_named_with_a_suggestion() -> None:
    data = load_default()
    data["toolchains"]["ghc96"]["suit"] = data["toolchains"]["ghc96"].pop("suite")
    message = error_for(data)
    assert message.startswith("matrix.yaml: toolchains.ghc96.suit: unknown key (did you mean 'suite'?)")


def test_unpinned_download_is_refused() -> None:
    data = load_default()
    del data["toolchains"]["ghc710"]["downloads"][0]["sha1"]
    assert error_for(data) == "matrix.yaml: toolchains.ghc710.downloads[0]: a download must be pinned: give sha256 (or sha1)"


def test_bad_checksum_text_is_refused() -> None:
    data = load_default()
    data["toolchains"]["ghc78"]["downloads"][0]["sha256"] = "abc"
    assert "toolchains.ghc78.downloads[0].sha256: 'abc' is not a 64-digit lowercase hex sha256" in error_for(data)


def test_source_kinds_need_their_fields() -> None:
    data = load_default()
    data["sources"]["mine"] = {"kind": "tarball", "url": "https://example.org/g.tar.gz", "recipe": "ganeti-3.1"}
    assert error_for(data) == "matrix.yaml: sources.mine: a 'tarball' source needs 'sha256'"


def test_unknown_recipe_and_placeholder() -> None:
    data = load_default()
    data["sources"]["ganeti-3.1"]["recipe"] = "ganeti-31"
    assert "sources.ganeti-3.1.recipe: unknown recipe 'ganeti-31' (did you mean 'ganeti-3.1'?)" in error_for(data)
    data = load_default()
    data["recipes"]["ganeti-3.1"]["steps"]["test"] = [["exe/htest", "--jxml={output}/x.xml"]]
    assert "recipes.ganeti-3.1.steps.test[0][1]: unknown placeholder '{output}'" in error_for(data)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("toolchains:\n  ghc96: [\n")
    with pytest.raises(ConfigError, match=r"m.yaml: line \d+, column \d+: not valid YAML"):
        matrix.load(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        matrix.load(tmp_path / "nope.yaml")


def test_a_new_toolchain_is_a_few_lines_of_yaml() -> None:
    data = load_default()
    data["toolchains"]["ghc912"] = {"kind": "debian", "suite": "experimental", "ghc": "9.12.2", "flavors": ["gnutls"]}
    m = matrix.parse(data, Path("matrix.yaml"))
    assert m.toolchains["ghc912"].default_flavor == "gnutls"
    assert m.toolchains["ghc912"].description == "GHC 9.12.2 (debian, experimental)"
