"""claimbook.plotting: the book's figures, shown as sharp, small PNGs."""

import io

import matplotlib
import numpy as np
import pytest
from PIL import Image

from claimbook.plotting import sharp_png

matplotlib.use("Agg")


@pytest.fixture
def fig():
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(figsize=(4, 2), dpi=72)
    x = np.linspace(0, 6, 200)
    for k in range(4):
        ax.plot(x, np.sin(x + k), label=f"curve {k}")
    ax.legend()
    ax.set_title("four curves")
    yield f
    plt.close(f)


def test_twice_the_pixels_at_the_css_size_with_a_palette(fig):
    data, meta = sharp_png(fig)
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    assert img.mode == "P"  # a palette image
    assert len(img.getcolors(maxcolors=256) or []) <= 256
    assert meta == {"width": img.size[0] // 2}  # no height: the page keeps the aspect
    # the CSS size is the plain 72-dpi picture's size, within 3 px: the "tight"
    # bounding box is measured on the text as rendered at each resolution
    plain = io.BytesIO()
    fig.savefig(plain, format="png", dpi=72, bbox_inches="tight")
    w, h = Image.open(plain).size
    assert abs(meta["width"] - w) <= 3
    assert abs(img.size[1] // 2 - h) <= 3


def test_smaller_than_a_full_colour_png_at_the_plain_size(fig):
    plain = io.BytesIO()
    fig.savefig(plain, format="png", dpi=72, bbox_inches="tight")
    data, _ = sharp_png(fig)
    assert len(data) < len(plain.getvalue())


def test_the_picture_is_kept(fig):
    """The palette image differs from the full-colour one by little: the mean
    absolute difference per channel under 2 of 255 levels."""
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=144, bbox_inches="tight")
    ref = np.asarray(Image.open(full).convert("RGB"), dtype=float)
    data, _ = sharp_png(fig)
    got = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)
    assert got.shape == ref.shape
    assert np.abs(got - ref).mean() < 2


def test_bad_settings_are_errors(fig):
    with pytest.raises(ValueError, match="colours"):
        sharp_png(fig, colours=1)
    with pytest.raises(ValueError, match="scale"):
        sharp_png(fig, scale=0)


def test_a_kernel_shows_figures_through_it():
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure

    from claimbook.plotting import _show_figures_sharp

    shell = InteractiveShell.instance()
    try:
        _show_figures_sharp()
        png = shell.display_formatter.formatters["image/png"]
        assert png.lookup_by_type(Figure) is sharp_png
    finally:
        InteractiveShell.clear_instance()
