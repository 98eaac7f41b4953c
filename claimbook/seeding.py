"""Random draws in DataLoader workers: datasets that draw, a harness that
measures the draws, and a `worker_init_fn` that seeds every RNG correctly.

Introduced in chapter 04 (DataLoader seeding). The datasets live here (not in
the notebook) so that workers started with the ``spawn`` method can import them.

* `DrawDataset` / `DrawIterable`: each item is ``(index, worker id, draw)``, the
  draw coming from one random source (`SOURCES`), the stand-in for an augmentation
  parameter; `Draw` is the same draw made by a transform that owns its RNG.
* `collect`: run a loader for some epochs and return every draw (`Draws`); it
  always lets the workers finish (non-persistent loaders are exhausted, persistent
  ones are shut down in a ``finally``).
* `InheritParentNumpy`: reproduces torch < 1.9 under ``fork``, where workers kept
  the parent's NumPy global state.
* `seed_worker`: the fix. It derives every seed from the worker's torch seed
  (``get_worker_info().seed``, itself from the loader's ``generator``) through
  `numpy.random.SeedSequence`, and reseeds the global NumPy and Python RNGs and
  every RNG object the dataset reaches (`find_rngs`: its attributes, its
  transforms, their containers and closures, the module globals its code reads).
"""

from __future__ import annotations

import collections
import dis
import functools
import hashlib
import random
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

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
    "py_random",
)
"""Where a dataset's draw comes from: the three global RNGs, or an RNG object
created in the dataset's (or transform's) ``__init__``: a NumPy ``Generator``, a
``RandomState``, a ``torch.Generator`` or a ``random.Random``."""

_MASK63 = (1 << 63) - 1


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


# ------------------------------------------------------------------ the fix

RNG_TYPES = (
    np.random.Generator,
    np.random.BitGenerator,
    np.random.RandomState,
    torch.Generator,
    random.Random,
)
"""The RNG objects `find_rngs` looks for (subclasses included)."""

MAX_DEPTH = 16
"""How many steps from the dataset `find_rngs` walks by default (an RNG held by a
transform of a fastai ``Datasets``, seen from a fastai worker, is 8 steps deep:
``dataset.default.dataset.tls.items[0].tfms.<name>.rng``)."""

# never walked into: numbers and strings; arrays and tensors (data, not RNG
# holders); paths (anything with __fspath__, see `_kind`); modules (the global RNGs
# are reseeded directly); classes reached as values (a class is walked only as the
# class of an instance); code and frames
_LEAF_TYPES = (
    str,
    bytes,
    bytearray,
    int,
    float,
    complex,
    bool,
    type(None),
    memoryview,
    range,
    slice,
    np.ndarray,
    np.generic,
    np.dtype,
    torch.Tensor,
    torch.dtype,
    torch.device,
    types.ModuleType,
    type,
    types.CodeType,
    types.FrameType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    types.BuiltinFunctionType,  # a module-level builtin; bound ones are methods
)
_LEAF, _RNG, _DICT, _SEQ, _SET, _PARTIAL, _METHOD, _FUNC, _WRAPPED, _PROP, _OBJ = range(
    11
)
_KINDS: dict[type, int] = {}  # kind of each type met, computed once per type
_GLOBAL_NAMES: dict[types.CodeType, tuple[str, ...]] = {}  # bytecode reads


def _kind(obj) -> int:
    t = type(obj)
    k = _KINDS.get(t)
    if k is None:
        if issubclass(t, RNG_TYPES):
            k = _RNG
        elif issubclass(t, (types.MethodType, types.BuiltinMethodType)) and not (
            isinstance(getattr(obj, "__self__", None), types.ModuleType)
        ):
            k = _METHOD
        elif issubclass(t, _LEAF_TYPES) or any(
            "__fspath__" in vars(c) for c in t.__mro__
        ):
            k = _LEAF  # (os.PathLike, checked without the slow ABC machinery)
        elif issubclass(t, dict):
            k = _DICT
        elif issubclass(t, (list, tuple, collections.deque)):
            k = _SEQ
        elif issubclass(t, (set, frozenset)):
            k = _SET
        elif issubclass(t, functools.partial):
            k = _PARTIAL
        elif issubclass(t, types.FunctionType):
            k = _FUNC
        elif issubclass(t, (staticmethod, classmethod)):
            k = _WRAPPED
        elif issubclass(t, property):
            k = _PROP
        else:
            k = _OBJ
        if t is not types.BuiltinMethodType:  # its kind depends on __self__
            _KINDS[t] = k
    return k


