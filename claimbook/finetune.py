"""Fine-tuning a pretrained body in plain PyTorch, one replicate at a time.

Introduced in chapter 00 (Start here, a worked example); chapter 02 (Discriminative
learning rates) builds its study on it and checks it, and chapter 05 fine-tunes the
same body again. The lessons fine-tune with ``vision_learner`` and
``Learner.fit_one_cycle``. A study over independent replicates needs dozens of fits,
so this module runs the same arithmetic without a Learner: fastai's own model
builder (``create_vision_model``), optimizer (``Adam``, with the settings
``Learner.create_opt`` adds: no weight decay on BatchNorm and bias parameters,
BatchNorm trainable inside frozen groups) and one-cycle schedule (``combined_cos``,
advanced the way fastai's ``TrainEvalCallback`` advances it), driven by a plain loop.
Chapter 02 checks that the loop ends at the Learner's weights when both see the same
batches; ``tests/test_finetune.py`` checks `FineTuner.lr_find` against
``Learner.lr_find``.

* `sizes(budget)`: how big one replicate's fine-tuning is (`Sizes`).
* `replicate_data(budget, seed)`: one replicate's data (`Replicate`): its own draw
  of the target task, split into train, *tune* (picks among settings) and *test*
  (scores the pick), with its own batch order.
* `FineTuner(arch, n_out, seed)`: a model as ``vision_learner`` builds it (the new
  head initialised from `seed`, the body frozen) and fastai's optimizer for it, with
  ``freeze``/``unfreeze``, ``fit_one_cycle``, ``lr_find``, ``accuracy`` and
  ``snapshot``/``restore`` (to run several settings from one starting point).

Two fits from the same snapshot see the same batches in the same order and the same
dropout masks (both are functions of the replicate's seed and the epoch count), so
settings compared within a replicate differ only in the setting.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

Batch = tuple[torch.Tensor, torch.Tensor]


# ------------------------------------------------------------------ sizes and data


@dataclass(frozen=True)
class Sizes:
    """How big one replicate's fine-tuning is (see `sizes`)."""

    img_size: int
    n_train: int  # target-task images per replicate (0: the whole dataset)
    n_tune: int  # images that pick among settings (0: half the validation set)
    n_test: int  # images that score the pick (0: the other half)
    bs: int
    frozen_epochs: int  # the first stage: the new head (and BatchNorm) only
    epochs: int  # the second stage, after unfreezing
    num_it: int  # iterations of an LR range test


def sizes(budget) -> Sizes:
    """The fine-tuning sizes for `budget`.

    Small budget: each replicate fine-tunes on an eighth of the budget's training
    images, at half its image side, in batches of a quarter of its batch size (a
    16 px step of the small ResNet costs about a quarter of a 32 px one, so a chapter
    can afford many replicates), with lesson 1's schedule: 4 epochs frozen, then 2
    unfrozen; the budget's validation count picks settings (tune) and twice that
    scores them (test). Full budget: the budget's images, size and batch size, the
    same 4 + 2 epochs. Mini budget: the full path at its toy sizes, 1 + 1 epochs.
    """
    if budget.is_small:
        return Sizes(
            img_size=budget.img_size // 2,
            n_train=budget.n_train // 8,
            n_tune=budget.n_valid,
            n_test=2 * budget.n_valid,
            bs=budget.bs // 4,
            frozen_epochs=4,
            epochs=2,
            num_it=budget.num_it,
        )
    frozen, unfrozen = (4, 2) if budget.name == "full" else (1, 1)
    return Sizes(budget.img_size, 0, 0, 0, budget.bs, frozen, unfrozen, budget.num_it)


