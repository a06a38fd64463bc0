from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from compat import matrix, sources
from compat.errors import ToolchainUnavailable
from compat.images import (
    IMAGES_DIR,
    ImageBuilder,
    apt_conf,
    bootstrap_argv,
    hackage_names,
    parse_freshness,
    plan_image,
    unused_images,
    verify,
)
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


def test_tree_digest_covers_the_executable_bit_and_symlinks_as_links(tmp_path: Path) -> None:
    configure = tmp_path / "configure"
    configure.write_text("#!/bin/sh\n")
    configure.chmod(0o755)
    executable = sources.tree_digest(tmp_path)
    assert sources.tree_digest(tmp_path) == executable
    configure.chmod(0o644)  # `chmod -x configure`: the build now fails with exit 126, so no earlier pass holds
    assert sources.tree_digest(tmp_path) != executable
    configure.chmod(0o755)
    (tmp_path / "target").write_text("x")
    (tmp_path / "other").write_text("x")
    (tmp_path / "copy").write_text("x")
    copied = sources.tree_digest(tmp_path)
    (tmp_path / "copy").unlink()
    (tmp_path / "copy").symlink_to("target")  # the same content through the link, but a link in the tree
    linked = sources.tree_digest(tmp_path)
    assert linked != copied
    (tmp_path / "copy").unlink()
    (tmp_path / "copy").symlink_to("other")  # the same content again, another link
    assert sources.tree_digest(tmp_path) not in (linked, copied)


def test_unavailability_is_remembered_per_toolchain_and_recipe(tmp_path: Path) -> None:
    m = default()
    gone = dataclasses.replace(m.toolchains["ghc710"], downloads=(
        Download("ghc", "http://127.0.0.1:9/ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2", sha1="0" * 40),))
    said: list[str] = []
    builder = ImageBuilder(None, tmp_path, said.append)  # type: ignore[arg-type]  # fails before any engine call
    for recipe in ("ganeti-3.1", "ganeti-3.1", "ganeti-3.0"):
        with pytest.raises(ToolchainUnavailable, match=r"1 of 1 downloads of ghc710 cannot be had; looked in 127.0.0.1:9 \(.*\n"
                           "missing: ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2$"):
            builder.ensure(gone, m.recipes[recipe], tmp_path / "image.log")
    # Tried once: the failure is remembered for the recipe, and the host that refused is not asked again
    # for the other recipe.
    assert [line for line in said if "downloading" in line] == [
        "ghc710: downloading http://127.0.0.1:9/ghc-7.10.2-x86_64-unknown-linux-deb7.tar.bz2"]


def test_what_the_freshness_check_found_is_said_in_one_line() -> None:
    moved = parse_freshness(
        "moved libghc-lens-dev 5.2.3-1 5.3.2-1\nmoved libghc-strict-dev - 0.5.1-1\nremoved libghc-old-dev 1.0-2\n"
        "new libghc-network-bsd-dev\ngone libghc-psqueue-dev 1.1.0.1-7\nrelease unstable Tue, 24 Nov 2026 20:11:43 UTC\n", 0)
    assert moved.summary("sid") == (
        "sid as of Tue, 24 Nov 2026 20:11:43 UTC moved: libghc-lens-dev 5.2.3-1 -> 5.3.2-1, libghc-strict-dev - -> "
        "0.5.1-1, libghc-old-dev 1.0-2 -> removed, libghc-network-bsd-dev now packaged, libghc-psqueue-dev 1.1.0.1-7 "
        "-> no longer served")
    fresh = parse_freshness("release trixie Tue, 24 Nov 2026 02:12:15 UTC\n", 0)
    assert fresh.changes == () and fresh.summary("trixie") == "up to date with trixie as of Tue, 24 Nov 2026 02:12:15 UTC"
    lost = parse_freshness("Err:1 http://deb.debian.org/debian sid InRelease\ncheck-freshness: apt-get update failed\n", 2)
    assert lost.summary("sid") == "freshness unknown: the check exited with 2: check-freshness: apt-get update failed"


