"""images/scripts/fetch-source on git sources, run on this machine against a local repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

FETCH = ROOT / "images" / "scripts" / "fetch-source"
IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@invalid"]


def git(*argv: str, cwd: Path) -> str:
    return subprocess.run(["git", *IDENTITY, *argv], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def upstream(tmp_path: Path) -> tuple[str, str, str]:
    """A repository with an annotated release tag and a commit after it: (url, tagged commit, later commit)."""
    repo = tmp_path / "upstream"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    (repo / "file").write_text("1\n")
    git("add", "file", cwd=repo)
    git("commit", "-qm", "release", cwd=repo)
    git("tag", "-a", "-m", "the release", "v2.16.2", cwd=repo)
    tagged = git("rev-parse", "HEAD", cwd=repo)
    (repo / "file").write_text("2\n")
    git("commit", "-qam", "later", cwd=repo)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=repo)  # as GitHub serves any commit
    return f"file://{repo}", tagged, git("rev-parse", "HEAD", cwd=repo)


def fetch(root: Path, *argv: str) -> tuple[int, str]:
    done = subprocess.run(["sh", str(FETCH), "git", *argv], env={"GANETI_COMPAT_BUILD": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def test_a_git_source_fetched_by_commit_records_the_tag_the_matrix_names(tmp_path: Path,
                                                                          upstream: tuple[str, str, str]) -> None:
    url, tagged, _ = upstream
    code, said = fetch(tmp_path / "build", url, "v2.16.2", tagged)
    assert code == 0, said
    assert (tmp_path / "build" / "meta" / "version").read_text() == f"v2.16.2 ({tagged[:7]})\n"
    assert (tmp_path / "build" / "meta" / "digest").read_text() == f"{tagged}\n"
    # The tree names the release too: a build that runs `git describe` (Ganeti's vcs-version) gets the tag.
    assert git("describe", cwd=tmp_path / "build" / "src") == "v2.16.2"


def test_a_tag_that_names_another_commit_upstream_is_refused(tmp_path: Path, upstream: tuple[str, str, str]) -> None:
    url, tagged, later = upstream
    code, said = fetch(tmp_path / "build", url, "v2.16.2", later)
    assert code == 2
    assert f"compat-fetch: v2.16.2 is {tagged} at {url}, matrix.yaml pins it to {later}: refused" in said


def test_a_commit_alone_or_a_branch_is_recorded_as_before(tmp_path: Path, upstream: tuple[str, str, str]) -> None:
    url, tagged, later = upstream
    assert fetch(tmp_path / "a", url, tagged, "")[0] == 0
    assert (tmp_path / "a" / "meta" / "version").read_text() == f"{tagged[:7]}\n"
    assert fetch(tmp_path / "b", url, "HEAD", "")[0] == 0
    assert (tmp_path / "b" / "meta" / "version").read_text() == f"HEAD ({later[:7]})\n"
