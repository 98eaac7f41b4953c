"""Heatmaps from a layer's activations and gradients, and the scores they are read with.

Introduced in chapter 03 (Hooks and heatmaps). `grad_cam` turns what
`claimbook.hooks.LayerHooks` stored (a layer's activations and the gradient of a
class score) into one map per image. The rest reads a coarse heatmap (one value per
cell of a g x g grid) against a true mask *at the map's own resolution*, never
through an upsampled image: `cell_centre_hits` (the pointing game, read at the
centre of the top cell), `mass_inside` (the share of the map above its own minimum
that falls on the mask), `cell_centres_inside` (the cells whose centre a mask
contains), `cell_coverage` (a mask averaged onto the grid: the oracle map) and
`occlude_cells` (grey out chosen cells, for a deletion test). Chapter 03 shows why:
stretching a 4 x 4 map bilinearly with ``align_corners=False`` turns each border
cell into a flat plateau, and ``argmax`` returns the plateau's first pixel, so a
peak in the top row or left column is read at pixel 0, where no shape's box ever
is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def grad_cam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017) from a layer's activations and the gradient
    of one class score per image with respect to them: ReLU(sum_k alpha_k A_k)
    with alpha_k the spatial mean of the gradient. Shapes (N, C, H, W) -> (N, H, W)."""
    alpha = grads.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * acts).sum(1))


def _grid_step(h: torch.Tensor, masks: torch.Tensor) -> int:
    g, size = h.shape[-1], masks.shape[-1]
    if h.shape[-2] != g or masks.shape[-2] != size or size % g:
        raise ValueError(
            f"need square maps (N, g, g) and masks (N, S, S) with S divisible by g; "
            f"got {tuple(h.shape)} and {tuple(masks.shape)}"
        )
    return size // g


def cell_coverage(masks, grid: int) -> torch.Tensor:
    """The share of each cell of a grid x grid partition that a (N, S, S) mask
    covers, shape (N, grid, grid). Of a true object mask this is the *oracle* map:
    the best any heatmap at that resolution can do."""
    m = torch.as_tensor(masks)
    if m.shape[-1] % grid:
        raise ValueError(f"image side {m.shape[-1]} is not divisible by grid {grid}")
    return F.avg_pool2d(m[:, None].float(), m.shape[-1] // grid)[:, 0]


def cell_centre_hits(h: torch.Tensor, masks) -> torch.Tensor:
    """The pointing game read at the map's own resolution, one 0/1 per image: is the
    centre of the map's highest cell inside the mask?

    ``h`` is (N, g, g), ``masks`` (N, S, S) bool with S divisible by g. The centre
    of cell j is the point ``(j + 0.5) * S / g``; the pixel whose top-left corner
    it is lies inside a box exactly when the point does (boxes have integer edges).
    Ties go to the first cell in row-major order."""
    masks = torch.as_tensor(masks)
    _grid_step(h, masks)
    inside = cell_centres_inside(masks, h.shape[-1]).flatten(1)
    top = h.flatten(1).argmax(1)
    return inside[torch.arange(len(h)), top].float()


def cell_centres_inside(masks, grid: int) -> torch.Tensor:
    """(N, grid, grid) bool: is the centre of each cell inside the (N, S, S) mask?
    The cells a map at that resolution may point at and score a hit."""
    masks = torch.as_tensor(masks)
    if masks.shape[-1] % grid:
        raise ValueError(f"image side {masks.shape[-1]} is not divisible by {grid}")
    step = masks.shape[-1] // grid
    centre = torch.arange(grid) * step + step // 2
    return masks[:, centre][:, :, centre]


def mass_inside(h: torch.Tensor, masks) -> torch.Tensor:
    """The share of each map, measured above its own minimum, that falls on the
    mask, at the map's own resolution (cells weighted by how much of them the mask
    covers). Subtracting the minimum makes it blind to a constant offset (post-ReLU
    channel means are positive everywhere); it is also blind to the map's scale. A
    flat map has no mass above its minimum: it scores the mask's area share, what a
    map that knows nothing scores on average."""
    masks = torch.as_tensor(masks)
    _grid_step(h, masks)
    cover = cell_coverage(masks, h.shape[-1]).flatten(1)
    flat = h.flatten(1).float()
    above = flat - flat.min(1, keepdim=True).values
    total = above.sum(1)
    share = (above * cover).sum(1) / total.clamp_min(torch.finfo(flat.dtype).tiny)
    area = masks.flatten(1).float().mean(1)
    return torch.where(total > 0, share, area)


def occlude_cells(
    x: torch.Tensor, cells: torch.Tensor, grid: int, fill: str = "mean"
) -> torch.Tensor:
    """Copies of images ``x`` (N, C, S, S) with the cells ``cells`` (N, k: indices
    into the row-major grid x grid partition) filled with each image's mean colour
    (``fill="mean"``) or with each cell's own mean colour (``fill="cell"``: the
    cell blurred flat, keeping its average colour); the deletion test of chapter 03
    compares a map's top cells with random ones."""
    if fill not in ("mean", "cell"):
        raise ValueError(f"fill={fill!r}; use 'mean' or 'cell'")
    n, _, size, _ = x.shape
    if size % grid:
        raise ValueError(f"image side {size} is not divisible by grid {grid}")
    step = size // grid
    keep = torch.ones(n, grid * grid, dtype=x.dtype, device=x.device)
    keep[torch.arange(n, device=x.device)[:, None], cells.to(x.device)] = 0
    keep = keep.view(n, 1, grid, grid)
    keep = keep.repeat_interleave(step, 2).repeat_interleave(step, 3)
    if fill == "mean":
        colour = x.mean((2, 3), keepdim=True)
    else:
        colour = F.avg_pool2d(x, step).repeat_interleave(step, 2)
        colour = colour.repeat_interleave(step, 3)
    return x * keep + colour * (1 - keep)
