"""bookbuild.notebooks: the one list of chapters, the one reader of their outputs,
and the one comparison of two runs' verdicts and findings (`make stability`, `make
canary`)."""

import json

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bookbuild import ledger, notebooks, stability
from bookbuild.notebooks import compare, finding_signature

LINE = (
    "[holds with a caveat] fd-adam (FA18 L5): adam — evidence: x=1 — "
    "scope: 4 synthetic tasks — finding: holds on {k} of 4 tasks, gain {g}"
)


def _stream(*pieces, name="stdout"):
    return [new_output("stream", name=name, text=p) for p in pieces]


def test_chapters_are_the_numbered_notebooks_in_order(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    for name in ("01_b.ipynb", "00_a.ipynb", "scratch.ipynb", "1_x.ipynb", "10_c.md"):
        (nbs / name).write_text("{}")
    assert [p.name for p in notebooks.chapters(tmp_path)] == [
        "00_a.ipynb",
        "01_b.ipynb",
    ]
    assert notebooks.chapters_in(nbs) == notebooks.chapters(tmp_path)
    assert notebooks.chapters(tmp_path / "nothing") == []


def test_the_build_tools_list_chapters_in_one_place():
    """The glob lives in bookbuild/notebooks.py only."""
    from tests.conftest import ROOT

    for path in sorted((ROOT / "bookbuild").glob("*.py")):
        if path.name != "notebooks.py":
            assert "[0-9][0-9]_" not in path.read_text(), path.name


def test_text_outputs_join_a_print_flushed_in_pieces():
    cell = new_code_cell(
        "x",
        outputs=[
            *_stream("[holds] fd-xent (FA18 L2, L5): xent — ", "evidence: diff=0\n"),
            *_stream("warn\n", name="stderr"),
            *_stream("after\n"),
            new_output("display_data", data={"image/png": "AAAA"}),
            new_output(
                "display_data",
                data={"text/markdown": "| a |", "text/plain": "<Markdown>"},
            ),
            new_output("execute_result", data={"text/plain": "42"}),
            new_output("error", ename="ValueError", evalue="bad", traceback=[]),
        ],
    )
    assert notebooks.text_outputs(cell) == [
        "[holds] fd-xent (FA18 L2, L5): xent — evidence: diff=0\n",
        "warn\n",
        "after\n",
        "| a |",
        "42",
        "ValueError: bad",
    ]
    assert notebooks.output_lines(cell)[:2] == [
        "[holds] fd-xent (FA18 L2, L5): xent — evidence: diff=0",
        "warn",
    ]


def test_verdict_lines_read_split_prints_with_their_cell():
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell(
            "# Title\n\n[holds] fd-xent (FA18 L2, L5): x — evidence: a=1"
        ),
        new_code_cell("setup()", outputs=_stream("versions: torch 9, ", "fastai 9\n")),
        new_code_cell(
            "record()",
            outputs=_stream(
                "[holds] fd-xent (FA18 L2, L5): xent — evidence: diff=0 — fin",
                "ding: within 1 of 2 runs\n",
            ),
        ),
        new_code_cell(
            "record()",
            outputs=_stream(LINE.format(k=3, g="+0.05") + "\n"),
        ),
        new_code_cell("record()", outputs=_stream(LINE.format(k=2, g="+0.04") + "\n")),
    ]
    nb = json.loads(json.dumps(nb))
    lines = notebooks.verdict_lines(nb)
    assert [(d["id"], d["cell"]) for d in lines] == [
        ("fd-xent", 2),
        ("fd-adam", 3),
        ("fd-adam", 4),
    ]
    assert lines[0]["finding"] == "within 1 of 2 runs"  # the two pieces, joined
    assert lines[1]["scope"] == "4 synthetic tasks"
    assert notebooks.versions_line(nb) == "torch 9, fastai 9"
    assert notebooks.outcomes(nb) == {
        "fd-xent": {"verdict": "holds", "finding": "within 1 of 2 runs", "tasks": ""},
        "fd-adam": {
            "verdict": "holds with a caveat",
            "finding": "holds on 2 of 4 tasks, gain +0.04",  # the last line wins
            "tasks": "",
        },
    }


def test_the_ledger_reads_a_split_verdict_line(tmp_path):
    (tmp_path / "notebooks").mkdir()
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("# Chapter\n\n## Section"),
        new_code_cell(
            "record()",
            outputs=_stream(
                "[holds] fd-xent (FA18 L2, L5): xent", " — evidence: d=0\n"
            ),
        ),
    ]
    (tmp_path / "notebooks" / "07_demo.ipynb").write_text(json.dumps(nb))
    rows, _ = ledger.read_verdicts(tmp_path / "notebooks")
    assert [(r["id"], r["anchor"], r["chapter_title"]) for r in rows] == [
        ("fd-xent", "section", "Chapter")
    ]


