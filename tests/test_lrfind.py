"""claimbook.lrfind.shoot_up: exact answers on synthetic finder curves."""

import numpy as np
import pytest

from claimbook.lrfind import running_median, shoot_up

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
