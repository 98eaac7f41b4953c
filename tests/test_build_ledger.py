import json
import re

import nbformat
import pytest
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bookbuild import ledger
from bookbuild.notebooks import chapters, verdict_lines


@pytest.fixture(autouse=True)
def _no_registered_rules(request, monkeypatch):
    """Tests on made-up chapters see an empty registry (the real rule files change
    as chapters are migrated); the tests on the repository see the real one."""
    if "repo_root" not in request.fixturenames:
        from claimbook import registry

        monkeypatch.setattr(registry, "all_rules", lambda: {})


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
    assert "**outdated** 1" in text
    assert "**holds** 1" in text
    assert "(../notebooks/07_demo.ipynb#a-section-with-punctuation)" in text
    assert (
        "[My chapter › A section: with punctuation!]" in text
    )  # short title › section
    assert "*changed in 2.0*" in text
    assert "[ratio=10]{.ev} [groups=3]{.ev}" in text  # one evidence item per line
    assert "| chapter | torch | fastai |" in text
    assert "| `07_demo` | 9 | 9 |" in text
    assert "`kr-fix-seed`" in text  # listed under "not yet checked"
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 1
    assert ledger.main(["--root", str(tmp_path)]) == 0
    assert (tmp_path / "book" / "_verdict_summary.md").exists()
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 0
    (tmp_path / "book" / "_verdict_summary.md").write_text("edited by hand\n")
    assert (
        ledger.main(["--root", str(tmp_path), "--check"]) == 1
    )  # the summary is checked too
    assert ledger.main(["--root", str(tmp_path)]) == 0
    rules_page = tmp_path / "book" / "rules.md"
    assert "No rule is registered yet." in rules_page.read_text()
    rules_page.write_text("edited by hand\n")
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 1  # and the rules


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
    assert "<strong>getitem</strong>" not in page
    assert "<em>stars</em>" not in page
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
    assert n[ledger.FAILS] == 1
    assert n[ledger.OUTDATED] == 1
    assert n[ledger.CAVEAT] == 1
    assert n[ledger.HOLDS] == 1
    assert n[ledger.PENDING] == len(ledger.CLAIMS) - 4
    summary = ledger.render_summary(rows)
    assert f"**4 of {len(ledger.CLAIMS)}** claims have a verdict;" in summary
    assert f"{len(ledger.CLAIMS) - 4} are not yet in a chapter" in summary
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
    assert "07_demo.ipynb" not in text
    assert "(chapter not in the book yet)" in text
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
        "book/claims.md, book/_verdict_summary.md or book/rules.md is stale: "
        "run `python -m bookbuild ledger`"
    )


def test_every_notebook_claim_line_is_in_the_ledger(repo_root):
    text = (repo_root / "book" / "claims.md").read_text()
    for nb_path in chapters(repo_root):
        for d in verdict_lines(json.loads(nb_path.read_text())):
            assert f"`{d['id']}`" in text, (nb_path.name, d["id"])


def test_the_rules_page_follows_the_ledger_in_the_toc(repo_root):
    files = re.findall(r"file:\s*(\S+)", (repo_root / "_toc.yml").read_text())
    assert files.index("book/rules") == files.index("book/claims") + 1


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
    assert rows[0]["interval"] == d.interval_text()
    assert rows[0]["note"] == "tiny task"
    text = ledger.render(rows, versions)
    assert "**inconclusive on this budget** 1" in text
    page = _html(text)
    assert '<span class="verdict verdict-inconclusive">' in page
    assert '<span class="ci">mean +0.0150 [' in page
    assert (
        '<span class="rule">rule: superiority: gain &gt;= +0.0200 (95% t interval)'
        "</span>"
    ) in page
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
    assert "## Newest releases" in text
    assert "No canary has run yet" in text


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
    assert "2026-12-01" in section
    assert "torch 9.1, torchvision 1, fastai 9" in section
    assert "(the committed outputs: torch 9, fastai 9)" in section
    assert "**1 of 3** verdicts agree, 1 cell(s) failed, and 1 other cell(s)" in section
    assert (
        "- `dlr-slice-single`: [outdated]{.verdict .verdict-outdated} with the lock, "
        "[does not hold]{.verdict .verdict-fails} with the newest releases\n"
    ) in section
    assert "- `fd-adam`: " in section
    assert "(the chapter has changed since)" in section
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


