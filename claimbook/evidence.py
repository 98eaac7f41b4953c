"""The evidence standard: rules declared before the measurement, decided by intervals.

Introduced in chapter 01 (The learning-rate finder). A claim decided by an
experiment is judged in three steps:

1. **Declare the rule first** (`Rule`): the quantity measured per replicate, the
   direction the note claims, the smallest effect that matters, the confidence
   level and the interval method. A chapter prints the rule *before* the cell
   that measures (``print(rule)``).
2. **Run independent replicates**: each its own data draw, initialisation and
   batch order; the per-replicate quantity is a paired comparison within a
   replicate where there are two arms.
3. **Decide from the interval** (`decide`): for a claimed increase by at least
   ``min_effect`` (``direction="greater"``),

   * the claim **holds** when the whole interval lies at or above ``min_effect``;
   * it **does not hold** when the whole interval lies below ``min_effect`` (the
     effect is absent, reversed, or too small to matter);
   * otherwise the budget cannot tell: **inconclusive on this budget**.

   ``direction="less"`` mirrors this for a claimed decrease by at least
   ``min_effect``.

Intervals come from `scipy.stats`: a t interval of the mean (``"t"``), a BCa
bootstrap of the mean with a fixed generator (``"bootstrap"``), or an exact
Clopper-Pearson interval of a share of successes (``"proportion"``; there
``min_effect`` is the share the claim needs). Nothing is hand-written.

Exact checks (a from-scratch computation against a library one) do not use a
hand-picked tolerance either: `float_tolerance` derives it from the dtype's
machine epsilon and the number of accumulated terms.

This module imports nothing from the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

DIRECTIONS = ("greater", "less")
METHODS = ("t", "bootstrap", "proportion")
OUTCOMES = ("holds", "fails", "inconclusive")
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 20180101  # fixed: the interval must not change between runs


class RuleError(ValueError):
    """A rule or a sample that cannot be decided (wrong direction, too few values)."""


@dataclass(frozen=True)
class Rule:
    """A decision rule, declared before the measurement.

    quantity: what one replicate contributes, in words (with its sign convention:
        e.g. "accuracy of slice(lr/10, lr) minus accuracy of the best single LR").
    direction: "greater" when the note claims the quantity is positive (above
        `min_effect`), "less" when it claims it is negative (below -`min_effect`).
    min_effect: the smallest effect that matters (>= 0), in the quantity's units;
        for ``method="proportion"`` the share of successes the claim needs.
    confidence: the two-sided confidence level of the interval.
    method: "t", "bootstrap" or "proportion".
    """

    quantity: str
    direction: str
    min_effect: float
    confidence: float = 0.95
    method: str = "t"

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise RuleError(f"direction={self.direction!r}; use one of {DIRECTIONS}")
        if self.method not in METHODS:
            raise RuleError(f"method={self.method!r}; use one of {METHODS}")
        if not 0.5 < self.confidence < 1:
            raise RuleError(f"confidence={self.confidence}; use a level in (0.5, 1)")
        if not self.min_effect >= 0 or not math.isfinite(self.min_effect):
            raise RuleError(f"min_effect={self.min_effect}; use a finite value >= 0")
        if self.method == "proportion" and not 0 < self.min_effect < 1:
            raise RuleError("a proportion rule needs a share in (0, 1) as min_effect")

    @property
    def threshold(self) -> float:
        """The value the interval is compared with (signed)."""
        if self.method == "proportion":
            return self.min_effect
        return self.min_effect if self.direction == "greater" else -self.min_effect

    def describe(self) -> str:
        """Short, for the verdict line: 'quantity >= +0.02 (95% t interval)'."""
        op = ">=" if self.direction == "greater" else "<="
        what = self.quantity
        if self.method == "proportion":
            what = f"share of replicates where {what}"
        how = {"t": "t", "bootstrap": "BCa bootstrap", "proportion": "exact binomial"}
        return (
            f"{what} {op} {_num(self.threshold)} "
            f"({self.confidence:.0%} {how[self.method]} interval)"
        )

    def __str__(self) -> str:
        op = ">=" if self.direction == "greater" else "<="
        thr = _num(self.threshold)
        return (
            f"Decision rule, declared before the measurement: {self.describe()}. "
            f"Holds if the whole interval is {op} {thr}; does not hold if none of "
            "it is; inconclusive on this budget otherwise."
        )


@dataclass(frozen=True)
class Decision:
    """The interval of one rule's quantity over the replicates, and its outcome."""

    rule: Rule
    effect: float  # the mean (or the share, for a proportion)
    low: float
    high: float
    n: int
    outcome: str  # one of OUTCOMES

    def interval_text(self) -> str:
        """'+0.034 [+0.012, +0.056] (95% CI, n=8)', printed in the verdict line."""
        unit = "share" if self.rule.method == "proportion" else "mean"
        return (
            f"{unit} {_num(self.effect)} [{_num(self.low)}, {_num(self.high)}] "
            f"({self.rule.confidence:.0%} CI, n={self.n})"
        )

    def __str__(self) -> str:
        return f"{self.interval_text()} -> {self.outcome}"


