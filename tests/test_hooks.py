"""claimbook.hooks and claimbook.heatmaps: handles are owned and removed, stored
tensors do not leak, the stored activations and gradients equal what autograd
computes directly, and heatmaps are read at their own resolution (cell centres,
mass above the minimum)."""

import gc

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from claimbook.heatmaps import (
    cell_centre_hits,
    cell_centres_inside,
    cell_coverage,
    grad_cam,
    mass_inside,
    occlude_cells,
)
from claimbook.hooks import LayerHooks, n_hooks
from claimbook.models import ResNetSmall
from claimbook.tolerance import float_tolerance


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
    tol = float_tolerance(torch.float32, 128 + 16, logits.abs().max().item() + 1)
    assert torch.allclose(manual, logits, rtol=0, atol=tol)
    assert not hooks.acts["layer4"].requires_grad  # detached by default


def test_with_block_removes_every_hook_even_after_an_error(model, xb):
    assert n_hooks(model) == 0
    seen = {}

    def fail_inside():
        with LayerHooks(model.layer4, backward=True) as hooks:
            seen["hooks"], seen["n"], seen["active"] = (
                hooks,
                n_hooks(model),
                hooks.active,
            )
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    hooks = seen["hooks"]
    assert seen["n"] == 2
    assert seen["active"]
    assert n_hooks(model) == 0
    assert not hooks.active
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
    tol = float_tolerance(torch.float32, 16, g.abs().max().item())
    assert torch.allclose(hooks.grads["out"], g, rtol=0, atol=tol)
    # with a GAP + linear head the gradient is fc.weight[c] / (H*W) at every position
    expect = model.fc.weight[cls][:, :, None, None].expand_as(g) / 16
    assert torch.allclose(g, expect, rtol=0, atol=tol)
    cam = grad_cam(hooks.acts["out"], hooks.grads["out"])
    assert cam.shape == (4, 4, 4)
    assert (cam >= 0).all()


def test_backward_hook_on_module_ending_in_inplace_relu(xb):
    # a full backward hook sees the gradient even when the module ends in ReLU(inplace)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True))
    with LayerHooks(net, backward=True) as hooks:
        net(xb.clone().requires_grad_()).sum().backward()
    assert hooks.grads["out"].shape == (4, 4, 32, 32)
    assert torch.equal(hooks.grads["out"], torch.ones(4, 4, 32, 32))


# -- reading heatmaps --------------------------------------------------------


def _box(size, x0, y0, x1, y1):
    m = torch.zeros(1, size, size, dtype=torch.bool)
    m[0, y0:y1, x0:x1] = True
    return m


def test_cell_centre_hits_reads_the_centre_of_the_top_cell():
    box = _box(16, 4, 4, 12, 12)  # contains the centre point (4, 4) of cell (0, 0)
    h = torch.zeros(1, 2, 2)
    h[0, 0, 0] = 1.0
    assert cell_centre_hits(h, box).tolist() == [1.0]
    h = torch.zeros(1, 2, 2)
    h[0, 1, 1] = 1.0  # centre (12, 12): on the box's exclusive edge, so outside
    assert cell_centre_hits(h, box).tolist() == [0.0]
    with pytest.raises(ValueError, match="divisible"):
        cell_centre_hits(torch.zeros(1, 3, 3), box)  # 16 is not divisible by 3


def test_bilinear_argmax_reads_a_top_row_peak_at_pixel_zero_cell_centres_do_not():
    # The bias chapter 03 fixes: stretched with align_corners=False, a border cell is
    # a plateau and argmax returns its first pixel, in row 0 / column 0.
    h = torch.zeros(1, 4, 4)
    h[0, 0, 2] = 1.0
    up = F.interpolate(h[:, None], size=(32, 32), mode="bilinear", align_corners=False)
    row, col = divmod(up.flatten().argmax().item(), 32)
    assert row == 0  # rows 0-3 tie: the first row wins
    assert col in (19, 20)
    box = _box(32, 18, 2, 26, 10)  # around the cell's centre point (20, 4)
    assert not box[0, row, col]  # the old reading misses...
    assert cell_centre_hits(h, box).tolist() == [1.0]  # ...the cell-centre one hits


