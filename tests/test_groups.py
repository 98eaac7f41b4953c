"""claimbook.groups: the from-scratch LR spreading must equal fastai's, exactly."""

import pytest
import torch
from torch import nn

from claimbook.groups import SLICE_DIV_V1_EARLY, group_stats, is_partition, spread_lrs


def _fastai_lrs(lr, n):
    """What fastai's own Optimizer puts into its hypers for `lr` over `n` groups."""
    from fastai.optimizer import SGD

    params = [[nn.Parameter(torch.zeros(1))] for _ in range(n)]
    opt = SGD(params, lr=0.1)
    opt.set_hyper("lr", lr)
    return [h["lr"] for h in opt.hypers]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize(
    "lr",
    [1e-3, slice(1e-3), slice(1e-5, 1e-3), slice(0, 1e-2), slice(1e-2 / 2.6**4, 1e-2)],
)
def test_spread_matches_fastai(lr, n):
    if n == 1 and isinstance(lr, slice) and not lr.start:
        pytest.skip("fastai builds an empty list then repeats it; not a case to mirror")
    assert spread_lrs(lr, n) == pytest.approx(_fastai_lrs(lr, n), rel=1e-12)


def test_spread_values():
    assert spread_lrs(1e-3, 3) == [1e-3] * 3
    assert spread_lrs(slice(1e-3), 3) == pytest.approx([1e-4, 1e-4, 1e-3])
    assert spread_lrs(slice(1e-5, 1e-3), 3) == pytest.approx(
        [1e-5, 1e-4, 1e-3], rel=1e-12
    )
    assert spread_lrs(slice(1e-4, 1e-1), 4) == pytest.approx(
        [1e-4, 1e-3, 1e-2, 1e-1], rel=1e-12
    )


def test_early_fastai_v1_divided_by_three():
    assert spread_lrs(slice(3e-3), 3, slice_div=SLICE_DIV_V1_EARLY) == pytest.approx(
        [1e-3, 1e-3, 3e-3]
    )


def test_ulmfit_factor_is_exactly_2_6_per_group():
    lrs = spread_lrs(slice(1e-2 / 2.6**4, 1e-2), 5)
    assert [b / a for a, b in zip(lrs, lrs[1:], strict=False)] == pytest.approx(
        [2.6] * 4, rel=1e-12
    )
    assert lrs == pytest.approx([1e-2 / 2.6**k for k in range(4, -1, -1)], rel=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_groups=0"):
        spread_lrs(1e-3, 0)
    with pytest.raises(ValueError, match="use slice"):
        spread_lrs(slice(1e-5, 1e-3, 2), 3)
    with pytest.raises(ValueError, match="use slice"):
        spread_lrs(slice(None), 3)


def _net():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4, 2),
    )


def test_group_stats_counts_exactly():
    m = _net()
    groups = [list(m[:2].parameters()), list(m[2:].parameters())]
    s = group_stats(m, groups, depth=1)
    assert [g.n_tensors for g in s] == [3, 2]
    assert [g.n_params for g in s] == [3 * 4 * 9 + 4 + 4, 4 * 2 + 2]
    assert [g.norm_tensors for g in s] == [2, 0]
    assert [g.modules for g in s] == [("0", "1"), ("4",)]
    m[0].weight.requires_grad_(False)
    s = group_stats(m, groups)
    assert (
        s[0].trainable_tensors,
        s[0].trainable_params,
        s[0].trainable_norm_tensors,
    ) == (2, 8, 2)
    assert s[1].trainable_tensors == 2


def test_partition_and_foreign_params():
    m = _net()
    ps = list(m.parameters())
    assert is_partition(m, [ps[:2], ps[2:]])
    assert not is_partition(m, [ps[:2], ps[1:]])  # overlap
    assert not is_partition(m, [ps[:2]])  # missing
    with pytest.raises(ValueError, match="not in the model"):
        group_stats(m, [[nn.Parameter(torch.zeros(1))]])


def test_matches_fastai_resnet_groups():
    """On a vision_learner model the stats of fastai's own param_lists add up."""
    from fastai.vision.learner import _resnet_split

    from claimbook.models import ResNetSmall

    body = nn.Sequential(*list(ResNetSmall().children())[:-2])
    model = nn.Sequential(
        body, nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 4))
    )
    groups = _resnet_split(model)
    assert is_partition(model, groups)
    s = group_stats(model, groups)
    assert len(s) == 3
    assert sum(g.n_params for g in s) == sum(p.numel() for p in model.parameters())
    assert s[0].modules[:2] == ("0.0", "0.1")
    assert s[2].modules == ("1.2",)
    stages34 = sum(p.numel() for m in body[6:] for p in m.parameters())
    assert s[1].n_params == stages34
    assert s[1].modules[0] == "0.6"
