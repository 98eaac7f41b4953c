"""Synthetic data with ground truth, and the lessons' real dataset (Pets).

Introduced in chapter 00 (Start here). Synthetic data comes with the truth for
free (claim `dl-synthetic-gt`): every shapes image carries its class, a bounding
box and a pixel mask, so heatmaps can be scored and transfer studied honestly.

Tasks
-----
* ``source``: six filled shapes (the task the small ResNet body is pretrained on).
* ``target``: four outlined shapes (a related task to fine-tune on).
* tabular, sequence and ratings tasks for chapters that need them.

Everything is deterministic from a seed; a small-budget image set takes well
under a second to generate.
"""

from __future__ import annotations

import os
import random
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


def _rng(seed: int, *keys: str) -> np.random.Generator:
    ints = [seed] + [int.from_bytes(k.encode(), "little") % (2**32) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(ints))


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


# ------------------------------------------------------------ the real dataset

PETS_PATTERN = (
    r"^(.+)_\d+\.jpg$"  # lesson 1: the breed is the file name up to _<number>.jpg
)
PETS_HOST = ("s3.amazonaws.com", 443)
# A breed with fewer images than this can land wholly in lesson 1's random 20%
# validation split, and fastai then fails on its first validation batch with
# "Label ... was not included in the training dataset"; the real set has ~200 each.
PETS_MIN_PER_BREED = 5
PETS_LAYOUT = (
    "an unpacked oxford-iiit-pet folder holds images/ with files named "
    "<breed>_<number>.jpg (images/Abyssinian_12.jpg, images/great_pyrenees_173.jpg)"
)


class PetsUnavailable(RuntimeError):
    """The full budget needs Oxford-IIIT Pets in lesson 1's layout, and it is not
    here, cannot be downloaded, or the folder is not in that layout (the message
    names the folder and the problem)."""


@dataclass(frozen=True)
class PetsFolder:
    """A folder that passed `check_pets`: its images and their breeds."""

    path: Path
    n_images: int
    breeds: tuple[str, ...]


def pets_label(fname: str | Path) -> str:
    """The lessons' regex labelling: 'great_pyrenees_173.jpg' -> 'great_pyrenees'."""
    m = re.match(PETS_PATTERN, Path(fname).name)
    if m is None:
        raise ValueError(
            f"{Path(fname).name!r} does not match the Pets pattern {PETS_PATTERN}"
        )
    return m.group(1)


