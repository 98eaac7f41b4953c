"""The LR finder's curve: how it is smoothed and stopped, what fastai suggests from
it, and where the loss "starts to shoot up".

Introduced in chapter 01 (The learning-rate finder) and used again in chapter 02.

* `SmoothedLoss` / `smooth_and_stop`: the range test's debiased moving average and its
  divergence stop, the book's one copy (chapter 01's stacked range test,
  `claimbook.finetune.FineTuner.lr_find`); `debiased_ewma` the same average along an
  array's last axis. Tested against a plain loop and fastai's own `AvgSmoothLoss` and
  `LRFinder`.
* `trimmed` / `suggestions`: fastai's suggestion functions applied to a recorded curve,
  trimmed as `lr_find` trims it. Tested against `lr_find`'s answers.
* `shoot_up`: the reading of lesson 3's rule of thumb, below.

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

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

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


# --- the range test's smoothed loss and divergence stop ------------------------------

BETA = 0.98  # fastai's AvgSmoothLoss
STOP = 4.0  # fastai's LRFinder: stop once the smoothed loss passes 4x its best


class SmoothedLoss:
    """The range test's running curve, one raw loss at a time: fastai's debiased
    moving average (``AvgSmoothLoss``: ``avg = beta * avg + (1 - beta) * loss``,
    read as ``avg / (1 - beta**i)`` after `i` losses) and its divergence stop
    (``LRFinder.after_batch``: the best is updated first, then the test stops once
    the smoothed loss exceeds ``stop`` x the best).

    ``float32=False`` keeps the average as a float64 number (the book's from-scratch
    test); ``float32=True`` does fastai's arithmetic exactly: a float32 tensor
    updated with ``torch.lerp``. ``stop_on_nan=True`` also stops at a NaN loss (the
    from-scratch test, fastai 0.7); fastai 2 runs on past a NaN (it compares false)."""

    def __init__(
        self,
        beta: float = BETA,
        stop: float = STOP,
        *,
        float32: bool = False,
        stop_on_nan: bool = True,
    ):
        self.beta, self.stop, self.float32 = beta, stop, float32
        self.stop_on_nan = stop_on_nan
        self.count, self.best, self.last = 0, math.inf, math.nan
        self.avg = torch.zeros(()) if float32 else 0.0

    def update(self, loss: float) -> float:
        """Add one raw loss; returns the smoothed value after it."""
        self.count += 1
        if self.float32:
            raw = torch.as_tensor(float(loss), dtype=torch.float32)
            self.avg = torch.lerp(raw, self.avg, self.beta)
            smooth = float(self.avg / (1 - self.beta**self.count))
        else:
            self.avg = self.beta * self.avg + (1 - self.beta) * float(loss)
            smooth = self.avg / (1 - self.beta**self.count)
        self.best = min(self.best, smooth)
        self.last = smooth
        return smooth

    @property
    def diverged(self) -> bool:
        """Whether the test stops after the last update (False before the first)."""
        if self.count == 0:
            return False
        if self.stop_on_nan:
            return not self.last <= self.stop * self.best
        return self.last > self.stop * self.best


def debiased_ewma(x: np.ndarray, beta: float = BETA) -> np.ndarray:
    """`SmoothedLoss`'s average (float64, no stop) along the last axis of `x`, for
    many curves at once: ``avg = beta * avg + (1 - beta) * x[..., i]``, read as
    ``avg / (1 - beta**(i + 1))``."""
    x = np.asarray(x, dtype=np.float64)
    out, avg = np.empty_like(x), np.zeros(x.shape[:-1])
    for i in range(x.shape[-1]):
        avg = beta * avg + (1 - beta) * x[..., i]
        out[..., i] = avg / (1 - beta ** (i + 1))
    return out


def smooth_and_stop(
    raw_losses: Sequence[float],
    beta: float = BETA,
    stop: float = STOP,
    **kwargs,
) -> tuple[int, np.ndarray]:
    """A whole recorded run of raw losses through `SmoothedLoss` (same keywords):
    (the number of points the range test keeps, the smoothed curve up to there).
    The point that triggers the stop is kept, as fastai records it."""
    s = SmoothedLoss(beta, stop, **kwargs)
    out = []
    for v in raw_losses:
        out.append(s.update(v))
        if s.diverged:
            break
    return len(out), np.array(out)


# --- fastai's suggestions, on a curve trimmed as lr_find trims it -------------------

SUGGESTERS = ("minimum", "steep", "valley", "slide")
SLIDE_NEEDS = 16  # slide compares points 15 apart: it needs more than 16 points


def trimmed(
    lrs: Sequence[float], losses: Sequence[float], num_it: int
) -> tuple[np.ndarray, np.ndarray]:
    """The curve fastai's `lr_find` hands its suggestion functions: the first
    ``num_it // 10`` recorded points (counted from the test's start, whatever its
    length) and the last 5 dropped, then cut at the first NaN."""
    cut = slice(num_it // 10, len(lrs) - 5)
    x, y = np.asarray(lrs)[cut], np.asarray(losses)[cut]
    nan = np.nonzero(np.isnan(y))[0]
    if len(nan):
        x, y = x[: nan.min()], y[: nan.min()]
    return x, y


def suggestions(
    lrs: Sequence[float],
    losses: Sequence[float],
    num_it: int,
    names: Sequence[str] = SUGGESTERS,
) -> dict[str, float]:
    """fastai's suggestions (``fastai.callback.schedule``'s functions, called as
    `lr_find` calls them) for a recorded curve, trimmed as `lr_find` trims it
    (`trimmed`). The curve's dtype is kept (float64 arrays stay float64; `lr_find`
    itself passes float32). A suggester that needs a longer curve than the trimmed
    one (slide: more than 16 points; the others: more than 2) returns NaN."""
    from fastai.callback import schedule

    x, y = trimmed(lrs, losses, num_it)
    lr_t, loss_t = torch.tensor(x), torch.tensor(y)
    out = {}
    for name in names:
        enough = len(lr_t) > (SLIDE_NEEDS if name == "slide" else 2)
        f = getattr(schedule, name)
        out[name] = float(f(lr_t, loss_t, num_it)[0]) if enough else math.nan
    return out
