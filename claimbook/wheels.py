"""The 2018 library's own code, read from its wheels: offline after one fetch.

Introduced in chapter 10 (The 2018 code today). fastai 1.0 is pure Python and its
wheels are still on the package registry, so what a lesson's code did can be read
from the release that lesson ran on instead of being remembered or emulated. A
wheel is fetched once (``pip download --no-deps``, one version per call) into the
book's cache, beside the pretrained bodies, and is never installed: it needs the
torch of 2018. From it this module

* reads a file, or one function's or class's source (`read`, `source`);
* evaluates just that function or class where it is self-contained, with every
  name it needs injected explicitly (`evaluate`): e.g. ``Learner.lr_range`` with
  ``np`` and ``even_mults``;
* reads the code's structure from the AST without running it (`structure`):
  parameters and defaults, the methods a class offers, the order in which a
  function builds a list of layers.

Which release a lesson ran on is data here (`RELEASES`, `LESSONS`,
`lesson_release`), with its sources stated. Without the wheel in the cache every
reader raises `WheelMissing`, whose message names the wheel and the exact command
that fetches it; `then()` turns that into a "not checked here" result for a
chapter instead of an error.
"""

from __future__ import annotations

import ast
import builtins
import copy
import io
import linecache
import subprocess
import symtable
import sys
import textwrap
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

PACKAGE = "fastai"

# --------------------------------------------------------------------- the data
#
# fastai 1.0 releases from 1.0.9 to 1.0.39 (the course's weeks and a margin).
# version: (date in fastai's changelog, time the wheel was uploaded to PyPI, UTC).
# Sources: the release headings of fastai 1.0's CHANGES.md ("## 1.0.28
# (2018-11-19)"; repository fastai/fastai1, file CHANGES.md; the wheels do not
# ship it) and the registry's upload times (PyPI's JSON API,
# https://pypi.org/pypi/fastai/json, field upload_time_iso_8601 of each wheel).
# 1.0.23 has a changelog entry (2018-11-13) but no files on the registry.
RELEASES: dict[str, tuple[str, str | None]] = {
    "1.0.9": ("2018-10-20", "2018-10-20T17:40:05Z"),
    "1.0.10": ("2018-10-20", "2018-10-20T20:27:12Z"),
    "1.0.11": ("2018-10-20", "2018-10-20T21:00:34Z"),
    "1.0.12": ("2018-10-23", "2018-10-23T21:16:25Z"),
    "1.0.13": ("2018-10-24", "2018-10-24T22:55:20Z"),
    "1.0.14": ("2018-10-25", "2018-10-26T00:03:23Z"),
    "1.0.15": ("2018-10-28", "2018-10-28T18:13:58Z"),
    "1.0.16": ("2018-10-30", "2018-10-30T21:22:00Z"),
    "1.0.17": ("2018-10-30", "2018-10-30T23:37:13Z"),
    "1.0.18": ("2018-10-30", "2018-10-30T23:48:45Z"),
    "1.0.19": ("2018-11-03", "2018-11-03T23:36:54Z"),
    "1.0.20": ("2018-11-07", "2018-11-07T15:27:30Z"),
    "1.0.21": ("2018-11-08", "2018-11-09T00:32:16Z"),
    "1.0.22": ("2018-11-09", "2018-11-10T01:25:06Z"),
    "1.0.23": ("2018-11-13", None),
    "1.0.24": ("2018-11-13", "2018-11-14T02:04:26Z"),
    "1.0.25": ("2018-11-16", "2018-11-16T18:04:54Z"),
    "1.0.26": ("2018-11-16", "2018-11-17T00:49:54Z"),
    "1.0.27": ("2018-11-17", "2018-11-17T20:02:02Z"),
    "1.0.28": ("2018-11-19", "2018-11-19T22:24:59Z"),
    "1.0.29": ("2018-11-27", "2018-11-27T22:41:24Z"),
    "1.0.30": ("2018-11-28", "2018-11-28T16:15:15Z"),
    "1.0.31": ("2018-12-01", "2018-12-01T14:45:20Z"),
    "1.0.32": ("2018-12-02", "2018-12-02T14:57:46Z"),
    "1.0.33": ("2018-12-05", "2018-12-05T02:51:37Z"),
    "1.0.34": ("2018-12-06", "2018-12-06T17:30:05Z"),
    "1.0.35": ("2018-12-08", "2018-12-08T19:47:05Z"),
    "1.0.36": ("2018-12-08", "2018-12-09T03:04:58Z"),
    "1.0.37": ("2018-12-13", "2018-12-13T01:29:50Z"),
    "1.0.38": ("2018-12-18", "2018-12-19T02:09:12Z"),
    "1.0.39": ("2018-12-28", "2018-12-28T19:53:43Z"),
}

