"""claimbook.seeding (chapter 04): the worker-seeding table, measured, and the fix.

Every row of the chapter's table is measured twice, without and with `seed_worker`;
the worker experiments are repeated 10 times to show they are not flaky; every test
checks that no worker process outlives it. RNGs held by transforms (an attribute of
a transform, in a torchvision ``Compose``, a list, a dict, a closure, a default
argument, a module global) are found by `find_rngs` and reseeded by `seed_worker`.
"""

import functools
import multiprocessing as mp
import random

import numpy as np
import pytest
import torch
from torch.utils.data._utils.worker import _generate_state
from torchvision.transforms import Compose

from claimbook.drawcheck import SOURCES, Draw, DrawDataset, Row, collect, measure
from claimbook.rngwalk import MAX_DEPTH, find_rngs
from claimbook.seeding import InheritParentNumpy, reseed, seed_worker

RNG_OBJECT_SOURCES = ["np_generator", "np_randomstate", "torch_generator", "py_random"]


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
    (
        "np Generator in a transform",
        {"make_transform": functools.partial(Draw, "np_generator")},
        (1.0, 1.0, True, True),
    ),
    (
        "random.Random in a Compose",
        {"make_transform": lambda s: Compose([Draw("py_random", s)])},
        (1.0, 1.0, True, True),
    ),
]
IDS = [r[0] for r in ROWS]


def _as_tuple(row: Row):
    return (
        row.dup_across_workers,
        row.dup_across_epochs,
        row.reproducible,
        row.seed_sensitive,
    )


@pytest.mark.parametrize(("name", "kw", "expected"), ROWS, ids=IDS)
def test_table_row_without_fix(name, kw, expected):
    assert _as_tuple(measure(**kw)) == expected


@pytest.mark.parametrize(("name", "kw", "expected"), ROWS, ids=IDS)
def test_seed_worker_makes_every_row_green(name, kw, expected):
    row = measure(worker_init_fn=seed_worker, **kw)
    assert _as_tuple(row) == (0.0, 0.0, True, True)
    assert row.ok


def _compose_of_draws(seed):  # module level: spawn pickles the transform it builds
    return Compose([Draw("np_randomstate", seed)])


