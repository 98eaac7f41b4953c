"""Exact checks: deterministic comparisons and the tolerances they are held to.

Introduced in chapter 00 (Start here). A claim that is true or false by
construction (a convolution *is* a matrix product) is checked, not estimated: the
worst deviation against a tolerance (`exact_check`), with no interval, since nothing
in it is random. The tolerance must be justified: `float_tolerance` is a heuristic
for the rounding noise of library reductions, `sum_bound` a guaranteed bound for a
sum (Higham). Statistical decisions are `claimbook.evidence`.

This module imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class ToleranceError(ValueError):
    """An exact check or a tolerance asked for with impossible inputs."""


@dataclass(frozen=True)
class ExactCheck:
    """A deterministic comparison with a tolerance: the worst deviation and the
    tolerance it was held to (no interval: nothing here is random)."""

    what: str
    worst: float
    tol: float
    n: int

    @property
    def ok(self) -> bool:
        return self.worst <= self.tol

    def __str__(self) -> str:
        op = "<=" if self.ok else ">"
        return (
            f"exact check: {self.what}, worst |deviation| {self.worst:.3g} {op} "
            f"tolerance {self.tol:.3g} over {self.n} values"
        )


def exact_check(values: Sequence[float], target: float, tol: float, what: str = ""):
    """Every value equals `target` within `tol` (a justified tolerance)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ToleranceError("an exact check needs finite values")
    if not tol >= 0:
        raise ToleranceError(f"tol={tol}; a tolerance is >= 0")
    return ExactCheck(
        what or f"value = {target:g}",
        float(np.abs(x - target).max()),
        float(tol),
        x.size,
    )


def float_tolerance(dtype, n_terms: int, magnitude: float = 1.0, safety: float = 2.0):
    """A tolerance for rounding noise, from the dtype and the computation's size.

    Returns ``safety * n_terms * eps * magnitude`` (`dtype` a torch or NumPy dtype).
    This is a heuristic, not a bound: it is the scale at which the rounding errors of
    a reduction over `n_terms` terms of size about `magnitude` show up when they
    partly cancel, as in the library reductions the chapters check (``torch.sum`` and
    matrix products sum pairwise or in blocks, whose worst case grows like
    ``log2(n)`` rather than ``n``). A naive left-to-right float32 sum of random
    terms can exceed it; where a guaranteed bound is wanted, use `sum_bound`.
    """
    if n_terms < 1:
        raise ToleranceError(f"n_terms={n_terms}; need at least one term")
    return float(safety * n_terms * _eps(dtype) * magnitude)


def sum_bound(dtype, n_terms: int, abs_sum: float) -> float:
    """The worst-case rounding error of a left-to-right sum of `n_terms` terms whose
    absolute values add up to `abs_sum`: ``gamma_(n-1) * abs_sum`` with
    ``gamma_k = k*u / (1 - k*u)`` and ``u = eps / 2`` (Higham, *Accuracy and
    Stability of Numerical Algorithms*, 2nd ed., eq. 4.4). It holds for any order
    of summation, pairwise included; it is usually far above the error seen."""
    if n_terms < 1:
        raise ToleranceError(f"n_terms={n_terms}; need at least one term")
    if not abs_sum >= 0:
        raise ToleranceError(f"abs_sum={abs_sum}; a sum of absolute values is >= 0")
    ku = (n_terms - 1) * _eps(dtype) / 2
    if ku >= 1:
        raise ToleranceError(f"{n_terms} terms: the bound needs (n - 1) * u < 1")
    return float(ku / (1 - ku) * abs_sum)


def _eps(dtype) -> float:
    try:
        import torch

        if isinstance(dtype, torch.dtype):
            return float(torch.finfo(dtype).eps)
    except ImportError:  # pragma: no cover - torch is a requirement
        pass
    return float(np.finfo(dtype).eps)
