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
2. find the lowest smoothed loss after that;
3. the loss *starts to shoot up* at the last point before it first rises more than
   ``rise`` (10%) above that minimum.

If the loss never rises that far, the curve did not shoot up within the tested
range: `ShootUp.found` is False and `lr` is the last LR tested (a lower bound).

A limit, measured in chapter 01 (section 3): on a curve that stays flat until it
diverges (a trained head, frozen body), the lowest point can be a wobble of the
first few batches' average, and the 10% rise then fires at a tiny LR, far before
the divergence a person reading the plot would point at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RISE = 0.10


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
) -> ShootUp:
    """The book's one reading of "where the loss starts to shoot up".

    `lrs` ascending, `losses` the smoothed (positive) losses; `skip` defaults to
    ``len(lrs) // 10`` (fastai's ``num_it // 10`` for a test that ran to the end).
    A NaN or infinite loss counts as a rise."""
    x = np.asarray(lrs, dtype=np.float64)
    y = np.asarray(losses, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"lrs and losses need equal 1-D shapes, got {x.shape}, {y.shape}"
        )
    if rise <= 0:
        raise ValueError(f"rise={rise}; use a positive fraction")
    skip = len(x) // 10 if skip is None else skip
    if len(x) - skip < 2:
        raise ValueError(f"{len(x)} points leave fewer than 2 after skipping {skip}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("lrs must increase")
    finite = np.where(np.isfinite(y), y, np.inf)
    i_min = skip + int(np.argmin(finite[skip:]))
    if not np.isfinite(finite[i_min]) or finite[i_min] <= 0:
        raise ValueError("the curve needs a positive, finite minimum")
    over = np.nonzero(~(finite[i_min:] <= (1 + rise) * finite[i_min]))[0]
    if len(over):
        i_up = i_min + int(over[0]) - 1
        return ShootUp(float(x[i_up]), i_up, float(x[i_min]), i_min, True)
    last = len(x) - 1
    return ShootUp(float(x[last]), last, float(x[i_min]), i_min, False)
