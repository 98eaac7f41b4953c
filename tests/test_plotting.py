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


def test_the_png_records_its_smallest_text_in_css_pixels():
    import matplotlib.pyplot as plt

    from claimbook.plotting import MIN_TEXT_KEY

    f, ax = plt.subplots(figsize=(4, 2), dpi=72)
    ax.plot([0, 1], [0, 1])
    ax.set_title("small", fontsize=7)
    ax.text(0.5, 0.5, "", fontsize=3)  # empty: not drawn, not counted
    ax.text(0.5, 0.5, "hidden", fontsize=4).set_visible(False)
    data, _ = sharp_png(f)
    assert Image.open(io.BytesIO(data)).text[MIN_TEXT_KEY] == "7.0"
    f.set_dpi(144)  # at 144 dpi a point is two CSS pixels
    data, _ = sharp_png(f)
    assert Image.open(io.BytesIO(data)).text[MIN_TEXT_KEY] == "14.0"
    plt.close(f)
    g, ax = plt.subplots(figsize=(2, 2), dpi=72)
    ax.imshow(np.zeros((4, 4)))
    ax.axis("off")  # no text at all
    data, _ = sharp_png(g)
    assert Image.open(io.BytesIO(data)).text[MIN_TEXT_KEY] == "none"
    plt.close(g)
    # the drawing is only watched while sharp_png runs
    from matplotlib.text import Text

    from claimbook.plotting import drawn_text_sizes

    before = Text.draw
    with drawn_text_sizes() as sizes:
        assert Text.draw is not before
    assert Text.draw is before
    assert sizes == []


def test_upsample_is_bilinear_on_the_image_grid():
    import torch

    from claimbook.plotting import upsample

    assert np.allclose(upsample(np.full((4, 4), 0.3), (32, 32)), 0.3)
    # 2 x 2 -> 4 x 4 with pixel centres aligned: the outer pixels copy the corners,
    # the inner ones are a quarter / three quarters of the way between them
    out = upsample(torch.tensor([[0.0, 1.0], [0.0, 1.0]]), (4, 4))
    assert out.shape == (4, 4)
    assert np.allclose(out[0], [0.0, 0.25, 0.75, 1.0])
    assert np.allclose(out[:, 1], 0.25)
    with pytest.raises(ValueError, match="2-D"):
        upsample(np.zeros((1, 4, 4)), (8, 8))


def test_overlay_draws_image_and_map_pixel_for_pixel():
    import matplotlib.pyplot as plt

    from claimbook.plotting import overlay

    f, ax = plt.subplots()
    overlay(np.zeros((3, 8, 8)), np.arange(4.0).reshape(2, 2), ax=ax)
    img, heat = ax.get_images()
    assert img.get_array().shape[:2] == heat.get_array().shape == (8, 8)
    assert {img.get_interpolation(), heat.get_interpolation()} == {"nearest"}
    plt.close(f)