def test_oracle_map_is_the_mask_averaged_onto_the_grid():
    box = _box(8, 0, 0, 4, 2)
    cover = cell_coverage(box, 2)
    assert cover.tolist() == [[[0.5, 0.0], [0.0, 0.0]]]
    with pytest.raises(ValueError, match="divisible"):
        cell_coverage(box, 3)


def test_mass_inside_ignores_offset_and_scale_and_counts_coverage():
    gen = torch.Generator().manual_seed(0)
    h = torch.rand(5, 4, 4, generator=gen)
    masks = torch.rand(5, 32, 32, generator=gen) > 0.7
    base = mass_inside(h, masks)
    tol = float_tolerance(torch.float32, 16)
    assert torch.allclose(mass_inside(h + 3.0, masks), base, rtol=0, atol=tol)
    assert torch.allclose(mass_inside(7.0 * h, masks), base, rtol=0, atol=tol)
    # a map that is zero outside one fully covered cell puts all its mass there
    box = _box(32, 0, 0, 8, 8)
    one = torch.zeros(1, 4, 4)
    one[0, 0, 0] = 2.0
    assert mass_inside(one, box).tolist() == [1.0]
    # a flat map scores the mask's area share
    flat = mass_inside(torch.ones(1, 4, 4), box)
    assert flat.tolist() == [pytest.approx(64 / 1024)]


def test_occlude_cells_fills_exactly_the_chosen_cells_with_the_mean_colour():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 8, 8, generator=gen)
    out = occlude_cells(x, torch.tensor([[0], [3]]), 2)
    mean = x.mean((2, 3))
    assert torch.equal(out[0, :, 4:, :], x[0, :, 4:, :])  # bottom half untouched
    assert torch.equal(out[0, :, :4, 4:], x[0, :, :4, 4:])
    fill0 = mean[0][:, None, None].expand(3, 4, 4)
    assert torch.allclose(out[0, :, :4, :4], fill0, rtol=0, atol=1e-7)
    fill1 = mean[1][:, None, None].expand(3, 4, 4)
    assert torch.allclose(out[1, :, 4:, 4:], fill1, rtol=0, atol=1e-7)
    assert torch.equal(out[1, :, :4, :], x[1, :, :4, :])


def test_occlude_cells_cell_fill_uses_each_cells_own_mean_colour():
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 8, 8, generator=gen)
    out = occlude_cells(x, torch.tensor([[1], [2]]), 2, fill="cell")
    own = x[0, :, :4, 4:].mean((1, 2))[:, None, None].expand(3, 4, 4)
    assert torch.allclose(out[0, :, :4, 4:], own, rtol=0, atol=1e-7)
    assert torch.equal(out[0, :, 4:, :], x[0, :, 4:, :])
    own = x[1, :, 4:, :4].mean((1, 2))[:, None, None].expand(3, 4, 4)
    assert torch.allclose(out[1, :, 4:, :4], own, rtol=0, atol=1e-7)
    assert torch.equal(
        occlude_cells(x, torch.tensor([[1], [2]]), 2),
        occlude_cells(x, torch.tensor([[1], [2]]), 2, fill="mean"),
    )
    with pytest.raises(ValueError, match="fill"):
        occlude_cells(x, torch.tensor([[1], [2]]), 2, fill="zero")


def test_cell_centres_inside_marks_the_cells_a_map_may_point_at():
    box = _box(16, 4, 0, 13, 8)  # x in [4, 13): centres 4 and 12; y in [0, 8): 4
    assert cell_centres_inside(box, 2).tolist() == [[[True, True], [False, False]]]
    with pytest.raises(ValueError, match="divisible"):
        cell_centres_inside(box, 3)