@pytest.mark.parametrize(
    ("init_fn", "make_transform"),
    [(None, None), (seed_worker, None), (seed_worker, _compose_of_draws)],
    ids=["no fix", "seed_worker", "seed_worker, RNG in a Compose"],
)
def test_spawn_row_matches_fork(init_fn, make_transform):
    """spawn is slow (each worker imports torch): one run, compared with fork's.
    With the fix, spawn's draws equal fork's: the worker's copy of the dataset is
    walked the same way and every RNG's stream is keyed by its path."""
    kw = {
        "persistent_workers": True,
        "source": "np_generator",
        "worker_init_fn": init_fn,
        "make_transform": make_transform,
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
        for kw, ref in zip(configs, first, strict=False):
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


# ------------------------------------------------- RNGs held by transforms (the walk)


class Steps:
    """A pipeline that keeps its transforms in a dict (name -> transform)."""

    def __init__(self, **steps):
        self.steps = dict(steps)

    def __call__(self, x):
        for f in self.steps.values():
            x = f(x)
        return x


def _apply(f, x):
    return f(x)


_GLOBAL_DRAW = None  # set by `_held_as_module_global`, read by `_global_transform`


def _global_transform(x):
    return _GLOBAL_DRAW(x)


def _held_as_module_global(source, seed):
    global _GLOBAL_DRAW
    _GLOBAL_DRAW = Draw(source, seed)
    return _global_transform


def _held_in_closure(source, seed):
    d = Draw(source, seed)
    return lambda x: d(x)


def _held_as_default(source, seed):
    # a draw made once, when the function is defined: the case under test
    def f(x, d=Draw(source, seed)):  # noqa: B008
        return d(x)

    return f


# where a transform keeps its RNG: name -> (source, seed) -> transform
HOLDERS = {
    "transform attribute": lambda src, s: Draw(src, s),
    "torchvision Compose (list)": lambda src, s: Compose([float, Draw(src, s)]),
    "dict of transforms": lambda src, s: Steps(scale=float, jitter=Draw(src, s)),
    "functools.partial": lambda src, s: functools.partial(_apply, Draw(src, s)),
    "bound method": lambda src, s: Draw(src, s).__call__,
    "closure": _held_in_closure,
    "default argument": _held_as_default,
    "module global": _held_as_module_global,
}
RNG_TYPE = {
    "np_generator": np.random.Generator,
    "np_randomstate": np.random.RandomState,
    "torch_generator": torch.Generator,
    "py_random": random.Random,
}


def _transform_draws(source, holder, init_fn):
    make = functools.partial(HOLDERS[holder], source)
    d = collect(epochs=2, make_transform=make, worker_init_fn=init_fn)
    e0 = d.epoch == 0
    across_workers = np.isin(
        d.value[e0 & (d.worker == 0)], d.value[e0 & (d.worker == 1)]
    )
    across_epochs = np.isin(d.by_epoch(1), d.by_epoch(0))
    return across_workers.mean(), across_epochs.mean()


@pytest.mark.parametrize("source", RNG_OBJECT_SOURCES)
def test_rng_in_a_compose_duplicates_without_the_fix_and_not_with_it(source):
    holder = "torchvision Compose (list)"
    assert _transform_draws(source, holder, None) == (1.0, 1.0)
    assert _transform_draws(source, holder, seed_worker) == (0.0, 0.0)


@pytest.mark.parametrize("holder", [h for h in HOLDERS if "Compose" not in h])
def test_every_holder_duplicates_without_the_fix_and_not_with_it(holder):
    assert _transform_draws("np_generator", holder, None) == (1.0, 1.0)
    assert _transform_draws("np_generator", holder, seed_worker) == (0.0, 0.0)


@pytest.mark.parametrize("source", RNG_OBJECT_SOURCES)
@pytest.mark.parametrize("holder", list(HOLDERS))
def test_find_rngs_finds_the_rng_wherever_the_transform_keeps_it(holder, source):
    ds = DrawDataset(8, transform=HOLDERS[holder](source, 0))
    found = find_rngs(ds)
    assert len(found) == 1
    assert isinstance(found[0][1], RNG_TYPE[source])

    def draws(seed):
        reseed(seed, ds)
        return [ds[i][2] for i in range(8)]

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_rng_stored_on_the_dataset_class_is_found():
    class ClassHeld(DrawDataset):
        rng_for_all = np.random.default_rng(0)

    paths = [p for p, _ in find_rngs(ClassHeld(4, "numpy"))]
    assert any(p.endswith("ClassHeld>.rng_for_all") for p in paths)


def test_walk_survives_cycles_and_respects_depth_and_skip():
    class Node:
        pass

    a, b = Node(), Node()
    a.b, b.a = b, a  # a cycle
    a.rng = np.random.default_rng(0)
    assert [p for p, _ in find_rngs(a)] == ["dataset.rng"]
    assert find_rngs(a, skip=(a.rng,)) == []
    deep = Node()
    node = deep
    for _ in range(MAX_DEPTH):  # the RNG sits MAX_DEPTH + 1 steps below `deep`
        node.next = Node()
        node = node.next
    node.rng = random.Random(0)
    assert find_rngs(deep) == []
    assert len(find_rngs(deep, max_depth=MAX_DEPTH + 1)) == 1


def test_walk_calls_none_of_the_objects_code():
    class Booby:
        @property
        def boom(self):
            raise AssertionError("a property was called")

        def __getattr__(self, name):
            raise AssertionError("__getattr__ was called")

    class BoobyList(list):
        def __iter__(self):
            raise AssertionError("__iter__ was called")

    class Slotted:
        __slots__ = ("__hidden", "empty")

        def __init__(self):
            self.__hidden = torch.Generator()

    holder = Booby()
    holder.__dict__["items"] = BoobyList([Slotted()])
    found = find_rngs(holder)
    assert [p for p, _ in found] == ["dataset.items[0]._Slotted__hidden"]


def test_sets_are_not_walked():
    holder = Steps(bag={Draw("np_generator", 0)})
    assert find_rngs(holder) == []


def test_shared_rng_is_reseeded_once_and_stays_shared():
    rng = np.random.default_rng(0)
    holder = Steps(a=functools.partial(_apply, rng), b=[rng])
    assert reseed(3, holder) == ["dataset.steps['b'][0]"]  # the shortest path
    assert holder.steps["a"].args[0] is holder.steps["b"][0] is rng
    first = rng.random()
    reseed(3, holder)
    assert rng.random() == first  # in place, from the same path-keyed stream


def test_a_new_rng_elsewhere_does_not_change_the_others_streams():
    def draws(extra):
        holder = Steps(jitter=Draw("np_generator", 0))
        if extra:
            holder.first = random.Random(0)  # found first, walked first
        reseed(11, holder)
        return holder.steps["jitter"].rng.random(4).tolist()

    assert draws(False) == draws(True)


def test_global_rngs_are_seeded_once_not_walked():
    holder = Steps(
        np_global=np.random.mtrand._rand, torch_global=torch.default_generator
    )
    assert reseed(7, holder) == []
    after = np.random.get_state()[1].copy()
    reseed(7)
    assert np.array_equal(np.random.get_state()[1], after)


def test_randomstate_on_another_bit_generator_is_reseeded_gauss_cache_cleared():
    rs = np.random.RandomState(np.random.PCG64(0))
    holder = Steps(rs=rs)
    reseed(2, holder)
    expected = rs.standard_normal(3).tolist()
    assert rs.get_state(legacy=False)["has_gauss"] == 1  # a cached normal
    reseed(2, holder)
    assert rs.standard_normal(3).tolist() == expected


def test_bytecode_scan_reads_the_same_globals_as_dis():
    import dis
    import types

    import fastai.data.load
    import torch.utils.data.dataloader

    from claimbook import drawcheck, rngwalk, seeding

    def by_dis(code):
        names = [
            i.argval
            for i in dis.get_instructions(code)
            if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")
        ]
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names += by_dis(const)
        return tuple(dict.fromkeys(names))

    codes = []
    modules = (rngwalk, seeding, drawcheck, fastai.data.load)
    modules += (torch.utils.data.dataloader,)
    for module in modules:
        for obj in vars(module).values():
            if isinstance(obj, type):  # a class: its methods
                codes += [
                    f.__code__
                    for f in vars(obj).values()
                    if isinstance(f, types.FunctionType)
                ]
            elif isinstance(obj, types.FunctionType):
                codes.append(obj.__code__)
    assert len(codes) > 100
    assert all(rngwalk._global_names(c) == by_dis(c) for c in codes)


def test_a_fastai_transforms_rng_is_found_from_a_fastai_worker_view():
    from fastai.data.all import Datasets, TfmdDL, Transform

    class Jitter(Transform):
        def __init__(self):
            self.rng = np.random.default_rng(0)

        def encodes(self, x: float):
            return x + self.rng.random()

    dl = TfmdDL(Datasets([0.0] * 8, tfms=[[Jitter()]]), bs=4, num_workers=2)
    paths = reseed(3, dl.fake_l)  # what get_worker_info().dataset is in fastai
    assert "dataset.default.dataset.tls.items[0].tfms.jitter.rng" in paths
