"""claimbook.replicates: M stacked models behave exactly like M separate ones."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from claimbook.replicates import Stacked, StackedAdam, stacked_loss
from claimbook.tolerance import float_tolerance


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


def _step_side_by_side(st, opt, models, opts, x, y):
    """One training step of the stack (batch x[i] for replicate i) and the same
    step of each separate model with its own optimizer."""
    opt.zero_grad()
    stacked_loss(
        lambda o, t: F.cross_entropy(o, t, reduction="none"), st(x), y
    ).backward()
    opt.step()
    for i, (m, o) in enumerate(zip(models, opts, strict=False)):
        o.zero_grad()
        F.cross_entropy(m.train()(x[i]), y[i]).backward()
        o.step()


def _max_gap(a, b) -> float:
    """The largest absolute difference between two models' weights and buffers."""
    sa, sb = a.state_dict(), b.state_dict()
    return max((sa[k].double() - v.double()).abs().max().item() for k, v in sb.items())


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
            for a, b in zip(
                back.state_dict().values(), m.state_dict().values(), strict=False
            )
        )
    with pytest.raises(ValueError, match="replicates"):
        st(x[0, :3])


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_training_equals_separate_adam_runs_with_their_own_lrs(wd):
    """In float64: Adam divides by sqrt(v) + eps, so a rounding difference in a
    gradient near zero is multiplied by up to lr / eps (3e3 here); in float32 that
    turns the batched matmul's different summation order into ~3e-4 after 15 steps
    on some CPUs, more than any bound on the sums themselves. In float64 the same
    amplification leaves the algorithms' agreement far inside the tolerance."""
    lrs = [1e-3, 3e-3, 1e-2, 3e-2]
    models = [_mlp(s).double() for s in range(4)]
    st = Stacked([_mlp(s).double() for s in range(4)]).train()
    opt = StackedAdam(
        st.parameters(),
        torch.tensor(lrs, dtype=torch.float64),  # a float32 3e-2 is off by 2e-8
        betas=(0.9, 0.99),
        eps=1e-5,
        weight_decay=wd,
    )
    opts = [
        torch.optim.AdamW(
            m.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=wd
        )
        for m, lr in zip(models, lrs, strict=False)
    ]
    xs, ys = _data(4)
    xs = xs.double()
    for x, y in zip(xs, ys, strict=False):
        _step_side_by_side(st, opt, models, opts, x, y)
    # sums of 16 terms per step, amplified by at most lr / eps per step
    amp = max(lrs) / 1e-5
    tol = float_tolerance(torch.float64, 16 * len(xs), magnitude=amp, safety=8)
    for i, m in enumerate(models):
        assert _max_gap(st.copy(i), m) <= tol, i
    # and the replicates really differ (own init, own data, own LR)
    assert not torch.equal(
        st.copy(0).state_dict()["0.weight"], st.copy(1).state_dict()["0.weight"]
    )


def test_scheduled_lr_and_momentum_equal_torch_adam_with_changing_betas():
    """A one-cycle-like schedule of both LR and beta1, one per replicate: torch's
    Adam reads its betas every step (as under OneCycleLR), and so must the stack."""
    m = 3
    models = [_mlp(s) for s in range(m)]
    st = Stacked([_mlp(s) for s in range(m)]).train()
    opt = StackedAdam(st.parameters(), 0.0, betas=(0.9, 0.99), eps=1e-5)
    opts = [
        torch.optim.AdamW(
            md.parameters(), lr=0.0, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.0
        )
        for md in models
    ]
    xs, ys = _data(m)
    peak = torch.tensor([1e-3, 1e-2, 3e-2], dtype=torch.float64)
    for t, (x, y) in enumerate(zip(xs, ys, strict=False)):
        frac = t / (len(xs) - 1)
        lr = peak * (0.04 + 0.96 * frac)
        mom = torch.tensor([0.95 - 0.1 * frac, 0.9, 0.85 + 0.1 * frac])
        opt.set_lr(lr)
        opt.set_mom(mom)
        for i, o in enumerate(opts):
            o.param_groups[0]["lr"] = float(lr[i])
            o.param_groups[0]["betas"] = (float(mom[i]), 0.99)
        _step_side_by_side(st, opt, models, opts, x, y)
    tol = float_tolerance(torch.float32, 16 * len(xs), magnitude=1.0, safety=8)
    for i, md in enumerate(models):
        assert _max_gap(st.copy(i), md) <= tol, i
    assert opt.betas[0].tolist() == pytest.approx(mom.tolist())


def test_momentum_must_be_a_fraction():
    st = Stacked([_mlp(s) for s in range(2)])
    opt = StackedAdam(st.parameters(), 0.1)
    with pytest.raises(ValueError, match="beta1"):
        opt.set_mom(1.0)
    with pytest.raises(ValueError, match="2 replicates"):
        opt.set_mom([0.9, 0.9, 0.9])


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