# --- the new fields, the registered rules and their page ---------------------------

RULES = {
    "dlr-helps": {
        "claim": "dlr-helps",
        "quantity": "accuracy of slice minus one LR",
        "design": "superiority",
        "direction": "greater",
        "min_effect": 0.006,
        "method": "t",
        "n": {"small": 16, "full": 8, "mini": 4},
        "control": "dlr-helps:control",
        "aggregation": "one pretrained body per replicate",
        "registered": "2026-12-06",
        "history": [
            {
                "date": "2026-12-06",
                "change": "registered as the chapter decided it",
                "why": "fixed in code after its results were seen",
                "results_seen": True,
            },
            {
                "date": "2026-12-09",
                "change": "min_effect 0.02 -> 0.006",
                "why": "half the control's known gain",
                "results_seen": True,
            },
        ],
        "file": "02_discriminative_lrs.toml",
    },
    "dlr-helps:control": {
        "claim": "dlr-helps",
        "quantity": "accuracy of one LR minus head only",
        "design": "superiority",
        "direction": "greater",
        "method": "t",
        "n": {"small": 16, "full": 8, "mini": 4},
        "registered": "2026-12-06",
        "history": [
            {
                "date": "2026-12-06",
                "change": "registered: the sensitivity control",
                "why": "a known effect at the same n",
                "results_seen": False,
            }
        ],
        "file": "02_discriminative_lrs.toml",
    },
    "fd-xent": {
        "claim": "fd-xent",
        "quantity": "gap",
        "design": "equivalence",
        "direction": "greater",
        "margin": 0.01,
        "method": "bootstrap",
        "n": {"small": 8, "full": 4, "mini": 2},
        "registered": "2026-12-07",
        "history": [
            {
                "date": "2026-12-07",
                "change": "registered",
                "why": "new",
                "results_seen": False,
            }
        ],
        "file": "07_demo.toml",
    },
}

NEW_FIELDS = (
    "[holds with a caveat] dlr-helps (FA18 L5): helps — evidence: slice=0.8, "
    "one_lr=0.79 — interval: mean +0.0123 [+0.00700, +0.0176] (95% CI, n=16) "
    "— control: dlr-helps:control: mean +0.0120 [+0.00500, +0.0190] (95% CI, n=16) "
    "-> holds — rule: superiority: accuracy of slice minus one LR >= +0.00600 "
    "(95% t interval, n=16) — scope: 128 synthetic images, a small ResNet "
    "— finding: holds on 3 of 4 bodies — note: see section 7"
)


def _docutils_slugs(markdown: str) -> tuple[set[str], list[str]]:
    """The heading anchors MyST gives a page (myst_heading_anchors: 3) and the
    problems docutils reports on its same-page links."""
    from docutils import nodes
    from docutils.core import publish_doctree
    from myst_parser.parsers.docutils_ import Parser

    problems: list[str] = []
    doc = publish_doctree(
        markdown,
        parser=Parser(),
        settings_overrides={
            "myst_heading_anchors": 3,
            "myst_enable_extensions": ["attrs_inline", "colon_fence", "deflist"],
            "report_level": 2,
            "halt_level": 5,
            "warning_stream": False,
            "doctitle_xform": False,  # keep a lone section a section
        },
    )
    for msg in doc.findall(nodes.system_message):
        text = msg.astext()
        # links to other files resolve only in Sphinx: docutils reports them all
        other_file = ".ipynb" in text or ".md" in text
        if ("target not found" in text or "Unknown target" in text) and not (
            other_file
        ):
            problems.append(text)
    slugs = {n["slug"] for n in doc.findall(nodes.section) if "slug" in n}
    return slugs, problems


