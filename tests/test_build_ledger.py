import json
import re

import nbformat
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bookbuild import ledger


def _nb(path, lines, sections=("## A section: with punctuation!",)):
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("# My chapter: a subtitle"),
        new_code_cell(
            "setup()",
            outputs=[
                new_output(
                    "stream", name="stdout", text="versions: torch 9, fastai 9\n"
                )
            ],
        ),
        *[new_markdown_cell(s) for s in sections],
        new_code_cell(
            "record()",
            outputs=[new_output("stream", name="stdout", text="\n".join(lines))],
        ),
    ]
    nbformat.write(nb, path)


def _html(markdown: str) -> str:
    """Render MyST markdown with the book's extensions (as Sphinx would)."""
    markdown = re.sub(r"\A---\n.*?\n---\n", "", markdown, flags=re.S)  # front matter
    markdown = re.sub(
        r"^:{3,}.*$", "", markdown, flags=re.M
    )  # directive fences (Sphinx's job)
    cfg = MdParserConfig(
        enable_extensions={"attrs_inline", "colon_fence", "dollarmath"}
    )
    return create_md_parser(cfg, RendererHTML).render(markdown)


LINES = [
    "epoch 1",
    "[outdated] dlr-slice-single (FA18 L5): slice(b) ... — evidence: ratio=10, "
    "groups=3 — note: changed in 2.0",
    "[holds] fd-xent (FA18 L2, L5): xent — evidence: diff=<1e-06",
]


