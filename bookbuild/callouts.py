"""Verdicts as callouts on the built pages (a Sphinx extension; HTML only).

A chapter prints each verdict as one plain line (`claimbook.claims`), which nbval,
the ledger and the canary read. On a web page that line is 300-1,500 characters
in a box that scrolls sideways. When Sphinx has resolved a page, this extension
takes every verdict line out of the cell's printed output and puts a callout in
its place:

* the verdict as a badge, and the claim in words;
* what was found: the chapter's computed finding, else the interval against the
  registered bar, else the measured evidence;
* what to do today, from the verdict word (a non-inferiority "holds" reads "no
  worse than the alternative", not "recommended");
* a strength line: "exact check" or "experiment · n replicates", the scope, and
  the effect with its interval and the bar it had to clear, drawn as a small bar;
* the raw line's fields (evidence, interval, control, rule, scope, then, note)
  behind a toggle, the claim's ID and source, and a link to report the verdict as
  wrong on the repository's issue tracker.

Everything in a callout is parsed from the printed line; nothing is typed here
but the labels. (Printed decisions already speak the verdicts' vocabulary:
`claimbook.evidence` writes "-> does not hold", never "fails".)
A chapter page also gets a bottom line after its overview: every verdict's badge,
claim and finding, linked to its callout, built from the same lines, so it cannot
drift from the results, followed by the chapter's own advice (its paragraph that
begins "For a practitioner", copied up from the summary). Images in cell outputs
without alt text get one from their section's title (a figure can set its own
with the cell metadata ``mystnb.image.alt``).
"""

from __future__ import annotations

import html
import math
import re
from urllib.parse import quote

from docutils import nodes

from claimbook.verdictline import (
    CAVEAT,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_CHECKED,
    OUTDATED,
    parse_line,
)

from .ledger import VERDICT_CLASS  # the badges' CSS classes, one table for the site

# What a reader should do with the claim today, by verdict (the finding says why).
TODAY = {
    HOLDS: "You can rely on it, within the scope below.",
    CAVEAT: "Rely on it, minding what was found.",
    OUTDATED: "It described the 2018 library; use today's behaviour instead.",
    FAILS: "Do not rely on the note's words here; the chapter gives the right reading.",
    INCONCLUSIVE: "Treat it as open: this budget could not tell either way.",
    NOT_CHECKED: "No verdict on this budget: its control could not show an effect "
    "of the size that matters, so a larger budget has to decide.",
}
NON_INFERIORITY_HOLDS = (
    "No worse than the alternative (a non-inferiority test): that is what 'holds' "
    "means here, not that it is better."
)
# "mean +0.0029 [-0.0030, +0.0087] (95% CI, n=24)", "share +1.00 [...] (...)"
INTERVAL_RE = re.compile(
    r"(?P<stat>[\w ]+?) (?P<est>[+-]?[\d.]+(?:e[+-]?\d+)?) "
    r"\[(?P<lo>[+-]?[\d.]+(?:e[+-]?\d+)?), (?P<hi>[+-]?[\d.]+(?:e[+-]?\d+)?)\] "
    r"\((?P<conf>\d+)% CI, n=(?P<n>\d+)\)"
)
# the bar in a rule's text: ">= +0.02 (95% t interval, n=8)", "within ±0.02 (90% ..."
BAR_RE = re.compile(
    r"(?P<op>>=|<=|>|<|within ±)\s?(?P<bar>[+-]?[\d.]+(?:e[+-]?\d+)?) "
    r"\(\d+% [\w ]+ interval, n=\d+\)"
)
PER_TASK_RE = re.compile(r"holds on (\d+) of (\d+) tasks")
FIELDS = (
    ("evidence", "Evidence"),
    ("interval", "Interval"),
    ("control", "Control, decided first"),
    ("rule", "Rule, registered before the run"),
    ("scope", "Scope"),
    ("then", "The 2018 side"),
    ("note", "Note"),
)


def interval(text: str) -> dict | None:
    """The statistic, estimate, bounds, confidence and n of an interval text."""
    m = INTERVAL_RE.search(text or "")
    if not m:
        return None
    d = m.groupdict()
    return {
        "stat": d["stat"].strip(),
        "est": float(d["est"]),
        "lo": float(d["lo"]),
        "hi": float(d["hi"]),
        "conf": int(d["conf"]),
        "n": int(d["n"]),
        "text": m.group(0),
    }


