"""The environment record names the source tree: its commit, and whether it differs from it."""

import shutil
import subprocess

import pytest

from wnlb_zoo.benchmark.environment import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_git_commit_names_the_commit_and_flags_changed_files(tmp_path):
    assert git_commit(tmp_path) is None  # not a checkout
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git(tmp_path, "add", "code.py")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    clean = git_commit(tmp_path)
    head = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=tmp_path, capture_output=True, text=True)
    assert clean == head.stdout.strip()  # the commit itself, abbreviated as git does
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == f"{clean}-dirty"
