"""claimbook.evidence: rules, intervals from scipy.stats, and the three outcomes,
on synthetic samples whose verdict is known."""

import math

import numpy as np
import pytest
from scipy import stats

from claimbook import claims
from claimbook.evidence import (
    ConstantSample,
    Rule,
    RuleError,
    clopper_pearson,
    control_bar,
    decide,
    decide_control,
    decide_negative_control,
    decide_tasks,
    interval,
    paired,
)

GAIN = Rule("gain of A over B", "greater", min_effect=0.02)


def _sample(mean, sd, n=12, seed=0):
    return np.random.default_rng(seed).normal(mean, sd, n)


def test_clear_effect_holds():
    d = decide(_sample(0.10, 0.01), GAIN)
    assert d.outcome == "holds"
    assert d.low >= 0.02
    assert d.n == 12


def test_clear_reverse_effect_does_not_hold():
    d = decide(_sample(-0.10, 0.01), GAIN)
    assert d.outcome == "does not hold"
    assert d.high < 0


def test_pure_noise_is_inconclusive():
    d = decide(_sample(0.0, 0.2), GAIN)
    assert d.outcome == "inconclusive"
    assert d.low < 0.02 <= d.high


def test_effect_below_the_smallest_that_matters_does_not_hold():
    d = decide(_sample(0.005, 0.002), GAIN)
    assert d.outcome == "does not hold"
    assert 0 < d.low
    assert d.high < 0.02


def test_claimed_decrease_mirrors_the_rule():
    rule = Rule("loss change", "less", min_effect=0.05)
    assert decide(_sample(-0.3, 0.02), rule).outcome == "holds"
    assert decide(_sample(-0.01, 0.01), rule).outcome == "does not hold"
    assert decide(_sample(0.3, 0.02), rule).outcome == "does not hold"
    assert decide(_sample(-0.05, 0.3), rule).outcome == "inconclusive"


def test_t_interval_is_scipys():
    x = _sample(0.1, 0.05, n=8, seed=3)
    mean, low, high = interval(x, GAIN)
    ci = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean())
    assert (low, high) == pytest.approx(ci)


def test_bootstrap_interval_is_fixed_between_calls():
    rule = Rule("gain", "greater", 0.02, method="bootstrap")
    x = _sample(0.1, 0.05, n=10, seed=4)
    a, b = interval(x, rule), interval(x, rule)
    assert a == b
    assert a[1] < x.mean() < a[2]


def test_proportion_uses_the_exact_binomial_interval():
    rule = Rule("the pick is good", "greater", 0.5, method="proportion")
    wins = [1] * 9 + [0] * 1
    d = decide(wins, rule)
    ci = stats.binomtest(9, 10).proportion_ci(0.95, method="exact")
    assert (d.effect, d.low, d.high) == pytest.approx((0.9, ci.low, ci.high))
    assert d.outcome == "holds"  # 0.555 > 0.5
    assert decide([1] * 6 + [0] * 4, rule).outcome == "inconclusive"
    assert decide([1] * 1 + [0] * 19, rule).outcome == "does not hold"
    with pytest.raises(RuleError, match="0/1"):
        decide([0.5, 1.0], rule)


def test_identical_continuous_replicates_are_not_a_zero_width_interval():
    with pytest.raises(ConstantSample, match="exact check"):
        decide([0.1, 0.1, 0.1], GAIN)
    with pytest.raises(ConstantSample, match="proportion"):
        decide([1.0, 1.0, 1.0], GAIN)  # a 0/1 outcome belongs to the binomial


def test_identical_replicates_can_be_reported_undecidable_instead():
    d = decide([0.1, 0.1, 0.1], GAIN, constant="undecidable")
    assert d.outcome == "undecidable"
    assert d.effect == 0.1
    assert math.isnan(d.low)
    assert math.isnan(d.high)
    assert d.reason == (
        "no interval: every replicate gave 0.1: an identical continuous value is "
        "not a statistical result"
    )
    # a sample that varies is decided as usual
    assert (
        decide([0.1, 0.2, 0.3], GAIN, constant="undecidable").outcome != "undecidable"
    )
    with pytest.raises(RuleError, match="constant="):
        decide([0.1, 0.2], GAIN, constant="ignore")


