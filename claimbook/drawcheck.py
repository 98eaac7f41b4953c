"""Chapter 04's harness: datasets whose items are random draws, and the measurement
of how often workers and epochs repeat them.

Introduced in chapter 04 (DataLoader seeding). The datasets live here (not in the
notebook) so that workers started with the ``spawn`` method can import them.

* `DrawDataset` / `DrawIterable`: each item is ``(index, worker id, draw)``, the
  draw coming from one random source (`SOURCES`), the stand-in for an augmentation
  parameter; `Draw` is the same draw made by a transform that owns its RNG.
* `collect`: seed everything, run a loader for some epochs and return every draw
  (`Draws`); it always lets the workers finish (non-persistent loaders are
  exhausted, persistent ones are shut down in a ``finally``).
* `measure` / `Row`: the shares of draws duplicated across workers and epochs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from .runtime import seed_everything
from .seeding import InheritParentNumpy

SOURCES = (
    "numpy",
    "python",
    "torch",
    "np_generator",
    "np_randomstate",
    "torch_generator",
    "py_random",
)
"""Where a dataset's draw comes from: the three global RNGs, or an RNG object
created in the dataset's (or transform's) ``__init__``: a NumPy ``Generator``, a
``RandomState``, a ``torch.Generator`` or a ``random.Random``."""


def _make_rng(source: str, seed: int):
    if source == "np_generator":
        return np.random.default_rng(seed)
    if source == "np_randomstate":
        return np.random.RandomState(seed)
    if source == "torch_generator":
        return torch.Generator().manual_seed(seed)
    if source == "py_random":
        return random.Random(seed)
    if source in ("numpy", "python", "torch"):
        return None
    raise ValueError(f"source={source!r}; use one of {SOURCES}")


def _draw(source: str, rng) -> float:
    """One float64 in [0, 1) from `source` (53 random bits: accidental ties ~ 0)."""
    if source == "numpy":
        return float(np.random.random())
    if source == "python":
        return random.random()
    if source == "torch":
        return float(torch.rand((), dtype=torch.float64))
    if source == "torch_generator":
        return float(torch.rand((), dtype=torch.float64, generator=rng))
    return float(rng.random())  # Generator, RandomState and random.Random


def _worker_id() -> int:
    info = get_worker_info()
    return -1 if info is None else info.id


class Draw:
    """A transform that owns its RNG, as augmentation classes do: the RNG is made in
    ``__init__`` from `source` and `seed`, and each call adds one draw to `x`."""

    def __init__(self, source: str = "np_generator", seed: int = 0):
        self.source = source
        self.rng = _make_rng(source, seed)

    def __call__(self, x: float) -> float:
        return x + _draw(self.source, self.rng)


class DrawDataset(Dataset):
    """Map-style dataset of `n` items; item i is ``(i, worker id, draw)``.

    For the RNG-object sources the RNG is created here, in ``__init__`` (seeded
    with `seed`), as many real datasets do. With `transform` the draw is
    ``transform(0.0)`` instead (the RNG, if any, is wherever the transform keeps it).
    """

    def __init__(
        self,
        n: int = 64,
        source: str = "numpy",
        seed: int = 0,
        transform: Callable[[float], float] | None = None,
    ):
        self.n, self.source, self.transform = n, source, transform
        self.rng = None if transform is not None else _make_rng(source, seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if self.transform is not None:
            return i, _worker_id(), float(self.transform(0.0))
        return i, _worker_id(), _draw(self.source, self.rng)


class DrawIterable(IterableDataset):
    """Iterable twin of `DrawDataset`: each worker yields its own shard of range(n)
    (items worker_id, worker_id + num_workers, ...), drawing as it goes."""

    def __init__(self, n: int = 64, source: str = "numpy", seed: int = 0):
        self.n, self.source = n, source
        self.rng = _make_rng(source, seed)

    def __iter__(self) -> Iterator:
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        for i in range(start, self.n, step):
            yield i, _worker_id(), _draw(self.source, self.rng)


@dataclass(frozen=True)
class Draws:
    """Every draw of a run: parallel int/float arrays, one entry per item per epoch."""

    epoch: np.ndarray
    index: np.ndarray
    worker: np.ndarray
    value: np.ndarray

    def by_epoch(self, e: int) -> np.ndarray:
        """Epoch `e`'s draws, ordered by item index."""
        sel = self.epoch == e
        return self.value[sel][np.argsort(self.index[sel], kind="stable")]

    def stream(self, e: int, w: int) -> np.ndarray:
        """Worker `w`'s draws in epoch `e`, in the order the worker made them."""
        sel = (self.epoch == e) & (self.worker == w)
        return self.value[sel]


