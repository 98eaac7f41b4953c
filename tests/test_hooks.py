"""claimbook.hooks: handles are owned and removed, stored tensors do not leak,
and the stored activations and gradients equal what autograd computes directly."""

import gc

import pytest
import torch
from torch import nn

from claimbook.hooks import LayerHooks, grad_cam, n_hooks
from claimbook.models import ResNetSmall


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny tensors: one thread avoids OpenMP spin-waiting on a busy machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def model():
    return ResNetSmall(6).eval()


@pytest.fixture
def xb():
    return torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _n_live_tensors() -> int:
    gc.collect()
    # exact type checks: isinstance() on every object in the heap is slow
    return sum(1 for o in gc.get_objects() if type(o) in (torch.Tensor, nn.Parameter))


def test_forward_hook_stores_the_layer_output(model, xb):
    with LayerHooks({"layer4": model.layer4, "layer3": model.layer3}) as hooks:
        logits = model(xb)
    assert hooks.acts["layer4"].shape == (4, 128, 4, 4)
    assert hooks.acts["layer3"].shape == (4, 64, 8, 8)
    # the stored layer4 output is exactly what the head pools and multiplies
    manual = model.fc(hooks.acts["layer4"].mean((2, 3)))
    assert torch.allclose(manual, logits, atol=1e-6)
    assert not hooks.acts["layer4"].requires_grad  # detached by default


def test_with_block_removes_every_hook_even_after_an_error(model, xb):
    assert n_hooks(model) == 0
    with pytest.raises(RuntimeError):
        with LayerHooks(model.layer4, backward=True) as hooks:
            assert n_hooks(model) == 2 and hooks.active
            raise RuntimeError("boom")
    assert n_hooks(model) == 0 and not hooks.active
    hooks.remove()  # a second removal is harmless
    assert n_hooks(model) == 0


def test_register_is_idempotent(model):
    hooks = LayerHooks(model.layer4)
    hooks.register()
    hooks.register()
    assert n_hooks(model) == 1
    hooks.remove()
    assert n_hooks(model) == 0


def test_keep_all_grows_and_default_overwrites(model, xb):
    grow = LayerHooks(model.layer4, keep_all=True).register()
    last = LayerHooks(model.layer3).register()
    with torch.no_grad():
        for _ in range(5):
            model(xb)
    assert len(grow.all_acts["out"]) == 5  # the lesson's warning: one more per pass
    assert last.n_stored() == 1  # overwriting keeps one tensor
    grow.remove()
    last.remove()
    assert n_hooks(model) == 0


def test_100_register_remove_cycles_leave_no_hooks_and_no_tensor_growth(model, xb):
    xs = xb[:2, :, :16, :16]  # small input: the test is about hooks, not compute

    def cycle():
        layers = {"l3": model.layer3, "l4": model.layer4}
        with LayerHooks(layers, backward=True) as hooks:
            out = model(xs)
            out[:, 0].sum().backward()
        model.zero_grad(set_to_none=True)
        return hooks

    cycle()  # warm-up: lazily created buffers exist before we count
    before = _n_live_tensors()
    for _ in range(100):
        hooks = cycle()
        assert n_hooks(model) == 0
    del hooks
    after = _n_live_tensors()
    assert n_hooks(model) == 0
    assert after == before, f"live tensors grew from {before} to {after}"


def test_backward_hook_gradient_equals_autograd_and_grad_cam(model, xb):
    cls = torch.tensor([0, 1, 2, 3])
    with LayerHooks(model.layer4, backward=True) as hooks:
        logits = model(xb)
        logits[torch.arange(4), cls].sum().backward()
    # from scratch: keep the activation in the graph and ask autograd directly
    feats = {}
    h = model.layer4.register_forward_hook(lambda m, i, o: feats.setdefault("a", o))
    logits2 = model(xb)
    h.remove()
    (g,) = torch.autograd.grad(logits2[torch.arange(4), cls].sum(), feats["a"])
    assert torch.allclose(hooks.grads["out"], g, atol=1e-6)
    # with a GAP + linear head the gradient is fc.weight[c] / (H*W) at every position
    expect = model.fc.weight[cls][:, :, None, None].expand_as(g) / 16
    assert torch.allclose(g, expect, atol=1e-6)
    cam = grad_cam(hooks.acts["out"], hooks.grads["out"])
    assert cam.shape == (4, 4, 4) and (cam >= 0).all()


def test_backward_hook_on_module_ending_in_inplace_relu(xb):
    # a full backward hook sees the gradient even when the module ends in ReLU(inplace)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True))
    with LayerHooks(net, backward=True) as hooks:
        net(xb.clone().requires_grad_()).sum().backward()
    assert hooks.grads["out"].shape == (4, 4, 32, 32)
    assert torch.equal(hooks.grads["out"], torch.ones(4, 4, 32, 32))
