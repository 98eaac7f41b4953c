"""`make book EXECUTE=1`: fresh outputs written back; a failure leaves the file."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from bookbuild import execute


def _write(path, sources):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


def test_success_writes_outputs(tmp_path, no_env_budget):
    path = tmp_path / "01_ok.ipynb"
    _write(path, ["print(6 * 7)"])
    execute.execute_notebook(path, timeout=60)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "42\n"
    assert "execution" not in nb.cells[0].metadata


def test_failure_leaves_file_and_names_cell(tmp_path, no_env_budget, capsys):
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    _write(good, ["x = 1"])
    _write(bad, ["x = 1", "raise ValueError('boom')", "print('never')"])
    before = bad.read_bytes()
    assert execute.main([str(tmp_path)]) == 1
    assert bad.read_bytes() == before
    err = capsys.readouterr().err
    assert "02_bad.ipynb: cell 1 failed" in err
    assert "boom" in err
    assert "left unchanged" in err
    assert nbformat.read(good, as_version=4).cells[0].execution_count == 1


def test_refuses_full_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMBOOK_BUDGET", "full")
    path = tmp_path / "01_x.ipynb"
    _write(path, ["1"])
    with pytest.raises(RuntimeError, match="small budget"):
        execute.execute_notebook(path)


def test_refuses_another_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMBOOK_SEED", "5")
    path = tmp_path / "01_x.ipynb"
    _write(path, ["1"])
    with pytest.raises(RuntimeError, match="default seed"):
        execute.execute_notebook(path)
