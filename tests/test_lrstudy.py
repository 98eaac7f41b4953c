"""claimbook.lrstudy: the stacked range test equals independent single-model range
tests, and the stacked trainer equals separate torch.optim.Adam runs, replicate by
replicate and arm by arm (float tolerances: a batched matrix product may round
differently from a single one)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from claimbook.evidence import Rule
from claimbook.lrfind import shoot_up, smooth_and_stop, suggestions
from claimbook.lrstudy import (
    ADAM,
    batch_order,
    decide_per_task,
    k_needed,
    one_cycle,
    phases,
    read_curve,
    rows,
    score_arms,
    stacked_range_test,
    train_stacked,
)
from claimbook.tolerance import float_tolerance

SEEDS = [3, 11, 42]
N, BS, WIDTH = 96, 16, 16


def _mlp():
    return nn.Sequential(nn.Linear(4, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 3))


def _ce(out, y):
    return F.cross_entropy(out, y, reduction="none")


TASK = SimpleNamespace(make_model=_mlp, loss=_ce, bs=BS, steps=12)


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    out = {}
    for split, n in (("tr", N), ("va", 32), ("te", 32)):
        x = torch.randn(len(SEEDS), n, 4, generator=g)
        out["x" + split] = x
        out["y" + split] = (x[..., 0] > 0).long() + (x[..., 1] > 0.5).long()
    return out


def test_batch_order_is_epochs_of_permutations():
    order = batch_order(5, 40, 16, 7)  # 2 full batches per epoch, 8 rows dropped
    assert order.shape == (7, 16)
    for e in range(3):
        epoch = order[2 * e : 2 * e + 2].flatten()
        assert len(set(epoch.tolist())) == 32  # no row twice within an epoch
    assert torch.equal(order, batch_order(5, 40, 16, 7))


def test_rows_takes_each_replicates_own_rows():
    x = torch.arange(2 * 5).view(2, 5)
    idx = torch.tensor([[0, 4], [1, 1]])
    assert rows(x, idx).tolist() == [[0, 4], [6, 6]]


def _single_range_test(seed, x, y, num_it, start=1e-7, end=10.0):
    torch.manual_seed(seed)
    model = _mlp()
    opt = torch.optim.Adam(model.parameters(), lr=start, **ADAM)
    order = batch_order(seed + 1, len(x), BS, num_it)
    raw = []
    for i in range(num_it):
        for g in opt.param_groups:
            g["lr"] = start * (end / start) ** (i / num_it)
        loss = _ce(model(x[order[i]]), y[order[i]]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        raw.append(loss.item())
    return smooth_and_stop(raw)[1]


def test_stacked_range_test_equals_a_loop_of_single_range_tests(data):
    num_it = 40
    curves = stacked_range_test(TASK, data, SEEDS, num_it)
    # rounding differences grow with the steps taken: num_it steps, each a sum
    # over the widest layer's inputs; compared up to the minimum (past it, large
    # LRs amplify any difference), as chapter 01 compares them
    tol = float_tolerance(torch.float32, num_it * WIDTH)
    for r, seed in enumerate(SEEDS):
        lrs, stacked = curves[r]
        single = _single_range_test(seed, data["xtr"][r], data["ytr"][r], num_it)
        upto = int(np.argmin(single)) + 1
        assert len(stacked) >= upto
        assert np.max(np.abs(stacked[:upto] / single[:upto] - 1)) < tol
        want = 1e-7 * (10.0 / 1e-7) ** (np.arange(len(lrs)) / num_it)
        np.testing.assert_allclose(lrs, want, rtol=1e-15)


def _single_run(seed, r, data, peak, schedule, steps):
    torch.manual_seed(seed)
    model = _mlp()
    opt = torch.optim.Adam(model.parameters(), lr=peak, **ADAM)
    order = batch_order(seed + 2, N, BS, steps)
    x, y = data["xtr"][r], data["ytr"][r]
    train = []
    for i in range(steps):
        mult, mom = schedule(i / steps)
        for g in opt.param_groups:
            g["lr"] = peak * mult
            g["betas"] = (mom, ADAM["betas"][1])
        loss = _ce(model(x[order[i]]), y[order[i]]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        train.append(loss.item())
    with torch.no_grad():
        ends = [
            float(_ce(model(data["x" + s][r]), data["y" + s][r]).mean())
            for s in ("va", "te")
        ]
    return np.array(train), ends


def test_train_stacked_equals_separate_adam_runs(data):
    steps = 20
    peaks = [np.array([1e-3, 3e-3, 1e-2]), np.array([3e-2, 1e-2, 3e-3])]
    arms = [(peaks[0], one_cycle()), (peaks[1], phases(True, False))]
    res = train_stacked(TASK, data, SEEDS, arms, steps=steps)
    assert res["train"].shape == (len(SEEDS), len(arms), steps)
    assert res["va"].shape == res["te"].shape == (len(SEEDS), len(arms))
    tol = float_tolerance(torch.float32, steps * WIDTH)
    for r, seed in enumerate(SEEDS):
        for k, (peak, schedule) in enumerate(arms):
            train, (va, te) = _single_run(seed, r, data, peak[r], schedule, steps)
            np.testing.assert_allclose(res["train"][r, k], train, rtol=tol)
            assert abs(res["va"][r, k] / va - 1) < tol
            assert abs(res["te"][r, k] / te - 1) < tol
    # the arms differ (they are not one run copied)
    assert not np.allclose(res["train"][:, 0], res["train"][:, 1])


def test_schedules_are_fastais():
    from fastai.callback.schedule import combined_cos

    oc = one_cycle()
    lr = combined_cos(0.25, 1 / 25, 1.0, 1 / 1e5)
    for pos in (0.0, 0.1, 0.25, 0.6, 0.99):
        assert oc(pos)[0] == lr(pos)
    assert oc(0.0)[1] == pytest.approx(0.95)
    assert oc(0.25)[1] == pytest.approx(0.85)
    const = phases(False, False)
    assert {const(p) for p in (0.0, 0.5, 0.99)} == {(1.0, 0.9)}
    warm = phases(True, False)
    assert warm(0.0)[0] == pytest.approx(1 / 25)
    assert warm(0.5)[0] == 1.0


def test_read_curve_gives_fastais_four_and_the_rule_of_thumb():
    lrs = 1e-7 * (1e8 ** (np.arange(30) / 30))
    losses = np.concatenate(
        [np.full(20, 2.0) - np.arange(20) * 0.02, 2 ** np.arange(10)]
    )
    picks = read_curve(lrs, losses, 30)
    fa = suggestions(lrs, losses, 30)
    assert {k: picks[k] for k in fa} == fa
    up = shoot_up(lrs, losses, skip=3)
    assert picks["rule of thumb"] == up.lr / 10
    assert picks["shot up"] is True
    flat = read_curve(lrs, np.full(30, 1.0) - np.arange(30) * 1e-3, 30)
    assert flat["shot up"] is False  # still falling at the end: no rise in range
    short = read_curve(lrs[:3], losses[:3], 30)
    assert np.isnan(short["rule of thumb"])
    assert np.isnan(short["slide"])


def test_score_arms_captured_share_of_the_achievable_improvement():
    chance = np.array([2.0, 2.0, 1.0])
    # arms: two grid LRs, then one pick; replicate 1's pick diverged (inf)
    res = {
        "va": np.array([[1.0, 0.5, 0.8], [0.6, 1.2, np.inf], [0.995, 0.999, 0.9]]),
        "te": np.array([[1.2, 0.4, 0.8], [0.7, 1.0, np.nan], [0.995, 0.999, 0.9]]),
    }
    va, best, share, ref = score_arms(res, chance, n_grid=2)
    assert best.tolist() == [1, 0, 0]  # chosen on validation, not test
    assert ref[:2].tolist() == [0.4, 0.7]
    assert share[0].tolist() == pytest.approx([0.5, 1.0, 0.75])
    assert share[1, 2] == 0  # diverged: scored as the constant prediction
    assert va[1, 2] == 2.0
    assert np.isnan(share[2]).all()  # the best grid arm gains under 1% of chance
    other_ref = np.array([1.0, 1.0, 0.5])
    _, _, other, _ = score_arms(res, chance, n_grid=2, best_te=other_ref)
    assert other[0, 1] == pytest.approx(1.6)  # against another stack's reference


def test_k_needed_reads_the_registered_aggregation():
    r = Rule(
        "q", "greater", 0.1, key="x", aggregation="per task, holds on k of 4 with k = 3"
    )
    assert k_needed(r, 4) == 3
    with pytest.raises(ValueError, match="4 cases, got 8"):
        k_needed(r, 8)
    with pytest.raises(ValueError, match="aggregation"):
        k_needed(Rule("q", "greater", 0.1, key="y"), 4)


def test_decide_per_task_controls_first_and_constant_tasks_exactly():
    agg = "per task, holds on k of 3 with k = 3"
    r = Rule(
        "share", "greater", 0.9, key="x", n=8, control="x:control", aggregation=agg
    )
    ctl = Rule("gap", "greater", 0.1, key="x:control", n=8)
    rng = np.random.default_rng(0)
    good = lambda m: m + rng.normal(0, 0.01, 8)  # noqa: E731
    values = {"a": good(0.97), "b": good(0.99), "c": np.zeros(8)}
    controls = {k: good(0.5) for k in values}
    d, why = decide_per_task(r, values, controls, ctl)
    assert why == ""
    assert [t.outcome for t in d.per_task.values()] == [
        "holds",
        "holds",
        "does not hold",
    ]
    assert d.per_task["c"].reason == "exact check: all 8 gave 0"
    assert d.outcome == "does not hold"
    # a replicate that could not be scored leaves the rule undecided, saying where
    values["a"][0] = np.nan
    assert decide_per_task(r, values, controls, ctl) == (
        None,
        "replicates where no grid LR learned anything (a: 1)",
    )
    values["a"][0] = 0.97
    controls["b"] = np.full(8, 0.5)
    assert (
        decide_per_task(r, values, controls, ctl)[1] == "identical control values on b"
    )
    with pytest.raises(ValueError, match="control"):
        decide_per_task(r, values, controls)
