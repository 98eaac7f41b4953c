"""bookbuild.callouts: a printed verdict line becomes a callout on the web page."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

from bookbuild import callouts
from claimbook.claims import parse_line

REPO = "https://github.com/claimbook/claimbook"
EXPERIMENT = (
    "[does not hold] fd-bn-ics (FA18 L6): BatchNorm's explanation was wrong. — "
    "evidence: loss_area_BN=0.0539, shift_part=mean +4.28 [+3.93, +4.64] (95% CI, "
    "n=12) -> does not hold — interval: mean +1.50 [+1.43, +1.57] (95% CI, n=12) — "
    "control: "
    "fd-bn-ics:control: mean +2.72 [+2.59, +2.84] (95% CI, n=12) -> holds — rule: "
    "non-inferiority, margin 0.223: ln L(noisy) - ln L(BN) < +0.223 (95% t interval, "
    "n=12); one task — scope: MLPs of 6 hidden layers on 128 tabular examples"
)
NI_HOLDS = (
    "[holds] dlr-ten-x (FA18 L1): b about 10x a. — evidence: ratio_1=0.779 — "
    "interval: mean +0.00285 [-0.00302, +0.00872] (95% CI, n=24) — rule: "
    "non-inferiority, margin 0.006: gap > -0.00600 (95% t interval, n=24) — finding: "
    "the 10x slice scores within 0.006 of the best"
)
EXACT = (
    "[holds] hk-forward-hook (FA18 L6): A forward hook stores activations. — "
    "evidence: stored_equals_layer_output=True, channels=128"
)


def test_interval_and_bar_are_read_from_the_line():
    f = parse_line(EXPERIMENT)
    iv = callouts.interval(f["interval"])
    assert (iv["stat"], iv["est"], iv["lo"], iv["hi"], iv["n"]) == (
        "mean",
        1.5,
        1.43,
        1.57,
        12,
    )
    assert callouts.bar(f["rule"]) == ("<", 0.223)
    assert callouts.bar("equivalence: d within ±0.02 (90% t interval, n=8)") == (
        "within ±",
        0.02,
    )
    assert callouts.interval("holds on 3 of 4 tasks") is None


def test_callout_carries_badge_claim_strength_and_raw_evidence():
    out = callouts.callout_html(parse_line(EXPERIMENT), REPO)
    assert 'class="verdict verdict-fails">does not hold<' in out
    assert "BatchNorm&#x27;s explanation was wrong." in out
    assert "experiment · 12 replicates · MLPs of 6 hidden layers" in out
    # the interval against the bar, in words and drawn
    assert "mean +1.50, 95% interval +1.43 to +1.57, needed &lt; +0.223" in out
    assert out.count("<svg") == 1
    assert 'class="vc-need"' in out
    # raw fields behind a toggle, as printed
    assert "<details" in out
    assert "<dt>Control, decided first</dt>" in out
    assert "-&gt; does not hold" in out


def test_non_inferiority_holds_reads_no_worse_not_recommended():
    out = callouts.callout_html(parse_line(NI_HOLDS))
    assert "No worse than the alternative" in out
    # its finding is the chapter's computed one
    assert "<strong>Found:</strong> the 10x slice scores within 0.006" in out
    # an equal 'holds' on a superiority rule does not say so
    sup = NI_HOLDS.replace("non-inferiority, margin 0.006", "superiority")
    assert "No worse" not in callouts.callout_html(parse_line(sup))


def test_exact_check_has_no_bar_and_shows_its_evidence():
    out = callouts.callout_html(parse_line(EXACT))
    assert "<svg" not in out
    assert "exact check" in out
    assert "stored_equals_layer_output=True" in out


def test_report_link_prefills_an_issue():
    f = parse_line(EXACT)
    url = callouts.report_url(REPO, f)
    parts = urlsplit(url)
    assert parts.path == "/claimbook/claimbook/issues/new"
    q = parse_qs(parts.query)
    assert q["title"] == ["Verdict challenged: hk-forward-hook (holds)"]
    assert "A forward hook stores activations." in q["body"][0]
    out = callouts.callout_html(f, REPO)
    assert html.escape(url) in out
    assert "report this verdict as wrong" not in callouts.callout_html(f, "")


def _doc(*blocks):
    doc = new_document("test", get_default_settings(Parser))
    section = nodes.section()
    section += nodes.title(text="3. A section")
    for text in blocks:
        section += nodes.literal_block(text, text, classes=["output", "stream"])
    section += nodes.image(uri="../_images/abc.png", alt="../_images/abc.png")
    section += nodes.image(uri="x.png", alt="The loss against the LR")
    doc += section
    return doc


def test_transform_replaces_verdict_lines_and_keeps_the_rest():
    doc = _doc(
        "before\n" + EXPERIMENT + "\nbetween -> does not hold\n" + EXACT + "\nafter",
        "control: mean +1 [+0.5, +1.5] (95% CI, n=8) -> does not hold",
        "plain output",
    )
    assert callouts.transform(doc, REPO) == 2
    kinds = [
        (type(n).__name__, n.astext()[:20])
        for n in doc.findall(lambda n: isinstance(n, nodes.raw | nodes.literal_block))
    ]
    assert [k for k, _ in kinds] == [
        "literal_block",
        "raw",
        "literal_block",
        "raw",
        "literal_block",
        "literal_block",
        "literal_block",
    ]
    texts = [n.astext() for n in doc.findall(nodes.literal_block)]
    assert texts[0] == "before"
    assert texts[1] == "between -> does not hold"
    assert texts[3].endswith("-> does not hold")
    assert texts[4] == "plain output"
    # every literal block keeps the output classes (the theme styles them)
    assert all("output" in n["classes"] for n in doc.findall(nodes.literal_block))


def test_images_get_alt_text_from_their_section():
    doc = _doc("plain")
    callouts.transform(doc)
    alts = [n["alt"] for n in doc.findall(nodes.image)]
    assert alts == ["Figure in the section “3. A section”", "The loss against the LR"]


@pytest.mark.parametrize("verdict", list(callouts.TODAY))
def test_every_verdict_has_a_badge_class_and_advice(verdict):
    line = EXACT.replace("[holds]", f"[{verdict}]")
    out = callouts.callout_html(parse_line(line))
    cls = callouts.VERDICT_CLASS[verdict]
    assert re.search(rf'class="verdict verdict-{cls}">{re.escape(verdict)}<', out)
    assert html.escape(callouts.TODAY[verdict]) in out


def test_bottom_line_follows_the_overview_and_links_each_verdict():
    doc = new_document("test", get_default_settings(Parser))
    chapter = nodes.section()
    chapter += nodes.title(text="A chapter")
    chapter += nodes.paragraph(text="Overview.")
    chapter += nodes.paragraph(text="Goals.")
    sub = nodes.section()
    sub += nodes.title(text="1. First")
    text = EXACT + "\n" + EXPERIMENT + "\n" + EXACT.replace("[holds]", "[outdated]")
    sub += nodes.literal_block(text, text, classes=["output", "stream"])
    chapter += sub
    doc += chapter
    assert callouts.transform(doc) == 3
    box = chapter.children[2]
    assert isinstance(box, nodes.raw)
    assert "Bottom line" in box.astext()
    # one item per claim, the last verdict of a claim printed twice
    assert box.astext().count("<li>") == 2
    assert 'href="#verdict-hk-forward-hook"' in box.astext()
    assert ">outdated</span>" in box.astext()
    assert ">holds</span>" not in box.astext()
    assert "mean +1.50, 95% interval +1.43 to +1.57" in box.astext()


def test_the_chapter_s_advice_closes_the_bottom_line():
    doc = new_document("test", get_default_settings(Parser))
    chapter = nodes.section()
    chapter += nodes.title(text="A chapter")
    chapter += nodes.paragraph(text="Overview.")
    sub = nodes.section()
    sub += nodes.title(text="Summary")
    sub += nodes.literal_block(EXACT, EXACT, classes=["output", "stream"])
    sub += nodes.paragraph(text="For a practitioner: re-run the finder.")
    chapter += sub
    doc += chapter
    callouts.transform(doc)
    opened, advice, closed = chapter.children[2:5]
    assert "Bottom line" in opened.astext()
    assert "</aside>" not in opened.astext()
    assert isinstance(advice, nodes.paragraph)
    assert advice.astext() == "For a practitioner: re-run the finder."
    assert "bottom-line-advice" in advice["classes"]
    assert closed.astext() == "</aside>"
    # the paragraph stays in the summary too
    assert sub.children[-1].astext() == "For a practitioner: re-run the finder."


def test_no_bottom_line_without_verdicts():
    doc = _doc("plain output")
    callouts.transform(doc)
    assert not any("Bottom line" in n.astext() for n in doc.findall(nodes.raw))


def _summary(ids):
    header = nodes.row()
    for name in callouts.SUMMARY_HEADER:
        header += nodes.entry("", nodes.paragraph(text=name))
    thead = nodes.thead()
    thead += header
    tbody = nodes.tbody()
    for cid in ids:
        row = nodes.row()
        row += nodes.entry("", nodes.paragraph(text=cid))
        for _ in range(3):
            row += nodes.entry("", nodes.paragraph(text="x"))
        tbody += row
    tgroup = nodes.tgroup(cols=4)
    tgroup += thead
    tgroup += tbody
    table = nodes.table()
    table += tgroup
    return table


def test_closing_table_shows_claims_badges_and_findings():
    doc = _doc(EXPERIMENT + "\n" + NI_HOLDS)
    doc[0] += _summary(["fd-bn-ics", "dlr-ten-x"])
    doc[0] += _summary(["fd-bn-ics", "not-on-this-page"])
    callouts.transform(doc)
    tables = list(doc.findall(nodes.table))
    assert len(tables) == 1  # the table naming another page's claim is left alone
    raw = [n.astext() for n in doc.findall(nodes.raw) if "verdict-table" in n.astext()]
    assert len(raw) == 1
    out = raw[0]
    assert out.index("fd-bn-ics") < out.index("dlr-ten-x")  # the table's order
    assert '<a href="#verdict-dlr-ten-x">b about 10x a.</a>' in out
    assert 'class="verdict verdict-fails">does not hold<' in out
    assert "the 10x slice scores within 0.006" in out  # the computed finding


def test_printed_rules_become_wrapped_paragraphs_linked_to_the_rules_page():
    from claimbook.evidence import Rule

    r = Rule(
        "gain of A over B",
        "greater",
        min_effect=0.02,
        key="x-gain:control",
        n=8,
        registered="2026-12-06",
    )
    doc = _doc("before\n" + str(r) + "\n" + EXPERIMENT, "Rule of thumb: not a rule")
    assert callouts.transform(doc, REPO) == 1
    raws = [n.astext() for n in doc.findall(nodes.raw)]
    rule_html = next(h for h in raws if "registered-rule" in h)
    assert (
        '<a href="../book/rules.html#x-gain-control"><code>x-gain:control</code></a>'
        in (rule_html)
    )
    assert "registered 2026-12-06: superiority: gain of A over B &gt;= +0.0200" in (
        rule_html
    )
    texts = [n.astext() for n in doc.findall(nodes.literal_block)]
    assert texts == ["before", "Rule of thumb: not a rule"]  # other text stays code