def bar(rule: str) -> tuple[str, float] | None:
    """The registered bar a rule's interval had to clear: (operator, value)."""
    m = BAR_RE.search(rule or "")
    if not m:
        return None
    return m.group("op"), float(m.group("bar"))


def bar_svg(iv: dict, need: tuple[str, float] | None) -> str:
    """A small picture of the interval against the bar (and zero)."""
    pts = [iv["lo"], iv["hi"], iv["est"], 0.0]
    if need:
        op, b = need
        pts += [b, -b] if op == "within ±" else [b]
    lo, hi = min(pts), max(pts)
    pad = (hi - lo) * 0.08 or 1.0
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return round(4 + 292 * (v - lo) / (hi - lo), 1)

    parts = [
        '<svg class="vc-bar" viewBox="0 0 300 34" role="img" '
        f'aria-label="{html.escape(_bar_words(iv, need))}">',
        f'<line x1="{x(0)}" y1="4" x2="{x(0)}" y2="30" class="vc-zero"/>',
    ]
    if need:
        op, b = need
        edges = [b, -b] if op == "within ±" else [b]
        for e in edges:
            parts.append(
                f'<line x1="{x(e)}" y1="2" x2="{x(e)}" y2="32" class="vc-need"/>'
            )
    parts += [
        f'<line x1="{x(iv["lo"])}" y1="17" x2="{x(iv["hi"])}" y2="17" class="vc-ci"/>',
        f'<circle cx="{x(iv["est"])}" cy="17" r="4" class="vc-est"/>',
        "</svg>",
    ]
    return "".join(parts)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    digits = max(3 - int(math.floor(math.log10(abs(v)))) - 1, 0)
    if 1e-3 <= abs(v) < 1e4:
        return f"{v:+.{digits}f}".replace("-", "−")
    return f"{v:+.2e}".replace("-", "−")


def _bar_words(iv: dict, need: tuple[str, float] | None) -> str:
    out = (
        f"{iv['stat']} {_fmt(iv['est'])}, {iv['conf']}% interval "
        f"{_fmt(iv['lo'])} to {_fmt(iv['hi'])}"
    )
    if need:
        op, b = need
        if op == "within ±":
            out += f", needed inside ±{abs(b):g}"
        else:
            out += f", needed {op.replace('>=', '≥').replace('<=', '≤')} {_fmt(b)}"
    return out


def strength(f: dict) -> tuple[str, str]:
    """The strength line (text) and its picture (SVG, or '' without an interval)."""
    iv = interval(f["interval"])
    tasks = PER_TASK_RE.search(f["interval"] or "")
    scope = f["scope"].strip()
    if iv:
        head = f"experiment · {iv['n']} replicates"
    elif tasks or f["interval"]:
        head = "experiment"
    elif f["rule"]:
        head = "experiment"
    else:
        head = "exact check or reading of the code"
    parts = [head]
    if scope:
        parts.append(scope)
    if iv:
        parts.append(_bar_words(iv, bar(f["rule"])))
    elif f["interval"]:
        parts.append(f["interval"])
    return " · ".join(parts), bar_svg(iv, bar(f["rule"])) if iv else ""


def found(f: dict) -> str:
    """One sentence of what was found, computed from the line's fields."""
    if f["finding"]:
        return f["finding"]
    iv = interval(f["interval"])
    if iv:
        return _bar_words(iv, bar(f["rule"]))
    if f["interval"]:
        return f["interval"]
    ev = f["evidence"]
    return ev if len(ev) <= 240 else ev[:237].rsplit(", ", 1)[0] + ", …"


def _is_non_inferiority(f: dict) -> bool:
    return f["rule"].startswith("non-inferiority")


def report_url(repo_url: str, f: dict) -> str:
    title = f"Verdict challenged: {f['id']} ({f['verdict']})"
    body = (
        f"Claim `{f['id']}` ({f['source']}): {f['claim']}\n\n"
        f"Verdict: {f['verdict']}\n\nWhy I think it is wrong:\n"
    )
    return f"{repo_url.rstrip('/')}/issues/new?title={quote(title)}&body={quote(body)}"


