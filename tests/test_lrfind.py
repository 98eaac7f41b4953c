"""claimbook.lrfind: shoot_up's exact answers on synthetic finder curves; the
smoothed curve and its stop against a plain loop and fastai's own LRFinder; the
suggestions against lr_find's."""

from functools import partial

import numpy as np
import pytest
import torch

from claimbook.lrfind import (
    SUGGESTERS,
    SmoothedLoss,
    debiased_ewma,
    running_median,
    shoot_up,
    smooth_and_stop,
    suggestions,
    trimmed,
)
from claimbook.tolerance import float_tolerance

LRS = 10.0 ** np.linspace(-6, 1, 50)


def _curve():
    """Flat at 2, falls to 0.5 at index 30, then climbs 0.05 per point."""
    y = np.full(50, 2.0)
    y[10:31] = np.linspace(2.0, 0.5, 21)
    y[31:] = 0.5 + 0.05 * np.arange(1, 20)
    return y


def test_raw_reading_starts_at_the_last_point_within_ten_percent_of_the_minimum():
    s = shoot_up(LRS, _curve(), window=1)
    # 0.5 * 1.1 = 0.55: index 31 (0.55) is not above it, index 32 (0.60) is
    assert (s.min_index, s.index, s.found) == (30, 31, True)
    assert s.lr == LRS[31]
    assert s.min_lr == LRS[30]


def test_the_median_reading_of_a_v():
    # medians of five around the V's bottom: 0.65, 0.575 (indices 29-31), 0.6, 0.65;
    # 0.575 * 1.1 = 0.6325, so index 32 (0.6) is the last within
    s = shoot_up(LRS, _curve())
    assert (s.min_index, s.index, s.found) == (29, 32, True)
    assert running_median(_curve(), 5)[28:34] == pytest.approx(
        [0.65, 0.575, 0.575, 0.575, 0.6, 0.65]
    )


def test_rise_sets_how_far_above_the_minimum():
    assert shoot_up(LRS, _curve(), rise=0.5, window=1).index == 35  # 0.75 <= 0.75


def test_the_running_median_shrinks_at_the_ends():
    y = np.array([5.0, 1.0, 2.0, 9.0, 3.0])
    # windows: [5,1,2], [5,1,2,9], [5,1,2,9,3], [1,2,9,3], [2,9,3]
    assert list(running_median(y, 5)) == [2.0, 3.5, 3.0, 2.5, 3.0]
    assert list(running_median(y, 1)) == list(y)


def test_the_noisy_start_is_skipped():
    y = _curve()
    y[2] = 0.1  # a lucky batch in the first tenth (skip = 5 points)
    assert shoot_up(LRS, y, window=1).min_index == 30
    assert shoot_up(LRS, y, skip=0, window=1).min_index == 2


def test_no_rise_within_the_range_is_reported():
    y = np.linspace(2.0, 0.4, 50)
    s = shoot_up(LRS, y)
    assert not s.found
    assert s.index == 49
    assert s.lr == LRS[-1]


def test_nan_counts_as_a_rise():
    y = _curve()
    y[31:] = np.nan  # the test diverged after its minimum
    assert shoot_up(LRS, y, window=1).index == 30
    assert shoot_up(LRS, y).index == 30  # the median of [0.5, nan, nan] is inf too


@pytest.mark.parametrize(
    ("lrs", "losses", "match"),
    [
        (LRS[:10], _curve(), "equal 1-D"),
        (LRS[::-1], _curve(), "increase"),
        (LRS[:1], _curve()[:1], "fewer than 2"),
        (LRS, -_curve(), "positive"),
        (LRS, _curve(), "odd number"),
    ],
)
def test_bad_curves_are_errors(lrs, losses, match):
    with pytest.raises(ValueError, match=match):
        shoot_up(lrs, losses, window=4 if match == "odd number" else 5)