class TensorBatches:
    """Training batches over in-memory tensors. ``epoch(k)`` yields epoch `k`'s
    batches in an order drawn from ``(seed, k)`` alone, so every fit that reaches
    epoch `k` sees the same batches; the last partial batch is dropped (as fastai's
    training DataLoader does)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, bs: int, seed: int):
        if len(x) < bs:
            raise ValueError(f"{len(x)} images cannot fill a batch of {bs}")
        self.x, self.y, self.bs, self.seed = x, y, bs, seed

    def __len__(self) -> int:
        return len(self.y) // self.bs

    def epoch(self, k: int) -> Iterator[Batch]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + k)
        perm = torch.randperm(len(self.y), generator=gen).to(self.y.device)
        for i in range(len(self)):
            idx = perm[i * self.bs : (i + 1) * self.bs]
            yield self.x[idx], self.y[idx]

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)


class _PlainBatches:
    """A fastai DataLoader's batches as plain tensors (TensorImage -> Tensor); its
    order comes from fastai's shuffling, a new one each pass."""

    def __init__(self, dl):
        self.dl = dl

    def __len__(self) -> int:
        return len(self.dl)

    def epoch(self, k: int) -> Iterator[Batch]:
        for xb, yb in self.dl:
            yield xb.as_subclass(torch.Tensor), yb.as_subclass(torch.Tensor)

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)


class Replay:
    """Batches recorded by `capture_batches`, epoch by epoch: what `FineTuner`
    reads (``len`` is one epoch's batches; ``epoch(k)`` is epoch k's list)."""

    def __init__(self, epochs: list[list[Batch]]):
        self.epochs = epochs

    def __len__(self) -> int:
        return len(self.epochs[0])

    def epoch(self, k: int) -> list[Batch]:
        return self.epochs[k]


def capture_batches(seed: int):
    """A fastai callback that records every training batch a `Learner` fits on
    (`.epochs`, a list per epoch; `Replay(cb.epochs)` feeds them to a `FineTuner`)
    and reseeds torch at each training epoch's first batch with ``seed + epoch``,
    as `FineTuner.fit_one_cycle` does, so both see the same dropout draws. It skips
    validation (only the weights are compared). It runs after fastai's
    `ParamScheduler`, so a batch is recorded once its rates are set."""
    from fastai.callback.core import Callback, CancelValidException
    from fastai.callback.schedule import ParamScheduler

    class Capture(Callback):
        order = ParamScheduler.order + 1

        def __init__(self):
            self.epochs: list[list[Batch]] = []

        def before_validate(self):
            raise CancelValidException

        def before_batch(self):
            if not self.training:
                return
            if self.iter == 0:
                torch.manual_seed(seed + len(self.epochs))
                self.epochs.append([])
            xb, yb = (t.as_subclass(torch.Tensor) for t in (*self.xb, *self.yb))
            self.epochs[-1].append((xb, yb))

    return Capture()


@dataclass(frozen=True)
class Replicate:
    """One replicate's data: `train` (``epoch(k)`` gives epoch k's batches), `tune`
    (picks among settings) and `test` (scores the pick), lists of batches."""

    seed: int
    train: TensorBatches | _PlainBatches
    tune: Sequence[Batch]
    test: Sequence[Batch]
    n_out: int
    n_train: int


def _chunks(x, y, bs: int) -> list[Batch]:
    return [(x[i : i + bs], y[i : i + bs]) for i in range(0, len(y), bs)]


