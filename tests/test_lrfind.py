"""claimbook.lrfind.shoot_up: exact answers on synthetic finder curves."""

import numpy as np
import pytest

from claimbook.lrfind import shoot_up

LRS = 10.0 ** np.linspace(-6, 1, 50)


def _curve():
    """Flat at 2, falls to 0.5 at index 30, then climbs 0.05 per point."""
    y = np.full(50, 2.0)
    y[10:31] = np.linspace(2.0, 0.5, 21)
    y[31:] = 0.5 + 0.05 * np.arange(1, 20)
    return y


def test_starts_at_the_last_point_within_ten_percent_of_the_minimum():
    s = shoot_up(LRS, _curve())
    # 0.5 * 1.1 = 0.55: index 31 (0.55) is not above it, index 32 (0.60) is
    assert (s.min_index, s.index, s.found) == (30, 31, True)
    assert s.lr == LRS[31]
    assert s.min_lr == LRS[30]


def test_rise_sets_how_far_above_the_minimum():
    assert shoot_up(LRS, _curve(), rise=0.5).index == 35  # 0.75 is the last <= 0.75


def test_the_noisy_start_is_skipped():
    y = _curve()
    y[2] = 0.1  # a lucky batch in the first tenth (skip = 5 points)
    assert shoot_up(LRS, y).min_index == 30
    assert shoot_up(LRS, y, skip=0).min_index == 2


def test_no_rise_within_the_range_is_reported():
    y = np.linspace(2.0, 0.4, 50)
    s = shoot_up(LRS, y)
    assert not s.found
    assert s.index == 49
    assert s.lr == LRS[-1]


def test_nan_counts_as_a_rise():
    y = _curve()
    y[31] = np.nan
    assert shoot_up(LRS, y).index == 30


@pytest.mark.parametrize(
    ("lrs", "losses", "match"),
    [
        (LRS[:10], _curve(), "equal 1-D"),
        (LRS[::-1], _curve(), "increase"),
        (LRS[:1], _curve()[:1], "fewer than 2"),
        (LRS, -_curve(), "positive"),
    ],
)
def test_bad_curves_are_errors(lrs, losses, match):
    with pytest.raises(ValueError, match=match):
        shoot_up(lrs, losses)


def test_skip_counts_from_the_start_of_the_test_for_a_curve_cut_short():
    # a 50-iteration test that stopped after 30 points: fastai still drops 5 points
    y = _curve()[:30]
    y[3] = 0.1  # a lucky batch among the first five
    assert shoot_up(LRS[:30], y).min_index == 3  # default skip = 30 // 10 = 3
    assert shoot_up(LRS[:30], y, skip=50 // 10).min_index == 29


def test_a_wobble_on_a_flat_curve_reads_as_shooting_up():
    """The limit chapter 01 measures: flat until it diverges, with one low point
    just after the skipped start, the 10% rule fires at that tiny LR."""
    y = np.full(50, 1.0)
    y[5] = 0.88  # the debiased average of the first batches, a little low
    y[45:] = [2.0, 4.0, 8.0, 16.0, 32.0]  # the divergence a reader would point at
    s = shoot_up(LRS, y)
    assert (s.min_index, s.index) == (5, 5)
    assert shoot_up(LRS, y, skip=6).index == 44