def test_finding_signature_keeps_words_and_counts_and_masks_decimals():
    sig = finding_signature
    assert sig("holds on 3 of 4 tasks, gain +0.052 [-0.01, 0.2]") == (
        "holds on 3 of 4 tasks, gain # [#, #]"
    )
    assert sig("lr 1e-3 and 1.2e-05, 12.5% of it, 1.5x faster") == (
        "lr # and #, #% of it, #x faster"
    )
    assert (
        sig("n=8, 2/8 picks, 95% CI; ends on 4.")
        == "n=8, #/8 picks, 95% CI; ends on 4."
    )
    # measured frequencies move with the seed; decisions over tasks do not
    assert sig("starts 19% above; a neighbour wins in 8 of 64 replicates") == (
        "starts #% above; a neighbour wins in # of 64 replicates"
    )
    assert sig("holds on 3 of 4 tasks, 1 of 8 replicate") == (
        "holds on 3 of 4 tasks, # of 8 replicate"
    )
    assert sig("90% confidence, 7 of 64 picks") == "90% confidence, # of 64 picks"
    assert sig("  two\n lines ") == "two lines"
    assert sig("") == sig(None) == ""


def test_compare_reports_a_changed_count_not_a_moved_decimal():
    a = {"verdict": "holds with a caveat", "finding": "holds on 3 of 4 tasks, +0.05"}
    decimal = dict(a, finding="holds on 3 of 4 tasks, +0.0412")
    count = dict(a, finding="holds on 2 of 4 tasks, +0.05")
    words = dict(a, finding="holds on 3 of 4 bodies, +0.05")
    assert compare(a, decimal) == []
    assert compare(a, count) == [
        "finding: 'holds on 3 of 4 tasks, +0.05' -> 'holds on 2 of 4 tasks, +0.05'"
    ]
    assert compare(a, words)[0].startswith("finding: ")
    assert compare(a, dict(a, verdict="holds")) == [
        "verdict: holds with a caveat -> holds"
    ]
    assert compare(a, dict(a, finding="")) == [
        "finding: 'holds on 3 of 4 tasks, +0.05' -> '(none)'"
    ]
    assert compare(a, None) == [
        "verdict: holds with a caveat -> not recorded",
        "finding: 'holds on 3 of 4 tasks, +0.05' -> '(none)'",
    ]


def test_stability_lists_a_changed_finding_and_ignores_a_moved_decimal():
    committed = {
        "fd-adam": {"verdict": "holds with a caveat", "finding": "3 of 4 tasks, +0.05"},
        "fd-xent": {"verdict": "holds", "finding": ""},
        "fd-conv-matmul": {"verdict": "holds", "finding": ""},
    }
    runs = {
        1: {
            "fd-adam": {
                "verdict": "holds with a caveat",
                "finding": "3 of 4 tasks, +0.07",
            },
            "fd-xent": {"verdict": "holds", "finding": ""},
            "fd-conv-matmul": {"verdict": "holds", "finding": ""},
        },
        2: {
            "fd-adam": {
                "verdict": "holds with a caveat",
                "finding": "2 of 4 tasks, +0.05",
            },
            "fd-xent": {"verdict": "does not hold", "finding": ""},
        },
    }
    rows, changed = stability.table(committed, runs)
    text = "\n".join(rows)
    assert changed == 3
    assert (
        "| fd-adam (changed) | holds with a caveat | same | finding changed |" in text
    )
    assert "| fd-xent (changed) | holds | same | **does not hold** |" in text
    assert "| fd-conv-matmul (changed) | holds | same | **not recorded** |" in text
    assert (
        "  fd-adam (seed 2): finding: '3 of 4 tasks, +0.05' -> '2 of 4 tasks, +0.05'"
        in text
    )
    assert "fd-adam (seed 1)" not in text  # only a decimal moved
    assert "  fd-xent (seed 2): verdict: holds -> does not hold" in text
    same = {s: {c: dict(v) for c, v in committed.items()} for s in (1, 2)}
    same[1]["fd-adam"]["finding"] = "3 of 4 tasks, +0.0612"
    rows, changed = stability.table(committed, same)
    assert changed == 0
    assert "what changed:" not in rows


def test_per_task_counts_must_not_move_between_runs():
    from bookbuild.notebooks import compare, task_counts

    a = "holds on 3 of 4 tasks, does not hold on 1 (needs 3 of 4)"
    b = "holds on 2 of 4 tasks, does not hold on 1 (needs 3 of 4)"
    assert task_counts(a) == ("holds on 3 of 4 tasks; needs 3 of 4; does not hold on 1")
    assert task_counts("mean +0.1 [+0.05, +0.2] (95% CI, n=8)") == ""
    same = {"verdict": "holds", "finding": "", "tasks": task_counts(a)}
    moved = {"verdict": "holds", "finding": "", "tasks": task_counts(b)}
    assert compare(same, dict(same)) == []
    assert compare(same, moved) == [f"tasks: {task_counts(a)!r} -> {task_counts(b)!r}"]
