"""Synthetic data with ground truth, and the budget's one entry point to data.

Introduced in chapter 00 (Start here). Synthetic data comes with the truth for
free (claim `dl-synthetic-gt`): every shapes image carries its class, a bounding
box and a pixel mask, so heatmaps can be scored and transfer studied honestly.

Tasks
-----
* ``source``: six filled shapes (the task the small ResNet body is pretrained on).
* ``target``: four outlined shapes (a related task to fine-tune on).
* tabular, sequence and ratings tasks for chapters that need them.

`budget_dls` gives a chapter its budget's data: these shapes on the small budget,
lesson 1's Pets (`claimbook.pets`) on the full and mini budgets.

Everything is deterministic from a seed; a small-budget image set takes well
under a second to generate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from .pets import pets_dls, pets_path

SOURCE_CLASSES = ("circle", "square", "triangle", "cross", "diamond", "bar")
TARGET_CLASSES = ("ring", "frame", "hollow_diamond", "x_cross")
TASKS = {"source": SOURCE_CLASSES, "target": TARGET_CLASSES}
SPLITS = ("train", "valid", "test")
DATA_VERSION = 1  # bump when generation changes: it is part of the pretrained cache key


def _shape_mask(name: str, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Membership of each pixel in a unit-size shape centred at the origin."""
    ax, ay = np.abs(dx), np.abs(dy)
    d2 = dx**2 + dy**2
    cheb = np.maximum(ax, ay)
    l1 = ax + ay
    if name == "circle":
        return d2 <= 1.0
    if name == "square":
        return cheb <= 0.85
    if name == "triangle":  # apex up at dy=-1, base at dy=0.85
        return (dy >= -1.0) & (dy <= 0.85) & (ax <= (dy + 1.0) / 1.85)
    if name == "cross":
        return ((ax <= 0.3) & (ay <= 1.0)) | ((ay <= 0.3) & (ax <= 1.0))
    if name == "diamond":
        return l1 <= 1.0
    if name == "bar":
        return (ax <= 1.0) & (ay <= 0.38)
    if name == "ring":
        return (d2 <= 1.0) & (d2 >= 0.55**2)
    if name == "frame":
        return (cheb <= 0.9) & (cheb >= 0.55)
    if name == "hollow_diamond":
        return (l1 <= 1.0) & (l1 >= 0.6)
    if name == "x_cross":
        return ((np.abs(dx - dy) <= 0.42) | (np.abs(dx + dy) <= 0.42)) & (cheb <= 0.9)
    raise ValueError(f"unknown shape {name!r}")


@dataclass(frozen=True)
class ShapesData:
    """Images of shapes with the truth: class, box and mask for every image.

    x: float32 (N, 3, S, S) in [0, 1]; y: int64 (N,); boxes: int64 (N, 4) as
    (x0, y0, x1, y1) with x1, y1 exclusive; masks: bool (N, S, S).
    """

    x: np.ndarray
    y: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.y)

    @property
    def size(self) -> int:
        return self.x.shape[-1]

    def tensors(self):
        """(x, y) as torch tensors, ready for a TensorDataset."""
        import torch

        return torch.from_numpy(self.x), torch.from_numpy(self.y)


# Every stream of random numbers the generators draw from is named by keys from this
# one set. A key enters the seed as the integer of its first four bytes (the book's
# draws since its first release), so two keys that share them would draw the same
# numbers ("valid" and "validation" would): the set is checked below, and `_rng`
# refuses any key outside it.
STREAM_KEYS = (*TASKS, *SPLITS, "tabular", "sequence", "ratings")


def _key_code(key: str) -> int:
    return int.from_bytes(key.encode(), "little") % (2**32)


if len({_key_code(k) for k in STREAM_KEYS}) != len(STREAM_KEYS):  # pragma: no cover
    raise RuntimeError(f"two of the stream keys share a seed code: {STREAM_KEYS}")


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """The generator for one named stream (task and split, or a task kind)."""
    unknown = [k for k in keys if k not in STREAM_KEYS]
    if unknown:
        raise ValueError(
            f"unknown stream key(s) {unknown}; the keys are {STREAM_KEYS} (a new "
            "key must be added there, where its seed code is checked to be unique)"
        )
    return np.random.default_rng(np.random.SeedSequence([seed, *map(_key_code, keys)]))