def _online(host=PETS_HOST, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def _image_files(folder: Path) -> list[Path]:
    """The files fastai's `get_image_files` would find under `folder` (image
    extensions, any depth, hidden files and folders skipped), sorted."""
    import mimetypes

    exts = {k for k, v in mimetypes.types_map.items() if v.startswith("image/")}
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [
            Path(parent) / f
            for f in files
            if not f.startswith(".") and f".{f.rsplit('.', 1)[-1].lower()}" in exts
        ]
    return sorted(found)


def check_pets(path: str | Path, *, origin: str = "") -> PetsFolder:
    """Check that `path` is in lesson 1's Pets layout, before anything trains.

    Raises `PetsUnavailable` naming the folder (and `origin`, e.g. the environment
    variable it came from) and the problem: no such folder, no ``images/`` in it,
    no images there, file names the lesson's regex cannot label, a single breed, or
    a breed too small for a random 20% validation split. Reads names only (the
    real set's 7,390 names take milliseconds).
    """
    path = Path(path)
    where = f"{origin}{path}" if origin else str(path)
    if not path.is_dir():
        raise PetsUnavailable(f"{where}: no such folder; {PETS_LAYOUT}")
    images = path / "images"
    if not images.is_dir():
        hint = ""
        if any(re.match(PETS_PATTERN, p.name) for p in path.iterdir()):
            hint = " (it holds the images itself: use the folder above it)"
        raise PetsUnavailable(f"{where} has no images/ folder{hint}; {PETS_LAYOUT}")
    files = _image_files(images)
    if not files:
        raise PetsUnavailable(f"no images under {images}; {PETS_LAYOUT}")
    bad = [f.relative_to(images) for f in files if not re.match(PETS_PATTERN, f.name)]
    if bad:
        shown = ", ".join(repr(str(b)) for b in bad[:3])
        raise PetsUnavailable(
            f"{len(bad)} of {len(files)} images under {images} have names that "
            f"lesson 1's pattern {PETS_PATTERN} cannot label (e.g. {shown}): the "
            f"breed is read from the file name, so {PETS_LAYOUT}"
        )
    counts: dict[str, int] = {}
    for f in files:
        counts[pets_label(f)] = counts.get(pets_label(f), 0) + 1
    if len(counts) < 2:
        raise PetsUnavailable(
            f"all {len(files)} images under {images} are one breed "
            f"({next(iter(counts))!r}): lesson 1 classifies breeds (37 in the real "
            "set) and needs at least two"
        )
    few = sorted(b for b, n in counts.items() if n < PETS_MIN_PER_BREED)
    if few:
        shown = ", ".join(f"{b} ({counts[b]})" for b in few[:5])
        raise PetsUnavailable(
            f"{len(few)} breeds under {images} have fewer than {PETS_MIN_PER_BREED} "
            f"images ({shown}): lesson 1's random 20% validation split can leave "
            "such a breed out of training, and fastai then fails mid-run"
        )
    return PetsFolder(path, len(files), tuple(sorted(counts)))


def pets_path(*, online: bool | None = None) -> Path:
    """The Pets folder: $CLAIMBOOK_PETS, fastai's data folder, or a download.

    Whichever it is, `check_pets` checks its layout first, so a wrong folder stops
    here with a message naming it, before any training. Without network and
    without a local copy this fails fast (a few seconds) with a message saying
    what to download, instead of hanging in a download.
    """
    env = os.environ.get("CLAIMBOOK_PETS")
    if env:
        check_pets(env, origin="CLAIMBOOK_PETS=")
        return Path(env)
    from fastai.data.external import URLs, fastai_cfg, untar_data

    local = Path(fastai_cfg().data) / "oxford-iiit-pet"
    if local.exists():
        check_pets(local, origin="fastai's data folder: ")
        return local
    if online is None:
        online = _online()
    if not online:
        raise PetsUnavailable(
            "The full budget needs Oxford-IIIT Pets (fastai URLs.PETS, about 800 MB) "
            f"and this machine cannot download it (nothing at {local}). On a "
            "machine with internet run\n"
            "  python -c 'from fastai.vision.all import *; untar_data(URLs.PETS)'\n"
            "or point CLAIMBOOK_PETS at an unpacked oxford-iiit-pet folder; "
            "or use CLAIMBOOK_BUDGET=small."
        )
    path = untar_data(URLs.PETS)  # pragma: no cover - needs the network
    check_pets(path, origin="the download: ")  # pragma: no cover
    return path  # pragma: no cover


def pets_dls(
    path: str | Path, *, size: int = 224, bs: int = 64, seed: int = 42, device=None
):
    """Lesson 1's DataLoaders: labels from file names by regex, 20% validation,
    Resize then the standard augmentations at `size`. Works on any folder in the
    Pets layout (``images/Breed_name_123.jpg``); `check_pets` vets it first."""
    from fastai.vision.all import (
        ImageDataLoaders,
        Resize,
        aug_transforms,
        get_image_files,
    )

    path = Path(path)
    check_pets(path)
    fnames = get_image_files(path / "images")
    return ImageDataLoaders.from_name_re(
        path,
        fnames,
        pat=PETS_PATTERN,
        valid_pct=0.2,
        seed=seed,
        item_tfms=Resize(int(size * 460 / 224)),
        batch_tfms=aug_transforms(size=size, min_scale=0.75),
        bs=bs,
        device=device,
        num_workers=0,
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
