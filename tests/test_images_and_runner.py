from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from compat import matrix, sources
from compat.errors import ToolchainUnavailable
from compat.freshness import forget_gone, recall, remember
from compat.images import (
    IMAGES_DIR,
    Freshness,
    Image,
    ImageBuilder,
    apt_conf,
    bootstrap_argv,
    hackage_names,
    is_provisional,
    parse_freshness,
    plan_image,
    provisional_tag,
    unused_images,
    verify,
)
from compat.matrix import Download
from compat.runner import expand, plan
from tests.conftest import ROOT
from tests.memory_engine import MemoryImageEngine


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
    # A git source pinned by commit is fetched by it, and named by the tag the matrix gives it.
    assert sources.fetch_command(m.sources["ganeti-2.16.2"]) == [
        "sh", "/build/.compat/fetch-source", "git", "https://github.com/ganeti/ganeti.git", "v2.16.2",
        "76f61053416e16bf9dea978becd79a330681f151"]


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
    gone = dataclasses.replace(m.toolchains["ghc710"], frozen=None, downloads=(
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
    # An archived suite whose keys still hold (not frozen: tests/test_frozen.py has jessie's own).
    archived = dataclasses.replace(default().toolchains["ghc710"], frozen=None,
                                   keyring="/usr/share/keyrings/debian-archive-removed-keys.gpg")
    assert bootstrap_argv(archived, tmp_path / "base.tar", tmp_path) == [
        "mmdebstrap", "--variant=minbase", '--aptopt=Acquire::Check-Valid-Until "false";',
        "--keyring=/usr/share/keyrings/debian-archive-removed-keys.gpg", "jessie", str(tmp_path / "base.tar"),
        "http://archive.debian.org/debian"]
    # A pulled debian:jessie names deb.debian.org, which no longer serves jessie: the image's apt is pointed
    # at the mirror too, before its first apt-get update, in both kinds of image.
    plan = plan_image(archived, default().recipes["ganeti-3.1"])
    assert plan.files["base-sources.list"] == b"deb http://archive.debian.org/debian jessie main\n"
    assert plan.files["frozen-release"] == b""
    assert plan.files["apt.conf"] == b'Acquire::Check-Valid-Until "false";\n'
    assert plan_image(default().toolchains["ghc96"], default().recipes["ganeti-3.1"]).files["base-sources.list"] == b""
    for kind in ("debian", "bindist"):
        dockerfile = (IMAGES_DIR / f"{kind}.Dockerfile").read_text()
        replaced = dockerfile.index("cp /usr/share/ganeti-compat/base-sources.list /etc/apt/sources.list")
        assert "COPY base-sources.list /usr/share/ganeti-compat/base-sources.list" in dockerfile
        assert replaced < dockerfile.index("apt-get update")


def test_a_missing_keyring_is_unavailable_naming_the_package(tmp_path: Path) -> None:
    gone = dataclasses.replace(default().toolchains["ghc710"], frozen=None, keyring="/nonexistent/removed-keys.gpg")
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
    assert plan.files["unpinned-packages.txt"].decode().split() == ["libghc-cryptonite-dev", "libghc-regex-tdfa-dev"]
    # Pins match Debian's lower-cased names (PSQueue-1.1.tar.gz provides libghc-psqueue-dev).
    assert "libghc-psqueue-dev" not in plan.files["unpinned-packages.txt"].decode()
    debian = plan_image(m.toolchains["ghc96"], m.recipes["ganeti-3.1"])
    assert "libghc-lens-dev" in debian.files["packages.txt"].decode().split()
    assert "unpinned-packages.txt" not in debian.files  # a Debian image finds what it lacks with apt


# An apt that serves every package at version 1 and moves nothing: check-freshness then reports only what
# the image's own lists make news.
FAKE_APT = {
    "apt-get": "exit 0\n",
    "apt-cache": 'case $1 in show) exit 0;; madison) shift; for p; do echo "$p | 1 | http://mirror jessie/main"; done;; esac\n',
    "dpkg-query": 'for p; do case $p in -*) ;; *) echo "ii  $p 1";; esac; done\n',
}


def check_freshness(share: Path, tmp_path: Path, *args: str, lists: Path | None = None) -> Freshness:
    """images/scripts/check-freshness on this host, against an image's package lists in share and apt's lists
    in `lists` (none by default), with FAKE_APT."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in FAKE_APT.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    if lists is None:
        lists = tmp_path / "no-lists"
        lists.mkdir(exist_ok=True)
    done = subprocess.run(["sh", str(IMAGES_DIR / "scripts" / "check-freshness"), *args, str(share)],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "TMPDIR": str(tmp_path), "APT_LISTS": str(lists)})
    return parse_freshness(done.stdout, done.returncode)


def release_file(date: str, *indices: bytes) -> str:
    return f"Date: {date}\nSHA256:\n" + "".join(
        f" {hashlib.sha256(blob).hexdigest()} {len(blob)} main/binary-amd64/Packages\n" for blob in indices)


def test_the_release_files_say_whether_the_suite_moved_only_when_they_vouch_for_every_index(tmp_path: Path) -> None:
    share, lists = tmp_path / "share", tmp_path / "lists"
    share.mkdir()
    lists.mkdir()
    packages = b"Package: ghc\nVersion: 9.6.6-4\n\n"
    index = lists / "deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages"
    index.write_bytes(packages)
    release = lists / "deb.debian.org_debian_dists_trixie_InRelease"
    release.write_text(release_file("Tue, 24 Nov 2026 02:12:15 UTC", packages))
    full = check_freshness(share, tmp_path, lists=lists)
    quick = check_freshness(share, tmp_path, "--lists", lists=lists)
    assert full.lists is not None and quick.lists == full.lists
    assert quick.releases == () and quick.changes == ()  # --lists reads the Release files and nothing else
    # A new upload with the same Date: another Release file, another digest.
    release.write_text(release_file("Tue, 24 Nov 2026 02:12:15 UTC", packages + b"Package: lens\n\n"))
    assert check_freshness(share, tmp_path, "--lists", lists=lists).lists not in (None, full.lists)
    # An index no Release file lists (a flat repository without one): the Release files cannot say.
    (lists / "example.org_._Packages").write_bytes(b"Package: canary\nVersion: 1\n\n")
    assert check_freshness(share, tmp_path, lists=lists).lists is None


def test_what_a_bindist_image_leaves_out_on_purpose_never_reads_as_the_suite_moving(tmp_path: Path) -> None:
    # Issue 17: jessie serves libghc-regex-tdfa-dev, which the ghc710 image leaves out for want of a pin; read
    # as "new in jessie", it rebuilt the image (GHC and ~80 sdists) every run.
    plan = plan_image(default().toolchains["ghc710"], default().recipes["ganeti-3.1"])
    share = tmp_path / "share"
    share.mkdir()
    for name in ("packages.txt", "unpinned-packages.txt"):  # as bindist.Dockerfile copies them
        (share / name).write_bytes(plan.files[name])
    # What the image lacks, for the verdict: the unpinned, then what the suite did not serve at build time.
    dockerfile = (IMAGES_DIR / "bindist.Dockerfile").read_text()
    assert "cp /usr/share/ganeti-compat/unpinned-packages.txt /usr/share/ganeti-compat/missing-packages.txt" in dockerfile
    (share / "missing-packages.txt").write_bytes(plan.files["unpinned-packages.txt"])
    assert check_freshness(share, tmp_path).changes == ()
    # A package the suite could have served and did not is news once it does.
    with (share / "missing-packages.txt").open("a") as missing:
        missing.write("libghc-later-dev\n")
    assert check_freshness(share, tmp_path).changes == ("libghc-later-dev now packaged",)


def test_ganeti_2x_finds_every_library_it_names_among_the_pins_or_ghcs_own() -> None:
    # What GHC ships is not pinned (old-time on 7.8.4, not on 7.10.2); tests/test_pins.py checks the bounds.
    m = default()
    for toolchain in ("ghc78", "ghc710"):
        plan = plan_image(m.toolchains[toolchain], m.recipes["ganeti-2.x"])
        assert plan.files["unpinned-packages.txt"] == b"", toolchain
    assert "old-time" in hackage_names(m.toolchains["ghc710"]) and "old-time" not in hackage_names(m.toolchains["ghc78"])
    assert (m.sources["ganeti-2.16.0"].ref, m.sources["ganeti-2.16.0"].commit) == (
        "v2.16.0", "95a2a10bf9638cba31bee09582e593923cc0bc3e")
    assert (m.sources["ganeti-2.16.2"].ref, m.sources["ganeti-2.16.2"].commit) == (
        "v2.16.2", "76f61053416e16bf9dea978becd79a330681f151")


def jessie_package(module: str) -> str:
    """The jessie package of a Python 2 module: python-<module>, lower-cased (OpenSSL: python-openssl)."""
    return f"python-{module.lower()}"


def test_the_jessie_images_install_every_python_module_ganeti_2_16s_configure_requires() -> None:
    # tests/data/era/configure-python-modules.txt: every AC_PYTHON_MODULE of Ganeti 2.16's configure.ac.
    lines = (ROOT / "tests" / "data" / "era" / "configure-python-modules.txt").read_text().splitlines()
    modules = dict(line.split("\t") for line in lines if line and not line.startswith("#"))
    required = sorted(module for module, need in modules.items() if need == "required")
    assert "ipaddr" in required and len(required) == 7
    m = default()
    for toolchain in ("ghc78", "ghc710"):
        for source in ("ganeti-2.16.2", "ganeti-2.16.0"):
            plan = plan_image(m.toolchains[toolchain], m.recipes[m.sources[source].recipe])
            installed = plan.files["packages.txt"].decode().split()
            assert [module for module in required if jessie_package(module) not in installed] == [], (toolchain, source)


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

    def hold(self, ref: str) -> str:
        self.asked.append(f"hold {ref}")
        return "holder"

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
                            "hold ganeti-compat/ghc96:plan-installed", "image_id ganeti-compat/ghc96:plan-installed",
                            "output ganeti-compat/ghc96:plan-installed"]  # base, plan, hold, freshness: once


def test_a_run_asks_each_suite_once_whether_it_moved_and_checks_an_image_in_full_only_when_it_did(
        tmp_path: Path) -> None:
    # Issue 22: an unchanged matrix ran the full check (apt-get update, a dist-upgrade, madison) in every image.
    m = default()
    ghc96, engine, log = m.toolchains["ghc96"], MemoryImageEngine(lists="a" * 64), tmp_path / "image.log"

    def run() -> list[Image]:
        engine.checks.clear()
        builder = ImageBuilder(engine, tmp_path / "cache", lambda line: None)  # type: ignore[arg-type]
        images = [builder.ensure(ghc96, m.recipes[recipe], log) for recipe in ("ganeti-3.1", "ganeti-3.0")]
        builder.release()
        return images

    built = run()
    assert len({image.tag for image in built}) == 2 and engine.checks == []  # two plans, built now
    first = run()
    assert sorted(engine.checks) == sorted(f"full {image.tag}" for image in built)  # nothing remembered yet
    unchanged = run()
    assert [check.split()[0] for check in engine.checks] == ["lists"]  # one question for the suite
    assert [image.freshness for image in unchanged] == [image.freshness for image in first]
    assert all(image.reused and image.freshness.startswith("up to date with trixie") for image in unchanged)
    engine.lists = "b" * 64  # the suite moved (say, a security upload): every image is checked in full again
    engine.moves = "moved ghc 9.6.6-4 9.6.6-5\n"
    moved = run()
    assert [check.split()[0] for check in engine.checks] == ["lists", "full", "full"]
    assert all(not image.reused and "ghc 9.6.6-4 -> 9.6.6-5" in image.freshness for image in moved)
    engine.moves = ""
    run()
    assert [check.split()[0] for check in engine.checks] == ["full", "full"]  # new images: nothing remembered


def test_a_remembered_freshness_that_cannot_be_trusted_is_checked_in_full(tmp_path: Path) -> None:
    image_id = "sha256:" + "c" * 64
    found = parse_freshness(f"release trixie Tue, 24 Nov 2026 02:12:15 UTC\nlists {'a' * 64}\n", 0)
    remember(tmp_path, image_id, found)
    assert recall(tmp_path, image_id) == found
    assert recall(tmp_path, "sha256:../../etc") is None
    stale = parse_freshness(f"moved ghc 1 2\nlists {'a' * 64}\n", 0)
    remember(tmp_path, "sha256:" + "d" * 64, stale)  # only an up-to-date answer is kept
    assert recall(tmp_path, "sha256:" + "d" * 64) is None
    assert forget_gone(tmp_path, {image_id, "sha256:" + "e" * 64}) == []
    assert forget_gone(tmp_path, set()) == [tmp_path / "freshness" / f"{'c' * 64}.json"]  # `clean`: image gone
    remember(tmp_path, image_id, found)
    for hostile in ('{"lists": "../x", "releases": []}', '{"lists": 5}', "[" * 100000, "\udcff", ""):
        (tmp_path / "freshness" / f"{'c' * 64}.json").write_text(hostile, errors="surrogateescape")
        assert recall(tmp_path, image_id) is None, hostile


def test_a_build_tags_its_image_as_its_own_until_named_and_leaves_another_process_build_alone(tmp_path: Path) -> None:
    # Issue 17: two processes building one plan both tagged `<plan>-new`; each retagged (or removed) the other's.
    m = default()
    ghc96, recipe = m.toolchains["ghc96"], m.recipes["ganeti-3.1"]
    digest = plan_image(ghc96, recipe).digest("sha256:base")
    engine = MemoryImageEngine()
    in_flight = f"ganeti-compat/ghc96:{digest[:16]}-new-999999-0badcafe"  # another process's build, not yet named
    engine.image_labels["sha256:other"] = {"org.ganeti-compat.plan": digest}
    engine.tags[in_flight] = "sha256:other"
    image = ImageBuilder(engine, tmp_path, lambda line: None).ensure(ghc96, recipe, tmp_path / "image.log")  # type: ignore[arg-type]
    assert not image.reused  # another's build in flight is no image to reuse
    assert engine.built[0].startswith(f"ganeti-compat/ghc96:{digest[:16]}-new-{os.getpid()}-")
    assert engine.built[0] != provisional_tag("ganeti-compat/ghc96", digest)  # and a random part
    assert image.tag in engine.tags and in_flight in engine.tags  # nor an older image to remove
    assert is_provisional(in_flight) and is_provisional(f"ganeti-compat/ghc96:{digest[:16]}-new")
    assert not is_provisional(image.tag)


def test_a_superseded_image_stays_while_another_run_holds_it(tmp_path: Path) -> None:
    # Issue 17: one run's rebuild removed the image (and flavor layer) another run was between two steps on.
    m = default()
    ghc96, recipe, gnutls = m.toolchains["ghc96"], m.recipes["ganeti-3.1"], m.flavors["gnutls"]
    engine = MemoryImageEngine()
    log = tmp_path / "image.log"
    first_run = ImageBuilder(engine, tmp_path, lambda line: None)  # type: ignore[arg-type]
    old = first_run.ensure(ghc96, recipe, log)
    old_layer = first_run.flavored(old, ghc96, "gnutls", gnutls.soname, log)
    engine.installed, engine.moves = "ghc\t9.6.7-1\n", "moved ghc 9.6.6-4 9.6.7-1\n"
    second_run = ImageBuilder(engine, tmp_path, lambda line: None)  # type: ignore[arg-type]
    new = second_run.ensure(ghc96, recipe, log)
    assert not new.reused and new.tag != old.tag
    assert old.tag in engine.tags and old_layer.tag in engine.tags  # the first run goes on with them
    first_run.release()
    second_run.release()
    assert engine.held == {}
    engine.installed = "ghc\t9.6.8-1\n"  # the suite moves again: now nobody holds the older ones
    ImageBuilder(engine, tmp_path, lambda line: None).ensure(ghc96, recipe, log)  # type: ignore[arg-type]
    assert old.tag not in engine.tags and old_layer.tag not in engine.tags and new.tag not in engine.tags
