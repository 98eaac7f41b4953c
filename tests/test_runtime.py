"""claimbook.runtime.setup(): seeds, threads, fastai quiet, guard mode; and the
package's import graph (no side effects, no circle)."""

import ast
import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from claimbook import claims
from claimbook.runtime import setup
from tests.conftest import ROOT, _global_state, _restore


def test_setup_seeds_and_prints(no_env_budget, capsys):
    b = setup()
    a = torch.rand(3)
    out = capsys.readouterr().out
    setup(quiet=True)
    assert torch.equal(a, torch.rand(3))
    assert "name             'small'" in out
    assert out.splitlines()[-1].startswith("versions: python")
    assert torch.get_num_threads() == b.threads


def test_setup_silences_fastai_on_small_budget(no_env_budget):
    from fastai.callback.progress import ProgressCallback
    from fastai.learner import defaults

    from claimbook.callbacks import QuietRecorder

    setup(quiet=True)
    assert ProgressCallback not in defaults.callbacks
    assert defaults.callbacks.count(QuietRecorder) == 1
    setup(quiet=True)  # idempotent
    assert defaults.callbacks.count(QuietRecorder) == 1
    with _lessons_data_present():
        setup("full", quiet=True)  # the full budget keeps fastai's progress bars
    assert QuietRecorder not in defaults.callbacks
    assert defaults.callbacks.count(ProgressCallback) == 1


@contextlib.contextmanager
def _lessons_data_present():
    """Pretend Pets and the ResNet-34 weights are on disk (setup() checks both)."""
    from claimbook import pets, weights

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pets, "pets_path", lambda **kw: None)
        mp.setattr(weights, "require_weights", lambda *a, **kw: None)
        yield


def test_setup_on_the_lessons_data_fails_early_and_clearly(
    no_env_budget, monkeypatch, tmp_path
):
    from claimbook.pets import PetsUnavailable

    monkeypatch.setenv("CLAIMBOOK_PETS", str(tmp_path / "nowhere"))
    with pytest.raises(PetsUnavailable, match="nowhere"):
        setup("mini", quiet=True)


def test_setup_sets_the_guard_mode(no_env_budget, monkeypatch, capsys):
    setup(quiet=True)
    with pytest.raises(claims.VerdictMismatch):
        claims.record("fd-xent", holds=False, evidence="x", expect=claims.HOLDS)
    monkeypatch.setenv("CLAIMBOOK_SEED", "3")
    setup(quiet=True)
    capsys.readouterr()
    v = claims.record("fd-xent", holds=False, evidence="x", expect=claims.HOLDS)
    out = capsys.readouterr().out.splitlines()
    assert v.verdict == claims.FAILS
    assert len(out) == 2
    assert claims.parse_line(out[0])["verdict"] == claims.FAILS
    assert "committed chapter, which found 'holds'" in out[1]
    assert "CLAIMBOOK_SEED=3" in out[1]
    assert claims.parse_line(out[1]) is None


def test_global_state_is_restored_after_setup(no_env_budget):
    """The conftest fixture undoes what setup() changes (so test order is free)."""
    import matplotlib
    from fastai.learner import defaults

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(False)
    before = _global_state()
    setup(quiet=True)
    assert torch.get_num_threads() == 2
    assert torch.are_deterministic_algorithms_enabled()
    assert matplotlib.rcParams["figure.dpi"] == 72
    _restore(before)
    after = _global_state()
    assert after["threads"] == 1
    assert not after["deterministic"]
    assert after["fastai_callbacks"] == before["fastai_callbacks"] == defaults.callbacks
    assert after["rc"] == before["rc"]
    assert after["warnings"] == before["warnings"]


def test_importing_the_package_has_no_side_effects(tmp_path):
    code = (
        "import random, torch; s = torch.initial_seed(); r = random.getstate();"
        "import claimbook, claimbook.data, claimbook.claims, claimbook.plotting;"
        "assert torch.initial_seed() == s and random.getstate() == r;"
        "import sys; assert 'fastai' not in sys.modules, 'fastai imported on import';"
        "assert 'bookbuild' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


MODULES = [p.stem for p in (ROOT / "claimbook").glob("*.py") if p.stem != "__init__"]


def _package_imports(path: Path, *, top_level: bool) -> set[str]:
    """The package modules a module's source imports: at module level only, or
    anywhere (function-level imports included)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level else list(ast.walk(tree))
    deps = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                deps.add(node.module.split(".")[0])
            else:
                deps.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "claimbook."
        ):
            deps.add(node.module.split(".")[1])
    return deps - {path.stem}


def _closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(edges.get(m, ()))
    return seen


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_exactly_what_its_source_says(name, tmp_path):
    """Import one module first, in a fresh interpreter: the package modules loaded
    are exactly those its module-level imports (and the package's __init__, which
    every import runs first) name, followed through. A module that reaches others
    some hidden way (importlib, an import at module level inside a function call,
    a star import) fails here."""
    edges = {
        p.stem: _package_imports(p, top_level=True)
        for p in (ROOT / "claimbook").glob("*.py")
    }
    expected = {f"claimbook.{m}" for m in _closure({name} | edges["__init__"], edges)}
    expected = (expected - {"claimbook.__init__"}) | {"claimbook"}
    code = (
        "import importlib, sys, json;"
        f"importlib.import_module('claimbook.{name}');"
        "mods = [m for m in sys.modules if m.split('.')[0] == 'claimbook'];"
        "print(json.dumps(sorted(mods)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout
    assert set(json.loads(out)) == expected


def test_the_import_graph_has_no_circle():
    """Read every module's `from .x import` / `from . import x` lines: the graph of
    package-internal imports must be acyclic, and `budget` imports nothing."""
    edges = {
        p.stem: _package_imports(p, top_level=False)
        for p in (ROOT / "claimbook").glob("*.py")
    }
    assert edges["budget"] == set()
    assert edges["evidence"] == set()
    assert edges["verdictline"] == set()  # the line format stands alone
    order, done, visiting = [], set(), set()

    def visit(m, trail):
        assert m not in visiting, f"import circle: {' -> '.join(trail + [m])}"
        if m in done:
            return
        visiting.add(m)
        for d in sorted(edges.get(m, ())):
            if d != "__init__":
                visit(d, trail + [m])
        visiting.discard(m)
        done.add(m)
        order.append(m)

    for m in sorted(edges):
        if m != "__init__":
            visit(m, [])
    assert set(order) == set(edges) - {"__init__"}
