import dataclasses

import pytest
import torch

from claimbook import config
from claimbook.config import BudgetError, get_budget, setup


def test_default_budget_is_small_on_cpu(no_env_budget):
    b = get_budget()
    assert b.name == "small" and b.device == "cpu"
    assert b.dataset == "synthetic-shapes" and b.arch == "resnet_small"
    assert b.threads == 2 and b.deterministic and not b.progress_bars


def test_full_budget_is_the_lessons_setting(no_env_budget):
    b = get_budget("full", device="cpu")
    assert (b.dataset, b.arch, b.img_size) == ("oxford-iiit-pets", "resnet34", 224)


def test_env_var_picks_budget(monkeypatch):
    monkeypatch.setenv("CLAIMBOOK_BUDGET", "FULL ")
    monkeypatch.setenv("CLAIMBOOK_DEVICE", "cpu")
    assert get_budget().name == "full"


@pytest.mark.parametrize("bad", ["medium", "smal", "gpu"])
def test_bad_budget_names_the_allowed_values(monkeypatch, bad):
    monkeypatch.setenv("CLAIMBOOK_BUDGET", bad)
    with pytest.raises(BudgetError, match="small, full") as err:
        get_budget()
    assert repr(bad) in str(err.value)


def test_bad_device_names_the_allowed_values(no_env_budget):
    with pytest.raises(BudgetError, match="cpu, cuda, auto"):
        get_budget("small", device="tpu")


def test_cuda_without_gpu_is_an_error_not_a_cpu_run(no_env_budget, monkeypatch):
    monkeypatch.setattr(config, "_cuda_available", lambda: False)
    with pytest.raises(BudgetError, match="no CUDA GPU"):
        get_budget("small", device="cuda")
    assert get_budget("small", device="auto").device == "cpu"


def test_cuda_with_gpu_is_used(no_env_budget, monkeypatch):
    monkeypatch.setattr(config, "_cuda_available", lambda: True)
    assert get_budget("small", device="cuda").device == "cuda"
    assert get_budget("full").device == "cuda"  # full defaults to auto


def test_budget_is_frozen(no_env_budget):
    b = get_budget()
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.epochs = 100


def test_setup_seeds_and_prints(no_env_budget, capsys):
    b = setup()
    a = torch.rand(3)
    out = capsys.readouterr().out
    setup(quiet=True)
    assert torch.equal(a, torch.rand(3))
    assert "name             'small'" in out and out.splitlines()[-1].startswith("versions: python")
    assert torch.get_num_threads() == b.threads


def test_setup_silences_fastai_on_small_budget(no_env_budget):
    from fastai.callback.progress import ProgressCallback
    from fastai.learner import defaults

    setup(quiet=True)
    names = [c.__name__ for c in defaults.callbacks]
    assert ProgressCallback not in defaults.callbacks and names.count("QuietRecorder") == 1
    setup(quiet=True)  # idempotent
    assert [c.__name__ for c in defaults.callbacks].count("QuietRecorder") == 1


def test_cache_dir_respects_env(tmp_cache):
    assert config.cache_dir() == tmp_cache and tmp_cache.is_dir()


def test_importing_the_package_has_no_side_effects(tmp_path):
    import subprocess
    import sys

    code = (
        "import random, torch; s = torch.initial_seed(); r = random.getstate();"
        "import claimbook, claimbook.data, claimbook.claims, claimbook.plotting;"
        "assert torch.initial_seed() == s and random.getstate() == r;"
        "import sys; assert 'fastai' not in sys.modules, 'fastai imported on import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
