"""`python -m bookbuild canary`: its install list, the registry check and clean-up,
the output diff and report, and one chapter run end to end (without the install)."""

import json
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bookbuild import canary
from bookbuild.notebooks import output_lines
from tests.conftest import ROOT

UNREACHABLE = "http://127.0.0.1:9/simple"  # the discard port: refused at once


def test_install_list_lifts_torch_and_fastai_and_keeps_the_other_ranges():
    reqs = canary.requirements(ROOT)
    assert reqs[:3] == ["torch", "torchvision", "fastai"]  # newest, no pin or cap
    assert "ipywidgets>=8,<9" in reqs
    assert {canary._name(r) for r in reqs} == set(canary.CHAPTER_NEEDS)
    assert not {"jupyter-book", "pytest", "ruff", "zizmor"} & set(reqs)


def test_install_list_names_what_requirements_in_lacks(tmp_path):
    (tmp_path / "requirements.in").write_text("torch==2.14.1\nfastai>=2.8,<2.9\n")
    with pytest.raises(ValueError, match="torchvision") as e:
        canary.requirements(tmp_path)
    assert "numpy" in str(e.value)


def test_unreachable_registry_is_a_distinct_exit_and_installs_nothing(tmp_path, capsys):
    venv, out = tmp_path / "venv-canary", tmp_path / "canary.json"
    code = canary.main(
        ["--root", str(ROOT), "--venv", str(venv), "--out", str(out)]
        + ["--index-url", UNREACHABLE]
    )
    assert code == canary.EXIT_OFFLINE == 3
    assert "package registry is unreachable" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no venv, no partial one, no result


FAKE_PYTHON = """#!/bin/sh
# `python -m venv DIR` makes DIR/bin/python (this script); `-m pip ...` then fails.
if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; exit 0; fi
echo "ERROR: No matching distribution found for torch"; exit 1
"""


def test_a_failed_install_leaves_nothing_and_keeps_the_old_venv(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "requirements.in").write_text("\n".join(canary.CHAPTER_NEEDS) + "\n")
    old = tmp_path / "venv-canary"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "marker").write_text("the previous canary venv")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    monkeypatch.setattr(canary, "registry_error", lambda index: None)
    code, msg = canary.build_venv(tmp_path, old, UNREACHABLE, python=str(fake))
    assert code == canary.EXIT_INSTALL
    assert "nothing was kept" in msg
    assert "No matching distribution" in capsys.readouterr().err
    assert (old / "bin" / "marker").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fake-python",
        "requirements.in",
        "venv-canary",
    ]
    fake.write_text('#!/bin/sh\nmkdir -p "$3/bin"; exit 1\n')  # venv itself fails
    code, msg = canary.build_venv(tmp_path, old, UNREACHABLE, python=str(fake))
    assert code == canary.EXIT_INSTALL
    assert len(list(tmp_path.iterdir())) == 3


def test_relocate_points_scripts_at_the_final_folder(tmp_path):
    old, new = tmp_path / "v.partial-1", tmp_path / "v"
    (new / "bin").mkdir(parents=True)
    (new / "bin" / "pip").write_text(f"#!{old}/bin/python\nimport pip\n")
    (new / "bin" / "python").symlink_to(sys.executable)
    canary._relocate(new, old)
    assert (new / "bin" / "pip").read_text().startswith(f"#!{new}/bin/python\n")
    assert (new / "bin" / "python").is_symlink()


def _cell(text, source="print(x)"):
    return new_code_cell(
        source, outputs=[new_output("stream", name="stdout", text=text)]
    )


def test_changed_cells_compare_sanitized_text_only():
    clean = canary.sanitizer(ROOT / "tests" / "nbval_sanitize.cfg")
    old, new = new_notebook(), new_notebook()
    old.cells = [
        new_markdown_cell("# Title"),
        _cell("versions: python 3.11.7, torch 2.14.1, fastai 2.8.12\n"),
        _cell("loss 0.512\nacc 0.90\n"),
        _cell("took 3.1 s\n", source="# NBVAL_IGNORE_OUTPUT\n# a timing varies"),
        new_code_cell(
            "plot()",
            outputs=[new_output("display_data", data={"image/png": "AAAA"})],
        ),
    ]
    new.cells = [
        new_markdown_cell("# Title"),
        _cell("versions: python 3.11.7, torch 2.15.0, fastai 2.8.13\n"),
        _cell("loss 0.498\nacc 0.90\n"),
        _cell("took 9.9 s\n", source="# NBVAL_IGNORE_OUTPUT\n# a timing varies"),
        new_code_cell(
            "plot()",
            outputs=[new_output("display_data", data={"image/png": "BBBB"})],
        ),
    ]
    changed = canary.changed_cells(old, new, clean)
    # nbval's numbering: code cells from 0 (the markdown title is not counted)
    assert changed == [{"cell": 1, "diff": ["-loss 0.512", "+loss 0.498"]}]