def _global_rngs() -> tuple:
    """The process-wide RNGs `reseed` seeds itself (never reseeded twice)."""
    return (np.random.mtrand._rand, random._inst, torch.default_generator)


def _all_names(code: types.CodeType) -> Iterator[str]:
    """Every name a code object (and the code nested in it) uses: globals and
    attributes alike (cheap; `_global_names` tells them apart)."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _all_names(const)


_LOAD_GLOBAL, _LOAD_NAME = dis.opmap["LOAD_GLOBAL"], dis.opmap["LOAD_NAME"]
# from Python 3.11 LOAD_GLOBAL's argument is (name index << 1) | push-NULL flag
_GLOBAL_SHIFT = 1 if sys.version_info >= (3, 11) else 0


def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """Global names a code object (and the code nested in it) reads (cached).

    A direct scan of the bytecode's (opcode, argument) pairs: what
    ``dis.get_instructions`` reports as LOAD_GLOBAL / LOAD_NAME, without the
    line-number and position tables it also builds (ten times slower)."""
    names = _GLOBAL_NAMES.get(code)
    if names is None:
        raw, found, ext = code.co_code, [], 0
        for i in range(0, len(raw), 2):
            op, arg = raw[i], raw[i + 1] | ext
            ext = arg << 8 if op == dis.EXTENDED_ARG else 0
            if op == _LOAD_GLOBAL:
                found.append(code.co_names[arg >> _GLOBAL_SHIFT])
            elif op == _LOAD_NAME:
                found.append(code.co_names[arg])
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found += _global_names(const)
        names = _GLOBAL_NAMES[code] = tuple(dict.fromkeys(found))
    return names


def _module_name(func) -> str:
    name = func.__globals__.get("__name__", "?")
    return "__main__" if name == "__mp_main__" else name  # spawn renames __main__


def _function_children(func: types.FunctionType, path: str):
    """A function's closure cells, defaults, attributes, and the module globals its
    code reads that are RNGs or plain objects (not modules, classes, functions)."""
    code = func.__code__
    for name, cell in zip(code.co_freevars, func.__closure__ or (), strict=False):
        try:
            yield f"{path}.<{name}>", cell.cell_contents
        except ValueError:  # an empty cell
            pass
    if func.__defaults__:
        yield f"{path}.__defaults__", func.__defaults__
    if func.__kwdefaults__:
        yield f"{path}.__kwdefaults__", func.__kwdefaults__
    if func.__dict__:
        yield f"{path}.__dict__", func.__dict__
    g = func.__globals__
    # co_names mixes global and attribute names; the bytecode tells them apart,
    # and is read only when a name could be a global worth walking
    wanted = {
        n
        for n in _all_names(code)
        if n in g and _kind(g[n]) in (_RNG, _DICT, _SEQ, _PARTIAL, _METHOD, _OBJ)
    }
    if wanted:
        module = _module_name(func)
        for name in _global_names(code):
            if name in wanted:
                yield f"{module}:{name}", g[name]


def _instance_children(obj, path: str):
    """An object's instance attributes (``__dict__`` and ``__slots__``), read
    without calling any of its methods (no properties, no ``__getattr__``)."""
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        attrs = None
    if isinstance(attrs, dict):
        for name, value in list(dict.items(attrs)):
            yield f"{path}.{name}", value
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{cls.__name__.lstrip('_')}{name}"  # name mangling
            descr = cls.__dict__.get(name)
            try:
                yield f"{path}.{name}", descr.__get__(obj, cls)
            except AttributeError:  # an empty slot (or not a slot descriptor)
                pass


def _class_children(cls: type):
    """RNGs stored on a class, and its functions (for their closures, defaults and
    the module globals they read). Classes from ``builtins`` are skipped."""
    if cls.__module__ == "builtins":
        return
    for name, value in list(vars(cls).items()):
        if _kind(value) in (_RNG, _FUNC, _WRAPPED, _PROP):
            yield f"<{cls.__module__}.{cls.__qualname__}>.{name}", value


def _children(obj, kind: int, path: str, seen_classes: set):
    if kind == _FUNC:
        yield from _function_children(obj, path)
        return
    if kind == _WRAPPED:
        yield f"{path}.__func__", obj.__func__
        return
    if kind == _PROP:
        for name in ("fget", "fset", "fdel"):
            yield f"{path}.{name}", getattr(obj, name)
        return
    if kind == _SET:
        return  # no reproducible order: see `find_rngs`
    if kind == _DICT:
        for i, (k, v) in enumerate(list(dict.items(obj))):
            key = repr(k) if isinstance(k, (str, int)) else f"#{i}"
            yield f"{path}[{key}]", v
    elif kind == _SEQ:
        if isinstance(obj, list):
            items = list.copy(obj)  # the stored items, whatever __iter__ does
        elif isinstance(obj, tuple):
            items = tuple.__iter__(obj)
        else:
            items = list(obj)
        for i, v in enumerate(items):
            yield f"{path}[{i}]", v
    elif kind == _PARTIAL:
        yield f"{path}.func", obj.func
        yield f"{path}.args", obj.args
        yield f"{path}.keywords", obj.keywords
    elif kind == _METHOD:
        yield f"{path}.__self__", obj.__self__
        if isinstance(obj, types.MethodType):
            yield f"{path}.__func__", obj.__func__
        return
    yield from _instance_children(obj, path)
    for cls in type(obj).__mro__:
        if id(cls) not in seen_classes:
            seen_classes.add(id(cls))
            yield from _class_children(cls)


def find_rngs(
    root, *, max_depth: int = MAX_DEPTH, skip: tuple = ()
) -> list[tuple[str, object]]:
    """Every RNG object reachable from `root`, as ``(path, rng)`` pairs.

    A breadth-first walk of the object graph with a visited set (each object once,
    cycles are harmless) and a depth bound (`max_depth` steps from `root`). From
    each object it follows, without calling any of the object's own code:

    * instance attributes (``__dict__`` and ``__slots__``), and RNGs stored on the
      object's classes (not ``builtins``);
    * items of lists, tuples, deques and dict values (subclasses included:
      ``OrderedDict``, named tuples, fastai's ``L`` through its ``items``);
    * callables: ``functools.partial`` (function, arguments), bound methods (the
      object), functions (closure cells, defaults, attributes), and the functions
      of the classes it met (the methods of a dataset or transform);
    * module globals that the code of those functions reads by name, when they
      are RNGs or plain objects (e.g. a module-level ``rng = default_rng(0)`` used
      in ``__getitem__``, or a module-level ``Compose``).

    Not followed: sets (no reproducible order), NumPy object arrays, modules,
    classes reached as values, module-level functions reached only by name from
    other code, generator frames, and anything deeper than `max_depth`. Objects in
    `skip` (by identity) are neither reported nor walked. Paths name the first
    route found (shortest, then in attribute order), e.g.
    ``dataset.transform.transforms[1].rng`` or ``__main__:rng``.
    """
    seen = {id(o) for o in skip}
    seen_classes: set[int] = set()
    alive = [root]  # keeps every walked object alive, so ids stay unique
    found = []
    queue = collections.deque([(root, "dataset", 0)])
    while queue:
        obj, path, depth = queue.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        alive.append(obj)
        kind = _kind(obj)
        if kind == _RNG:
            found.append((path, obj))
        elif kind != _LEAF and depth < max_depth:
            for child_path, child in _children(obj, kind, path, seen_classes):
                if id(child) not in seen and _kind(child) != _LEAF:
                    queue.append((child, child_path, depth + 1))
    return found


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
    seed_all(seed)
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