# Part 1 v3's seven lessons, taught in San Francisco; dates from the lesson notes'
# headings (shared/seeds/004_*.txt), topics paraphrased.
LESSONS: dict[int, tuple[str, str]] = {
    1: ("2018-10-22", "image classification"),
    2: ("2018-10-30", "data cleaning and production; SGD"),
    3: ("2018-11-08", "data blocks, multi-label, segmentation"),
    4: ("2018-11-13", "NLP, tabular data, collaborative filtering"),
    5: ("2018-11-19", "backpropagation, fine-tuning, from scratch"),
    6: ("2018-11-27", "regularisation, convolutions, data ethics"),
    7: ("2018-12-12", "ResNets, U-Nets, GANs"),
}

# US Pacific time in autumn 2018: daylight time (UTC-7) until 2018-11-04 09:00 UTC,
# standard time (UTC-8) after it. Enough for the table's window; no tz database.
_DST_END_2018 = datetime(2018, 11, 4, 9, 0, tzinfo=timezone.utc)


def pacific(uploaded_utc: str) -> datetime:
    """An upload time (ISO, UTC) as a naive San Francisco wall-clock time."""
    t = datetime.fromisoformat(uploaded_utc.replace("Z", "+00:00"))
    if (
        not datetime(2018, 10, 1, tzinfo=timezone.utc)
        <= t
        < datetime(2019, 3, 10, tzinfo=timezone.utc)
    ):
        raise ValueError(f"{uploaded_utc} is outside the table's window (autumn 2018)")
    offset = timedelta(hours=-7 if t < _DST_END_2018 else -8)
    return (t + offset).replace(tzinfo=None)


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def lesson_release(lesson: int) -> str:
    """The fastai release a lesson ran on: the newest one uploaded to the registry on
    or before the lesson's date, in San Francisco time (`lesson_release_rule`)."""
    if lesson not in LESSONS:
        raise KeyError(f"lesson {lesson}: Part 1 v3 had lessons {sorted(LESSONS)}")
    day = date.fromisoformat(LESSONS[lesson][0])
    out = [
        v
        for v, (_, up) in RELEASES.items()
        if up is not None and pacific(up).date() <= day
    ]
    if not out:
        raise LookupError(f"no release in the table before lesson {lesson}")
    return max(out, key=_vkey)


lesson_release_rule = (
    "the newest fastai release uploaded to the package registry on or before the "
    "lesson's date, in San Francisco time"
)

# lesson -> release, derived once from the data above
LESSON_RELEASE: dict[int, str] = {k: lesson_release(k) for k in LESSONS}

# the wheels the chapters read: every lesson's release
NEEDED: tuple[str, ...] = tuple(sorted(set(LESSON_RELEASE.values()), key=_vkey))


# -------------------------------------------------------------- the wheel cache


class WheelError(RuntimeError):
    """Something in a wheel that cannot be read or evaluated as asked."""


class WheelMissing(WheelError):
    """The wheel of a release is not in the cache (the message says how to get it)."""


def wheel_dir(root: Path | None = None) -> Path:
    """Where fetched wheels live: ``<cache_dir()>/wheels`` (beside the bodies)."""
    if root is not None:
        return Path(root)
    from .budget import cache_dir

    return cache_dir() / "wheels"


def wheel_name(version: str, package: str = PACKAGE) -> str:
    return f"{package}-{version}-py3-none-any.whl"