def replicate_data(budget, seed: int, sz: Sizes | None = None) -> Replicate:
    """Replicate `seed`'s data.

    Small budget: its own draw of the synthetic *target* task (``make_shapes`` with
    `seed`; the ``train``, ``valid`` and ``test`` splits become train, tune and test).
    Full and mini budgets: lesson 1's Pets with the 80/20 split drawn from `seed`
    (``budget_dls``), ImageNet normalisation for a pretrained torchvision model (what
    ``vision_learner`` adds), the validation batches alternating between tune and test.
    """
    sz = sz or sizes(budget)
    dev = torch.device(budget.device)
    if budget.is_small:
        from .data import make_shapes

        counts = {"train": sz.n_train, "valid": sz.n_tune, "test": sz.n_test}
        parts = {
            split: make_shapes(
                n, task="target", size=sz.img_size, seed=seed, split=split
            )
            for split, n in counts.items()
        }
        xs = {k: tuple(t.to(dev) for t in d.tensors()) for k, d in parts.items()}
        return Replicate(
            seed,
            TensorBatches(*xs["train"], sz.bs, seed),
            _chunks(*xs["valid"], 4 * sz.bs),
            _chunks(*xs["test"], 4 * sz.bs),
            len(parts["train"].classes),
            sz.n_train,
        )
    from fastai.vision.learner import _add_norm, model_meta

    from .data import budget_dls
    from .models import budget_arch

    state = random.getstate()
    random.seed(seed)  # fastai's DataLoaders draw their shuffling RNG from `random`
    try:
        dls = budget_dls(budget, bs=sz.bs, seed=seed)
    finally:
        random.setstate(state)
    _add_norm(dls, model_meta.get(budget_arch(budget), {}), True)
    valid = list(_PlainBatches(dls.valid))
    return Replicate(
        seed,
        _PlainBatches(dls.train),
        valid[0::2],
        valid[1::2] or valid[:1],
        dls.c,
        len(dls.train_ds),
    )


# ------------------------------------------------------------------ training


def _epoch(batches, k: int) -> Iterable[Batch]:
    return batches.epoch(k) if hasattr(batches, "epoch") else batches


