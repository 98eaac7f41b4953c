"""bookbuild.figures: every figure's text, as the book's column displays it."""

import base64
import json

import matplotlib
import pytest

from bookbuild import figures
from claimbook.plotting import sharp_png

matplotlib.use("Agg")


def _png_output(width_in: float, fontsize: float) -> dict:
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(figsize=(width_in, 2), dpi=72)
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=fontsize)
    ax.set_title("t", fontsize=fontsize)
    data, meta = sharp_png(f)
    plt.close(f)
    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(data).decode()},
        "metadata": {"image/png": meta},
    }


def _nb(tmp_path, outputs):
    cells = [{"cell_type": "code", "source": "", "outputs": [o]} for o in outputs]
    p = tmp_path / "05_demo.ipynb"
    p.write_text(json.dumps({"cells": cells}))
    return p


def test_text_is_measured_as_the_column_shows_it(tmp_path, capsys):
    p = _nb(
        tmp_path,
        [_png_output(5, 10), _png_output(5, 8), _png_output(14, 10.5)],
    )
    figs = figures.figures(p)
    assert [f.cell for f in figs] == [0, 1, 2]
    assert all(f.recorded for f in figs)
    assert figs[0].min_text == pytest.approx(10.0)
    assert figs[0].shown_text == pytest.approx(10.0)  # narrower than the column
    assert figs[1].shown_text == pytest.approx(8.0)
    # 14 in at 72 dpi is about 1000 CSS px: scaled to the column, 10.5 px shrinks
    assert figs[2].css_width > figures.COLUMN
    assert figs[2].shown_text == pytest.approx(
        10.5 * figures.COLUMN / figs[2].css_width, abs=0.06
    )
    assert figures.too_small(figs) == [figs[1], figs[2]]
    assert figures.main(["--check", str(p)]) == 1
    assert "2 figure(s) with text under 10 CSS px" in capsys.readouterr().out
    ok = _nb(tmp_path, [_png_output(5, 12)])
    assert figures.main(["--check", str(ok)]) == 0


def test_a_png_drawn_some_other_way_has_no_record(tmp_path):
    out = _png_output(3, 12)
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.new("RGB", (40, 20), "white").save(plain)
    out["data"]["image/png"] = base64.b64encode(plain.read_bytes()).decode()
    out["metadata"] = {}
    (f,) = figures.figures(_nb(tmp_path, [out]))
    assert not f.recorded
    assert f.css_width == 20  # from the 2x PNG's size
    assert f.shown_text is None
