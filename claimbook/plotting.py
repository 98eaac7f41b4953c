"""Small plotting helpers shared by several chapters.

Introduced in chapter 00 (Start here). Each `show_*` / `overlay` function takes
data (arrays, dicts), draws on `ax` (or a new axes) and returns the axes; none
of them prints; only `use_book_style()` (called by `setup()`) changes settings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def use_book_style() -> None:
    """The book's matplotlib defaults (small figures, light grid, stable SVG ids),
    and, in a notebook, figures shown as sharp PNGs (`sharp_png`).

    Called by `setup()`; nothing else here changes global settings."""
    import matplotlib

    matplotlib.rcParams.update(
        {
            "figure.dpi": 72,
            "savefig.dpi": 72,
            "figure.figsize": (6.4, 3.6),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "claimbook",
        }
    )
    _show_figures_sharp()


SCALE = 2  # pixels per CSS pixel in a figure's PNG (a "retina" image)
COLOURS = 256  # the PNG's palette


MIN_TEXT_KEY = "claimbook:min-text-css-px"  # the PNG text chunk `sharp_png` writes


def sharp_png(fig, scale: int = SCALE, colours: int = COLOURS):
    """A figure as a PNG at `scale` times its CSS size, with a palette of `colours`.

    Returns ``(png_bytes, {"width": w})``, the CSS width (IPython's retina formatter
    also gives the height; a fixed height would squash the image where a narrow
    column scales its width down): the page shows the image at that width, drawn with
    `scale` x `scale` pixels per CSS pixel, so text stays crisp when a browser
    zooms or a phone's screen is dense. A chart has few colours, so a palette of
    256 (median cut, no dithering) keeps it unchanged to the eye and makes the file
    smaller than a full-colour PNG at the plain size (the chapters' notebooks must
    stay under 400 KiB). Returns None for an empty figure.

    The PNG also records, in its text chunk `MIN_TEXT_KEY`, the size of the smallest
    text drawn, in CSS pixels at the image's own width (`drawn_text_sizes`; "none"
    for a figure without text), so a
    test can check what a reader sees once the column scales the image
    (`bookbuild.figures`)."""
    import io

    from IPython.core.pylabtools import print_figure
    from PIL import Image, PngImagePlugin

    if scale < 1 or not 2 <= colours <= 256:
        raise ValueError(f"scale={scale}, colours={colours}: need >= 1 and 2..256")
    with drawn_text_sizes() as sizes:
        data = print_figure(fig, fmt="png", base64=False, dpi=fig.dpi * scale)
    if data is None:
        return None
    img = Image.open(io.BytesIO(data))
    flat = Image.new("RGB", img.size, "white")
    flat.paste(img, mask=img.getchannel("A") if img.mode == "RGBA" else None)
    pal = flat.quantize(
        colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    info = PngImagePlugin.PngInfo()  # points -> CSS px: 1 pt shows as dpi/72 px
    smallest = f"{min(sizes) * fig.dpi / 72:.1f}" if sizes else "none"
    info.add_text(MIN_TEXT_KEY, smallest)
    out = io.BytesIO()
    pal.save(out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue(), {"width": img.size[0] // scale}


class drawn_text_sizes:  # noqa: N801 - used as a context manager, like a function
    """Within the block, collect the font size (points) of every non-empty, visible
    text matplotlib draws: titles, labels, tick labels, legends, annotations."""

    def __enter__(self) -> list[float]:
        from matplotlib.text import Text

        self._orig, sizes = Text.draw, []
        orig = self._orig

        def draw(text, renderer):
            if text.get_visible() and text.get_text().strip():
                sizes.append(float(text.get_fontsize()))
            return orig(text, renderer)

        Text.draw = draw
        return sizes

    def __exit__(self, *exc) -> None:
        from matplotlib.text import Text

        Text.draw = self._orig


def _show_figures_sharp() -> None:
    """In an IPython kernel, show matplotlib figures through `sharp_png`."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a requirement
        return
    ip = get_ipython()
    if ip is None or "image/png" not in ip.display_formatter.formatters:
        return
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    # load the backend now: the inline backend sets its own PNG formatter when it is
    # first loaded (at the first figure otherwise), which would replace this one
    plt.switch_backend(matplotlib.get_backend())

    ip.display_formatter.formatters["image/png"].for_type(Figure, sharp_png)


def _axes(ax=None, figsize=None):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def to_hwc(img) -> np.ndarray:
    """A (3, H, W) or (H, W, 3) tensor/array as an (H, W, 3) float array in [0, 1]."""
    a = img.detach().cpu().numpy() if hasattr(img, "detach") else np.asarray(img)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)
    return np.clip(a, 0, 1)


def show_images(
    images,
    titles: Sequence[str] | None = None,
    boxes=None,
    ncols: int = 8,
    size: float = 1.15,
    axes=None,
):
    """A grid of images, optionally titled and with (x0, y0, x1, y1) boxes drawn."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(images)
    if axes is None:
        nrows = (n + ncols - 1) // ncols
        _, axes = plt.subplots(
            nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False
        )
    axes = np.asarray(axes).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(to_hwc(images[i]), interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=10)
        if boxes is not None:
            x0, y0, x1, y1 = [float(v) for v in boxes[i]]
            ax.add_patch(
                Rectangle(
                    (x0 - 0.5, y0 - 0.5),
                    x1 - x0,
                    y1 - y0,
                    fill=False,
                    edgecolor="yellow",
                    linewidth=1.2,
                )
            )
    return axes


def overlay(image, heat, ax=None, alpha: float = 0.5, cmap: str = "magma"):
    """An image with a heatmap (any resolution) stretched over it.

    The map is resampled bilinearly to the image's own pixel grid (`upsample`) and
    both are drawn pixel for pixel (nearest): the picture shows nothing finer than
    the image's pixels, and a grid of them stays a small PNG (a map smoothed to
    the screen's resolution made every row of the PNG different: three times the
    bytes for the same picture)."""
    ax = _axes(ax)
    img = to_hwc(image)
    ax.imshow(img, interpolation="nearest")
    ax.imshow(
        upsample(heat, img.shape[:2]), cmap=cmap, alpha=alpha, interpolation="nearest"
    )
    ax.axis("off")
    return ax


def upsample(heat, size: tuple[int, int]) -> np.ndarray:
    """A (h, w) map (array or tensor) resized bilinearly to `size` (pixel centres
    aligned, as ``F.interpolate(..., align_corners=False)``)."""
    import torch
    import torch.nn.functional as F

    h = heat.detach().cpu() if hasattr(heat, "detach") else torch.as_tensor(heat)
    h = h.to(torch.float32)
    if h.ndim != 2:
        raise ValueError(f"a heatmap is 2-D (h, w), got shape {tuple(h.shape)}")
    out = F.interpolate(h[None, None], size=size, mode="bilinear", align_corners=False)
    return out[0, 0].numpy()