def test_skip_counts_from_the_start_of_the_test_for_a_curve_cut_short():
    # a 50-iteration test that stopped after 30 points: fastai still drops 5 points
    y = _curve()[:30]
    y[3] = 0.1  # a lucky batch among the first five
    assert shoot_up(LRS[:30], y, window=1).min_index == 3  # default skip = 30 // 10
    assert shoot_up(LRS[:30], y, skip=50 // 10, window=1).min_index == 29


def test_a_wobble_on_a_flat_curve_is_not_read_as_shooting_up():
    """Flat until it diverges, with one low point just after the skipped start: the
    raw reading fires at that tiny LR; the median reading finds the divergence."""
    y = np.full(50, 1.0)
    y[5] = 0.88  # the debiased average of the first batches, a little low
    y[45:] = [2.0, 4.0, 8.0, 16.0, 32.0]  # the divergence a reader would point at
    assert shoot_up(LRS, y, window=1).index == 5
    assert shoot_up(LRS, y).index == 44


def test_a_two_point_dip_and_a_noisy_plateau():
    """A dip of two points 30% low early on, then a plateau whose noise (+-8%) leaves
    the 10% band of the dip's level and comes back: the shoot-up is where the curve
    leaves the band of the plateau for good, just before the divergence."""
    rng = np.random.default_rng(0)
    y = 1.0 + 0.08 * np.sin(np.arange(50) * 1.7) + 0.001 * rng.standard_normal(50)
    y[8:10] = 0.7
    y[40:] = 1.0 + 0.5 * np.arange(1, 11)
    s = shoot_up(LRS, y)
    assert 37 <= s.index <= 39  # the median sees the rise two points early at most
    assert s.found
    raw = shoot_up(LRS, y, window=1)
    assert raw.min_index == 8  # the raw minimum is the dip, whose band ends at once
    assert raw.index == 9


def test_a_bump_that_comes_back_is_not_the_shoot_up():
    y = _curve()
    y[20] = 5.0  # one bad batch on the way down
    assert shoot_up(LRS, y, window=1).index == 31
    assert shoot_up(LRS, y).index == 32


# --- the smoothed curve and its stop, against a plain loop and fastai ---------------


def _raw_losses(n=60, seed=0):
    """A range test's raw losses: noisy, falling, then blowing up."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, n)
    return 2.0 - 1.5 * x + np.expm1(20 * np.maximum(x - 0.7, 0)) + 0.2 * rng.random(n)


def _plain(raw, beta=0.98):
    """Chapter 01's from-scratch range test, its smoothing and stop only."""
    import math

    avg, best, out = 0.0, math.inf, []
    for i, v in enumerate(raw):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** (i + 1)))
        best = min(best, out[-1])
        if not out[-1] <= 4 * best:
            break
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smooth_and_stop_equals_the_from_scratch_loop(seed):
    raw = _raw_losses(seed=seed)
    kept, smooth = smooth_and_stop(raw)
    want = _plain(raw)
    assert kept == len(want)
    assert kept < len(raw)  # it did stop at the blow-up
    np.testing.assert_array_equal(smooth, want)  # the same float64 operations


def test_debiased_ewma_is_the_same_average_row_by_row():
    raw = np.stack([_raw_losses(40, seed) for seed in range(3)])
    for beta in (0.9, 0.98):
        many = debiased_ewma(raw, beta)
        for row, want in zip(many, raw, strict=True):
            s = SmoothedLoss(beta)
            np.testing.assert_array_equal(row, [s.update(v) for v in want])


def test_a_nan_stops_the_from_scratch_curve_but_not_fastais():
    raw = _raw_losses()[:20].copy()
    raw[10] = np.nan
    assert smooth_and_stop(raw)[0] == 11  # the NaN point is kept, then it stops
    kept, smooth = smooth_and_stop(raw, float32=True, stop_on_nan=False)
    assert kept == 20
    assert np.isnan(smooth[10:]).all()  # the average stays NaN, the test runs on


def test_float32_arithmetic_is_fastais_avg_smooth_loss_exactly():
    from types import SimpleNamespace

    from fastai.learner import AvgSmoothLoss

    raw = _raw_losses(200)  # no stop: compare the whole average
    metric = AvgSmoothLoss()
    metric.reset()
    curve = SmoothedLoss(float32=True)
    ours64 = SmoothedLoss()
    for v in raw:
        metric.accumulate(SimpleNamespace(loss=torch.tensor(v, dtype=torch.float32)))
        # fastai's recorder stores a float32 tensor; ours a Python float
        assert curve.update(float(np.float32(v))) == float(metric.value)
        smooth64 = ours64.update(v)
    # the float64 average differs from fastai's by float32 rounding only: at most
    # the rounding of one float32 operation per update (a relative bound)
    tol = float_tolerance(torch.float32, len(raw))
    assert abs(smooth64 / float(metric.value) - 1) < tol


