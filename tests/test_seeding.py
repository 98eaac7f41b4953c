"""claimbook.seeding (chapter 04): the worker-seeding table, measured, and the fix.

Every row of the chapter's table is measured twice, without and with `seed_worker`;
the worker experiments are repeated 10 times to show they are not flaky; every test
checks that no worker process outlives it.
"""

import multiprocessing as mp

import numpy as np
import pytest
import torch
from torch.utils.data._utils.worker import _generate_state

from claimbook.seeding import (
    SOURCES,
    DrawDataset,
    InheritParentNumpy,
    Row,
    collect,
    measure,
    reseed,
    seed_worker,
)


def notes_fix(worker_id):
    """The notes' worker_init_fn, verbatim."""
    np.random.seed(np.random.get_state()[1][0] + worker_id)


@pytest.fixture(autouse=True)
def _no_leaked_workers():
    yield
    assert mp.active_children() == [], "a DataLoader worker outlived its test"


# (row name, collect() options, expected Row without the fix as
#  (dup across workers, dup across epochs, reproducible, seed-sensitive))
ROWS = [
    ("global np.random", {}, (0.0, 0.0, True, True)),
    ("python random", {"source": "python"}, (0.0, 0.0, True, True)),
    ("torch global RNG", {"source": "torch"}, (0.0, 0.0, True, True)),
    ("np Generator in __init__", {"source": "np_generator"}, (1.0, 1.0, True, True)),
    ("RandomState in __init__", {"source": "np_randomstate"}, (1.0, 1.0, True, True)),
    (
        "torch.Generator in __init__",
        {"source": "torch_generator"},
        (1.0, 1.0, True, True),
    ),
    (
        "persistent, global np.random",
        {"persistent_workers": True},
        (0.0, 0.0, True, True),
    ),
    (
        "persistent, np Generator",
        {"persistent_workers": True, "source": "np_generator"},
        (1.0, 0.0, True, True),
    ),
    ("IterableDataset, global np.random", {"iterable": True}, (0.0, 0.0, True, True)),
    (
        "IterableDataset, np Generator",
        {"iterable": True, "source": "np_generator"},
        (1.0, 1.0, True, True),
    ),
    ("torch < 1.9, global np.random", {"old_torch": True}, (1.0, 1.0, True, True)),
]
IDS = [r[0] for r in ROWS]


def _as_tuple(row: Row):
    return (
        row.dup_across_workers,
        row.dup_across_epochs,
        row.reproducible,
        row.seed_sensitive,
    )


@pytest.mark.parametrize("name,kw,expected", ROWS, ids=IDS)
def test_table_row_without_fix(name, kw, expected):
    assert _as_tuple(measure(**kw)) == expected


@pytest.mark.parametrize("name,kw,expected", ROWS, ids=IDS)
def test_seed_worker_makes_every_row_green(name, kw, expected):
    row = measure(worker_init_fn=seed_worker, **kw)
    assert _as_tuple(row) == (0.0, 0.0, True, True) and row.ok


@pytest.mark.parametrize("init_fn", [None, seed_worker], ids=["no fix", "seed_worker"])
def test_spawn_row_matches_fork(init_fn):
    """spawn is slow (each worker imports torch): one run, compared with fork's."""
    kw = {
        "persistent_workers": True,
        "source": "np_generator",
        "worker_init_fn": init_fn,
    }
    fork = collect(epochs=2, **kw)
    row = measure(context="spawn", reference=fork, **kw)
    expected = (1.0, 0.0, True, None) if init_fn is None else (0.0, 0.0, True, None)
    assert _as_tuple(row) == expected


def test_notes_fix_separates_workers_but_repeats_epochs():
    today = measure(worker_init_fn=notes_fix)
    old = measure(worker_init_fn=notes_fix, old_torch=True)
    assert _as_tuple(today) == (0.0, 1.0, True, False)  # today it even ignores the seed
    assert _as_tuple(old) == (0.0, 1.0, True, True)
    # today every worker w draws the stream of np.random.seed(2**31 + w)
    first = today.draws.stream(0, 0)
    assert np.array_equal(first, np.random.RandomState(2**31).random(len(first)))


def test_worker_experiments_are_not_flaky():
    """The chapter's key experiments, 10 times in a row: identical results each time."""
    configs = [
        {},
        {"old_torch": True},
        {"source": "np_generator"},
        {"worker_init_fn": notes_fix},
        {
            "source": "np_generator",
            "persistent_workers": True,
            "worker_init_fn": seed_worker,
        },
    ]
    first = [collect(epochs=2, **kw) for kw in configs]
    for _ in range(9):
        for kw, ref in zip(configs, first):
            d = collect(epochs=2, **kw)
            assert np.array_equal(d.value, ref.value)
            assert np.array_equal(d.worker, ref.worker)
            assert mp.active_children() == []


def test_generator_argument_decouples_from_global_torch_rng():
    kw = {"epochs": 1, "worker_init_fn": seed_worker}
    plain = collect(**kw).value, collect(consume_torch_rng=100, **kw).value
    gen = (
        collect(generator_seed=7, **kw).value,
        collect(generator_seed=7, consume_torch_rng=100, **kw).value,
    )
    assert not np.array_equal(*plain)  # building a model first changes the draws
    assert np.array_equal(*gen)  # unless the loader has its own generator


# ------------------------------------------------------------------ in-process units


def test_torch_generate_state_is_numpy_seedsequence():
    for base, wid in [(0, 0), (1, 1), (2**40 + 5, 1), (2**63 - 1, 3)]:
        ours = np.random.SeedSequence(wid + (base << 32)).generate_state(4).tolist()
        assert _generate_state(base, wid) == ours
        np.random.seed(_generate_state(base, wid))
        assert np.random.get_state()[1][0] == 0x80000000  # init_by_array's first word


def test_legacy_int_seed_is_first_key_word_until_first_draw():
    np.random.seed(1234)
    assert np.random.get_state()[1][0] == 1234
    np.random.random()
    assert np.random.get_state()[1][0] != 1234


@pytest.mark.parametrize("source", SOURCES)
def test_reseed_is_exact_and_seed_dependent(source):
    def draws(seed):
        ds = DrawDataset(8, source, seed=0)
        torch.manual_seed(seed)  # the worker loop does this for the torch source
        reseed(seed, ds)
        return [ds[i][2] for i in range(8)]

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_reseed_gives_dataset_rngs_streams_distinct_from_globals():
    ds = DrawDataset(4, "np_generator")
    reseed(3, ds)
    assert not np.isin(ds.rng.random(50), np.random.random(50)).any()


def test_seed_worker_outside_a_worker_is_a_no_op():
    state = np.random.get_state()
    seed_worker(0)
    assert np.array_equal(np.random.get_state()[1], state[1])


def test_inherit_parent_numpy_restores_the_captured_state():
    np.random.seed(9)
    init = InheritParentNumpy()
    expected = np.random.random(3)
    np.random.seed(123)
    init(0)
    assert np.array_equal(np.random.random(3), expected)
