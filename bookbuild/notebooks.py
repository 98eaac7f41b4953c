"""The one reader of the chapters' stored outputs, and the one list of chapters.

The ledger, `make stability` and `make canary` all read the committed (or freshly
executed) notebooks through this module:

* `chapters(root)`: the chapter notebooks, ``notebooks/NN_*.ipynb`` in order;
* `text_outputs(cell)`: a code cell's outputs as text, one string per output, with
  consecutive pieces of one stream joined first (the kernel may flush one print in
  several pieces; nbval joins them too, so where it was cut is no change);
* `output_lines(cell)`: the same, as lines;
* `errors_in(nb)`: the stored errors, one line each;
* `verdict_lines(nb)`: every verdict line in a notebook, parsed
  (`claimbook.verdictline.parse_line`), with the index of its cell;
* `outcomes(nb)`: each claim's verdict and finding (the last line wins);
* `finding_signature(text)` and `compare(before, after)`: what a second run must
  reproduce of a verdict line: the verdict word, and the finding's words and counts
  (integers such as "3 of 4 tasks"); continuous numbers (0.123, +0.05, 1.2e-3,
  12.5%) may move.

Only the standard library is imported at the top: `python3 -m bookbuild canary`
imports this before any virtual environment exists (`claimbook` is imported where a
verdict line is parsed).
"""

from __future__ import annotations

import re
from pathlib import Path

NOTEBOOKS = Path("notebooks")
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"  # the chapters: two digits, an underscore
VERSIONS = "versions: "  # the line every chapter's setup cell prints
NOT_RECORDED = "not recorded"


def chapters_in(folder: Path) -> list[Path]:
    """The chapter notebooks in `folder`, sorted (their number orders them)."""
    return sorted(Path(folder).glob(CHAPTER_GLOB))


def chapters(root: Path) -> list[Path]:
    """The book's chapters: ``<root>/notebooks/NN_*.ipynb``, sorted."""
    return chapters_in(Path(root) / NOTEBOOKS)


def _joined_streams(outputs: list[dict]) -> list[dict]:
    """Outputs with consecutive pieces of one stream (stdout, stderr) joined."""
    out: list[dict] = []
    for o in outputs:
        prev = out[-1] if out else None
        if (
            o.get("output_type") == "stream"
            and prev is not None
            and prev.get("output_type") == "stream"
            and prev.get("name") == o.get("name")
        ):
            text = "".join(prev.get("text", "")) + "".join(o.get("text", ""))
            out[-1] = {**prev, "text": text}
        else:
            out.append(o)
    return out