def collect(
    *,
    source: str = "numpy",
    seed: int = 0,
    epochs: int = 2,
    n: int = 64,
    batch_size: int = 16,
    num_workers: int = 2,
    iterable: bool = False,
    persistent_workers: bool = False,
    context: str = "fork",
    worker_init_fn: Callable[[int], None] | None = None,
    generator_seed: int | None = None,
    old_torch: bool = False,
    consume_torch_rng: int = 0,
    make_transform: Callable[[int], Callable[[float], float]] | None = None,
) -> Draws:
    """Seed everything with `seed`, build the dataset and loader, run `epochs` epochs.

    `make_transform(seed)`, when given, builds the transform that makes each draw
    (map-style datasets only), so that its RNG follows `seed` as the dataset's does.

    `old_torch=True` wraps `worker_init_fn` in a fresh `InheritParentNumpy` before
    each epoch (the torch < 1.9 behaviour; fork only). `consume_torch_rng` draws that
    many numbers from torch's global RNG after seeding, as building a model would.
    Workers are always shut down.
    """
    if old_torch and (context != "fork" or persistent_workers):
        raise ValueError(
            "old_torch reproduces torch < 1.9 under fork, without persistent workers"
        )
    seed_everything(seed)  # what a training script does first
    if consume_torch_rng:
        torch.rand(consume_torch_rng)
    if make_transform is not None:
        if iterable:
            raise ValueError("make_transform is for map-style datasets")
        ds = DrawDataset(n, source, seed, transform=make_transform(seed))
    else:
        ds = (DrawIterable if iterable else DrawDataset)(n, source, seed)
    gen = None
    if generator_seed is not None:
        gen = torch.Generator().manual_seed(generator_seed)
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        num_workers=num_workers,
        persistent_workers=persistent_workers,
        worker_init_fn=worker_init_fn,
        generator=gen,
        multiprocessing_context=context if num_workers > 0 else None,
    )
    rows = []
    try:
        for e in range(epochs):
            if old_torch:
                loader.worker_init_fn = InheritParentNumpy(then=worker_init_fn)
            for idx, wid, val in loader:  # exhausting the iterator stops its workers
                rows += [
                    (e, int(i), int(w), float(v))
                    for i, w, v in zip(idx, wid, val, strict=False)
                ]
    finally:
        shutdown(loader)
    a = np.array(rows, dtype=object) if rows else np.zeros((0, 4), dtype=object)
    return Draws(
        a[:, 0].astype(np.int64),
        a[:, 1].astype(np.int64),
        a[:, 2].astype(np.int64),
        a[:, 3].astype(np.float64),
    )


def shutdown(loader: DataLoader) -> None:
    """Stop a loader's persistent workers now (instead of whenever it is collected)."""
    it = getattr(loader, "_iterator", None)  # only persistent loaders keep one
    if it is not None and hasattr(it, "_shutdown_workers"):
        it._shutdown_workers()
    loader._iterator = None


@dataclass(frozen=True)
class Row:
    """One variant's verdicts: fractions of duplicated draws and two run comparisons."""

    dup_across_workers: float  # share of epoch-0 draws also drawn by another worker
    dup_across_epochs: float  # share of epoch-1 draws already drawn in epoch 0
    reproducible: bool  # same seed, same draws for every item and epoch
    seed_sensitive: bool | None  # another seed changes the draws (None: not measured)
    # the first run's draws
    draws: Draws | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return (
            self.dup_across_workers == 0
            and self.dup_across_epochs == 0
            and self.reproducible
            and self.seed_sensitive is not False
        )


def duplicated(values: np.ndarray, other: np.ndarray) -> float:
    """Share of `values` that also occur in `other` (exact float equality)."""
    return float(np.isin(values, other).mean()) if len(values) else 0.0


def _same(a: Draws, b: Draws, epochs=(0, 1)) -> bool:
    return all(np.array_equal(a.by_epoch(e), b.by_epoch(e)) for e in epochs)


def measure(
    seed: int = 0,
    other_seed: int | None = None,
    reference: Draws | None = None,
    **kw,
) -> Row:
    """Two runs with `seed` (two epochs each) and one with `other_seed` (one epoch;
    default ``seed + 1``).

    With `reference` (the draws of an earlier run with the same seed and settings,
    e.g. under another start method) only one run is made: it must equal the
    reference, and seed sensitivity is not measured (saves slow ``spawn`` starts).
    """
    a = collect(seed=seed, epochs=2, **kw)
    e0 = a.epoch == 0
    workers = np.unique(a.worker[e0])
    dup_w = np.mean(
        [
            duplicated(a.value[e0 & (a.worker == w)], a.value[e0 & (a.worker != w)])
            for w in workers
        ]
    )
    dup_e = duplicated(a.by_epoch(1), a.by_epoch(0))
    if reference is not None:
        return Row(float(dup_w), float(dup_e), _same(a, reference), None, a)
    b = collect(seed=seed, epochs=2, **kw)
    c = collect(seed=seed + 1 if other_seed is None else other_seed, epochs=1, **kw)
    return Row(float(dup_w), float(dup_e), _same(a, b), not _same(a, c, (0,)), a)