def _learner(tmp_path, seed=0):
    from fastai.learner import Learner
    from fastai.optimizer import OptimWrapper
    from torch import nn

    from claimbook.data import tensor_dls

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    dls = tensor_dls((x[:384], y[:384]), (x[384:], y[384:]), bs=32, seed=seed, c=3)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = partial(OptimWrapper, opt=torch.optim.Adam, betas=(0.9, 0.99), eps=1e-5)
    return Learner(
        dls, model, loss_func=nn.CrossEntropyLoss(), opt_func=opt, path=tmp_path
    )


@pytest.fixture(scope="module")
def fastai_curves(tmp_path_factory):
    """Real fastai 2.8 range tests on a small tabular model: lr_find's recorded
    curve, its suggestions, and the raw losses behind the curve. Two tests: one
    that runs to the end and one that the divergence stop cuts short."""
    from fastai.callback.core import Callback
    from fastai.callback.schedule import minimum, slide, steep, valley

    class Raw(Callback):
        order = 0

        def before_fit(self):
            self.seen = []

        def after_batch(self):
            if self.training:
                self.seen.append(float(self.learn.loss.detach()))

    out = []
    for seed, end_lr, num_it in ((0, 10.0, 100), (1, 1e4, 100), (2, 10.0, 40)):
        learn = _learner(tmp_path_factory.mktemp(f"lrf{seed}"), seed)
        raw = Raw()
        learn.add_cb(raw)
        sugg = learn.lr_find(
            end_lr=end_lr,
            num_it=num_it,
            show_plot=False,
            suggest_funcs=(minimum, steep, valley, slide),
        )
        rec = learn.recorder
        out.append(
            dict(
                num_it=num_it,
                lrs=np.array(rec.lrs),
                losses=np.array([float(v) for v in rec.losses]),
                raw=np.array(raw.seen),
                sugg=sugg._asdict(),
            )
        )
    assert len(out[1]["lrs"]) < out[1]["num_it"]  # the second one diverged early
    return out


def test_smooth_and_stop_is_fastais_recorded_curve(fastai_curves):
    for c in fastai_curves:
        kept, smooth = smooth_and_stop(c["raw"], float32=True, stop_on_nan=False)
        assert kept == len(c["losses"])  # fastai stops at the same point
        np.testing.assert_array_equal(smooth, c["losses"])
        # the float64 curve (the book's from-scratch test): float32 rounding apart
        kept64, smooth64 = smooth_and_stop(c["raw"])
        assert kept64 == kept
        tol = float_tolerance(torch.float32, c["num_it"])
        assert np.max(np.abs(smooth64 / c["losses"] - 1)) < tol


def test_suggestions_are_lr_finds(fastai_curves):
    """The same four functions on the same trimmed curve: lr_find passes float32
    tensors, `suggestions` keeps float64, so the LRs agree to float32 rounding."""
    tol = float_tolerance(torch.float32, 1)
    for c in fastai_curves:
        ours = suggestions(c["lrs"], c["losses"], c["num_it"])
        assert list(ours) == list(SUGGESTERS)
        for k, v in c["sugg"].items():
            assert abs(ours[k] / v - 1) < tol, k


def test_trimming_counts_from_the_start_and_cuts_at_a_nan():
    lrs = np.arange(1.0, 31.0)
    losses = np.ones(30)
    losses[20] = np.nan
    x, y = trimmed(lrs, losses, num_it=50)  # a 50-iteration test cut at 30 points
    assert x[0] == lrs[5]  # 50 // 10 points dropped, not 30 // 10
    assert len(x) == 15  # up to the NaN (index 20), which is before the last 5
    assert not np.isnan(y).any()


def test_a_curve_too_short_for_slide_gets_nan():
    x = 10.0 ** np.linspace(-7, 1, 25)
    y = np.linspace(2, 1, 25)
    out = suggestions(x, y, num_it=25)  # 25 - 2 - 5 = 18 points: slide works
    assert not np.isnan(out["slide"])
    out = suggestions(x[:20], y[:20], num_it=25)  # 13 points: too few for slide
    assert np.isnan(out["slide"])
    assert not np.isnan(out["valley"])


def test_a_fresh_smoothed_loss_has_not_diverged():
    """Before its first loss a range test has nothing to stop on (either mode)."""
    for nan_stops in (True, False):
        s = SmoothedLoss(stop_on_nan=nan_stops)
        assert s.diverged is False
        assert np.isnan(s.last)
        s.update(1.0)
        assert s.diverged is False
        s.update(float("nan"))
        assert s.diverged is nan_stops  # fastai 2 runs on past a NaN
