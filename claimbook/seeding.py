"""Random draws in DataLoader workers: datasets that draw, a harness that
measures the draws, and a `worker_init_fn` that seeds every RNG correctly.

Introduced in chapter 04 (DataLoader seeding). The datasets live here (not in
the notebook) so that workers started with the ``spawn`` method can import them.

* `DrawDataset` / `DrawIterable`: each item is ``(index, worker id, draw)``, the
  draw coming from one random source (`SOURCES`), the stand-in for an augmentation
  parameter.
* `collect`: run a loader for some epochs and return every draw (`Draws`); it
  always lets the workers finish (non-persistent loaders are exhausted, persistent
  ones are shut down in a ``finally``).
* `InheritParentNumpy`: reproduces torch < 1.9 under ``fork``, where workers kept
  the parent's NumPy global state.
* `seed_worker`: the fix. It derives every seed from the worker's torch seed
  (``get_worker_info().seed``, itself from the loader's ``generator``) through
  `numpy.random.SeedSequence`, and reseeds the global NumPy and Python RNGs and
  the RNG objects the dataset holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

SOURCES = (
    "numpy",
    "python",
    "torch",
    "np_generator",
    "np_randomstate",
    "torch_generator",
)
"""Where a dataset's draw comes from: the three global RNGs, or an RNG object
created in the dataset's ``__init__``."""

_MASK63 = (1 << 63) - 1


def _make_rng(source: str, seed: int):
    if source == "np_generator":
        return np.random.default_rng(seed)
    if source == "np_randomstate":
        return np.random.RandomState(seed)
    if source == "torch_generator":
        return torch.Generator().manual_seed(seed)
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
    return float(rng.random())  # np.random.Generator and RandomState


def _worker_id() -> int:
    info = get_worker_info()
    return -1 if info is None else info.id


class DrawDataset(Dataset):
    """Map-style dataset of `n` items; item i is ``(i, worker id, draw)``.

    For the ``np_*`` / ``torch_generator`` sources the RNG object is created here,
    in ``__init__`` (seeded with `seed`), as many real datasets do.
    """

    def __init__(self, n: int = 64, source: str = "numpy", seed: int = 0):
        self.n, self.source = n, source
        self.rng = _make_rng(source, seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
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


# ------------------------------------------------------------------ the fix


def _rng_objects(obj, depth: int = 2):
    """RNG objects held as attributes of `obj` (and of datasets/lists it holds)."""
    rng_types = (
        np.random.Generator,
        np.random.RandomState,
        torch.Generator,
        random.Random,
    )
    if depth < 0:
        return
    items = vars(obj).items() if hasattr(obj, "__dict__") else []
    for name, value in items:
        if isinstance(value, rng_types):
            yield obj, name, value
        elif isinstance(value, Dataset):
            yield from _rng_objects(value, depth - 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                if isinstance(v, Dataset):
                    yield from _rng_objects(v, depth - 1)


def reseed(seed: int, dataset=None) -> None:
    """Seed NumPy's and Python's global RNGs and every RNG object `dataset` holds
    from one integer, each from its own `SeedSequence` child (no shared streams).

    torch's global RNG is left alone: the worker loop already seeds it with the
    same `seed` (``base_seed + worker_id``)."""
    children = np.random.SeedSequence(seed & _MASK63).spawn(2)
    np.random.seed(children[0].generate_state(4))
    random.seed(int(children[1].generate_state(2, np.uint64)[0]))
    if dataset is None:
        return
    rngs = list(_rng_objects(dataset))
    for (owner, name, rng), child in zip(
        rngs, np.random.SeedSequence([seed & _MASK63, 1]).spawn(len(rngs))
    ):
        if isinstance(rng, np.random.Generator):
            setattr(owner, name, np.random.Generator(type(rng.bit_generator)(child)))
        elif isinstance(rng, np.random.RandomState):
            rng.seed(child.generate_state(4))
        elif isinstance(rng, torch.Generator):
            rng.manual_seed(int(child.generate_state(1, np.uint64)[0]) & _MASK63)
        else:  # random.Random
            rng.seed(int(child.generate_state(2, np.uint64)[0]))


def seed_worker(worker_id: int) -> None:
    """A `worker_init_fn` that makes draws distinct across workers and epochs and
    reproducible across runs, for global and dataset-held RNGs alike.

    It reads the worker's seed (``base_seed + worker_id``; ``base_seed`` is drawn
    from the loader's ``generator`` at every ``iter(loader)``) and calls `reseed`.
    Pass ``generator=torch.Generator().manual_seed(s)`` to the DataLoader as well,
    so the seeds do not depend on how much of torch's global RNG was used before.
    """
    info = get_worker_info()
    if info is None:  # called outside a worker: nothing to do
        return
    reseed(info.seed, info.dataset)


class InheritParentNumpy:
    """torch < 1.9 under ``fork``, reproduced: the worker gets the NumPy global state
    the parent had when the workers started (fork copied it; old torch did not
    reseed NumPy). Create it just before ``iter(loader)``; optionally run `then`."""

    def __init__(self, then: Callable[[int], None] | None = None):
        self.state = np.random.get_state()
        self.then = then

    def __call__(self, worker_id: int) -> None:
        np.random.set_state(self.state)
        if self.then is not None:
            self.then(worker_id)


# --------------------------------------------------------------- the harness


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


def seed_all(seed: int) -> None:
    """What a training script does first: seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
) -> Draws:
    """Seed everything with `seed`, build the dataset and loader, run `epochs` epochs.

    `old_torch=True` wraps `worker_init_fn` in a fresh `InheritParentNumpy` before
    each epoch (the torch < 1.9 behaviour; fork only). `consume_torch_rng` draws that
    many numbers from torch's global RNG after seeding, as building a model would.
    Workers are always shut down.
    """
    if old_torch and (context != "fork" or persistent_workers):
        raise ValueError(
            "old_torch reproduces torch < 1.9 under fork, without persistent workers"
        )
    seed_all(seed)
    if consume_torch_rng:
        torch.rand(consume_torch_rng)
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
                    (e, int(i), int(w), float(v)) for i, w, v in zip(idx, wid, val)
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
    seed: int = 0, other_seed: int = 1, reference: Draws | None = None, **kw
) -> Row:
    """Two runs with `seed` (two epochs each) and one with `other_seed` (one epoch).

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
    c = collect(seed=other_seed, epochs=1, **kw)
    return Row(float(dup_w), float(dup_e), _same(a, b), not _same(a, c, (0,)), a)