def test_images_no_current_toolchain_uses() -> None:
    L = "org.ganeti-compat"
    images = [  # newest first, as the engine lists them
        ("ganeti-compat/ghc96-gnutls:new", "i1", {L: "1", f"{L}.toolchain": "ghc96", f"{L}.plan": "p1", f"{L}.flavor": "gnutls"}),
        ("ganeti-compat/ghc96:p1-new", "i2", {L: "1", f"{L}.toolchain": "ghc96", f"{L}.plan": "p1"}),
        ("ganeti-compat/ghc96-gnutls:old", "i3", {L: "1", f"{L}.toolchain": "ghc96", f"{L}.plan": "p1", f"{L}.flavor": "gnutls"}),
        ("ganeti-compat/ghc96:p1-old", "i4", {L: "1", f"{L}.toolchain": "ghc96", f"{L}.plan": "p1"}),
        ("ganeti-compat/ghc96:d038977caacbe8c4", "i5", {L: "1", f"{L}.toolchain": "ghc96"}),  # before plans
        ("ganeti-compat/ghc94:p9-x", "i6", {L: "1", f"{L}.toolchain": "ghc94", f"{L}.plan": "p9"}),
        ("ganeti-compat/base:trixie-20261125", "b1", {L: "1", f"{L}.suite": "trixie"}),
        ("ganeti-compat/base:trixie-20261001", "b2", {L: "1", f"{L}.suite": "trixie"}),
        ("ganeti-compat/base:buster-20261001", "b3", {L: "1", f"{L}.suite": "buster"}),
    ]
    assert unused_images(images, {"ghc96"}, {"trixie"}) == [
        "ganeti-compat/ghc96-gnutls:old", "ganeti-compat/ghc96:p1-old", "ganeti-compat/ghc96:d038977caacbe8c4",
        "ganeti-compat/ghc94:p9-x", "ganeti-compat/base:trixie-20261001", "ganeti-compat/base:buster-20261001"]


def test_an_archived_suite_is_bootstrapped_and_used_from_its_mirror_with_its_keyring(tmp_path: Path) -> None:
    jessie = default().toolchains["ghc710"]
    assert bootstrap_argv(jessie, tmp_path / "base.tar") == [
        "mmdebstrap", "--variant=minbase", '--aptopt=Acquire::Check-Valid-Until "false";',
        "--keyring=/usr/share/keyrings/debian-archive-removed-keys.gpg", "jessie", str(tmp_path / "base.tar"),
        "http://archive.debian.org/debian"]
    # A pulled debian:jessie names deb.debian.org, which no longer serves jessie: the image's apt is pointed
    # at the mirror too, before its first apt-get update, in both kinds of image.
    plan = plan_image(jessie, default().recipes["ganeti-3.1"])
    assert plan.files["base-sources.list"] == b"deb http://archive.debian.org/debian jessie main\n"
    assert plan.files["apt.conf"] == b'Acquire::Check-Valid-Until "false";\n'
    assert plan_image(default().toolchains["ghc96"], default().recipes["ganeti-3.1"]).files["base-sources.list"] == b""
    for kind in ("debian", "bindist"):
        dockerfile = (IMAGES_DIR / f"{kind}.Dockerfile").read_text()
        replaced = dockerfile.index("cp /usr/share/ganeti-compat/base-sources.list /etc/apt/sources.list")
        assert "COPY base-sources.list /usr/share/ganeti-compat/base-sources.list" in dockerfile
        assert replaced < dockerfile.index("apt-get update")


