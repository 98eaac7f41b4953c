"""claimbook.timing.best_time: the fastest of several calls."""

import time

import pytest

from claimbook.timing import best_time


def test_it_is_the_fastest_of_the_calls():
    waits = iter([0.03, 0.001, 0.02])
    calls = []

    def fn():
        calls.append(1)
        time.sleep(next(waits))

    t = best_time(fn, reps=3)
    assert len(calls) == 3
    assert 0.001 <= t < 0.015  # the 1 ms call, not the 20-30 ms ones


def test_at_least_one_call():
    with pytest.raises(ValueError, match="at least one"):
        best_time(lambda: None, reps=0)


def test_a_cpu_device_does_not_touch_cuda(monkeypatch):
    import torch

    def boom():
        raise AssertionError("synchronized on a CPU device")

    monkeypatch.setattr(torch.cuda, "synchronize", boom)
    assert best_time(lambda: None, reps=2, device=torch.device("cpu")) >= 0


def test_a_cuda_device_waits_for_the_device(monkeypatch):
    import torch

    synced = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: synced.append(1))
    best_time(lambda: None, reps=4, device="cuda:0")
    assert len(synced) == 4