def fetch_command(
    version: str, root: Path | None = None, package: str = PACKAGE
) -> list[str]:
    """The one command that fetches a release's wheel into the cache."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        f"{package}=={version}",
        "-d",
        str(wheel_dir(root)),
    ]


def _shell(cmd: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(c) for c in cmd)


def wheel_path(version: str, root: Path | None = None, package: str = PACKAGE) -> Path:
    """The cached wheel of `version`; `WheelMissing` (with the command) if absent."""
    folder = wheel_dir(root)
    found = sorted(folder.glob(f"{package}-{version}-*.whl")) if folder.is_dir() else []
    if found:
        return found[0]
    raise WheelMissing(
        f"{package} {version}'s wheel ({wheel_name(version, package)}) is not in "
        f"{folder}; fetch it once with: {_shell(fetch_command(version, root, package))}"
        f" (or run `python -m claimbook`, which fetches every wheel the chapters read)"
    )


def available(version: str, root: Path | None = None) -> bool:
    """Whether the wheel of `version` is cached (no network)."""
    try:
        wheel_path(version, root)
        return True
    except WheelMissing:
        return False


def fetch(version: str, root: Path | None = None, *, timeout: float = 300) -> Path:
    """The wheel of `version`, downloaded once with `pip download --no-deps` (one
    version per call; never installed). Cached: returned without network."""
    try:
        return wheel_path(version, root)
    except WheelMissing:
        pass
    wheel_dir(root).mkdir(parents=True, exist_ok=True)
    cmd = fetch_command(version, root)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise WheelMissing(
            f"fetching {wheel_name(version)} took over {timeout:.0f} s; "
            f"command: {_shell(cmd)}"
        ) from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise WheelMissing(
            f"could not fetch {wheel_name(version)} (pip exit {proc.returncode}: "
            f"{tail}); command: {_shell(cmd)}"
        )
    return wheel_path(version, root)


@dataclass(frozen=True)
class Fetched:
    version: str
    path: Path | None
    error: str = ""


def fetch_all(
    versions: Iterable[str] = NEEDED, root: Path | None = None
) -> list[Fetched]:
    """Fetch every wheel in `versions` (default: the chapters' `NEEDED`), one pip
    call each; a failure is reported in the result, not raised."""
    out = []
    for v in versions:
        try:
            out.append(Fetched(v, fetch(v, root)))
        except WheelMissing as e:
            out.append(Fetched(v, None, str(e)))
    return out


# ----------------------------------------------------------------- reading code


@lru_cache(maxsize=64)
def _read(wheel: str, mtime: float, path: str) -> str:
    try:
        with zipfile.ZipFile(wheel) as z:
            return z.read(path).decode("utf-8")
    except KeyError:
        raise WheelError(f"{Path(wheel).name} has no file {path!r}") from None


def read(version: str, path: str, root: Path | None = None) -> str:
    """The text of one file of the wheel (e.g. ``fastai/basic_train.py``)."""
    wheel = wheel_path(version, root)
    return _read(str(wheel), wheel.stat().st_mtime, path)


def files(version: str, root: Path | None = None) -> list[str]:
    """Every file name in the wheel."""
    with zipfile.ZipFile(wheel_path(version, root)) as z:
        return z.namelist()


@lru_cache(maxsize=64)
def _parse(wheel: str, mtime: float, path: str) -> ast.Module:
    return ast.parse(_read(wheel, mtime, path), filename=path)


def _tree(version: str, path: str, root: Path | None) -> ast.Module:
    wheel = wheel_path(version, root)
    return _parse(str(wheel), wheel.stat().st_mtime, path)


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _named(body: list[ast.stmt], name: str) -> ast.stmt | None:
    """The last def/class called `name` in `body` (the one Python keeps)."""
    hits = [n for n in body if isinstance(n, _DEFS) and n.name == name]
    return hits[-1] if hits else None


def _patched(module: ast.Module, cls: str, name: str) -> ast.stmt | None:
    """A module-level ``cls.name = func`` (fastai 1.0 patches methods on so), as
    the def of `func`."""
    target = None
    for node in module.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            for t in node.targets:
                if (
                    isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and (t.value.id, t.attr) == (cls, name)
                ):
                    target = node.value.id
    return _named(module.body, target) if target else None


def _find(version: str, path: str, qualname: str, root: Path | None) -> ast.stmt:
    module = _tree(version, path, root)
    parts = qualname.split(".")
    body, node = module.body, None
    for part in parts:
        node = _named(body, part)
        if node is None:
            break
        body = getattr(node, "body", [])
    if node is None and len(parts) == 2:
        node = _patched(module, *parts)
    if node is None:
        raise WheelError(f"fastai {version}'s {path} defines no {qualname!r}")
    return node


def has(version: str, path: str, qualname: str, root: Path | None = None) -> bool:
    """Whether the wheel's `path` defines `qualname` (a function, a class, a method,
    or a method patched onto a class at module level). `WheelMissing` propagates."""
    try:
        _find(version, path, qualname, root)
        return True
    except WheelError as e:
        if isinstance(e, WheelMissing):
            raise
        return False


def _segment(version: str, path: str, node: ast.stmt, root: Path | None) -> str:
    lines = read(version, path, root).splitlines()
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return textwrap.dedent("\n".join(lines[first - 1 : node.end_lineno])) + "\n"


def source(version: str, path: str, qualname: str, root: Path | None = None) -> str:
    """The source of a function, class or method (``"Learner.lr_range"``) as it is
    in the wheel, decorators included, dedented."""
    return _segment(version, path, _find(version, path, qualname, root), root)


def quote(version: str, path: str, qualname: str, root: Path | None = None) -> str:
    """`source`, headed by where it comes from; without the wheel, a line saying
    it is not checked here and how to fetch it (for a chapter's printout)."""
    try:
        body = source(version, path, qualname, root)
    except WheelMissing as e:
        return f"# fastai {version}, {path}: not checked here ({e})\n"
    return f"# fastai {version}, {path}\n{body}"


# --------------------------------------------------------------- evaluating code


class _StripAnnotations(ast.NodeTransformer):
    """Drop the annotations of function arguments and returns (they document
    types and do nothing at run time); class-level annotations stay (a
    dataclass's fields are made of them)."""

    def _strip(self, node):
        a = node.args
        for arg in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
            if arg is not None:
                arg.annotation = None
        node.returns = None
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = _strip


def free_names(src: str) -> set[str]:
    """The global names a piece of module-level source reads and does not define
    itself (builtins excluded): what must be injected before it runs."""
    top = symtable.symtable(src, "<wheel>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned()}
    need: set[str] = set()

    def walk(table) -> None:
        for s in table.get_symbols():
            if not s.is_referenced() or s.is_assigned():
                continue
            if table.get_type() == "module" or s.is_global():
                need.add(s.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return need - defined - set(dir(builtins))


def evaluate(
    version: str,
    path: str,
    names: str | Sequence[str],
    *,
    inject: dict | None = None,
    root: Path | None = None,
):
    """Run just these functions/classes of the wheel and return them.

    `names`: one qualified name (returns the object) or several (returns a dict,
    all defined in one namespace so they may call each other). A method
    (``"Learner.lr_range"``) becomes a plain function taking ``self``. Argument
    and return annotations are dropped; every other global name the code reads
    must be in `inject` (e.g. ``{"np": numpy}``): a missing one raises
    `WheelError` naming it before anything runs. Zero-argument ``super()`` does
    not work outside the method's class.
    """
    single = isinstance(names, str)
    wanted = [names] if single else list(names)
    nodes = []
    for q in wanted:
        node = copy.deepcopy(_find(version, path, q, root))
        nodes.append(_StripAnnotations().visit(node))
    module = ast.fix_missing_locations(ast.Module(body=nodes, type_ignores=[]))
    src = ast.unparse(module)
    inject = dict(inject or {})
    missing = free_names(src) - set(inject)
    if missing:
        raise WheelError(
            f"fastai {version}'s {path}: {', '.join(wanted)} needs "
            f"{', '.join(sorted(missing))}; pass them in inject="
        )
    filename = f"<fastai {version}: {path}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns = {"__builtins__": builtins, "__name__": f"fastai_{version}", **inject}
    # dont_inherit: this module's `from __future__ import annotations` must not
    # turn the 2018 code's class annotations into strings
    exec(compile(src, filename, "exec", dont_inherit=True), ns)
    out = {q: ns[n.name] for q, n in zip(wanted, nodes, strict=False)}
    return out[wanted[0]] if single else out


# ----------------------------------------------------------- reading structure


def _src(node: ast.AST | None) -> str | None:
    return None if node is None else ast.unparse(node)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ast.unparse(node)


@dataclass(frozen=True)
class Structure:
    """What the AST says about one function, method or class of a wheel."""

    version: str
    path: str
    qualname: str
    kind: str  # "function" or "class"
    doc: str
    params: tuple[tuple[str, str | None], ...]  # (name, default's source)
    returns: str | None  # the return annotation's source
    bases: tuple[str, ...]
    methods: tuple[str, ...]  # a class's methods, with those patched on it
    fields: tuple[tuple[str, str | None], ...]  # a class's annotated attributes
    calls: tuple[str, ...]  # the names it calls, in source order
    node: ast.AST = field(repr=False, compare=False)

    def default(self, param: str) -> str | None:
        """The source of a parameter's default (None: no default)."""
        for name, d in self.params:
            if name == param:
                return d
        raise KeyError(f"{self.qualname} has no parameter {param!r}")

    def sequence(self, var: str) -> tuple[tuple[str, str | None], ...]:
        """The items a function puts in the list `var`, in order: the list it is
        first given, then each ``append``, ``extend`` or ``+=``; each with the
        condition of the ``if`` it sits in (None: unconditional)."""
        out: list[tuple[str, str | None]] = []

        def items(value: ast.AST) -> list[ast.AST]:
            return list(value.elts) if isinstance(value, (ast.List, ast.Tuple)) else []

        def visit(stmts, cond):
            for st in stmts:
                if isinstance(st, ast.If):
                    test = _src(st.test)
                    visit(st.body, test if cond is None else f"{cond} and {test}")
                    if st.orelse:
                        neg = f"not ({test})"
                        visit(st.orelse, neg if cond is None else f"{cond} and {neg}")
                    continue
                if isinstance(st, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == var for t in st.targets
                ):
                    out.extend((_src(e), cond) for e in items(st.value))
                elif (
                    isinstance(st, ast.AugAssign)
                    and isinstance(st.target, ast.Name)
                    and st.target.id == var
                ):
                    out.extend((_src(e), cond) for e in items(st.value))
                elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call):
                    f = st.value.func
                    if (
                        isinstance(f, ast.Attribute)
                        and isinstance(f.value, ast.Name)
                        and f.value.id == var
                        and st.value.args
                    ):
                        if f.attr == "append":
                            out.append((_src(st.value.args[0]), cond))
                        elif f.attr == "extend":
                            out.extend((_src(e), cond) for e in items(st.value.args[0]))
                for block in ("body", "orelse", "finalbody"):
                    if isinstance(st, (ast.For, ast.While, ast.With, ast.Try)):
                        visit(getattr(st, block, []), cond)

        visit(getattr(self.node, "body", []), None)
        return tuple(out)


def structure(
    version: str, path: str, qualname: str, root: Path | None = None
) -> Structure:
    """The structure of a function, method or class of the wheel, from its AST
    (nothing is run): parameters and defaults, return annotation, a class's
    bases and methods, the calls in source order, and `Structure.sequence`."""
    node = _find(version, path, qualname, root)
    params: tuple = ()
    returns = None
    bases: tuple = ()
    methods: tuple = ()
    fields: tuple = ()
    if isinstance(node, ast.ClassDef):
        kind = "class"
        bases = tuple(_dotted(b) for b in node.bases)
        fields = tuple(
            (n.target.id, _src(n.value))
            for n in node.body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
        )
        own = [n.name for n in node.body if isinstance(n, _DEFS)]
        module = _tree(version, path, root)
        patched = [
            t.attr
            for st in module.body
            if isinstance(st, ast.Assign)
            for t in st.targets
            if isinstance(t, ast.Attribute)
            and isinstance(t.value, ast.Name)
            and t.value.id == node.name
        ]
        methods = tuple(dict.fromkeys(own + patched))
    else:
        kind = "function"
        a = node.args
        pos = a.posonlyargs + a.args
        defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
        params = tuple((p.arg, _src(d)) for p, d in zip(pos, defaults, strict=False))
        params += tuple(
            (p.arg, _src(d)) for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=False)
        )
        returns = _src(node.returns)
    calls = tuple(
        _dotted(n.func)
        for n in sorted(
            (n for n in ast.walk(node) if isinstance(n, ast.Call)),
            key=lambda n: (n.lineno, n.col_offset),
        )
    )
    return Structure(
        version,
        path,
        qualname,
        kind,
        ast.get_docstring(node) or "",
        params,
        returns,
        bases,
        methods,
        fields,
        calls,
        node,
    )


def where(version: str, name: str, root: Path | None = None) -> list[str]:
    """Every ``path:qualname`` of the wheel that defines `name` (a module-level
    function or class, a method, or a method patched onto a class)."""
    out = []
    for path in files(version, root):
        if not path.endswith(".py"):
            continue
        module = _tree(version, path, root)
        for node in module.body:
            if isinstance(node, _DEFS) and node.name == name:
                out.append(f"{path}:{name}")
            if isinstance(node, ast.ClassDef):
                if _named(node.body, name) is not None:
                    out.append(f"{path}:{node.name}.{name}")
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if (
                        isinstance(t, ast.Attribute)
                        and isinstance(t.value, ast.Name)
                        and t.attr == name
                    ):
                        out.append(f"{path}:{t.value.id}.{name}")
    return sorted(set(out))


# ----------------------------------------------------- the 'then' of a verdict


@dataclass(frozen=True)
class Then:
    """The 2018 side of a claim, measured on a release's own code, or not checked
    here because its wheel is missing (`missing` says how to fetch it)."""

    version: str
    held: bool | None
    what: str  # what was read or run, e.g. "fastai/basic_data.py: DataBunch"
    detail: str = ""  # the measured value, for the chapter's printout
    missing: str = ""

    @property
    def checked(self) -> bool:
        return self.held is not None

    @property
    def source(self) -> str:
        """The words for `record(then=...)`."""
        return f"measured on fastai {self.version}'s code ({self.what})"

    def record_args(self, holds_now: bool | None) -> dict:
        """`record()` arguments for a claim whose 2018 side is this: outdated when
        it held then and fails now; holds (the 2018 side said in `then`) when it
        holds now, whether or not it held then; not checked when the wheel is
        missing and the claim fails now (whether it ever held is then unknown)."""
        if not self.checked and holds_now is False:
            return {"holds": None, "reason": f"the 2018 side: {self.missing}"}
        if not self.checked:
            return {"holds": holds_now}
        if holds_now and not self.held:  # holds today, did not then: it holds; the
            # 2018 side is a note, not a verdict (record() has no "fixed since" word)
            return {"holds": True, "then": f"{self.source}; it did not hold then"}
        return {"holds": holds_now, "held_then": self.held, "then": self.source}

    def __str__(self) -> str:
        if not self.checked:
            return f"then (fastai {self.version}): not checked here ({self.missing})"
        text = f"then (fastai {self.version}, {self.what}): held={self.held}"
        return text + (f"; {self.detail}" if self.detail else "")


def then(
    version: str,
    check: Callable[[], bool | tuple[bool, str]],
    what: str,
) -> Then:
    """Run `check` (which reads `version`'s wheel) and keep its answer; a missing
    wheel gives a `Then` that says "not checked here" instead of raising.
    `check` returns the answer, or (answer, a short text of what it measured)."""
    try:
        res = check()
    except WheelMissing as e:
        return Then(version, None, what, missing=str(e))
    held, detail = res if isinstance(res, tuple) else (res, "")
    return Then(version, bool(held), what, detail)


def build_wheel(
    dest: Path, files: dict[str, str], version: str = "0.0.1", package: str = PACKAGE
) -> Path:
    """A minimal wheel (a zip holding `files`) named as the registry names them:
    for tests and for reading code that is not on the registry."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / wheel_name(version, package)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        z.writestr(
            f"{package}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n",
        )
    path.write_bytes(buf.getvalue())
    return path