def test_a_missing_keyring_is_unavailable_naming_the_package(tmp_path: Path) -> None:
    gone = dataclasses.replace(default().toolchains["ghc710"], keyring="/nonexistent/removed-keys.gpg")
    builder = ImageBuilder(None, tmp_path, lambda line: None)  # type: ignore[arg-type]  # fails before any engine call
    with pytest.raises(ToolchainUnavailable, match=r"needs the keyring /nonexistent/removed-keys.gpg \(apt-get install "
                       "debian-archive-keyring\\)"):
        builder._bootstrap(gone, tmp_path / "image.log")


def test_a_bindist_image_installs_neither_debians_ghc_nor_its_haskell_libraries() -> None:
    m = default()
    plan = plan_image(m.toolchains["ghc710"], m.recipes["ganeti-3.1"])
    packages = plan.files["packages.txt"].decode().split()
    assert "ghc" not in packages and not [p for p in packages if p.startswith("libghc-")]
    assert "python3" in packages  # the rest of the recipe stays, but for what a pin provides (cabal-install 1.22)
    assert "cabal-install" in m.recipes["ganeti-3.1"].packages and "cabal-install" not in packages
    # What no pin provides is named for the verdict: the libraries Ganeti 3.1 took up after GHC 7's era.
    assert plan.files["missing-packages.txt"].decode().split() == ["libghc-cryptonite-dev", "libghc-regex-tdfa-dev"]
    # Pins match Debian's lower-cased names (PSQueue-1.1.tar.gz provides libghc-psqueue-dev).
    assert "libghc-psqueue-dev" not in plan.files["missing-packages.txt"].decode()
    debian = plan_image(m.toolchains["ghc96"], m.recipes["ganeti-3.1"])
    assert "libghc-lens-dev" in debian.files["packages.txt"].decode().split()
    assert "missing-packages.txt" not in debian.files  # a Debian image finds its own, with apt


def test_ganeti_2x_finds_every_library_it_names_among_the_pins_or_ghcs_own() -> None:
    # What GHC ships is not pinned (old-time on 7.8.4, not on 7.10.2); tests/test_pins.py checks the bounds.
    m = default()
    for toolchain in ("ghc78", "ghc710"):
        plan = plan_image(m.toolchains[toolchain], m.recipes["ganeti-2.x"])
        assert plan.files["missing-packages.txt"] == b"", toolchain
    assert "old-time" in hackage_names(m.toolchains["ghc710"]) and "old-time" not in hackage_names(m.toolchains["ghc78"])
    assert m.sources["ganeti-2.16"].ref == "95a2a10bf9638cba31bee09582e593923cc0bc3e"  # tag v2.16.0


class CountingEngine:
    """Just enough of an engine for an existing, fresh image; counts what it is asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def image_id(self, ref: str) -> str | None:
        self.asked.append(f"image_id {ref}")
        return "sha256:base" if ref == "debian:trixie" else None

    def images_labelled(self, label: str) -> list[tuple[str, str, dict[str, str]]]:
        self.asked.append("images_labelled")
        return [("ganeti-compat/ghc96:plan-installed", "sha256:image", {})]

    def output(self, image: str, argv: list[str], *, network: bool, timeout: float) -> tuple[int, str]:
        self.asked.append(f"output {image}")
        return 0, "release trixie Tue, 24 Nov 2026 02:12:15 UTC\n"


def test_an_image_is_worked_out_once_a_run_however_often_it_is_asked_for(tmp_path: Path) -> None:
    m = default()
    engine = CountingEngine()
    builder = ImageBuilder(engine, tmp_path, lambda line: None)  # type: ignore[arg-type]
    images = [builder.ensure(m.toolchains["ghc96"], m.recipes["ganeti-3.1"], tmp_path / "image.log") for _ in range(3)]
    assert images[0] == images[1] == images[2] and images[0].tag == "ganeti-compat/ghc96:plan-installed"
    assert engine.asked == ["image_id debian:trixie", "image_id debian:trixie", "images_labelled",
                            "output ganeti-compat/ghc96:plan-installed"]  # base, plan, freshness: once
