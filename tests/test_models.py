import pytest
import torch
import torchvision

from claimbook import models, weights
from claimbook.models import PretrainConfig, ResNetSmall, pretrained_state, resnet_small

TINY = PretrainConfig(widths=(4, 8, 8, 8), n_train=64, epochs=1, bs=32)


def test_layout_mirrors_torchvision_resnet():
    import torchvision

    names = [n for n, _ in ResNetSmall().named_children()]
    assert names == [n for n, _ in torchvision.models.resnet18().named_children()]
    feats = torch.nn.Sequential(*list(ResNetSmall().children())[:-2])(
        torch.zeros(2, 3, 32, 32)
    )
    assert tuple(feats.shape) == (2, 128, 4, 4)  # strides 1, 2, 2, 2


def test_cache_builds_once_then_loads(tmp_cache, monkeypatch):
    state1, info1 = pretrained_state(TINY)
    path = models.cache_path(TINY)
    assert path.exists()
    assert path.parent == tmp_cache
    assert 0.0 <= info1["valid_acc"] <= 1.0
    assert info1["config"]["n_train"] == 64

    def boom(cfg):
        raise AssertionError("retrained although cached")

    monkeypatch.setattr(models, "_pretrain", boom)  # a rebuild would raise
    state2, info2 = pretrained_state(TINY)
    assert info2 == info1
    assert all(torch.equal(state1[k], state2[k]) for k in state1)
    assert not list(tmp_cache.glob("*.tmp"))  # atomic write leaves no temp files


def test_cache_key_depends_on_config():
    assert (
        TINY.key()
        != PretrainConfig(widths=(4, 8, 8, 8), n_train=64, epochs=2, bs=32).key()
    )
    assert (
        TINY.key()
        == PretrainConfig(widths=(4, 8, 8, 8), n_train=64, epochs=1, bs=32).key()
    )


def test_pretraining_is_deterministic_and_keeps_caller_rng(tmp_cache):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    s1, _ = models._pretrain(TINY)
    assert torch.equal(torch.get_rng_state(), before)
    s2, _ = models._pretrain(TINY)
    assert all(torch.equal(s1[k], s2[k]) for k in s1)


def test_pretrained_weights_load_into_the_arch(tmp_cache):
    m = resnet_small(pretrained=True, cfg=TINY)
    state, _ = pretrained_state(TINY)
    assert torch.equal(m.conv1.weight, state["conv1.weight"])
    assert resnet_small(num_classes=4, cfg=TINY).fc.out_features == 4


def test_vision_learner_gets_three_groups(tmp_cache):
    from fastai.vision.all import vision_learner

    from claimbook import setup
    from claimbook.data import shapes_dls

    b = setup("small", quiet=True)
    dls = shapes_dls(b, "target", bs=16)
    learn = vision_learner(dls, models.resnet_small, n_out=dls.c, pretrained=False)
    groups = learn.splitter(learn.model)
    assert len(groups) == 3
    n_params = sum(p.numel() for g in groups for p in g)
    assert n_params == sum(p.numel() for p in learn.model.parameters())


def test_budget_arch(tmp_path, monkeypatch):
    from claimbook.budget import get_budget

    assert models.budget_arch(get_budget("small", device="cpu")) is resnet_small
    full = get_budget("full", device="cpu")
    assert models.budget_arch(full, check=False).__name__ == "resnet34"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    _fake_weights(weights.weights_file("resnet34"))
    arch = models.budget_arch(full)  # found in the cache: no probe, no download
    assert arch is torchvision.models.resnet34  # fastai keys its metadata on it


# ------------------------------------------- torchvision's weights, offline