def callout_html(f: dict, repo_url: str = "") -> str:
    """The callout of one parsed verdict line (`claimbook.claims.parse_line`)."""
    e = html.escape
    verdict = f["verdict"]
    cls = VERDICT_CLASS.get(verdict, "pending")
    text, svg = strength(f)
    today = TODAY[verdict]
    if verdict == HOLDS and _is_non_inferiority(f):
        today = NON_INFERIORITY_HOLDS
    raw = "".join(
        f"<dt>{label}</dt><dd>{e(f[key])}</dd>" for key, label in FIELDS if f.get(key)
    )
    link = (
        f' · <a class="vc-report" href="{e(report_url(repo_url, f))}">'
        "report this verdict as wrong</a>"
        if repo_url
        else ""
    )
    return (
        f'<aside class="verdict-callout vc-{cls}" id="verdict-{e(f["id"])}">'
        '<p class="vc-head">'
        f'<span class="verdict verdict-{cls}">{e(verdict)}</span> '
        f'<span class="vc-claim">{e(f["claim"])}</span></p>'
        f'<p class="vc-found"><strong>Found:</strong> {e(found(f))}</p>'
        f'<p class="vc-today"><strong>Today:</strong> {e(today)}</p>'
        f'<p class="vc-strength">{e(text)}</p>{svg}'
        '<details class="vc-raw"><summary>The evidence behind it</summary>'
        f"<dl>{raw}</dl></details>"
        f'<p class="vc-meta"><code>{e(f["id"])}</code> · {e(f["source"])}{link}</p>'
        "</aside>"
    )


def _is_output(node: nodes.Node) -> bool:
    return isinstance(node, nodes.literal_block) and "output" in node.get("classes", [])


def _block_like(node: nodes.literal_block, text: str) -> nodes.literal_block:
    new = node.deepcopy()
    new.children = []
    new += nodes.Text(text)
    return new


def _section_title(node: nodes.Node) -> str:
    while node is not None:
        if isinstance(node, nodes.section) and node.children:
            title = node.next_node(nodes.title)
            if title is not None:
                return title.astext()
        node = node.parent
    return ""


def bottom_line_html(found_lines: list[dict], close: bool = True) -> str:
    """The chapter's bottom line: each verdict's badge, claim and finding, linked to
    its callout (a claim printed twice: its last verdict). With ``close=False`` the
    box is left open, for the chapter's own advice to follow inside it."""
    latest = {f["id"]: f for f in found_lines}
    e = html.escape
    items = "".join(
        f'<li><span class="verdict verdict-{VERDICT_CLASS[f["verdict"]]}">'
        f'{e(f["verdict"])}</span> <a href="#verdict-{e(f["id"])}">{e(f["claim"])}</a>'
        f" — {e(found(f))}</li>"
        for f in latest.values()
    )
    return (
        '<aside class="bottom-line" aria-label="Bottom line">'
        "<p><strong>Bottom line.</strong> What this chapter measured, claim by "
        "claim (each links to its verdict below):</p>"
        f"<ul>{items}</ul>" + ("</aside>" if close else "")
    )


ADVICE = "For a practitioner"  # how a chapter's fixed advice paragraph begins


def _advice(doctree: nodes.document) -> nodes.paragraph | None:
    """The chapter's own advice: its first paragraph that begins "For a
    practitioner" (written once, in the chapter's summary)."""
    for p in doctree.findall(nodes.paragraph):
        if p.astext().startswith(ADVICE):
            return p
    return None


SUMMARY_HEADER = ["claim", "source", "verdict", "evidence"]  # claims.summary_markdown


def summary_table_html(ids: list[str], by_id: dict[str, dict]) -> str:
    """The chapter's closing table as a reader wants it: each claim in words with
    its badge and finding, linked to its callout (the notebook keeps the plain one)."""
    e = html.escape
    rows = []
    for cid in ids:
        f = by_id.get(cid)
        if f is None:
            continue
        cls = VERDICT_CLASS[f["verdict"]]
        rows.append(
            f'<tr><td><a href="#verdict-{e(cid)}">{e(f["claim"])}</a> '
            f'<code class="vc-id">{e(cid)}</code></td>'
            f'<td><span class="verdict verdict-{cls}">{e(f["verdict"])}</span></td>'
            f"<td>{e(found(f))}</td></tr>"
        )
    return (
        '<div class="verdict-table"><table><thead><tr><th>claim</th><th>verdict</th>'
        f"<th>what was found</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</div>"
    )


