from __future__ import annotations

import hashlib
from pathlib import Path

from compat import matrix, sources
from compat.images import apt_conf, plan_image, verify
from compat.matrix import Download
from compat.runner import expand, plan
from tests.conftest import ROOT


def default() -> matrix.Matrix:
    return matrix.load(ROOT / "matrix.yaml")


def test_image_tag_is_a_content_hash() -> None:
    m = default()
    recipe = m.recipes["ganeti-3.1"]
    first = plan_image(m.toolchains["ghc96"], recipe)
    assert first.digest("sha256:base") == plan_image(m.toolchains["ghc96"], recipe).digest("sha256:base")
    assert first.digest("sha256:base") != first.digest("sha256:other-base")
    fixture = matrix.load(ROOT / "tests" / "fixtures" / "matrix.yaml")
    assert plan_image(m.toolchains["ghc96"], fixture.recipes["curlint"]).digest("sha256:base") != first.digest("sha256:base")
    packages = first.files["packages.txt"].decode().split()
    assert "libghc-lens-dev" in packages and "quilt" in packages and len(packages) == len(set(packages))


def test_sid_gets_its_apt_option() -> None:
    assert apt_conf(("Acquire::Check-Valid-Until=false",)) == 'Acquire::Check-Valid-Until "false";\n'
    assert b"Check-Valid-Until" in plan_image(default().toolchains["ghc910"], default().recipes["ganeti-3.1"]).files["apt.conf"]


def test_verify_checks_every_pinned_sum(tmp_path: Path) -> None:
    blob = tmp_path / "ghc.tar.bz2"
    blob.write_bytes(b"not a ghc")
    sha256, sha1 = hashlib.sha256(b"not a ghc").hexdigest(), hashlib.sha1(b"not a ghc").hexdigest()
    assert verify(blob, Download("ghc", "https://x", sha256=sha256, sha1=sha1)) is None
    mismatch = verify(blob, Download("ghc", "https://x", sha1="0" * 40))
    assert mismatch == f"sha1 is {sha1}, matrix.yaml pins {'0' * 40}"


def test_fetch_commands_are_argument_lists() -> None:
    m = default()
    assert sources.fetch_command(m.sources["ganeti-3.1"]) == [
        "sh", "/build/.compat/fetch-source", "debian", "ganeti", "sid", "", "yes"]
    assert sources.fetch_command(m.sources["ganeti-3.0.2"])[-3:] == ["bookworm", "3.0.2-3", "no"]


def test_expand_fills_each_argument_alone() -> None:
    argv = ("python3", "-c", "print(1)", "{version}", "--jxml={out}/x.xml", "-j{jobs}")
    assert expand(argv, {"version": "3.1.0~rc2-5; rm -rf /", "out": "/build/out", "jobs": "2", "flavor": "gnutls"}) == [
        "python3", "-c", "print(1)", "3.1.0~rc2-5; rm -rf /", "--jxml=/build/out/x.xml", "-j2"]


def test_plan_groups_flavors_default_first() -> None:
    groups = plan(default(), ["ghc710", "ghc96"], ["ganeti-3.1"])
    assert [[c.key for c in group] for group in groups] == [
        ["ghc710--ganeti-3.1--openssl", "ghc710--ganeti-3.1--gnutls"],
        ["ghc96--ganeti-3.1--gnutls", "ghc96--ganeti-3.1--openssl"]]
    only = plan(default(), ["ghc96"], ["ganeti-3.1", "ganeti-3.0.2"], ["openssl"])
    assert [[c.key for c in group] for group in only] == [["ghc96--ganeti-3.1--openssl"], ["ghc96--ganeti-3.0.2--openssl"]]


def test_tree_digest_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1")
    before = sources.tree_digest(tmp_path)
    (tmp_path / "a").write_text("2")
    assert sources.tree_digest(tmp_path) != before
