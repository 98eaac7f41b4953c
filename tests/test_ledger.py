import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from claimbook import ledger


def _nb(path, lines):
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("# My chapter"),
        new_code_cell("setup()", outputs=[new_output("stream", name="stdout",
                                                     text="versions: torch 9, fastai 9\n")]),
        new_markdown_cell("## A section: with punctuation!"),
        new_code_cell("record()", outputs=[new_output("stream", name="stdout", text="\n".join(lines))]),
    ]
    nbformat.write(nb, path)


def test_collect_and_render(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", [
        "epoch 1",
        "[outdated] dlr-slice-single (FA18 L5): slice(b) ... — evidence: ratio=10 — note: changed in 2.0",
        "[holds] fd-xent (FA18 L2, L5): xent — evidence: diff=<1e-06",
    ])
    rows, versions = ledger.collect(tmp_path / "notebooks")
    assert [r["id"] for r in rows] == ["dlr-slice-single", "fd-xent"]
    assert rows[0]["anchor"] == "a-section-with-punctuation" and rows[0]["chapter_title"] == "My chapter"
    assert versions == {"07_demo": "torch 9, fastai 9"}
    text = ledger.render(rows, versions)
    assert "**outdated** 1" in text and "**holds** 1" in text
    assert "(../notebooks/07_demo.ipynb#a-section-with-punctuation)" in text
    assert "*changed in 2.0*" in text and "torch 9, fastai 9" in text
    assert "`kr-fix-seed`" in text  # listed under "not yet checked"
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 1
    assert ledger.main(["--root", str(tmp_path)]) == 0
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 0


def test_committed_ledger_is_up_to_date(repo_root):
    assert ledger.main(["--root", str(repo_root), "--check"]) == 0, (
        "book/claims.md is stale: run `python -m claimbook.ledger`"
    )


def test_every_notebook_claim_line_is_in_the_ledger(repo_root):
    text = (repo_root / "book" / "claims.md").read_text()
    for nb_path in (repo_root / "notebooks").glob("*.ipynb"):
        for cell in json.loads(nb_path.read_text())["cells"]:
            for out in cell.get("outputs", []):
                for line in "".join(out.get("text", "")).splitlines():
                    if line.startswith("[") and "— evidence:" in line:
                        cid = line.split("] ", 1)[1].split(" ", 1)[0]
                        assert f"`{cid}`" in text, (nb_path.name, cid)
