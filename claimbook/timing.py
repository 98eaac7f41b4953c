"""Timing a call: the best of several runs, the one way the chapters time code.

Introduced in chapter 04 (DataLoader seeding), used again in chapter 06. The
fastest of a few runs estimates what a call costs with the least interference from
the rest of the machine (the mean and the median include the interruptions); on a
GPU, work is queued asynchronously, so each run waits for the device before the
clock stops. Timings vary between runs and machines: a chapter prints them in a
cell whose output nbval ignores, or decides on them only with a margin far wider
than that variation.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], reps: int = 3, *, device=None) -> float:
    """The fastest of `reps` calls of `fn()`, in seconds. With a CUDA `device`
    (a torch.device or a string), each call ends with `torch.cuda.synchronize()`."""
    if reps < 1:
        raise ValueError(f"reps={reps}; time at least one call")
    cuda = device is not None and str(device).startswith("cuda")
    if cuda:
        import torch
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best