def test_rows_show_control_scope_finding_and_note_in_order(tmp_path):
    (tmp_path / "notebooks").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", [NEW_FIELDS])
    rows, versions = ledger.read_verdicts(tmp_path / "notebooks")
    assert rows[0]["scope"].startswith("128 synthetic")
    assert rows[0]["control"]
    text = ledger.render(rows, versions)
    row = next(line for line in text.splitlines() if "`dlr-helps`" in line)
    order = [
        "{.ci}",
        "[slice=0.8]{.ev}",
        "[control: dlr-helps:control: mean +0.0120",
        "[rule: superiority:",
        "[scope: 128 synthetic images, a small ResNet]{.scope}",
        "*holds on 3 of 4 bodies*",
        "*see section 7*",
    ]
    where = [row.index(part) for part in order]
    assert where == sorted(where), where
    assert "registered" not in row  # no registry given: no registration shown
    page = _html(text)
    assert '<span class="control">control: dlr-helps:control: mean' in page
    assert '<span class="scope">scope: 128 synthetic images' in page
    assert "<em>holds on 3 of 4 bodies</em>" in page
    # the legend says what makes a caveat and what does not
    assert "(its finding, in italics). The scope" in text


def test_rows_with_a_registered_rule_show_its_date_and_link_its_history(tmp_path):
    (tmp_path / "notebooks").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", [NEW_FIELDS] + LINES)
    rows, versions = ledger.read_verdicts(tmp_path / "notebooks")
    text = ledger.render(rows, versions, rules=RULES)
    lines = {
        cid: line
        for line in text.splitlines()
        for cid in ("dlr-helps", "fd-xent", "dlr-slice-single")
        if f"`{cid}`" in line and line.startswith("| ")
    }
    assert (
        "[rule registered 2026-12-06, after results were seen; amended 1 time, last "
        "2026-12-09 · [history](rules.md#dlr-helps)]{.registered}"
    ) in lines["dlr-helps"]
    assert lines["dlr-helps"].index("{.rule}") < lines["dlr-helps"].index(
        "{.registered}"
    )
    assert (
        "[rule registered 2026-12-07 · [history](rules.md#fd-xent)]{.registered}"
        in lines["fd-xent"]
    )
    assert "registered" not in lines["dlr-slice-single"]  # no rule for it
    page = _html(text)
    assert '<a href="rules.md#dlr-helps">history</a></span>' in page
    assert "[Registered rules](rules.md)" in text
    # a toc without the rules page: its date, no link to a page the book lacks
    toc = frozenset({"notebooks/07_demo"})
    text = ledger.render(rows, versions, toc, rules=RULES)
    assert "rules.md" not in text
    assert "rule registered 2026-12-06" in text


def test_rules_page_lists_every_rule_by_chapter_with_its_history(tmp_path):
    (tmp_path / "notebooks").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", [NEW_FIELDS] + LINES)
    rows, _ = ledger.read_verdicts(tmp_path / "notebooks")
    titles = ledger.chapter_titles(tmp_path / "notebooks")
    assert titles == {"07_demo": "My chapter: a subtitle"}
    page, anchors = ledger.render_rules(RULES, rows, titles)
    assert anchors == {
        "dlr-helps": "dlr-helps",
        "dlr-helps:control": "dlr-helpscontrol",
        "fd-xent": "fd-xent",
    }
    assert page.startswith("# Registered rules\n")
    assert (
        "**3** rules for 2 claims in 2 chapter(s); 1 registered after their "
        "results were seen, 1 amended since."
    ) in page
    # what each design's outcomes mean, once, above the rules (not in each printout)
    assert page.index("**How a rule decides.**") < page.index("**3** rules")
    assert (
        "- *Non-inferiority*: Holds if the interval's lower bound is above -0.0200; "
        "does not hold if its upper bound is below -0.0200"
    ) in page
    # grouped by chapter, in chapter order; a chapter without a notebook is named
    assert page.index("## 02\\_discriminative\\_lrs") < page.index("## My chapter")
    assert "Chapter [My chapter](../notebooks/07_demo.ipynb)" in page
    helps = page.split("### dlr-helps\n")[1].split("### ")[0]
    for item in (
        "- **design**: superiority",
        "- **quantity**: accuracy of slice minus one LR",
        "- **direction**: greater",
        "- **smallest effect that matters**: 0.006",
        "- **method**: t interval of the mean, 95% two-sided",
        "- **n per budget**: small 16 · full 8 · mini 4",
        "- **control**: [`dlr-helps:control`](#dlr-helpscontrol)",
        "- **aggregation**: one pretrained body per replicate",
        "- **registered**: 2026-12-06",
        "1. **2026-12-06** (results had been seen): registered as the chapter "
        "decided it. *Why:* fixed in code after its results were seen.",
        "2. **2026-12-09** (results had been seen): min\\_effect 0.02 -\\> 0.006. "
        "*Why:* half the control's known gain.",
    ):
        assert item in helps, item
    assert "Verdict: [holds with a caveat]{.verdict .verdict-caveat}" in helps
    control = page.split("### dlr-helps:control\n")[1].split("### ")[0]
    assert (
        "The control of [`dlr-helps`](#dlr-helps): decided first, at the same n."
        in control
    )
    assert "Verdict:" not in control  # the claim's verdict is under its main rule
    assert "(no result had been seen)" in control
    assert "- **control**: none" in control
    xent = page.split("### fd-xent\n")[1]
    assert "- **design**: equivalence" in xent
    assert "- **margin**: 0.01" in xent
    assert "BCa bootstrap interval of the mean, 90% two-sided" in xent
    assert "smallest effect" not in xent
    # no table: a list wraps on a phone (tests/test_site.py checks pages at 390 px)
    assert not [line for line in page.splitlines() if line.startswith("|")]
    # every same-page link lands on a heading, with the anchor MyST gives it
    slugs, problems = _docutils_slugs(page)
    assert set(anchors.values()) <= slugs, (slugs, problems)
    assert not problems, (slugs, problems)


