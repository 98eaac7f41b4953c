"""Shared fixtures: one seed for every test, an isolated cache and fastai home."""

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _seed():
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """CLAIMBOOK_CACHE pointed at an empty folder for this test."""
    path = tmp_path / "cache"
    monkeypatch.setenv("CLAIMBOOK_CACHE", str(path))
    return path


@pytest.fixture
def no_env_budget(monkeypatch):
    monkeypatch.delenv("CLAIMBOOK_BUDGET", raising=False)
    monkeypatch.delenv("CLAIMBOOK_DEVICE", raising=False)


@pytest.fixture
def repo_root():
    return ROOT


def pytest_configure(config):
    os.environ.setdefault("PYTHONHASHSEED", "0")