def test_a_print_flushed_in_two_pieces_is_not_a_change():
    """The kernel may deliver one print as two stream outputs; nbval joins them."""
    split = new_code_cell(
        "print(x)",
        outputs=[
            new_output("stream", name="stdout", text="lrs:"),
            new_output("stream", name="stdout", text=" 1e-05, 0.001\n"),
            new_output("stream", name="stderr", text="warn\n"),
        ],
    )
    old, new = new_notebook(), new_notebook()
    old.cells = [split]
    new.cells = [_cell("lrs: 1e-05, 0.001\n")]
    new.cells[0].outputs.append(new_output("stream", name="stderr", text="warn\n"))
    assert output_lines(split) == ["lrs: 1e-05, 0.001", "warn"]
    assert canary.changed_cells(old, new) == []
    new.cells[0].outputs[0]["text"] = "lrs:\n 1e-05, 0.001\n"  # a real new line
    assert canary.changed_cells(old, new)[0]["diff"] == [
        "-lrs: 1e-05, 0.001",
        "+lrs:",
        "+ 1e-05, 0.001",
    ]


def test_long_diffs_are_cut():
    old, new = new_notebook(), new_notebook()
    old.cells = [_cell("".join(f"row {i}\n" for i in range(20)))]
    new.cells = [_cell("".join(f"row {i}!\n" for i in range(20)))]
    [item] = canary.changed_cells(old, new)
    assert len(item["diff"]) == canary.DIFF_LINES + 1
    assert item["diff"][-1] == f"... {40 - canary.DIFF_LINES} more line(s)"


RESULT = {
    "claims": {
        "fd-xent": {"chapter": "06_x", "committed": "holds", "canary": "holds"},
        "fd-adam": {
            "chapter": "06_x",
            "committed": "holds",
            "canary": "does not hold",
        },
    },
    "failures": ["06_x cell 4: VerdictMismatch: fd-adam: measured ..."],
    "changed_cells": {"06_x": [{"cell": 4, "diff": ["-a=1", "+a=2"]}]},
    "versions": {"python": "3.11.7", "torch": "2.15.0", "fastai": "2.8.13"},
    "committed_versions": {"06_x": "python 3.11.7, torch 2.14.1, fastai 2.8.12"},
}


def test_report_names_changed_verdicts_cells_and_versions():
    text = canary.report(RESULT)
    assert "| fd-xent | holds | same |" in text
    assert "| fd-adam (changed) | holds | **does not hold** |" in text
    assert "1 of 2 verdicts changed" in text
    assert "1 failed cell(s)" in text
    assert "06_x Cell 4:" in text
    assert "    +a=2" in text
    assert "versions: python 3.11.7, torch 2.15.0, fastai 2.8.13" in text
    assert "committed outputs: python 3.11.7, torch 2.14.1, fastai 2.8.12" in text


def test_report_lists_a_changed_finding_but_not_a_moved_decimal():
    """Verdict words and findings are compared: a count that changed is reported,
    a continuous number that moved is not (bookbuild.notebooks.compare)."""
    counts = canary.claim_result(
        "06_x",
        {"verdict": "holds with a caveat", "finding": "holds on 3 of 4 tasks"},
        {"verdict": "holds with a caveat", "finding": "holds on 2 of 4 tasks"},
    )
    decimal = canary.claim_result(
        "06_x",
        {"verdict": "holds with a caveat", "finding": "gain +0.052 on 3 of 4 tasks"},
        {"verdict": "holds with a caveat", "finding": "gain +0.047 on 3 of 4 tasks"},
    )
    assert counts["changes"] == [
        "finding: 'holds on 3 of 4 tasks' -> 'holds on 2 of 4 tasks'"
    ]
    assert decimal["changes"] == []
    result = dict(RESULT, claims={"fd-adam": counts, "fd-xent": decimal})
    text = canary.report(result)
    assert "| fd-adam (changed) | holds with a caveat | finding changed |" in text
    assert "| fd-xent | holds with a caveat | same |" in text
    assert "0 of 2 verdicts changed with the newest releases, 1 finding(s)" in text
    assert (
        "  fd-adam: finding: 'holds on 3 of 4 tasks' -> 'holds on 2 of 4 tasks'" in text
    )
    assert "fd-xent:" not in text


def test_one_chapter_end_to_end(tmp_path, monkeypatch, capsys):
    """The part that runs inside the canary venv, here in this interpreter's kernel:
    a chapter whose verdict now differs exits 1 and the result file says why."""
    line = "[{}] fd-xent (FA18 L2, L5): xent — evidence: diff=0"
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("# Demo"),
        new_code_cell(
            f"print({line.format('holds')!r})",
            outputs=[
                new_output(
                    "stream", name="stdout", text=line.format("does not hold") + "\n"
                )
            ],
        ),
    ]
    path = tmp_path / "07_demo.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setattr(canary, "build_body", lambda root: None)
    out = tmp_path / "canary.json"
    code = canary.main(["--root", str(ROOT), "--inside", "--out", str(out), str(path)])
    assert code == canary.EXIT_CHANGED
    result = json.loads(out.read_text())
    assert result["claims"]["fd-xent"] == {
        "chapter": "07_demo",
        "committed": "does not hold",
        "canary": "holds",
        "committed_finding": "",
        "canary_finding": "",
        "changes": ["verdict: does not hold -> holds"],
    }
    assert result["notebooks"] == ["07_demo"]
    assert result["failures"] == []
    assert result["changed_cells"]["07_demo"][0]["cell"] == 0
    assert set(canary.REPORTED) <= set(result["versions"])
    assert (
        "| fd-xent (changed) | does not hold | **holds** |" in capsys.readouterr().out
    )
