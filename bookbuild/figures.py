"""Is every figure's text readable where the book shows it?

`claimbook.plotting.sharp_png` writes, into each figure's PNG, the size of the
smallest text matplotlib drew, in CSS pixels at the image's own width. The book's
output column is `COLUMN` CSS pixels wide on a desktop (1280 px; the browser test
checks the number): a wider image is scaled down to it, and its text with it. This
reads every PNG in the chapters' committed outputs and reports the smallest text as
displayed; ``--check`` fails (exit 1) when one is under `MIN_TEXT` pixels.

A phone (390 px) scales every wide figure further; there the reader zooms the image,
which the 2x PNG keeps sharp.

    python -m bookbuild figures [--check] [notebooks/NN_slug.ipynb ...]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

from claimbook.plotting import MIN_TEXT_KEY, SCALE

from .project import find_root

COLUMN = 688  # CSS px: a cell's output area at 1280 px (tests/test_site.py checks it)
MIN_TEXT = 10.0  # CSS px, as displayed


@dataclass(frozen=True)
class Figure:
    notebook: str
    cell: int
    css_width: int
    min_text: float | None  # CSS px at css_width; None: no text drawn, or no record
    recorded: bool  # the PNG carries sharp_png's record (False: drawn some other way)

    @property
    def shown_text(self) -> float | None:
        """The smallest text as displayed in the column."""
        if self.min_text is None:
            return None
        return self.min_text * min(1.0, COLUMN / self.css_width)


def figures(path: Path) -> list[Figure]:
    """Every PNG in a notebook's outputs, with its recorded smallest text."""
    from PIL import Image

    nb = json.loads(Path(path).read_text())
    out = []
    for i, cell in enumerate(nb["cells"]):
        for o in cell.get("outputs", []):
            data = o.get("data", {}).get("image/png")
            if data is None:
                continue
            img = Image.open(io.BytesIO(base64.b64decode(data)))
            width = o.get("metadata", {}).get("image/png", {}).get("width")
            css = int(width) if width else img.size[0] // SCALE
            text = img.text.get(MIN_TEXT_KEY)
            size = None if text in (None, "none") else float(text)
            out.append(Figure(Path(path).name, i, css, size, text is not None))
    return out


def too_small(figs: list[Figure]) -> list[Figure]:
    return [f for f in figs if f.shown_text is not None and f.shown_text < MIN_TEXT]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bookbuild figures")
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--check", action="store_true", help="exit 1 if any text is small")
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted((find_root() / "notebooks").glob("[0-9]*.ipynb"))
    bad = []
    for p in paths:
        figs = figures(p)
        bad += too_small(figs)
        for f in figs:
            shown = "no text" if f.shown_text is None else f"{f.shown_text:.1f} px"
            if not f.recorded:
                shown = "no record of its text (not drawn through sharp_png)"
            flag = "  TOO SMALL" if f in bad else ""
            print(f"{f.notebook} cell {f.cell}: {f.css_width} px wide, {shown}{flag}")
    if bad:
        print(f"{len(bad)} figure(s) with text under {MIN_TEXT:g} CSS px as displayed")
    return 1 if bad and args.check else 0