def _summary_tables(doctree: nodes.document, by_id: dict[str, dict]) -> int:
    done = 0
    for table in list(doctree.findall(nodes.table)):
        head = table.next_node(nodes.thead)
        if head is None:
            continue
        if [e.astext().strip() for e in head.findall(nodes.entry)] != SUMMARY_HEADER:
            continue
        body = table.next_node(nodes.tbody)
        ids = [row[0].astext().strip() for row in body.findall(nodes.row)]
        if not ids or any(i not in by_id for i in ids):
            continue  # not this page's verdicts: leave the table as it is
        table.replace_self(nodes.raw("", summary_table_html(ids, by_id), format="html"))
        done += 1
    return done


def _overview(doctree: nodes.document) -> nodes.Node | None:
    """The chapter's first paragraph (its overview), after the title."""
    section = doctree.next_node(nodes.section)
    if section is None:
        return None
    for child in section.children:
        if isinstance(child, nodes.paragraph):
            return child
        if isinstance(child, nodes.section):
            return None
    return None


# A registered rule as a chapter prints it before its runs (`Rule.__str__`).
RULE_LINE = re.compile(
    r"^Rule (?P<key>[a-z0-9:-]+) \(registered (?P<date>[0-9-]+)\): (?P<text>.+)$"
)


def rule_html(m: re.Match) -> str:
    """A printed rule as a wrapped paragraph (a long line in a code block scrolls
    sideways), its key linked to the rules page's entry."""
    e = html.escape
    key = m["key"]
    anchor = nodes.make_id(key)  # the id Sphinx gives the rules page's heading
    return (
        f'<p class="registered-rule"><span class="rr-label">Rule</span> '
        f'<a href="../book/rules.html#{anchor}"><code>{e(key)}</code></a>, '
        f"registered {e(m['date'])}: {e(m['text'])}</p>"
    )


def transform(doctree: nodes.document, repo_url: str = "") -> int:
    """Put callouts in place of verdict lines (and wrapped paragraphs in place of
    printed rules) and the bottom line after the overview; return how many
    callouts were made."""
    made, seen = 0, []
    for node in list(doctree.findall(_is_output)):
        lines = node.astext().split("\n")
        parsed = [parse_line(line) or RULE_LINE.match(line) for line in lines]
        if not any(parsed):
            continue
        out: list[nodes.Node] = []
        buf: list[str] = []
        for line, fields in zip(lines, parsed, strict=False):
            if fields is None:
                buf.append(line)
                continue
            if "".join(buf).strip():
                out.append(_block_like(node, "\n".join(buf).rstrip("\n")))
            buf = []
            if isinstance(fields, re.Match):
                out.append(nodes.raw("", rule_html(fields), format="html"))
                continue
            out.append(nodes.raw("", callout_html(fields, repo_url), format="html"))
            seen.append(fields)
            made += 1
        if "".join(buf).strip():
            out.append(_block_like(node, "\n".join(buf).rstrip("\n")))
        node.replace_self(out)
    _summary_tables(doctree, {f["id"]: f for f in seen})
    overview = _overview(doctree)
    if seen and overview is not None:
        advice = _advice(doctree)
        box = [
            nodes.raw("", bottom_line_html(seen, close=advice is None), format="html")
        ]
        if advice is not None:  # the advice, copied into the box (it stays below too)
            copy = advice.deepcopy()
            copy["classes"] = [*copy.get("classes", []), "bottom-line-advice"]
            box += [copy, nodes.raw("", "</aside>", format="html")]
        at = overview.parent.index(overview) + 1
        for k, node in enumerate(box):
            overview.parent.insert(at + k, node)
    for img in doctree.findall(nodes.image):
        alt = img.get("alt", "")
        if alt and alt != img.get("uri") and "/_images/" not in alt:
            continue
        title = _section_title(img)
        img["alt"] = f"Figure in the section “{title}”" if title else "Figure"
    return made


def _on_doctree_resolved(app, doctree, docname) -> None:
    if app.builder.format != "html":
        return
    repo = (app.config.html_theme_options or {}).get("repository_url", "")
    transform(doctree, repo)


def setup(app) -> dict:
    app.connect("doctree-resolved", _on_doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
