"""bookbuild's one entry point and how it finds the project."""

import subprocess
import sys

import pytest

from bookbuild.__main__ import COMMANDS, main
from bookbuild.project import ProjectNotFound, find_root
from tests.conftest import ROOT


def test_find_root_from_a_subfolder(monkeypatch):
    monkeypatch.chdir(ROOT / "notebooks")
    assert find_root() == ROOT


def test_find_root_outside_a_project_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectNotFound, match="pass --root"):
        find_root()
    with pytest.raises(ProjectNotFound, match="not a folder"):
        find_root(tmp_path / "missing")
    assert find_root(tmp_path) == tmp_path.resolve()


def test_cli_lists_commands_and_rejects_unknown(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
    assert main([]) == 2


def test_cli_runs_from_the_repository_without_installing(tmp_path):
    """`python -m bookbuild ledger --check` works from the repository root, and the
    installed claimbook package does not ship bookbuild."""
    out = subprocess.run(
        [sys.executable, "-m", "bookbuild", "ledger", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode in (0, 1), out.stderr
    import claimbook

    assert "bookbuild" not in {p.name for p in ROOT.joinpath("claimbook").iterdir()}
    assert claimbook.__file__.startswith(str(ROOT / "claimbook"))
