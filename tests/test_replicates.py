"""claimbook.replicates: M stacked models behave exactly like M separate ones."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from claimbook.evidence import float_tolerance
from claimbook.replicates import Stacked, StackedAdam, stacked_loss


def _mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3)
    )


def _data(m, b=20, steps=15):
    g = torch.Generator().manual_seed(1)
    return torch.randn(steps, m, b, 6, generator=g), torch.randint(
        0, 3, (steps, m, b), generator=g
    )


def test_forward_and_copy_match_the_separate_models():
    models = [_mlp(s) for s in range(4)]
    st = Stacked(models)
    x, _ = _data(4)
    out = st.eval()(x[0])
    for i, m in enumerate(models):
        ref = m.eval()(x[0, i])
        assert torch.allclose(out[i], ref, atol=float_tolerance(torch.float32, 16))
        back = st.copy(i)
        assert all(
            torch.equal(a, b)
            for a, b in zip(back.state_dict().values(), m.state_dict().values())
        )
    with pytest.raises(ValueError, match="replicates"):
        st(x[0, :3])


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_training_equals_separate_adam_runs_with_their_own_lrs(wd):
    lrs = [1e-3, 3e-3, 1e-2, 3e-2]
    models = [_mlp(s) for s in range(4)]
    st = Stacked([_mlp(s) for s in range(4)]).train()
    opt = StackedAdam(
        st.parameters(), torch.tensor(lrs), betas=(0.9, 0.99), eps=1e-5, weight_decay=wd
    )
    opts = [
        torch.optim.AdamW(
            m.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=wd
        )
        for m, lr in zip(models, lrs)
    ]
    xs, ys = _data(4)
    for x, y in zip(xs, ys):
        opt.zero_grad()
        stacked_loss(
            lambda o, t: F.cross_entropy(o, t, reduction="none"), st(x), y
        ).backward()
        opt.step()
        for i, (m, o) in enumerate(zip(models, opts)):
            o.zero_grad()
            F.cross_entropy(m.train()(x[i]), y[i]).backward()
            o.step()
    tol = float_tolerance(torch.float32, 16 * len(xs), magnitude=1.0, safety=8)
    for i, m in enumerate(models):
        got = st.copy(i).state_dict()
        for k, v in m.state_dict().items():
            assert torch.allclose(got[k].float(), v.float(), atol=tol, rtol=0), (i, k)
    # and the replicates really differ (own init, own data, own LR)
    assert not torch.equal(
        st.copy(0).state_dict()["0.weight"], st.copy(1).state_dict()["0.weight"]
    )


def test_lr_vector_must_match_the_stack():
    st = Stacked([_mlp(s) for s in range(3)])
    with pytest.raises(ValueError, match="3 replicates"):
        StackedAdam(st.parameters(), torch.ones(2))
    opt = StackedAdam(st.parameters(), 0.1)
    assert opt.lr.tolist() == [0.1, 0.1, 0.1]


def test_stacked_loss_needs_per_example_losses():
    out, y = torch.zeros(2, 4, 3), torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="reduction='none'"):
        stacked_loss(F.cross_entropy, out, y)
    assert stacked_loss(
        lambda o, t: F.cross_entropy(o, t, reduction="none"), out, y
    ).item() == pytest.approx(2 * torch.log(torch.tensor(3.0)).item())
