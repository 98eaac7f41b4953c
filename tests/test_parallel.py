import os

import pytest
import torch
from torch import nn

from claimbook.parallel import can_fork, map_replicates

needs_fork = pytest.mark.skipif(not can_fork(), reason="no fork start method here")


def _train(seed: int) -> tuple[int, torch.Tensor, int]:
    """A few SGD steps of a small conv net, seeded by `seed` alone."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 3, 12, 12, generator=g)
    y = torch.randint(0, 4, (16,), generator=g)
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    )  # fmt: skip
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(5):
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return seed, net[0].weight.detach().clone(), torch.get_num_threads()


@needs_fork
def test_workers_give_the_one_thread_results_in_order():
    seeds = [3, 1, 4, 1, 5]
    one = map_replicates(_train, seeds, processes=1)
    two = map_replicates(_train, seeds, processes=2)
    assert [s for s, _, _ in two] == seeds
    for (_, w1, t1), (_, w2, t2) in zip(one, two, strict=True):
        assert torch.equal(w1, w2)  # bit for bit: each replicate on one thread
        assert t1 == t2 == 1


@needs_fork
def test_the_callers_thread_count_is_restored():
    before = torch.get_num_threads()
    map_replicates(_train, [0], processes=1)
    assert torch.get_num_threads() == before


def _pid(_):
    return os.getpid()


@needs_fork
def test_workers_are_other_processes_and_a_gpu_runs_here():
    assert set(map_replicates(_pid, range(4), processes=2)) - {os.getpid()}
    assert map_replicates(_pid, range(3), device="cuda") == [os.getpid()] * 3


def _fail(x):
    if x == 2:
        raise ValueError("replicate 2 broke")
    return x


@needs_fork
def test_an_error_in_a_worker_reaches_the_caller():
    with pytest.raises(ValueError, match="replicate 2 broke"):
        map_replicates(_fail, range(4), processes=2)


def test_processes_must_be_positive():
    with pytest.raises(ValueError, match="processes must be >= 1"):
        map_replicates(_pid, [1], processes=0)


def test_a_notebook_style_closure_works():
    offset = 10
    assert map_replicates(lambda x: x + offset, [1, 2, 3], processes=2) == [11, 12, 13]
