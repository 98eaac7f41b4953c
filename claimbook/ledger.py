"""Build the claims ledger page (`book/claims.md`) from the committed notebooks.

Introduced in chapter 00 (Start here). The ledger is generated, never edited by
hand: `python -m claimbook.ledger` rewrites it from the verdict lines stored in
the notebooks' outputs; `python -m claimbook.ledger --check` exits 1 when the
committed page is out of date (a unit test runs the same check).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .claims import CLAIMS, SOURCES, VERDICTS, parse_line

ROOT = Path(__file__).resolve().parent.parent
VERSIONS_RE = re.compile(r"^versions: (.*)$")


def _slug(title: str) -> str:
    """The anchor MyST gives a heading (GitHub style, as myst_heading_anchors does)."""
    s = title.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def _heading(cell_source: str) -> tuple[int, str] | None:
    last = None
    for line in cell_source.splitlines():
        m = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if m:
            last = (len(m.group(1)), m.group(2))
    return last


def _text_outputs(cell) -> list[str]:
    texts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            texts.append("".join(out.get("text", "")))
        elif out.get("output_type") in ("execute_result", "display_data"):
            texts.append("".join(out.get("data", {}).get("text/plain", "")))
    return texts


def collect(notebooks_dir: Path) -> tuple[list[dict], dict[str, str]]:
    """Every verdict line in the notebooks, with its chapter, section and title."""
    rows, versions = [], {}
    for nb_path in sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(nb_path.read_text())
        title, section = nb_path.stem, ("", "")
        for cell in nb["cells"]:
            src = "".join(cell.get("source", ""))
            if cell["cell_type"] == "markdown":
                for line in src.splitlines():
                    m = re.match(r"^(#{1,2})\s+(.*?)\s*$", line)
                    if m and len(m.group(1)) == 1:
                        title = m.group(2)
                    elif m:
                        section = (m.group(2), _slug(m.group(2)))
                continue
            for text in _text_outputs(cell):
                for line in text.splitlines():
                    vm = VERSIONS_RE.match(line)
                    if vm:
                        versions[nb_path.stem] = vm.group(1)
                    d = parse_line(line)
                    if d:
                        d.update(chapter=nb_path.stem, chapter_title=title, section=section[0], anchor=section[1])
                        rows.append(d)
    return rows, versions


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: list[dict], versions: dict[str, str]) -> str:
    by_id = {}
    for r in rows:
        by_id.setdefault(r["id"], []).append(r)
    counts = {v: 0 for v in VERDICTS}
    for rs in by_id.values():
        counts[rs[-1]["verdict"]] += 1
    missing = [cid for cid in CLAIMS if cid not in by_id]
    out = [
        "# Claims ledger",
        "",
        "Every claim the book checks, the verdict its chapter measured and the evidence that",
        "decided it. This page is generated from the committed notebooks' outputs by",
        "`python -m claimbook.ledger`; do not edit it by hand (a test fails when it is stale).",
        "",
        "Verdicts: " + ", ".join(f"**{v}** {counts[v]}" for v in VERDICTS)
        + f"; not yet checked by any chapter: {len(missing)}.",
        "",
        "| claim | source | claim, paraphrased | verdict | evidence | chapter |",
        "|---|---|---|---|---|---|",
    ]
    for cid in CLAIMS:
        for r in by_id.get(cid, []):
            link = f"../notebooks/{r['chapter']}.ipynb"
            if r["anchor"]:
                link += f"#{r['anchor']}"
            where = f"[{_cell(r['chapter_title'])}]({link})"
            ev = r["evidence"] + (f"; *{r['note']}*" if r["note"] else "")
            out.append(
                f"| `{cid}` | {r['source']} | {_cell(r['claim'])} | **{r['verdict']}** "
                f"| {_cell(ev)} | {where} |"
            )
    if missing:
        out += ["", "## Not yet checked", "", "Claims in the inventory that no chapter records yet:", ""]
        out += [f"- `{cid}` ({CLAIMS[cid][0]}): {CLAIMS[cid][2]}" for cid in missing]
    out += ["", "## Sources", ""]
    out += [f"- **{k}**: {v}" for k, v in SOURCES.items()]
    out += ["", "## Measured on", ""]
    if versions:
        out += [f"- `{nb}`: {v}" for nb, v in sorted(versions.items())]
    else:
        out += ["- (no chapter has been executed yet)"]
    return "\n".join(out) + "\n"


def build(root: Path = ROOT) -> str:
    rows, versions = collect(root / "notebooks")
    return render(rows, versions)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if book/claims.md is stale")
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args(argv)
    target = args.root / "book" / "claims.md"
    text = build(args.root)
    if args.check:
        if not target.exists() or target.read_text() != text:
            print(f"{target} is out of date: run `python -m claimbook.ledger`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
