"""claimbook.tolerance: exact checks and the tolerances they are held to."""

import numpy as np
import pytest
import torch

from claimbook.tolerance import ToleranceError, exact_check, float_tolerance, sum_bound


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, np.float32])
def test_float_tolerance_scales_with_dtype_and_size(dtype):
    eps = (
        torch.finfo(dtype).eps
        if isinstance(dtype, torch.dtype)
        else np.finfo(dtype).eps
    )
    assert float_tolerance(dtype, 100) == pytest.approx(2 * 100 * eps)
    assert float_tolerance(dtype, 100, magnitude=3.0) == pytest.approx(600 * eps)
    with pytest.raises(ToleranceError):
        float_tolerance(dtype, 0)


def test_float_tolerance_covers_a_real_reduction():
    """A float32 matmul against float64: inside the derived bound, and not by
    a factor so large the bound could never fail."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(64, 512, generator=g), torch.rand(512, 64, generator=g)
    err = ((a @ b).double() - a.double() @ b.double()).abs().max().item()
    tol = float_tolerance(torch.float32, 512, magnitude=(a @ b).abs().max().item())
    assert 0 < err < tol
    assert err > tol / 1e4


def test_sum_bound_holds_for_a_naive_float32_sum_and_is_higham_s_gamma():
    """Higham's bound holds for every one of 200 naive left-to-right float32 sums of
    1000 random terms (the heuristic float_tolerance does not: it is not a bound)."""
    rng = np.random.default_rng(0)
    over_heuristic = 0
    for _ in range(200):
        x = rng.random(1000).astype(np.float32)  # terms of size about 1
        naive = np.float32(0)
        for v in x:
            naive = np.float32(naive + v)
        err = abs(float(naive) - float(x.astype(np.float64).sum()))
        abs_sum = float(np.abs(x.astype(np.float64)).sum())
        assert err <= sum_bound(np.float32, 1000, abs_sum)
        over_heuristic += err > float_tolerance(np.float32, 1000)
    assert over_heuristic > 0  # why the heuristic is called one
    u = np.finfo(np.float32).eps / 2
    assert sum_bound(np.float32, 11, 2.0) == pytest.approx(10 * u / (1 - 10 * u) * 2)
    with pytest.raises(ToleranceError, match="abs_sum"):
        sum_bound(np.float32, 10, -1.0)
    with pytest.raises(ToleranceError, match="at least one"):
        sum_bound(np.float32, 0, 1.0)


def test_exact_check_uses_its_tolerance():
    c = exact_check([1.0, 1.0 + 1e-9], 1.0, tol=1e-8, what="share = 1")
    assert c.ok
    assert c.worst == pytest.approx(1e-9)
    assert c.n == 2
    assert "worst |deviation| 1e-09 <= tolerance 1e-08" in str(c)
    assert not exact_check([1.0, 1.1], 1.0, tol=1e-8).ok
    with pytest.raises(ToleranceError):
        exact_check([], 1.0, tol=0.1)