def make_shapes(
    n: int,
    *,
    task: str = "source",
    size: int = 32,
    seed: int = 0,
    noise: float = 0.08,
    scale: tuple[float, float] = (0.2, 0.34),
    split: str = "train",
) -> ShapesData:
    """`n` images of the task's shapes on noisy backgrounds, balanced classes.

    A shape's half-width is drawn from `scale` (fractions of the image side),
    its centre uniformly where it fits, its colour and the background colour at
    random (colour carries no class information; the shape is at least 0.35
    brighter or darker than the background in each channel before clipping).
    Pixel noise has std `noise`.
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r}; use one of {sorted(TASKS)}")
    if split not in SPLITS:
        raise ValueError(f"split={split!r}; use one of {SPLITS}")
    if n < 1 or size < 8:
        raise ValueError("need n >= 1 and size >= 8")
    classes = TASKS[task]
    rng = _rng(seed, task, split)
    y = np.arange(n) % len(classes)
    rng.shuffle(y)
    r = rng.uniform(scale[0], scale[1], n) * size
    cx = rng.uniform(r + 1, size - r - 1)
    cy = rng.uniform(r + 1, size - r - 1)
    grid = np.arange(size, dtype=np.float32) + 0.5
    dx = (grid[None, None, :] - cx[:, None, None]) / r[:, None, None]
    dy = (grid[None, :, None] - cy[:, None, None]) / r[:, None, None]
    dx = np.broadcast_to(dx, (n, size, size))
    dy = np.broadcast_to(dy, (n, size, size))
    masks = np.zeros((n, size, size), dtype=bool)
    for k, name in enumerate(classes):
        sel = y == k
        masks[sel] = _shape_mask(name, dx[sel], dy[sel])
    bg = rng.uniform(0.0, 1.0, (n, 3))
    sign = np.where(
        bg.mean(1, keepdims=True) < 0.5, 1.0, -1.0
    )  # move away from the bound
    fg = np.clip(bg + sign * rng.uniform(0.35, 0.6, (n, 3)), 0, 1)
    x = np.where(masks[:, None], fg[:, :, None, None], bg[:, :, None, None])
    x = x + rng.normal(0.0, noise, x.shape)
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    return ShapesData(x, y.astype(np.int64), box_from_masks(masks), masks, classes)


def box_from_masks(masks: np.ndarray) -> np.ndarray:
    """The tight box (x0, y0, x1, y1), x1 and y1 exclusive, of each non-empty square
    mask in `masks` (N, S, S): int64 (N, 4). `make_shapes` derives its boxes so."""
    size = masks.shape[-1]
    rows, cols = masks.any(2), masks.any(1)
    y0, x0 = rows.argmax(1), cols.argmax(1)
    y1, x1 = size - rows[:, ::-1].argmax(1), size - cols[:, ::-1].argmax(1)
    return np.stack([x0, y0, x1, y1], 1).astype(np.int64)


def shapes_task(budget, task: str = "source", split: str = "train") -> ShapesData:
    """The budget's train/valid/test set of a shapes task (sizes from the budget)."""
    n = budget.n_train if split == "train" else budget.n_valid
    if n <= 0:
        raise ValueError(f"budget {budget.name!r} has no synthetic sample count")
    return make_shapes(
        n, task=task, size=budget.img_size, seed=budget.seed, split=split
    )


def tensor_dls(
    train,
    valid,
    *,
    bs: int,
    device="cpu",
    seed: int | None = None,
    c: int | None = None,
):
    """fastai DataLoaders over in-memory `(x, y)` tensor pairs, with no workers.

    Chapters 01 and 02 fine-tune on slices of the shapes tensors. The data already sit
    in memory, so fastai's default of one worker process per core would only add
    start-up time, and forked workers on top of a multi-threaded kernel oversubscribe
    a 2-core machine. `seed` seeds the training shuffle (fastai draws its DataLoader
    RNG from `random`; the global `random` state is restored afterwards); `None`
    leaves `random` to the caller. `c` is the class count fastai's learners read.
    """
    import torch
    from fastai.data.core import DataLoaders
    from fastai.losses import CrossEntropyLossFlat
    from torch.utils.data import TensorDataset

    dsets = [TensorDataset(*train), TensorDataset(*valid)]
    dsets[0].loss_func = CrossEntropyLossFlat()  # what fastai's Learner looks for
    state = random.getstate()
    if seed is not None:
        random.seed(seed)
    try:
        dls = DataLoaders.from_dsets(
            *dsets, bs=bs, device=torch.device(device), num_workers=0
        )
    finally:
        if seed is not None:
            random.setstate(state)
    if c is not None:
        dls.c = c
    return dls


def shapes_dls(
    budget, task: str = "source", *, bs: int | None = None, seed: int | None = None
):
    """fastai DataLoaders (train, valid) for a shapes task on the budget's device."""
    train, valid = (
        shapes_task(budget, task, "train"),
        shapes_task(budget, task, "valid"),
    )
    dls = tensor_dls(
        train.tensors(),
        valid.tensors(),
        bs=bs or budget.bs,
        device=budget.device,
        seed=budget.seed if seed is None else seed,
        c=len(train.classes),
    )
    dls.vocab = list(train.classes)
    return dls