def test_rules_page_anchors_survive_a_clash(tmp_path):
    """A rule whose key slugs like a chapter title gets MyST's numbered anchor."""
    rules = {
        "fd-xent": dict(RULES["fd-xent"], file="07_fd-xent.toml"),
    }
    page, anchors = ledger.render_rules(rules, titles={"07_fd-xent": "fd-xent"})
    slugs, _ = _docutils_slugs(page)
    assert anchors == {"fd-xent": "fd-xent-1"}
    assert "fd-xent-1" in slugs


def test_build_writes_the_rules_page_from_the_registry(tmp_path, monkeypatch):
    from claimbook import registry

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", [NEW_FIELDS])
    (tmp_path / "_toc.yml").write_text(
        "root: book/intro\nchapters:\n  - file: book/claims\n  - file: book/rules\n"
        "  - file: notebooks/07_demo\n"
    )
    assert ledger.main(["--root", str(tmp_path)]) == 0
    assert "No rule is registered yet." in (tmp_path / ledger.RULES).read_text()
    monkeypatch.setattr(registry, "all_rules", lambda: RULES)
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 1  # a new rule
    assert ledger.main(["--root", str(tmp_path)]) == 0
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 0
    rules_page = (tmp_path / ledger.RULES).read_text()
    assert "### dlr-helps:control\n" in rules_page
    claims = (tmp_path / ledger.LEDGER).read_text()
    assert "[history](rules.md#dlr-helps)" in claims
    history = RULES["dlr-helps"]["history"]
    amended = dict(
        RULES,
        **{
            "dlr-helps": dict(
                RULES["dlr-helps"],
                history=history
                + [dict(history[-1], date="2026-12-10", change="n 16 -> 24")],
            )
        },
    )
    monkeypatch.setattr(registry, "all_rules", lambda: amended)
    assert ledger.main(["--root", str(tmp_path), "--check"]) == 1  # a new entry


def test_a_changed_finding_from_the_canary_reaches_the_ledger(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    _nb(tmp_path / "notebooks" / "07_demo.ipynb", LINES)
    canary = json.loads(json.dumps(CANARY))
    canary["claims"]["fd-xent"].update(
        committed_finding="holds on 3 of 4 tasks",
        canary_finding="holds on 2 of 4 tasks",
        changes=["finding: 'holds on 3 of 4 tasks' -> 'holds on 2 of 4 tasks'"],
    )
    (tmp_path / ledger.CANARY).write_text(json.dumps(canary))
    assert ledger.main(["--root", str(tmp_path)]) == 0
    section = (tmp_path / "book" / "claims.md").read_text().split("## Newest")[1]
    assert "**1 of 3** verdicts agree" in section
    assert "1 of those that agree changed the finding's words or counts." in section
    assert (
        "- `fd-xent`: the finding was “holds on 3 of 4 tasks” with the lock, "
        "“holds on 2 of 4 tasks” with the newest releases\n"
    ) in section
