"""claimbook.evidence: rules, intervals from scipy.stats, and the three outcomes,
on synthetic samples whose verdict is known."""

import numpy as np
import pytest
import torch
from scipy import stats

from claimbook import claims
from claimbook.evidence import (
    Rule,
    RuleError,
    decide,
    float_tolerance,
    interval,
    paired,
)

GAIN = Rule("gain of A over B", "greater", min_effect=0.02)


def _sample(mean, sd, n=12, seed=0):
    return np.random.default_rng(seed).normal(mean, sd, n)


def test_clear_effect_holds():
    d = decide(_sample(0.10, 0.01), GAIN)
    assert d.outcome == "holds" and d.low >= 0.02 and d.n == 12


def test_clear_reverse_effect_does_not_hold():
    d = decide(_sample(-0.10, 0.01), GAIN)
    assert d.outcome == "fails" and d.high < 0


def test_pure_noise_is_inconclusive():
    d = decide(_sample(0.0, 0.2), GAIN)
    assert d.outcome == "inconclusive" and d.low < 0.02 <= d.high


def test_effect_below_the_smallest_that_matters_does_not_hold():
    d = decide(_sample(0.005, 0.002), GAIN)
    assert d.outcome == "fails" and 0 < d.low and d.high < 0.02


def test_claimed_decrease_mirrors_the_rule():
    rule = Rule("loss change", "less", min_effect=0.05)
    assert decide(_sample(-0.3, 0.02), rule).outcome == "holds"
    assert decide(_sample(-0.01, 0.01), rule).outcome == "fails"
    assert decide(_sample(0.3, 0.02), rule).outcome == "fails"
    assert decide(_sample(-0.05, 0.3), rule).outcome == "inconclusive"


def test_t_interval_is_scipys():
    x = _sample(0.1, 0.05, n=8, seed=3)
    mean, low, high = interval(x, GAIN)
    ci = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean()) and (low, high) == pytest.approx(ci)


def test_bootstrap_interval_is_fixed_between_calls():
    rule = Rule("gain", "greater", 0.02, method="bootstrap")
    x = _sample(0.1, 0.05, n=10, seed=4)
    a, b = interval(x, rule), interval(x, rule)
    assert a == b and a[1] < x.mean() < a[2]


def test_proportion_uses_the_exact_binomial_interval():
    rule = Rule("the pick is good", "greater", 0.5, method="proportion")
    wins = [1] * 9 + [0] * 1
    d = decide(wins, rule)
    ci = stats.binomtest(9, 10).proportion_ci(0.95, method="exact")
    assert (d.effect, d.low, d.high) == pytest.approx((0.9, ci.low, ci.high))
    assert d.outcome == "holds"  # 0.555 > 0.5
    assert decide([1] * 6 + [0] * 4, rule).outcome == "inconclusive"
    assert decide([1] * 1 + [0] * 19, rule).outcome == "fails"
    with pytest.raises(RuleError, match="0/1"):
        decide([0.5, 1.0], rule)


def test_identical_replicates_give_a_point_interval():
    d = decide([0.1, 0.1, 0.1], GAIN)
    assert (d.low, d.high, d.outcome) == (0.1, 0.1, "holds")


def test_bad_rules_and_samples_are_errors():
    with pytest.raises(RuleError, match="direction"):
        Rule("x", "bigger", 0.1)
    with pytest.raises(RuleError, match="method"):
        Rule("x", "greater", 0.1, method="z")
    with pytest.raises(RuleError, match="confidence"):
        Rule("x", "greater", 0.1, confidence=95)
    with pytest.raises(RuleError, match="min_effect"):
        Rule("x", "greater", -0.1)
    with pytest.raises(RuleError, match="at least 2"):
        decide([0.3], GAIN)
    with pytest.raises(RuleError, match="not finite"):
        decide([0.3, float("nan")], GAIN)
    with pytest.raises(RuleError, match="equal 1-D"):
        paired([1, 2], [1, 2, 3])


def test_rule_and_interval_print_stably():
    assert GAIN.describe() == "gain of A over B >= +0.0200 (95% t interval)"
    assert str(GAIN).startswith("Decision rule, declared before the measurement:")
    d = decide([0.1, 0.2, 0.3, 0.4], GAIN)
    assert d.interval_text() == "mean +0.250 [+0.0446, +0.455] (95% CI, n=4)"


def test_paired_differences_within_replicates():
    assert list(paired([0.8, 0.9], [0.7, 0.95])) == pytest.approx([0.1, -0.05])


def test_record_takes_a_decision(capsys):
    d = decide(_sample(0.0, 0.2), GAIN)
    v = claims.record("dlr-helps", decision=d, evidence={"head_only": 0.8})
    line = capsys.readouterr().out.strip()
    assert v.verdict == claims.INCONCLUSIVE
    parsed = claims.parse_line(line)
    assert parsed["verdict"] == claims.INCONCLUSIVE
    assert parsed["evidence"] == "head_only=0.800"
    assert parsed["interval"] == d.interval_text() and parsed["rule"] == GAIN.describe()
    held = claims.record(
        "dlr-helps", decision=decide(_sample(0.1, 0.01), GAIN), caveat="only on shapes"
    )
    assert held.verdict == claims.CAVEAT
    with pytest.raises(claims.ClaimError, match="not both"):
        claims.record("dlr-helps", holds=True, decision=d)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, np.float32])
def test_float_tolerance_scales_with_dtype_and_size(dtype):
    eps = (
        torch.finfo(dtype).eps
        if isinstance(dtype, torch.dtype)
        else np.finfo(dtype).eps
    )
    assert float_tolerance(dtype, 100) == pytest.approx(2 * 100 * eps)
    assert float_tolerance(dtype, 100, magnitude=3.0) == pytest.approx(600 * eps)
    with pytest.raises(RuleError):
        float_tolerance(dtype, 0)


def test_float_tolerance_covers_a_real_reduction():
    """A float32 matmul against float64: inside the derived bound, and not by
    a factor so large the bound could never fail."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(64, 512, generator=g), torch.rand(512, 64, generator=g)
    err = ((a @ b).double() - a.double() @ b.double()).abs().max().item()
    tol = float_tolerance(torch.float32, 512, magnitude=(a @ b).abs().max().item())
    assert 0 < err < tol and err > tol / 1e4


def test_a_zero_threshold_prints_without_a_sign():
    rule = Rule("rise", "less", min_effect=0.0)
    assert rule.threshold == 0 and rule.describe() == "rise <= 0 (95% t interval)"