def test_identical_replicates_can_be_decided_as_an_exact_check():
    """constant="exact": the one value against the threshold (GAIN: >= 0.02)."""
    at_zero = decide([0.0] * 4, GAIN, constant="exact")
    assert (at_zero.outcome, at_zero.low, at_zero.high) == ("does not hold", 0.0, 0.0)
    assert at_zero.reason == "exact check: all 4 gave 0"
    assert decide([0.05] * 4, GAIN, constant="exact").outcome == "holds"
    assert decide([0.02] * 4, GAIN, constant="exact").outcome == "holds"  # >= bar
    less = Rule("loss change", "less", min_effect=0.1)
    assert decide([-0.2] * 3, less, constant="exact").outcome == "holds"
    # the control is still decided first: a control that misses leaves it unchecked
    ruled = Rule("gain", "greater", 0.02, key="x", control="x:control")
    weak = decide_control(_sample(0.0, 0.05), CONTROL)
    d = decide([0.5] * 12, ruled, control=weak, constant="exact")
    assert d.outcome == "not checked"
    assert "did not show the known effect" in d.reason
    # per task: a constant task decided exactly beside tasks with intervals
    tasks = {"a": _sample(0.1, 0.01), "b": [0.0] * 12}
    agg = decide_tasks(tasks, GAIN, k_needed=2, constant="exact")
    assert [d.outcome for d in agg.per_task.values()] == ["holds", "does not hold"]
    assert agg.outcome == "does not hold"
    with pytest.raises(ConstantSample):
        decide_tasks(tasks, GAIN, k_needed=2)


def test_all_equal_successes_go_through_the_exact_binomial():
    rule = Rule("the pick is good", "greater", 0.6, method="proportion")
    d = decide([1] * 8, rule)
    assert d.effect == 1
    assert d.high == 1
    assert d.low == pytest.approx(stats.beta.ppf(0.025, 8, 1))  # 0.631
    assert d.low == pytest.approx(0.631, abs=5e-4)
    assert d.outcome == "holds"


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
    assert (
        GAIN.describe() == "superiority: gain of A over B >= +0.0200 (95% t interval)"
    )
    assert str(GAIN).startswith("Decision rule: superiority: gain of A over B")
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
    assert parsed["interval"] == d.interval_text()
    assert parsed["rule"] == GAIN.describe()
    held = claims.record(
        "dlr-helps", decision=decide(_sample(0.1, 0.01), GAIN), finding="on 1 of 2"
    )
    assert held.verdict == claims.CAVEAT
    with pytest.raises(claims.ClaimError, match="not both"):
        claims.record("dlr-helps", holds=True, decision=d)


def test_a_zero_threshold_prints_without_a_sign():
    rule = Rule("rise", "less", min_effect=0.0)
    assert rule.threshold == 0
    assert rule.describe() == "superiority: rise <= 0 (95% t interval)"


# --- designs -----------------------------------------------------------------------

NI = Rule("new minus reference", "greater", design="non-inferiority", margin=0.02)
EQ = Rule("A minus B", "greater", design="equivalence", margin=0.05)


def _fixed(mean, sd, n):
    """A sample with exactly this mean and standard deviation (ddof=1)."""
    z = np.linspace(-1, 1, n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


def _half_width(sd, n, level=0.95):
    return stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)


def test_non_inferiority_reads_the_lower_bound_strictly():
    n, sd = 10, 0.01
    hw = _half_width(sd, n)
    at = _fixed(-0.02 + hw, sd, n)  # lower bound exactly at -margin
    d = decide(at, NI)
    assert d.low == pytest.approx(-0.02, abs=1e-12)
    above = decide(_fixed(-0.02 + hw + 1e-6, sd, n), NI)
    assert above.outcome == "holds"
    assert above.low > -0.02
    below = decide(_fixed(-0.02 + hw - 1e-6, sd, n), NI)
    assert below.outcome == "inconclusive"
    assert decide(_fixed(-0.1, sd, n), NI).outcome == "does not hold"
    assert NI.threshold == -0.02
    assert NI.describe().startswith("non-inferiority, margin 0.0200: new minus ")


def test_superiority_bound_is_inclusive():
    n, sd = 10, 0.01
    hw = _half_width(sd, n)
    at = decide(_fixed(0.02 + hw, sd, n), GAIN)
    assert at.low == pytest.approx(0.02, abs=1e-12)
    ok = decide(_fixed(0.02 + hw + 1e-9, sd, n), GAIN)
    assert ok.outcome == "holds"  # >= d holds, where non-inferiority needs >


