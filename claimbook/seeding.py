"""The `worker_init_fn` that seeds every RNG a DataLoader worker uses.

Introduced in chapter 04 (DataLoader seeding).

* `seed_worker`: the fix. It derives every seed from the worker's torch seed
  (``get_worker_info().seed``, itself from the loader's ``generator``) through
  `numpy.random.SeedSequence`, and reseeds the global NumPy and Python RNGs and
  every RNG object the dataset reaches (`claimbook.rngwalk.find_rngs`).
* `reseed`: the same for any seed and object, outside a worker too.
* `InheritParentNumpy`: reproduces torch < 1.9 under ``fork``, where workers kept
  the parent's NumPy global state.

The datasets that draw and the harness that measures duplicated draws are in
`claimbook.drawcheck`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import get_worker_info

from .rngwalk import MAX_DEPTH, _global_rngs, find_rngs

_MASK63 = (1 << 63) - 1


def _path_key(path: str) -> int:
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "little")


def _reseed_one(rng, child: np.random.SeedSequence) -> None:
    """Reseed one RNG object in place (every reference to it sees the new stream)."""
    if isinstance(rng, np.random.Generator):
        rng = rng.bit_generator
    if isinstance(rng, np.random.BitGenerator):
        rng.state = type(rng)(child).state
    elif isinstance(rng, np.random.RandomState):
        bits = type(rng._bit_generator)(child)
        rng.set_state({**bits.state, "has_gauss": 0, "gauss": 0.0})
    elif isinstance(rng, torch.Generator):
        rng.manual_seed(int(child.generate_state(1, np.uint64)[0]) & _MASK63)
    else:  # random.Random
        rng.seed(int(child.generate_state(2, np.uint64)[0]))


def reseed(
    seed: int, dataset=None, *, max_depth: int = MAX_DEPTH, skip: tuple = ()
) -> list[str]:
    """Seed NumPy's and Python's global RNGs and every RNG object `dataset` reaches
    (`find_rngs`) from one integer; return the paths of the objects reseeded.

    Each RNG object gets its own stream, from ``SeedSequence([seed, 1, key])`` with
    `key` a hash of its path: distinct from the global streams and from each other,
    and independent of how many other RNGs the walk found. Objects are reseeded in
    place (a NumPy ``Generator`` through its bit generator's state), so shared
    references stay shared. Not changed: a ``Generator``'s ``seed_seq`` (its
    ``spawn()`` children still come from the seed it was made with), and the RNGs
    in `skip`: pass there an RNG that must stay the same in every worker (e.g. one
    that shuffles a shared index list that each worker then shards).

    torch's global RNG is left alone: the worker loop already seeds it with the
    same `seed` (``base_seed + worker_id``)."""
    children = np.random.SeedSequence(seed & _MASK63).spawn(2)
    np.random.seed(children[0].generate_state(4))
    random.seed(int(children[1].generate_state(2, np.uint64)[0]))
    if dataset is None:
        return []
    found = find_rngs(dataset, max_depth=max_depth, skip=_global_rngs() + skip)
    for path, rng in found:
        _reseed_one(rng, np.random.SeedSequence([seed & _MASK63, 1, _path_key(path)]))
    return [path for path, _ in found]


def seed_worker(worker_id: int) -> None:
    """A `worker_init_fn` that makes draws distinct across workers and epochs and
    reproducible across runs, for global and dataset-held RNGs alike.

    It reads the worker's seed (``base_seed + worker_id``; ``base_seed`` is drawn
    from the loader's ``generator`` at every ``iter(loader)``) and calls `reseed`.
    Pass ``generator=torch.Generator().manual_seed(s)`` to the DataLoader as well,
    so the seeds do not depend on how much of torch's global RNG was used before.
    An RNG that must agree across workers (one shuffling an index list that each
    worker shards) needs your own init function: ``reseed(info.seed, info.dataset,
    skip=(info.dataset.shard_rng,))``.
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