# ---------------------------------------------------------------- other tasks


@dataclass(frozen=True)
class TabularData:
    """A tabular classification task with a known rule and known label noise."""

    x: np.ndarray  # float32 (N, F)
    y: np.ndarray  # int64 (N,)
    n_informative: int
    label_noise: float


def make_tabular(
    n: int,
    *,
    n_features: int = 8,
    n_classes: int = 3,
    seed: int = 0,
    label_noise: float = 0.05,
) -> TabularData:
    """Labels from a fixed random two-layer rule of the first four features;
    the rest are distractors; a fraction `label_noise` of labels is resampled,
    so the best achievable accuracy is about 1 - label_noise * (1 - 1/C)."""
    rule = np.random.default_rng(1234)  # the rule is fixed; `seed` draws the data
    a = rule.normal(size=(4, 16))
    w = rule.normal(size=(16, n_classes))
    rng = _rng(seed, "tabular")
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    y = (np.tanh(x[:, :4] @ a) @ w).argmax(1)
    flip = rng.random(n) < label_noise
    y[flip] = rng.integers(0, n_classes, flip.sum())
    return TabularData(x, y.astype(np.int64), 4, label_noise)


@dataclass(frozen=True)
class SequenceData:
    """Token sequences labelled 1 when tokens of set A outnumber tokens of set B."""

    x: np.ndarray  # int64 (N, L)
    y: np.ndarray  # int64 (N,)
    vocab: int


def make_sequences(
    n: int, *, seq_len: int = 12, vocab: int = 10, seed: int = 0
) -> SequenceData:
    """Set A is tokens 1..3, set B tokens 4..6, the rest are neutral; ties are
    resolved by the first token. The model has to learn what each token means."""
    rng = _rng(seed, "sequence")
    x = rng.integers(0, vocab, (n, seq_len))
    a = np.isin(x, [1, 2, 3]).sum(1)
    b = np.isin(x, [4, 5, 6]).sum(1)
    y = np.where(a == b, x[:, 0] % 2, (a > b).astype(int))
    return SequenceData(x.astype(np.int64), y.astype(np.int64), vocab)


@dataclass(frozen=True)
class RatingsData:
    """User-item ratings from known latent factors (a MovieLens-shaped toy)."""

    users: np.ndarray  # int64 (N,)
    items: np.ndarray  # int64 (N,)
    ratings: np.ndarray  # float32 (N,), in [min_rating, max_rating]
    n_users: int
    n_items: int
    user_factors: np.ndarray
    item_factors: np.ndarray
    min_rating: float = 0.5
    max_rating: float = 5.0


def make_ratings(
    n: int, *, n_users: int = 100, n_items: int = 80, rank: int = 4, seed: int = 0
) -> RatingsData:
    """Ratings = 3 + biases + u.v + noise, rounded to half stars and clipped to
    [0.5, 5] (MovieLens' scale). Many ratings sit at the extremes, as real ones do."""
    rng = _rng(seed, "ratings")
    uf = rng.normal(0, 0.7, (n_users, rank))
    vf = rng.normal(0, 0.7, (n_items, rank))
    ub = rng.normal(0, 0.5, n_users)
    vb = rng.normal(0, 0.5, n_items)
    u = rng.integers(0, n_users, n)
    v = rng.integers(0, n_items, n)
    r = 3.0 + ub[u] + vb[v] + (uf[u] * vf[v]).sum(1) + rng.normal(0, 0.3, n)
    r = np.clip(np.round(r * 2) / 2, 0.5, 5.0).astype(np.float32)
    return RatingsData(
        u.astype(np.int64), v.astype(np.int64), r, n_users, n_items, uf, vf
    )


# ------------------------------------------------------------ one entry point


def budget_dls(budget, task: str = "target", *, bs: int | None = None, seed=None):
    """The budget's fastai DataLoaders: the chapters' one way to get their data.

    Small budget: the synthetic shapes `task` ("source" or "target") from
    `shapes_dls`. Full and mini budgets: lesson 1's Pets from `pets_path()`
    (``CLAIMBOOK_PETS`` or fastai's data folder) at the budget's image size; `task`
    is ignored there (Pets is the target task). `bs` defaults to the budget's, and
    `seed` (the split and shuffling) to the budget's base seed.
    """
    seed = budget.seed if seed is None else seed
    if budget.is_small:
        return shapes_dls(budget, task, bs=bs, seed=seed)
    return pets_dls(
        pets_path(),
        size=budget.img_size,
        bs=bs or budget.bs,
        seed=seed,
        device=budget.device,
    )