def test_equivalence_is_two_one_sided_tests_at_five_percent():
    assert EQ.confidence == 0.90
    x = _sample(0.0, 0.02, n=12, seed=1)
    d = decide(x, EQ)
    ci = stats.t.interval(0.90, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert (d.low, d.high) == pytest.approx(ci)
    # TOST: both one-sided p-values below 0.05 exactly when the 90% CI is inside
    p_low = stats.ttest_1samp(x, -0.05, alternative="greater").pvalue
    p_high = stats.ttest_1samp(x, 0.05, alternative="less").pvalue
    assert (max(p_low, p_high) < 0.05) == (d.outcome == "holds") is True
    assert decide(_sample(0.2, 0.01), EQ).outcome == "does not hold"
    assert decide(_sample(0.04, 0.05), EQ).outcome == "inconclusive"
    assert "within ±0.0500" in EQ.describe()


def test_design_arguments_are_checked():
    with pytest.raises(RuleError, match="margin"):
        Rule("x", "greater", design="non-inferiority")
    with pytest.raises(RuleError, match="not a margin"):
        Rule("x", "greater", 0.1, margin=0.1)
    with pytest.raises(RuleError, match="not min_effect"):
        Rule("x", "greater", 0.1, design="equivalence", margin=0.1)
    with pytest.raises(RuleError, match="design"):
        Rule("x", "greater", design="bigger")
    with pytest.raises(RuleError, match="shares"):
        Rule("x", "greater", method="proportion", design="equivalence", margin=0.1)


def test_less_with_a_proportion_mirrors_greater():
    rule = Rule("the run diverged", "less", 0.5, method="proportion")
    assert decide([0] * 10, rule).outcome == "holds"  # high 0.308 <= 0.5
    assert decide([1] * 10, rule).outcome == "does not hold"  # low 0.692 > 0.5
    assert decide([1, 0] * 5, rule).outcome == "inconclusive"


def test_clopper_pearson_matches_beta_quantiles():
    for k, n in [(0, 8), (3, 8), (8, 8), (17, 40)]:
        low, high = clopper_pearson(k, n)
        blow = stats.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
        bhigh = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        assert (low, high) == pytest.approx((blow, bhigh), abs=1e-9)
    with pytest.raises(RuleError):
        clopper_pearson(3, 2)


# --- attainability -----------------------------------------------------------------


def test_an_unattainable_proportion_rule_cannot_decide():
    rule = Rule("the batch was overfitted", "greater", 0.6, method="proportion")
    assert rule.attainable(8) == {"holds": True, "does not hold": True}  # 0.631 >= 0.6
    assert rule.attainable(5) == {"holds": False, "does not hold": True}  # 0.478 < 0.6
    # 0.398, 0.602
    assert rule.attainable(4) == {"holds": False, "does not hold": False}
    d = decide([1] * 5, rule)  # one unreachable outcome is enough to refuse
    assert d.outcome == "undecidable"
    assert "'holds' cannot be reached at n=5" in d.reason
    assert Rule("x", "greater", 0.05, method="proportion").attainable(4) == {
        "holds": True,
        "does not hold": False,  # no success at n=4 still leaves 0.602 above 0.05
    }
    assert GAIN.attainable(2) == {"holds": True, "does not hold": True}
    assert GAIN.attainable(1) == {"holds": False, "does not hold": False}


def test_a_rule_registered_for_n_refuses_another_n():
    rule = Rule("gain", "greater", 0.0, n=4)
    with pytest.raises(RuleError, match="registered for n=4"):
        decide([0.1, 0.2, 0.3], rule)


# --- controls ----------------------------------------------------------------------

CONTROL = Rule("unfrozen minus head only", "greater", 0.0, key="x:control")


def test_a_failed_positive_control_leaves_the_claim_not_checked():
    rule = Rule("gain", "greater", 0.0, key="x", control="x:control")
    with pytest.raises(RuleError, match="control"):
        decide(_sample(0.1, 0.01), rule)
    weak = decide_control(_sample(0.0, 0.05), CONTROL)
    assert weak.outcome == "inconclusive"
    d = decide(_sample(0.1, 0.01), rule, control=weak)
    assert d.outcome == "not checked"
    assert "did not show the known effect" in d.reason
    strong = decide_control(_sample(0.1, 0.01), CONTROL)
    d = decide(_sample(0.1, 0.01), rule, control=strong)
    assert d.outcome == "holds"
    assert d.control is strong
    assert d.control_text().startswith("x:control: mean +0.1")


def test_margin_at_most_half_the_controls_lower_bound():
    n, sd = 10, 0.005
    hw = _half_width(sd, n)
    ctrl = decide_control(_fixed(0.04 + hw, sd, n), CONTROL)  # low = 0.04
    assert ctrl.low == pytest.approx(0.04)
    ok = Rule("a", "greater", design="non-inferiority", margin=0.0199)
    too_big = Rule("a", "greater", design="non-inferiority", margin=0.0201)
    assert control_bar(ok, ctrl) == (True, "")
    fine, why = control_bar(too_big, ctrl)
    assert not fine
    assert "more than half" in why
    d = decide(_sample(0.0, 0.001), too_big, control=ctrl)
    assert d.outcome == "not checked"
    # the case: unfreezing gains 1.5 points, a 2-point margin can't answer
    gain = decide_control(_fixed(0.015, 0.004, 8), CONTROL)
    assert not control_bar(NI, gain)[0]


def test_a_rule_prints_as_one_compact_line():
    r = Rule(
        "gain of A over B",
        "greater",
        min_effect=0.02,
        key="x-gain",
        n=8,
        control="x-gain:control",
        registered="2026-12-06",
    )
    line = str(r)
    assert "\n" not in line
    assert line == (
        "Rule x-gain (registered 2026-12-06): superiority: gain of A over B >= +0.0200 "
        "(95% t interval, n=8); control, decided first: x-gain:control."
    )
    # what each outcome means is said once for the design, not in every printout
    assert r.outcome_text() not in line
    assert str(GAIN).startswith("Decision rule: superiority: gain of A over B")


def test_negative_control_must_come_out_as_predicted():
    same = Rule("recipe minus itself", "greater", design="equivalence", margin=0.02)
    ok = decide_negative_control(_sample(0.0, 0.001), same, "holds")
    assert ok.outcome == "holds"
    bad = decide_negative_control(_sample(0.1, 0.001), same, "holds")
    assert bad.outcome == "not checked"
    assert "negative control" in bad.reason
    with pytest.raises(RuleError):
        decide_control(_sample(0.1, 0.01), same)
    # the outcome words are the verdicts' words; any other expectation is refused
    broken = decide_negative_control(_sample(0.1, 0.001), same, "does not hold")
    assert broken.outcome == "does not hold"
    with pytest.raises(RuleError, match="expects"):
        decide_negative_control(_sample(0.1, 0.001), same, "fails")


# --- several tasks -----------------------------------------------------------------


def test_tasks_are_decided_each_and_counted():
    tasks = {
        "a": _sample(0.1, 0.01),
        "b": _sample(0.1, 0.01, seed=1),
        "c": _sample(-0.1, 0.01),
        "d": _sample(0.0, 0.3),
    }
    agg = decide_tasks(tasks, GAIN, k_needed=2)
    assert [d.outcome for d in agg.per_task.values()] == [
        "holds",
        "holds",
        "does not hold",
        "inconclusive",
    ]
    assert agg.outcome == "holds"
    assert (
        agg.interval_text()
        == "holds on 2 of 4 tasks, does not hold on 1 (needs 2 of 4)"
    )
    assert decide_tasks(tasks, GAIN, k_needed=4).outcome == "does not hold"  # c failed
    assert decide_tasks(tasks, GAIN, k_needed=3).outcome == "inconclusive"
    with pytest.raises(RuleError):
        decide_tasks(tasks, GAIN, k_needed=5)


def test_record_prints_the_control_and_not_checked_reason(capsys):
    rule = Rule("gain", "greater", 0.0, key="dlr-helps", control="x:control")
    weak = decide_control(_sample(0.0, 0.05), CONTROL)
    v = claims.record(
        "dlr-helps", decision=decide(_sample(0.1, 0.01), rule, control=weak)
    )
    d = claims.parse_line(capsys.readouterr().out)
    assert v.verdict == claims.NOT_CHECKED == d["verdict"]
    assert d["control"].startswith("x:control: mean")
    assert "inconclusive" in d["control"]
    assert "did not show the known effect" in d["note"]
    with pytest.raises(claims.ClaimError, match="reason"):
        claims.record("fa-fp16", holds=None, evidence="")