def test_collect_and_render(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", LINES)
    rows, versions = ledger.read_verdicts(tmp_path / "notebooks")
    assert [r["id"] for r in rows] == ["dlr-slice-single", "fd-xent"]
    assert rows[0]["anchor"] == "a-section-with-punctuation"
    assert rows[0]["chapter_title"] == "My chapter: a subtitle"
    assert versions == {"07_demo": "torch 9, fastai 9"}
    text = ledger.render(rows, versions)
    assert "**outdated** 1" in text and "**holds** 1" in text
    assert "(../notebooks/07_demo.ipynb#a-section-with-punctuation)" in text
    assert (
        "[My chapter › A section: with punctuation!]" in text
    )  # short title › section
    assert "*changed in 2.0*" in text
    assert "[ratio=10]{.ev} [groups=3]{.ev}" in text  # one evidence item per line
    assert "| chapter | torch | fastai |" in text and "| `07_demo` | 9 | 9 |" in text
    assert "`kr-fix-seed`" in text  # listed under "not yet checked"
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 1
    assert ledger.main(["--root", str(tmp_path)]) == 0
    assert (tmp_path / "book" / "_verdict_summary.md").exists()
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 0
    (tmp_path / "book" / "_verdict_summary.md").write_text("edited by hand\n")
    assert (
        ledger.main(["--root", str(tmp_path), "--check"]) == 1
    )  # the summary is checked too


def test_rendered_table_has_badges_and_escapes_markdown(tmp_path):
    (tmp_path / "notebooks").mkdir()
    _nb(
        tmp_path / "notebooks" / "07_demo.ipynb",
        LINES
        + [
            "[does not hold] dl-seed-bug (TIL21): a | pipe, __getitem__ and $5 *stars* "
            "— "
            "evidence: same_numbers=True",
        ],
    )
    rows, versions = ledger.read_verdicts(tmp_path / "notebooks")
    page = _html(ledger.render(rows, versions))
    assert '<span class="verdict verdict-outdated">outdated</span>' in page
    assert '<span class="verdict verdict-fails">does not hold</span>' in page
    assert (
        "a | pipe, __getitem__ and $5 *stars*" in page
    )  # literal: no emphasis, math or cell split
    assert "<strong>getitem</strong>" not in page and "<em>stars</em>" not in page
    assert '<span class="ev">ratio=10</span> <span class="ev">groups=3</span>' in page
    assert "diff=&lt;1e-06</td>" in page  # a single item stays plain text
    n_rows = len(re.findall(r"<tr>", page.split("<tbody>")[1].split("</tbody>")[0]))
    assert n_rows == 3


def test_section_anchors_follow_myst(tmp_path):
    """Rows link to the nearest ## or ### heading, numbered as MyST numbers repeats."""
    (tmp_path / "notebooks").mkdir()
    _nb(
        tmp_path / "notebooks" / "07_demo.ipynb",
        LINES,
        sections=(
            "## Setup",
            "### Check",
            "## Other",
            "### Check",
            "### [Linked](http://x.org) `code`",
        ),
    )
    rows, _ = ledger.read_verdicts(tmp_path / "notebooks")
    assert {r["anchor"] for r in rows} == {"linked-code"}
    _nb(
        tmp_path / "notebooks" / "07_demo.ipynb",
        LINES,
        sections=("## Setup", "### Check", "## Other", "### Check"),
    )
    rows, _ = ledger.read_verdicts(tmp_path / "notebooks")
    assert {r["anchor"] for r in rows} == {"check-1"}


def test_summary_counts_and_most_surprising_first(tmp_path):
    (tmp_path / "notebooks").mkdir()
    _nb(
        tmp_path / "notebooks" / "07_demo.ipynb",
        LINES
        + [
            "[holds with a caveat] fd-adam (FA18 L5): adam — evidence: x=1 "
            "— note: only if beta2 < 1",
            "[does not hold] fa-hard-to-overfit (FA18 L2): hard "
            "— evidence: train_acc=1.0",
        ],
    )
    rows, _ = ledger.read_verdicts(tmp_path / "notebooks")
    n = ledger.counts(rows)
    assert n[ledger.FAILS] == 1 and n[ledger.OUTDATED] == 1 and n[ledger.CAVEAT] == 1
    assert n[ledger.HOLDS] == 1 and n[ledger.PENDING] == len(ledger.CLAIMS) - 4
    summary = ledger.render_summary(rows)
    assert f"**4 of {len(ledger.CLAIMS)}**" in summary
    assert "[does not hold · 1]{.verdict .verdict-fails}" in summary
    surprising = [line for line in summary.splitlines() if line.startswith("- ")]
    assert [re.search(r"verdict-(\w+)", s).group(1) for s in surprising] == [
        "fails",
        "outdated",
        "caveat",
    ]
    html = _html(summary)
    assert (
        html.count('class="verdict ') == 5 + 3
    )  # chips (4 verdicts + pending) + 3 listed


def test_chapters_outside_the_toc_are_named_not_linked(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", LINES)
    (tmp_path / "_toc.yml").write_text(
        "root: book/intro\nchapters:\n  - file: notebooks/00_start_here\n"
    )
    assert ledger.main(["--root", str(tmp_path)]) == 0
    text = (tmp_path / "book" / "claims.md").read_text()
    assert "07_demo.ipynb" not in text and "(chapter not in the book yet)" in text
    (tmp_path / "_toc.yml").write_text(
        "root: book/intro\nchapters:\n  - file: notebooks/07_demo.ipynb\n"
    )
    assert (
        ledger.main(["--root", str(tmp_path), "--check"]) == 1
    )  # adding it to the toc: regenerate
    assert ledger.main(["--root", str(tmp_path)]) == 0
    assert (
        "(../notebooks/07_demo.ipynb#a-section-with-punctuation)"
        in (tmp_path / "book" / "claims.md").read_text()
    )


def test_committed_ledger_is_up_to_date(repo_root):
    assert ledger.main(["--root", str(repo_root), "--check"]) == 0, (
        "book/claims.md or book/_verdict_summary.md is stale: "
        "run `python -m bookbuild ledger`"
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


def test_intervals_rules_and_inconclusive_reach_the_ledger(tmp_path):
    from claimbook.evidence import Rule, decide

    rule = Rule("gain", "greater", 0.02)
    d = decide([0.0, 0.05, -0.03, 0.04], rule)
    line = (
        f"[inconclusive on this budget] dlr-helps (FA18 L5): helps — evidence: "
        f"head_only=0.8, one_lr=0.7 — interval: {d.interval_text()} "
        f"— rule: {rule.describe()} — note: tiny task"
    )
    (tmp_path / "notebooks").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", [line])
    rows, versions = ledger.read_verdicts(tmp_path / "notebooks")
    assert rows[0]["interval"] == d.interval_text() and rows[0]["note"] == "tiny task"
    text = ledger.render(rows, versions)
    assert "**inconclusive on this budget** 1" in text
    page = _html(text)
    assert '<span class="verdict verdict-inconclusive">' in page
    assert '<span class="ci">mean +0.0150 [' in page
    assert '<span class="rule">rule: gain &gt;= +0.0200 (95% t interval)</span>' in page
    assert "<em>tiny task</em>" in page


def test_rows_name_the_versions_they_were_measured_on(tmp_path):
    (tmp_path / "notebooks").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", LINES)
    rows, versions = ledger.read_verdicts(tmp_path / "notebooks")
    text = ledger.render(rows, versions)
    row = next(line for line in text.splitlines() if "`fd-xent`" in line)
    assert row.endswith(
        "(../notebooks/07_demo.ipynb#a-section-with-punctuation)"
        " [torch 9 · fastai 9]{.measured-on} |"
    )
    page = _html(text)
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    for tr in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        tds = re.findall(r"<td>(.*?)</td>", tr, flags=re.S)
        assert len(tds) == 5  # claim, source, verdict, evidence, measured in
        assert tds[4].endswith('<span class="measured-on">torch 9 · fastai 9</span>')
    assert "## Newest releases" in text and "No canary has run yet" in text


CANARY = {
    "date": "2026-12-01",
    "versions": {"python": "3.11.7", "torch": "9.1", "torchvision": "1", "fastai": "9"},
    "committed_versions": {"07_demo": "torch 9, fastai 9"},
    "notebooks": ["07_demo"],
    "claims": {
        "fd-xent": {"chapter": "07_demo", "committed": "holds", "canary": "holds"},
        "dlr-slice-single": {
            "chapter": "07_demo",
            "committed": "outdated",
            "canary": "does not hold",
        },
        "fd-adam": {  # the chapter has found another verdict since this canary
            "chapter": "07_demo",
            "committed": "holds",
            "canary": "does not hold",
        },
    },
    "failures": ["07_demo cell 3: VerdictMismatch: dlr-slice-single: measured ..."],
    "changed_cells": {"07_demo": [{"cell": 3, "diff": ["-a", "+b"]}]},
    "exit_status": 1,
}


def test_the_canary_result_reaches_the_ledger(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    lines = LINES + [
        "[holds with a caveat] fd-adam (FA18 L5): adam — evidence: x=1 — note: if",
        "[holds] fd-conv-matmul (FA18 L6): conv — evidence: diff=0",
    ]
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", lines)
    assert ledger.main(["--root", str(tmp_path)]) == 0
    assert "No canary has run yet" in (tmp_path / "book" / "claims.md").read_text()
    (tmp_path / ledger.CANARY).write_text(json.dumps(CANARY))
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 1  # it reads the file
    assert ledger.main(["--root", str(tmp_path)]) == 0
    text = (tmp_path / "book" / "claims.md").read_text()
    section = text.split("## Newest releases", 1)[1]
    assert "2026-12-01" in section and "torch 9.1, torchvision 1, fastai 9" in section
    assert "(the committed outputs: torch 9, fastai 9)" in section
    assert "**1 of 3** verdicts agree, 1 cell(s) failed, and 1 other cell(s)" in section
    assert (
        "- `dlr-slice-single`: [outdated]{.verdict .verdict-outdated} with the lock, "
        "[does not hold]{.verdict .verdict-fails} with the newest releases\n"
    ) in section
    assert "- `fd-adam`: " in section and "(the chapter has changed since)" in section
    assert "- failed: 07\\_demo cell 3: VerdictMismatch" in section
    assert "Not covered by that run (1): `fd-conv-matmul`." in section
    rows = {
        cid: line
        for line in text.splitlines()
        for cid in ("dlr-slice-single", "fd-adam", "fd-xent")
        if f"`{cid}`" in line and line.startswith("| ")
    }
    assert rows["dlr-slice-single"].endswith(
        "[newest releases: does not hold]{.canary-differs} |"
    )
    assert "canary-differs" not in rows["fd-adam"]  # the chapter changed since
    assert "canary-differs" not in rows["fd-xent"]  # it agrees
    # the marker is no verdict badge: the filter buttons still count one per row
    body = _html(text).split("<tbody>")[1].split("</tbody>")[0]
    assert body.count('class="verdict ') == body.count("<tr>") == 4
