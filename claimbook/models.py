"""A small ResNet-style network and its pretrained body, cached outside the repo.

Introduced in chapter 00 (Start here). The small budget cannot download
ImageNet weights, so chapters that study fine-tuning (freezing, discriminative
learning rates, the LR finder after unfreezing) use a ResNet with torchvision's
layout (conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc), pretrained on
the *source* shapes task on first use and cached, keyed by its config.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetSmall(nn.Module):
    """torchvision's ResNet layout at toy width: stride-1 3x3 stem, no max-pool
    (an Identity keeps the child indices equal to torchvision's), four stages
    that halve the grid and double the channels (strides 1, 2, 2, 2)."""

    def __init__(
        self, num_classes: int = 6, widths=(16, 32, 64, 128), blocks=(1, 1, 1, 1)
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        c_in = widths[0]
        for i, (w, b) in enumerate(zip(widths, blocks, strict=False)):
            stride = 1 if i == 0 else 2
            layers = [BasicBlock(c_in, w, stride)] + [
                BasicBlock(w, w) for _ in range(b - 1)
            ]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
            c_in = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines the cached weights (and so the cache key)."""

    widths: tuple = (16, 32, 64, 128)
    blocks: tuple = (1, 1, 1, 1)
    img_size: int = 32
    n_train: int = 2048
    epochs: int = 4
    lr: float = 3e-3
    bs: int = 64
    seed: int = 0
    # The CPU splits reductions across intra-op threads, and the split changes the
    # rounding: the same recipe gives other weights with 1, 2 or 4 threads. Training
    # always uses this many, whatever the machine has, so every machine builds the
    # same body (and the chapters' committed outputs hold on all of them).
    threads: int = 2
    version: int = 2  # bump when the training recipe changes

    def key(self) -> str:
        from .data import DATA_VERSION

        blob = json.dumps(
            {**asdict(self), "data": DATA_VERSION}, sort_keys=True
        ).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def resnet_split(model: nn.Module):
    """fastai's ResNet splitter: stem+layer1+layer2 | layer3+layer4 | head.

    The same as fastai's `_resnet_split` (body[:6], body[6:], head) for a
    vision_learner model (body, head), which is why our layout mirrors torchvision.
    """
    from fastai.torch_core import params
    from fastcore.foundation import L

    return L(model[0][:6], model[0][6:], model[1:]).map(params)


def cache_path(cfg: PretrainConfig) -> Path:
    from .budget import cache_dir

    return cache_dir() / f"resnet_small-{cfg.key()}.pt"


def _pretrain(cfg: PretrainConfig) -> tuple[dict, dict]:
    """Train ResNetSmall on the source task with plain PyTorch (one-cycle Adam),
    on `cfg.threads` intra-op threads (restored afterwards)."""
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        state, acc = _train_body(cfg)
    finally:
        torch.set_num_threads(threads)
    info = {
        "valid_acc": acc,
        "seconds": time.perf_counter() - t0,
        "config": asdict(cfg),
    }
    return state, info


def _train_body(cfg: PretrainConfig) -> tuple[dict, float]:
    from .data import make_shapes

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        train = make_shapes(
            cfg.n_train, task="source", size=cfg.img_size, seed=cfg.seed
        )
        valid = make_shapes(
            512, task="source", size=cfg.img_size, seed=cfg.seed, split="valid"
        )
        x, y = train.tensors()
        model = ResNetSmall(len(train.classes), cfg.widths, cfg.blocks)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        steps = cfg.epochs * ((len(y) + cfg.bs - 1) // cfg.bs)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps)
        gen = torch.Generator().manual_seed(cfg.seed)
        model.train()
        for _ in range(cfg.epochs):
            perm = torch.randperm(len(y), generator=gen)
            for i in range(0, len(y), cfg.bs):
                idx = perm[i : i + cfg.bs]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        model.eval()
        vx, vy = valid.tensors()
        with torch.no_grad():
            acc = (model(vx).argmax(1) == vy).float().mean().item()
    return model.state_dict(), acc


def pretrained_state(
    cfg: PretrainConfig | None = None, *, rebuild: bool = False
) -> tuple[dict, dict]:
    """The pretrained weights and their info, built on first use and cached.

    The first build takes about 10-20 s on a 2-core CPU; later calls load the
    file (milliseconds). The file is written atomically, so parallel first uses
    cannot leave a half-written cache.
    """
    cfg = cfg or PretrainConfig()
    path = cache_path(cfg)
    if path.exists() and not rebuild:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        return blob["state"], blob["info"]
    state, info = _pretrain(cfg)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    torch.save({"state": state, "info": info}, tmp)
    os.replace(tmp, path)
    return state, info


def resnet_small(
    pretrained: bool = False, num_classes: int | None = None, cfg=None
) -> ResNetSmall:
    """The small budget's architecture, callable like torchvision's `resnet34`.

    fastai's `vision_learner(dls, resnet_small)` calls `resnet_small(pretrained=True)`
    and keeps the body (everything before avgpool); with `pretrained=True` the
    body holds the weights learned on the source task.
    """
    cfg = cfg or PretrainConfig()
    from .data import SOURCE_CLASSES

    model = ResNetSmall(len(SOURCE_CLASSES), cfg.widths, cfg.blocks)
    if pretrained:
        state, _ = pretrained_state(cfg)
        model.load_state_dict(state)
    if num_classes is not None and num_classes != model.fc.out_features:
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


# Independently pretrained bodies. Where a claim is about fine-tuning a pretrained
# body, one body for every replicate makes the body a fixed effect: a verdict could
# hold for that body only. On the small budget each replicate can draw its body from
# N_BODIES bodies pretrained independently (own source data draw, initialisation
# and order: PretrainConfig(seed=k)); body 0 is the one every chapter used before.
N_BODIES = 4
_BODY_ARCHS: dict[int, object] = {}


def body_config(k: int) -> PretrainConfig:
    """The pretraining config of independent body `k` (0 .. N_BODIES - 1)."""
    if not 0 <= k < N_BODIES:
        raise ValueError(f"body {k}; there are {N_BODIES} bodies (0..{N_BODIES - 1})")
    return PretrainConfig(seed=k)


def resnet_small_body(k: int):
    """An architecture callable like `resnet_small` whose pretrained weights are
    independent body `k` (body 0 is `resnet_small` itself). fastai knows its cut
    and layer groups (`register_with_fastai` covers every body)."""
    if k == 0:
        return resnet_small
    if k not in _BODY_ARCHS:
        cfg = body_config(k)

        def arch(pretrained: bool = False, num_classes: int | None = None):
            return resnet_small(pretrained, num_classes, cfg=cfg)

        arch.__name__ = arch.__qualname__ = f"resnet_small_body{k}"
        _BODY_ARCHS[k] = arch
        _register(arch)
    return _BODY_ARCHS[k]


def budget_bodies(budget) -> list:
    """The pretrained bodies a budget's fine-tuning replicates draw from, as
    architecture callables: N_BODIES independent ones on the small budget; on the
    full and mini budgets the one ImageNet ResNet-34 torchvision ships (there the
    replicates differ in head initialisation, data draw and order only, and a
    chapter says so)."""
    if budget.arch == "resnet_small":
        return [resnet_small_body(k) for k in range(N_BODIES)]
    return [budget_arch(budget)]


def warm_bodies() -> list[dict]:
    """Build (or load) every small-budget body; their info, with build seconds."""
    out = []
    for k in range(N_BODIES):
        t = time.perf_counter()
        _, info = pretrained_state(body_config(k))
        out.append(
            {
                "body": k,
                "valid_acc": info["valid_acc"],
                "built_seconds": info["seconds"],
                "this_call_seconds": time.perf_counter() - t,
                "path": str(cache_path(body_config(k))),
            }
        )
    return out


def _register(arch) -> None:
    from fastai.vision.learner import model_meta

    model_meta[arch] = {"cut": -2, "split": resnet_split}


def register_with_fastai() -> None:
    """Give `resnet_small` the same fastai metadata as torchvision ResNets
    (cut before the pooling layer, three layer groups). Called by `setup()`."""
    for arch in [resnet_small, *_BODY_ARCHS.values()]:
        _register(arch)


def budget_arch(budget, *, check: bool = True, online: bool | None = None):
    """The architecture callable a budget names (for `vision_learner`).

    On the full and mini budgets this is torchvision's own function (fastai keys its
    cut and layer groups on it); with `check` its ImageNet weights are looked for
    first (`claimbook.weights.require_weights`), so a missing file fails here, in
    seconds, with a message saying what to download, not in a download that hangs.
    """
    if budget.arch == "resnet_small":
        return resnet_small
    import torchvision

    from .weights import require_weights

    if check:
        require_weights(budget.arch, budget_name=budget.name, online=online)
    return getattr(torchvision.models, budget.arch)
