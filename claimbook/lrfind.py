"""Reading an LR finder curve: where the loss "starts to shoot up".

Introduced in chapter 01 (The learning-rate finder) and used again in chapter 02.
Lesson 3's rule of thumb reads the finder's plot by eye; to test it, the book needs
one precise reading, the same in every chapter:

1. skip the first ``num_it // 10`` points, as fastai's `lr_find` does before its
   suggestions (the debiased running average of the first few batches is mostly
   noise). fastai counts them from the start of the test, whatever its length; the
   default ``skip`` here is ``len(lrs) // 10``, the same number for a test that ran
   all its iterations. For a curve cut short by the divergence stop, pass
   ``skip=num_it // 10``;
2. take a running median of ``window`` points (5; centred, shorter at the ends), so
   that a dip of one or two points is not read as the curve's level;
3. find the lowest median after the skipped start;
4. the loss *starts to shoot up* at the last point where the median is still within
   ``rise`` (10%) of that minimum: after it, the curve stays above for good.

If the loss never leaves that band, the curve did not shoot up within the tested
range: `ShootUp.found` is False and `lr` is the last LR tested (a lower bound).

Why steps 2 and 4: on a curve that stays flat until it diverges (a trained head,
frozen body), the lowest raw point can be a wobble of the first few batches'
average. Read as "the last point before the first 10% rise above the raw minimum"
(the book's first reading, ``window=1`` and a first crossing), the rule then fired
at a tiny LR, far before the divergence a person reading the plot points at
(chapter 01, section 3; chapter 02). With ``window=1`` this function still reads
the raw curve, but always at the last crossing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RISE = 0.10
WINDOW = 5


@dataclass(frozen=True)
class ShootUp:
    """Where a finder curve turns up, and where its minimum is."""

    lr: float  # the LR where the loss starts to shoot up (see the module docstring)
    index: int
    min_lr: float
    min_index: int
    found: bool  # False: no rise of `rise` after the minimum within the range


def shoot_up(
    lrs: Sequence[float],
    losses: Sequence[float],
    *,
    rise: float = RISE,
    skip: int | None = None,
    window: int = WINDOW,
) -> ShootUp:
    """The book's one reading of "where the loss starts to shoot up".

    `lrs` ascending, `losses` the smoothed (positive) losses; `skip` defaults to
    ``len(lrs) // 10`` (fastai's ``num_it // 10`` for a test that ran to the end);
    `window` is the running median's width (odd; 1 reads the raw curve). A NaN or
    infinite loss counts as a rise."""
    x = np.asarray(lrs, dtype=np.float64)
    y = np.asarray(losses, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"lrs and losses need equal 1-D shapes, got {x.shape}, {y.shape}"
        )
    if rise <= 0:
        raise ValueError(f"rise={rise}; use a positive fraction")
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window={window}; use an odd number of points, 1 or more")
    skip = len(x) // 10 if skip is None else skip
    if len(x) - skip < 2:
        raise ValueError(f"{len(x)} points leave fewer than 2 after skipping {skip}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("lrs must increase")
    level = running_median(np.where(np.isfinite(y), y, np.inf), window)
    i_min = skip + int(np.argmin(level[skip:]))
    if not np.isfinite(level[i_min]) or level[i_min] <= 0:
        raise ValueError("the curve needs a positive, finite minimum")
    within = np.nonzero(level[i_min:] <= (1 + rise) * level[i_min])[0]
    i_up = i_min + int(within[-1])
    last = len(x) - 1
    return ShootUp(float(x[i_up]), i_up, float(x[i_min]), i_min, i_up < last)


def running_median(y: np.ndarray, window: int) -> np.ndarray:
    """Centred running median of an odd `window`; near the ends the window shrinks
    to the points there are (infinite values sort last)."""
    h = window // 2
    n = len(y)
    return np.array([np.median(y[max(0, i - h) : i + h + 1]) for i in range(n)])
