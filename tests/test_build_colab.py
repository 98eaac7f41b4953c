"""bookbuild.colab: every notebook's first cell installs the book's release."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from bookbuild import colab
from tests.conftest import ROOT


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def test_colab_cell_installs_the_configured_release():
    url, ref = colab.colab_ref(ROOT)
    assert url == _config()["repository"]["url"]
    assert ref == _config()["repository"]["branch"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", ref), "a release tag, not a moving branch"
    cell = colab.colab_cell(url, ref)
    assert f'"claimbook @ git+{url}@{ref}"' in cell
    compile(cell, "colab-cell", "exec")
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():  # a notebook cell: it must pass the book's lint and format
        for args in (["check"], ["format", "--diff"]):
            res = subprocess.run(
                [str(ruff), *args, "--stdin-filename", "cell.py", "-"],
                input=cell + "\n",
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            assert res.returncode == 0, res.stdout + res.stderr


def test_every_notebook_has_the_colab_cell():
    """Run `python -m bookbuild colab --fix` after changing the release."""
    assert colab.check_colab(ROOT) == []


def test_check_and_fix_colab_on_a_copy(tmp_path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "notebooks").mkdir()
    src = ROOT / "notebooks" / "00_start_here.ipynb"
    nb = json.loads(src.read_text())
    nb["cells"][0]["source"] = ["# an old Colab cell\n", "pass"]
    (tmp_path / "notebooks" / src.name).write_text(json.dumps(nb))
    problems = colab.check_colab(tmp_path)
    assert len(problems) == 1
    assert "00_start_here.ipynb" in problems[0]
    assert colab.fix_colab(tmp_path) == [tmp_path / "notebooks" / src.name]
    assert colab.check_colab(tmp_path) == []
    fixed = json.loads((tmp_path / "notebooks" / src.name).read_text())
    assert [c.get("outputs") for c in fixed["cells"][1:]] == [
        c.get("outputs") for c in nb["cells"][1:]
    ]
    cfg = (tmp_path / "_config.yml").read_text()
    ref = _config()["repository"]["branch"]
    (tmp_path / "_config.yml").write_text(cfg.replace(f"branch: {ref}", "branch: main"))
    assert any("moving branch" in p for p in colab.check_colab(tmp_path))


def test_the_release_tag_matches_the_package_version(tmp_path):
    """The version is written once (claimbook.__version__; pyproject reads it), and
    check_colab flags a _config.yml branch other than v<version>."""
    from importlib.metadata import version

    import tomllib

    import claimbook

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "claimbook.__version__"
    }
    assert version("claimbook") == claimbook.__version__  # what pip installed
    assert not colab.check_colab(ROOT)
    cfg = (ROOT / "_config.yml").read_text()
    (tmp_path / "_config.yml").write_text(
        cfg.replace(f"v{claimbook.__version__}", "v9.9.9")
    )
    assert any(
        "v9.9.9" in p and "__version__" in p for p in colab.check_colab(tmp_path)
    )