def text_outputs(cell: dict) -> list[str]:
    """A code cell's outputs as text, one string per output (images are skipped).

    Streams (stdout and stderr) with consecutive pieces of one stream joined first,
    as nbval does; a rich output's markdown, else its plain text; an error as
    'Name: message'."""
    texts = []
    for out in _joined_streams(cell.get("outputs", [])):
        kind = out.get("output_type")
        if kind == "stream":
            texts.append("".join(out.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            text = data.get("text/markdown", data.get("text/plain"))
            if text is not None:  # an image alone is no text
                texts.append("".join(text))
        elif kind == "error":
            texts.append(f"{out.get('ename')}: {out.get('evalue', '')}")
    return texts


def output_lines(cell: dict) -> list[str]:
    """A code cell's outputs as lines (see `text_outputs`)."""
    return [line for text in text_outputs(cell) for line in text.splitlines()]


def versions_line(nb: dict) -> str:
    """What the chapter's setup cell printed after 'versions: ' ('' if nothing)."""
    for cell in nb.get("cells", []):
        for line in output_lines(cell):
            if line.startswith(VERSIONS):
                return line[len(VERSIONS) :]
    return ""


def errors_in(nb: dict) -> list[str]:
    """'cell N: ErrorName: message' for every stored error output."""
    errs = []
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errs.append(
                    f"cell {i}: {out.get('ename')}: {out.get('evalue', '')[:200]}"
                )
    return errs


def verdict_lines(nb: dict) -> list[dict]:
    """Every verdict line in a notebook's stored outputs, in order, as the fields
    `claimbook.verdictline.parse_line` gives, plus ``cell`` (its index in the cells)."""
    from claimbook.verdictline import parse_line

    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        for line in output_lines(cell):
            d = parse_line(line)
            if d:
                d["cell"] = i
                found.append(d)
    return found


def outcomes(nb: dict) -> dict[str, dict]:
    """claim ID -> {"verdict", "finding"} from a notebook's stored outputs (a claim
    recorded twice: the last line wins)."""
    return {
        d["id"]: {
            "verdict": d["verdict"],
            "finding": d.get("finding", ""),
            "tasks": task_counts(d.get("interval", "")),
        }
        for d in verdict_lines(nb)
    }


_TASKS = re.compile(r"(?:does not hold|holds) on \d+ of \d+ tasks|needs \d+ of \d+")


def task_counts(interval: str) -> str:
    """The per-task counts of a rule aggregated over tasks ('holds on 3 of 4
    tasks, does not hold on 1 (needs 3 of 4)' from `TaskDecisions`), '' else."""
    if " tasks" not in (interval or ""):
        return ""
    found = _TASKS.findall(interval)
    rest = re.search(r"does not hold on \d+", interval)
    return "; ".join(found + ([rest.group(0)] if rest else []))


# --- comparing two runs -----------------------------------------------------------

# A continuous number: digits after a decimal point, or an exponent (0.123, +0.05,
# .5, 1.2e-3, 3e-05, 1.5x), with its sign. Integers stay (counts: "3 of 4", "n=8",
# "2/8", and "4." ending a sentence).
_DECIMAL = re.compile(
    r"(?<![\d.])[+\-−]?(?:\d+\.\d+|\.\d+|\d+(?=[eE][+\-]?\d))(?:[eE][+\-]?\d+)?"
)
MASK = "#"
# A percentage is a measured share (a confidence level, "95% CI", is not).
_PERCENT = re.compile(r"(?<![\d.#])\d+(?=%(?! CI| confidence))")
# How often something happened among replicates (or picks, draws, ...) is a
# frequency, a measurement that moves with the seed; how many *tasks* (or arms)
# a rule holds on is a decision, and stays.
_FREQUENCY = re.compile(
    r"(?<![\d.#])\d+(?=(?: of |/)\d+ (?:replicates?|picks?|draws?|images?|runs?|"
    r"trials?|seeds?|models?|curves?)\b)"
)


def finding_signature(text: str) -> str:
    """What must not move between runs of a finding: its words and its counts.

    Continuous numbers (decimals, exponents, with their sign) become '#', and so
    do measured frequencies: percentages (not a confidence level) and how many of
    the replicates (picks, draws, images, runs, ...) something happened in. Counts
    of tasks or arms, other integers, words and punctuation stay; runs of white
    space become one space. '3 of 4 tasks gain +0.052, 19% above, in 7 of 64
    replicates' -> '3 of 4 tasks gain #, #% above, in # of 64 replicates'."""
    text = re.sub(r"\s+", " ", text or "").strip()
    text = _DECIMAL.sub(MASK, text)
    text = _PERCENT.sub(MASK, text)
    return _FREQUENCY.sub(MASK, text)


def compare(before: dict | None, after: dict | None) -> list[str]:
    """What changed in one claim's outcome between two runs (empty: nothing that
    matters). Each outcome is {"verdict", "finding"} (`outcomes`) or None when the
    run did not record the claim. The verdict word must agree, and the finding's
    signature (`finding_signature`): a count or a word that changed is listed, a
    decimal that moved is not."""
    b = before or {"verdict": NOT_RECORDED, "finding": ""}
    a = after or {"verdict": NOT_RECORDED, "finding": ""}
    out = []
    if b.get("verdict") != a.get("verdict"):
        out.append(f"verdict: {b.get('verdict')} -> {a.get('verdict')}")
    fb, fa = b.get("finding", "") or "", a.get("finding", "") or ""
    if finding_signature(fb) != finding_signature(fa):
        out.append(f"finding: {fb or '(none)'!r} -> {fa or '(none)'!r}")
    tb, ta = b.get("tasks", "") or "", a.get("tasks", "") or ""
    if tb != ta:
        out.append(f"tasks: {tb or '(none)'!r} -> {ta or '(none)'!r}")
    return out