def _fake_weights(path):
    """A seeded random ResNet-34 state dict where torchvision looks for its weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        state = torchvision.models.resnet34().state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


@pytest.fixture
def offline(monkeypatch):
    """No network: a connection attempt fails as it would offline, and any
    download torch or torchvision starts is a test failure (it could hang)."""
    calls = []

    def refuse(host, *args, **kwargs):
        calls.append(host)
        raise OSError("network unreachable")

    def no_download(*args, **kwargs):
        raise AssertionError(f"a download was attempted: {args}")

    monkeypatch.setattr("socket.create_connection", refuse)
    monkeypatch.setattr("torch.hub.download_url_to_file", no_download)
    return calls


def test_weights_file_is_where_torchvision_looks(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = weights.weights_file("resnet34")
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / "resnet34-b627a593.pth"
    state = _fake_weights(path)
    model = torchvision.models.resnet34(weights="IMAGENET1K_V1")  # torch's own path
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    assert not offline


def test_mini_without_cached_weights_never_touches_the_network(
    tmp_path, monkeypatch, offline
):
    from claimbook.budget import get_budget

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(weights.WeightsUnavailable) as err:
        models.budget_arch(get_budget("mini", device="cpu"))
    msg = str(err.value)
    assert "resnet34-b627a593.pth" in msg
    assert str(tmp_path / "empty") in msg
    assert "bookbuild miniature" in msg
    assert offline == []  # not even a probe


@pytest.mark.parametrize("online", [None, False])
def test_full_offline_without_weights_says_what_to_download(
    online, tmp_path, monkeypatch, offline
):
    """Checks the cache, then (online=None) probes once; offline it stops with the
    URL, the file name and torch's cache folder, and no download starts."""
    from claimbook.budget import get_budget

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(weights.WeightsUnavailable) as err:
        models.budget_arch(get_budget("full", device="cpu"), online=online)
    msg = str(err.value)
    assert "https://download.pytorch.org/models/resnet34-b627a593.pth" in msg
    assert str(tmp_path / "empty" / "hub" / "checkpoints") in msg
    assert offline == ([] if online is False else [("download.pytorch.org", 443)])


def test_full_online_leaves_the_download_to_torchvision(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    path = weights.require_weights("resnet34", budget_name="full", online=True)
    assert path.name == "resnet34-b627a593.pth"
    assert not path.exists()


def test_pretraining_uses_its_own_thread_count(tmp_cache):
    """The body is trained on cfg.threads threads whatever the caller set, so a
    machine with more cores builds the same weights; the caller's count returns."""
    torch.set_num_threads(1)
    s1, _ = models._pretrain(TINY)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(3)
    s3, _ = models._pretrain(TINY)
    assert torch.get_num_threads() == 3
    assert all(torch.equal(s1[k], s3[k]) for k in s1)


def test_independent_bodies_differ_and_fastai_knows_them(tmp_cache, monkeypatch):
    """Body k is pretrained with its own seed (data draw, init, order): different
    weights from body 0, the same layout, and fastai cuts and groups it."""
    from fastai.vision.learner import model_meta

    monkeypatch.setattr(
        models,
        "body_config",
        lambda k: TINY.__class__(
            widths=TINY.widths, n_train=64, epochs=1, bs=32, seed=k
        ),
    )
    monkeypatch.setattr(models, "_BODY_ARCHS", {})
    assert models.resnet_small_body(0) is resnet_small
    arch = models.resnet_small_body(2)
    assert arch is models.resnet_small_body(2)
    assert arch.__name__.endswith("body2")
    assert model_meta[arch]["split"] is models.resnet_split
    a = arch(pretrained=True)
    b = resnet_small(pretrained=True, cfg=models.body_config(0))
    assert a.conv1.weight.shape == b.conv1.weight.shape
    assert not torch.equal(a.conv1.weight, b.conv1.weight)


def test_body_index_is_bounded():
    real = models.body_config
    assert real(0) == PretrainConfig()
    assert real(3).seed == 3
    with pytest.raises(ValueError, match="bodies"):
        real(models.N_BODIES)


def test_budget_bodies_per_budget():
    from claimbook.budget import get_budget

    small = models.budget_bodies(get_budget("small"))
    assert len(small) == models.N_BODIES
    assert small[0] is resnet_small
    assert len({id(a) for a in small}) == models.N_BODIES