class FineTuner:
    """A model built as ``vision_learner`` builds it, and fastai's optimizer for it.

    `arch` is a callable like torchvision's ``resnet34`` (``budget_arch(budget)``):
    its pretrained weights become the body and a new head for `n_out` classes is
    initialised under ``torch.manual_seed(seed)`` (the caller's RNG is left as it
    was). The body starts frozen, as ``vision_learner`` leaves it. `batches` given to
    the methods below are re-iterable with a length; if they have ``epoch(k)`` (a
    `TensorBatches`), epoch k of the fit's history reads ``batches.epoch(k)``.
    """

    def __init__(self, arch, n_out: int, seed: int, device="cpu"):
        from fastai.learner import defaults
        from fastai.optimizer import Adam
        from fastai.torch_core import norm_bias_params
        from fastai.vision.learner import _default_meta, create_vision_model, model_meta

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = create_vision_model(arch, n_out, pretrained=True)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.seed = seed
        split = model_meta.get(arch, _default_meta)["split"]
        self.opt = Adam(split(self.model), lr=defaults.lr)
        for p in norm_bias_params(self.model, True):  # Learner(wd_bn_bias=False)
            self.opt.state[p]["do_wd"] = False
        for p in norm_bias_params(self.model, False):  # Learner(train_bn=True)
            self.opt.state[p]["force_train"] = True
        self.steps_done = 0
        self.epochs_done = 0
        self.freeze()

    # freezing is Learner.freeze_to: the optimizer's freeze_to, then clear_state
    def freeze_to(self, n: int) -> None:
        """Freeze the first `n` layer groups (BatchNorm stays trainable)."""
        self.opt.freeze_to(n)
        self.opt.clear_state()

    def freeze(self) -> None:
        """Train only the last group (the new head) and BatchNorm."""
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        """Train every group."""
        self.freeze_to(0)

    def _step(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        self.steps_done += 1
        return loss.detach()

    def _rng_devices(self) -> list:
        return [self.device] if self.device.type == "cuda" else []

    def fit_one_cycle(
        self,
        n_epoch: int,
        lr_max,
        batches,
        *,
        div: float = 25.0,
        div_final: float = 1e5,
        pct_start: float = 0.25,
        moms=(0.95, 0.85, 0.95),
    ) -> np.ndarray:
        """``Learner.fit_one_cycle(n_epoch, lr_max)`` (a float or a slice) on
        `batches`; returns every step's training loss. Each epoch's dropout draws
        come from ``torch.manual_seed(seed + epochs done)``."""
        from fastai.callback.schedule import combined_cos

        if isinstance(lr_max, np.generic):  # fastcore's L cannot take a NumPy scalar
            lr_max = lr_max.item()
        self.opt.set_hyper("lr", lr_max)
        peak = np.array([h["lr"] for h in self.opt.hypers])
        scheds = {
            "lr": combined_cos(pct_start, peak / div, peak, peak / div_final),
            "mom": combined_cos(pct_start, *moms),
        }
        losses = []
        self.model.train()
        n_iter = len(batches)
        with torch.random.fork_rng(devices=self._rng_devices()):
            for epoch in range(n_epoch):
                torch.manual_seed(self.seed + self.epochs_done)
                pct = epoch / n_epoch  # TrainEvalCallback.before_train
                for xb, yb in _epoch(batches, self.epochs_done):
                    for name, f in scheds.items():  # ParamScheduler.before_batch
                        self.opt.set_hyper(name, f(pct))
                    losses.append(self._step(xb, yb))
                    pct += 1.0 / (n_iter * n_epoch)  # TrainEvalCallback.after_batch
                self.epochs_done += 1
        return torch.stack(losses).float().cpu().numpy() if losses else np.zeros(0)

    def lr_find(
        self,
        batches,
        *,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_it: int = 100,
        stop_div: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """fastai's LR range test (``Learner.lr_find``): every group's LR grows
        exponentially from `start_lr` towards `end_lr` over `num_it` batches; the
        curve is the debiased moving average of the loss (fastai's ``AvgSmoothLoss``,
        beta 0.98), stopped early once it exceeds 4x its best (`stop_div`): both
        `claimbook.lrfind.SmoothedLoss` in fastai's float32 arithmetic. Weights,
        optimizer state and counters are restored afterwards. Returns (lrs, losses).
        """
        from .lrfind import SmoothedLoss

        saved = self.snapshot()
        # fastai's arithmetic (a float32 lerp) and its stop (NaN does not stop it)
        curve = SmoothedLoss(float32=True, stop_on_nan=False)
        lrs, losses = [], []
        self.model.train()
        i, k = 0, self.epochs_done
        with torch.random.fork_rng(devices=self._rng_devices()):
            torch.manual_seed(self.seed + self.epochs_done)
            while i < num_it:
                for xb, yb in _epoch(batches, k):
                    lr = start_lr * (end_lr / start_lr) ** (i / num_it)
                    self.opt.set_hyper("lr", lr)
                    loss = self._step(xb, yb).float().cpu()
                    i += 1
                    lrs.append(lr)
                    losses.append(curve.update(float(loss)))
                    if (stop_div and curve.diverged) or i >= num_it:
                        i = num_it
                        break
                k += 1
        self.restore(saved)
        return np.array(lrs), np.array(losses)

    @torch.no_grad()
    def accuracy(self, batches: Iterable[Batch]) -> float:
        """Share of correct predictions over `batches`, in eval mode."""
        self.model.eval()
        right = total = 0
        for xb, yb in batches:
            right += int((self.model(xb).argmax(1) == yb).sum())
            total += len(yb)
        self.model.train()
        return right / total

    def snapshot(self) -> dict:
        """Weights and buffers, optimizer state and hyper-parameters, which
        parameters are trainable, and the step and epoch counters."""
        return {
            "model": copy.deepcopy(self.model.state_dict()),
            "opt": copy.deepcopy(self.opt.state_dict()),
            "requires_grad": [p.requires_grad for p in self.model.parameters()],
            "counters": (self.steps_done, self.epochs_done),
        }

    def restore(self, snap: dict) -> None:
        """Return to a `snapshot` (the snapshot itself is left untouched)."""
        self.model.load_state_dict(snap["model"])
        self.opt.load_state_dict(copy.deepcopy(snap["opt"]))
        for p, rg in zip(self.model.parameters(), snap["requires_grad"], strict=False):
            p.requires_grad_(rg)
            p.grad = None  # fastai's step visits every parameter that has a grad
        self.steps_done, self.epochs_done = snap["counters"]