def test_stacked_sgd_equals_separate_torch_sgd_runs_with_their_own_lrs():
    """StackedSGD against torch.optim.SGD(momentum=0.9), one model per LR, in
    float64 (the batched matmul sums in another order than the separate ones)."""
    from claimbook.replicates import StackedSGD

    lrs = [1e-3, 1e-2, 3e-2, 1e-1]
    models = [_mlp(s).double() for s in range(4)]
    st = Stacked([_mlp(s).double() for s in range(4)]).train()
    opt = StackedSGD(st.parameters(), lrs)
    assert opt.lr.dtype == torch.float32  # the chapter's dtype for the rates
    opts = [
        torch.optim.SGD(m.parameters(), lr=float(torch.tensor(lr)), momentum=0.9)
        for m, lr in zip(models, lrs, strict=False)
    ]
    xs, ys = _data(4)
    xs = xs.double()
    for x, y in zip(xs, ys, strict=False):
        _step_side_by_side(st, opt, models, opts, x, y)
    tol = float_tolerance(torch.float64, 16 * len(xs), safety=8)
    for i, m in enumerate(models):
        assert _max_gap(st.copy(i), m) <= tol, i
    assert not torch.equal(
        st.copy(0).state_dict()["0.weight"], st.copy(3).state_dict()["0.weight"]
    )
    with pytest.raises(ValueError, match="replicates"):
        StackedSGD(st.parameters(), [0.1, 0.2])


# The embedding models chapter 01 stacks (an embedding bag, a dot-product
# recommender) and fastai's own collaborative-filtering model: an index lookup under
# vmap gathers each replicate's own rows, and the gradient scatters back into them.
N_USERS, N_ITEMS = 12, 9


class _Bag(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.head = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, x):
        return self.head(self.emb(x).mean(1))


class _DotProduct(nn.Module):
    def __init__(self, k=4):
        super().__init__()
        self.u, self.i = nn.Embedding(N_USERS, k), nn.Embedding(N_ITEMS, k)
        self.ub, self.ib = nn.Embedding(N_USERS, 1), nn.Embedding(N_ITEMS, 1)

    def forward(self, x):
        u, i = x[:, 0], x[:, 1]
        dot = (self.u(u) * self.i(i)).sum(1) + self.ub(u)[:, 0] + self.ib(i)[:, 0]
        return torch.sigmoid(dot) * 5.0 + 0.25


def _embedding_dot_bias():
    from fastai.collab import EmbeddingDotBias

    return EmbeddingDotBias(4, N_USERS, N_ITEMS, y_range=(0.25, 5.25))


def _ce(o, t):
    return F.cross_entropy(o, t, reduction="none")


def _mse(o, t):
    return F.mse_loss(o, t, reduction="none")


def _bag_data(m, g, b=12):
    return torch.randint(0, 10, (m, b, 5), generator=g), torch.randint(
        0, 2, (m, b), generator=g
    )


def _ratings_data(m, g, b=12):
    x = torch.stack(
        [
            torch.randint(0, N_USERS, (m, b), generator=g),
            torch.randint(0, N_ITEMS, (m, b), generator=g),
        ],
        -1,
    )
    return x, 0.25 + 5 * torch.rand(m, b, generator=g, dtype=torch.float64)


@pytest.mark.parametrize(
    ("make", "draw", "loss"),
    [
        (_Bag, _bag_data, _ce),
        (_DotProduct, _ratings_data, _mse),
        (_embedding_dot_bias, _ratings_data, _mse),
    ],
    ids=["embedding bag", "dot product", "fastai EmbeddingDotBias"],
)
def test_embedding_models_train_like_separate_adam_runs(make, draw, loss):
    """Forward pass and 10 Adam steps of 3 stacked embedding models against 3 separate
    `torch.optim.AdamW` runs, in float64 (see the MLP test for why)."""
    m, lrs = 3, [1e-3, 1e-2, 3e-2]

    def build(s):
        torch.manual_seed(s)
        return make().double()

    models = [build(s) for s in range(m)]
    st = Stacked([build(s) for s in range(m)]).train()
    opt = StackedAdam(
        st.parameters(), torch.tensor(lrs, dtype=torch.float64), betas=(0.9, 0.99)
    )
    opts = [
        torch.optim.AdamW(mod.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0)
        for mod, lr in zip(models, lrs, strict=True)
    ]
    g = torch.Generator().manual_seed(2)
    batches = [draw(m, g) for _ in range(10)]
    x0 = batches[0][0]
    out = st(x0)
    for i, mod in enumerate(models):
        assert torch.allclose(out[i], mod(x0[i]), rtol=0, atol=1e-12)
    for x, y in batches:
        opt.zero_grad()
        stacked_loss(loss, st(x), y).backward()
        opt.step()
        for i, (mod, o) in enumerate(zip(models, opts, strict=True)):
            o.zero_grad()
            loss(mod(x[i]), y[i]).mean().backward()
            o.step()
    amp = max(lrs) / 1e-8  # Adam's default eps
    tol = float_tolerance(torch.float64, 16 * len(batches), magnitude=amp, safety=8)
    for i, mod in enumerate(models):
        assert _max_gap(st.copy(i), mod) <= tol, i
    # the replicates' embeddings moved, each its own way
    first = next(k for k in models[0].state_dict() if "weight" in k)
    assert not torch.equal(
        st.copy(0).state_dict()[first], st.copy(1).state_dict()[first]
    )
    assert not torch.equal(st.copy(0).state_dict()[first], build(0).state_dict()[first])
