"""Independent replicates in parallel processes: `map_replicates`.

Some replicates cannot be batched into one stacked model (a convolutional
fine-tune through fastai's optimizer is one model at a time). They are still
independent: each seeds its own data draw, initialisation and order. On the CPU,
tiny convolutions use two threads badly (most of a step is per-call overhead),
so two processes on one thread each finish about twice as fast as one process on
two threads.

The result does not depend on how many processes run: every replicate runs on
one thread (in a worker, or in this process when ``processes=1``), and a
replicate's numbers depend only on its own seeds. A GPU (or a platform without
the ``fork`` start method) runs the replicates here, one after the other, on the
threads it has.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from typing import Any

_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _run(i: int) -> Any:
    assert _JOB is not None, "map_replicates' job is set before the pool forks"
    fn, items = _JOB
    return fn(items[i])


def can_fork() -> bool:
    """Whether this platform offers the ``fork`` start method (Linux does)."""
    return "fork" in mp.get_all_start_methods()


def map_replicates(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    processes: int = 2,
    device: str = "cpu",
) -> list[Any]:
    """``[fn(item) for item in items]``, each call on one thread.

    On the CPU with ``processes > 1``, the calls run in that many forked worker
    processes (the function and items reach them through the fork, so a function
    defined in a notebook works; results come back pickled, so return plain data:
    numbers, arrays, tensors, dataclasses, not models with optimizers). On a GPU
    they run here in order, on the current thread count (CUDA does not survive a
    fork, and a GPU does not need the help).
    """
    global _JOB
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    items = list(items)
    if str(device) != "cpu" or not can_fork():
        return [fn(x) for x in items]
    import torch

    if processes == 1 or len(items) <= 1:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return [fn(x) for x in items]
        finally:
            torch.set_num_threads(threads)
    _JOB = (fn, items)
    try:
        ctx = mp.get_context("fork")
        n = min(processes, len(items), os.cpu_count() or processes)
        with ctx.Pool(n, initializer=_worker_init) as pool:
            return pool.map(_run, range(len(items)), chunksize=1)
    finally:
        _JOB = None
