"""claimbook.finetune: the plain loop must reproduce fastai's Learner exactly."""

import numpy as np
import pytest
import torch

from claimbook.budget import get_budget
from claimbook.finetune import (
    FineTuner,
    Replay,
    Sizes,
    TensorBatches,
    capture_batches,
    replicate_data,
    sizes,
)
from claimbook.models import ResNetSmall, resnet_split

WIDTHS = (4, 8, 8, 8)


def tiny_arch(pretrained=False, **kwargs):
    """A toy ResNet with torchvision's layout (random weights stand in for a
    pretrained body: the tests compare arithmetic, not transfer)."""
    return ResNetSmall(num_classes=6, widths=WIDTHS)


@pytest.fixture(autouse=True)
def _registered():
    from fastai.vision.learner import model_meta

    model_meta[tiny_arch] = {"cut": -2, "split": resnet_split}
    yield
    model_meta.pop(tiny_arch, None)


def _data(n=32, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g), torch.randint(
        0, 3, (n,), generator=g
    )


def _learner(x, y, seed, tmp_path, bs=8):
    import fastai.callback.schedule  # noqa: F401  (patches fit_one_cycle, lr_find)
    from fastai.vision.learner import vision_learner

    from claimbook.data import tensor_dls

    dls = tensor_dls((x, y), (x[:8], y[:8]), bs=bs, seed=seed, c=3)
    torch.manual_seed(seed)
    return vision_learner(dls, tiny_arch, n_out=3, path=tmp_path)


def test_sizes_follow_the_budget():
    small = get_budget("small", device="cpu")
    sz = sizes(small)
    assert (sz.img_size, sz.n_train, sz.bs) == (16, 128, 16)
    assert (sz.n_tune, sz.n_test) == (small.n_valid, 2 * small.n_valid)
    assert (sz.frozen_epochs, sz.epochs, sz.num_it) == (4, 2, small.num_it)
    full = sizes(get_budget("full", device="cpu"))
    assert (full.img_size, full.n_train, full.frozen_epochs, full.epochs) == (
        224,
        0,
        4,
        2,
    )
    assert sizes(get_budget("mini")).frozen_epochs == 1


def test_batches_are_a_function_of_seed_and_epoch():
    x, y = _data(20)
    b = TensorBatches(x, y, bs=8, seed=3)
    assert len(b) == 2  # the partial batch is dropped
    e0 = [yb.tolist() for _, yb in b.epoch(0)]
    assert e0 == [yb.tolist() for _, yb in b.epoch(0)]
    assert e0 != [yb.tolist() for _, yb in b.epoch(1)]
    assert e0 != [yb.tolist() for _, yb in TensorBatches(x, y, 8, 4).epoch(0)]
    with pytest.raises(ValueError, match="cannot fill a batch of 8"):
        TensorBatches(x[:4], y[:4], bs=8, seed=0)


def test_replicates_draw_their_own_data():
    budget = get_budget("small", device="cpu")
    sz = Sizes(8, 32, 16, 24, 8, 1, 1, 6)
    r1, r2 = replicate_data(budget, 1, sz), replicate_data(budget, 2, sz)
    assert r1.n_out == 4
    assert r1.n_train == 32
    assert len(r1.train) == 4
    assert sum(len(yb) for _, yb in r1.tune) == 16
    assert sum(len(yb) for _, yb in r1.test) == 24
    assert not torch.equal(r1.train.x, r2.train.x)
    assert not torch.equal(r1.tune[0][0], r1.test[0][0])
    assert torch.equal(replicate_data(budget, 1, sz).train.x, r1.train.x)


def test_plain_loop_equals_learner_fit_one_cycle(tmp_path):
    """Frozen stage, unfreeze, a slice: the same batches give the same weights."""
    x, y = _data(32)
    learn = _learner(x, y, seed=5, tmp_path=tmp_path)
    cap = capture_batches(5)
    learn.fit_one_cycle(2, 3e-3, cbs=cap)
    learn.unfreeze()
    learn.fit_one_cycle(1, slice(1e-4, 1e-3), cbs=cap)

    ft = FineTuner(tiny_arch, 3, seed=5)
    ft.fit_one_cycle(2, 3e-3, Replay(cap.epochs))
    ft.unfreeze()
    losses = ft.fit_one_cycle(1, slice(1e-4, 1e-3), Replay(cap.epochs))
    assert len(losses) == 4
    assert ft.steps_done == 12
    assert ft.epochs_done == 3
    a, b = learn.model.state_dict(), ft.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["lr"] for h in ft.opt.hypers] == [h["lr"] for h in learn.opt.hypers]


def test_lr_find_equals_learner_lr_find(tmp_path):
    x, y = _data(64)
    learn = _learner(x, y, seed=2, tmp_path=tmp_path)
    learn.unfreeze()
    cap = capture_batches(2)
    learn.add_cb(cap)
    learn.lr_find(num_it=8, show_plot=False, suggest_funcs=None)
    learn.remove_cb(cap)
    ft = FineTuner(tiny_arch, 3, seed=2)
    ft.unfreeze()
    before = {k: v.clone() for k, v in ft.model.state_dict().items()}
    lrs, losses = ft.lr_find(Replay(cap.epochs), num_it=8)
    assert lrs == pytest.approx(np.array(learn.recorder.lrs), rel=1e-12)
    assert losses == pytest.approx(
        np.array([float(v) for v in learn.recorder.losses]), rel=1e-6
    )
    after = ft.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # restored
    assert ft.steps_done == 0


def test_lr_find_stops_when_the_loss_diverges():
    x, y = _data(64)
    ft = FineTuner(tiny_arch, 3, seed=0)
    ft.unfreeze()
    lrs, losses = ft.lr_find(TensorBatches(x, y, 8, 0), start_lr=1e-3, end_lr=1e6)
    assert len(lrs) < 100
    assert losses[-1] > 4 * losses.min()


def test_snapshot_restore_replays_exactly_and_keeps_frozen_weights():
    x, y = _data(32)
    batches = TensorBatches(x, y, 8, 1)
    ft = FineTuner(tiny_arch, 3, seed=1)
    ft.fit_one_cycle(1, 1e-2, batches)
    snap = ft.snapshot()
    conv = ft.model[0][0].weight.detach().clone()
    ft.unfreeze()
    ft.fit_one_cycle(1, 1e-2, batches)
    assert not torch.equal(ft.model[0][0].weight, conv)
    ft.restore(snap)
    assert torch.equal(ft.model[0][0].weight, conv)
    ft.fit_one_cycle(1, 1e-2, batches)  # still frozen: no weight decay on the body
    assert torch.equal(ft.model[0][0].weight, conv)
    w1 = {k: v.clone() for k, v in ft.model.state_dict().items()}
    ft.restore(snap)
    ft.fit_one_cycle(1, 1e-2, batches)
    assert all(torch.equal(w1[k], v) for k, v in ft.model.state_dict().items())


def test_new_head_comes_from_the_seed_and_keeps_the_callers_rng():
    torch.manual_seed(9)
    state = torch.get_rng_state()
    a, b, c = (FineTuner(tiny_arch, 3, seed=s) for s in (1, 1, 2))
    assert torch.equal(torch.get_rng_state(), state)
    wa, wb, wc = (m.model[1][-1].weight for m in (a, b, c))
    assert torch.equal(wa, wb)
    assert not torch.equal(wa, wc)
    assert a.accuracy(TensorBatches(*_data(16), 8, 0)) in {i / 16 for i in range(17)}
