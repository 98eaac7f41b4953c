"""Find every RNG object a dataset reaches: the walk behind `seeding.reseed`.

Introduced in chapter 04 (DataLoader seeding). `find_rngs(dataset)` walks what a
DataLoader worker's dataset reaches (its attributes, its transforms, their
containers and closures, the module globals its code reads) and returns each RNG
object (`RNG_TYPES`: NumPy ``Generator``/``BitGenerator``/``RandomState``,
``torch.Generator``, ``random.Random``) with the path it was found at.
"""

from __future__ import annotations

import collections
import dis
import functools
import random
import sys
import types
from collections.abc import Iterator

import numpy as np
import torch

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
