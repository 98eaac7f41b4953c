"""Shared fixtures: one seed for every test, global state restored after each test,
an isolated cache, and the test order knob (CLAIMBOOK_TEST_ORDER)."""

import os
import random
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bookbuild/ is not installed: it lives in the repo
    sys.path.insert(0, str(ROOT))


def pytest_collection_modifyitems(config, items):
    """CLAIMBOOK_TEST_ORDER=reverse or random:<seed> reorders the collected tests
    (`make unit ORDER=...`): every test must pass in any order."""
    order = os.environ.get("CLAIMBOOK_TEST_ORDER", "").strip()
    if not order:
        return
    if order == "reverse":
        items.reverse()
    elif order.startswith("random:"):
        random.Random(int(order.split(":", 1)[1])).shuffle(items)
    else:
        raise pytest.UsageError(
            f"CLAIMBOOK_TEST_ORDER={order!r}; use 'reverse' or 'random:<seed>'"
        )


def _global_state():
    """What `claimbook.setup()` and the tests may change process-wide."""
    import matplotlib
    import torch
    from fastai.learner import defaults
    from fastai.vision.learner import model_meta

    from claimbook import claims

    return {
        "threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "warnings": list(warnings.filters),
        "environ": dict(os.environ),
        "rc": matplotlib.rcParams.copy(),
        "fastai_callbacks": list(defaults.callbacks),
        "reference": dict(claims._REFERENCE),
        "recorded": dict(claims.RECORDED),
        "model_meta": dict(model_meta),
    }


def _restore(state):
    import matplotlib
    import torch
    from fastai.learner import defaults
    from fastai.vision.learner import model_meta

    from claimbook import claims

    torch.set_num_threads(state["threads"])
    torch.use_deterministic_algorithms(
        state["deterministic"], warn_only=state["warn_only"]
    )
    torch.backends.cudnn.benchmark = state["cudnn_benchmark"]
    warnings.filters[:] = state["warnings"]
    os.environ.clear()
    os.environ.update(state["environ"])
    matplotlib.rcParams.update(state["rc"])
    defaults.callbacks = state["fastai_callbacks"]
    claims._REFERENCE.update(state["reference"])
    claims.RECORDED.clear()  # the verdicts a test recorded (claims.summary reads them)
    claims.RECORDED.update(state["recorded"])
    model_meta.clear()  # the small ResNet's entry that setup() registers
    model_meta.update(state["model_meta"])


@pytest.fixture(autouse=True)
def _isolated_globals():
    """Seed every test the same way, and undo what it changed process-wide
    (threads, deterministic algorithms, warnings, environment, matplotlib,
    fastai's default callbacks, the verdict guard's mode, the verdicts recorded,
    fastai's model_meta)."""
    import torch

    state = _global_state()
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield
    _restore(state)


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """CLAIMBOOK_CACHE pointed at an empty folder for this test."""
    path = tmp_path / "cache"
    monkeypatch.setenv("CLAIMBOOK_CACHE", str(path))
    return path


@pytest.fixture
def no_env_budget(monkeypatch):
    for name in ("CLAIMBOOK_BUDGET", "CLAIMBOOK_DEVICE", "CLAIMBOOK_SEED"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo_root():
    return ROOT