def _num(x: float) -> str:
    """A signed number with 3 significant digits, stable for printing."""
    if x == 0:
        return "0"  # also for -0.0 (a "less" rule with min_effect 0)
    if not math.isfinite(x):
        return f"{x:g}"
    digits = max(3 - int(math.floor(math.log10(abs(x)))) - 1, 0)
    if 1e-3 <= abs(x) < 1e4:
        s = f"{x:+.{digits}f}"
    else:
        s = f"{x:+.2e}"
    return "+0" if s in ("+0", "-0") or float(s) == 0 else s


def interval(values: Sequence[float], rule: Rule) -> tuple[float, float, float]:
    """(effect, low, high) for the replicates' values under the rule's method."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2:
        raise RuleError(f"need at least 2 replicates, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise RuleError("a replicate's value is not finite; score failures explicitly")
    if rule.method == "proportion":
        if not np.all((x == 0) | (x == 1)):
            raise RuleError("a proportion rule takes 0/1 outcomes per replicate")
        k, n = int(x.sum()), len(x)
        ci = stats.binomtest(k, n).proportion_ci(rule.confidence, method="exact")
        return k / n, float(ci.low), float(ci.high)
    if np.ptp(x) == 0:  # every replicate agrees: the interval is the point
        return float(x[0]), float(x[0]), float(x[0])
    mean = float(x.mean())
    if rule.method == "t":
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(rule.confidence)
        return mean, float(ci.low), float(ci.high)
    res = stats.bootstrap(
        (x,),
        np.mean,
        confidence_level=rule.confidence,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="BCa",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return mean, float(res.confidence_interval.low), float(res.confidence_interval.high)


def decide(values: Sequence[float], rule: Rule) -> Decision:
    """The rule's outcome for one value per replicate (see the module docstring)."""
    effect, low, high = interval(values, rule)
    t = rule.threshold
    if rule.direction == "greater":
        holds, fails = low >= t, high < t
    else:
        holds, fails = high <= t, low > t
    outcome = "holds" if holds else "fails" if fails else "inconclusive"
    return Decision(rule, effect, low, high, len(values), outcome)


def paired(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """a - b per replicate (the two arms of each replicate, compared within it)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise RuleError(f"paired arms need equal 1-D shapes, got {a.shape}, {b.shape}")
    return a - b


def float_tolerance(dtype, n_terms: int, magnitude: float = 1.0, safety: float = 2.0):
    """The rounding error a computation may show, from its dtype and its size.

    A sum (or dot product, or chain of updates) of `n_terms` floating-point terms
    of size about `magnitude` can be off by about ``n_terms * eps * magnitude``
    in the worst case (each addition rounds by at most eps relative); `safety`
    covers the few extra operations per term. `dtype` is a torch or NumPy dtype.
    """
    if n_terms < 1:
        raise RuleError(f"n_terms={n_terms}; need at least one term")
    try:
        import torch

        if isinstance(dtype, torch.dtype):
            eps = torch.finfo(dtype).eps
        else:
            eps = float(np.finfo(dtype).eps)
    except ImportError:  # pragma: no cover - torch is a requirement
        eps = float(np.finfo(dtype).eps)
    return float(safety * n_terms * eps * magnitude)
