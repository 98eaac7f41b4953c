import dataclasses

import pytest

from claimbook import budget as budget_mod
from claimbook.budget import BudgetError, get_budget


def test_default_budget_is_small_on_cpu(no_env_budget):
    b = get_budget()
    assert b.name == "small"
    assert b.device == "cpu"
    assert b.dataset == "synthetic-shapes"
    assert b.arch == "resnet_small"
    assert b.threads == 2
    assert b.deterministic
    assert not b.progress_bars


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
    monkeypatch.setattr(budget_mod, "_cuda_available", lambda: False)
    with pytest.raises(BudgetError, match="no CUDA GPU"):
        get_budget("small", device="cuda")
    assert get_budget("small", device="auto").device == "cpu"


def test_cuda_with_gpu_is_used(no_env_budget, monkeypatch):
    monkeypatch.setattr(budget_mod, "_cuda_available", lambda: True)
    assert get_budget("small", device="cuda").device == "cuda"
    assert get_budget("full").device == "cuda"  # full defaults to auto


def test_budget_is_frozen(no_env_budget):
    b = get_budget()
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.epochs = 100


def test_cache_dir_respects_env(tmp_cache):
    assert budget_mod.cache_dir() == tmp_cache
    assert tmp_cache.is_dir()


def test_seed_knob_shifts_every_seed(no_env_budget, monkeypatch):
    assert get_budget().seed == 0
    assert get_budget().seeds == (0, 1, 2)
    assert get_budget().is_reference
    monkeypatch.setenv("CLAIMBOOK_SEED", " 7 ")
    b = get_budget()
    assert b.seed == 7
    assert b.seeds == (7, 8, 9)
    assert not b.is_reference
    assert get_budget("full", device="cpu").seed == 7
    monkeypatch.delenv("CLAIMBOOK_SEED")
    full = get_budget("full", device="cpu")
    assert full.seed == 42
    assert not full.is_reference


@pytest.mark.parametrize("bad", ["one", "1.5", "-1", str(2**31)])
def test_bad_seed_is_a_clear_error(no_env_budget, monkeypatch, bad):
    monkeypatch.setenv("CLAIMBOOK_SEED", bad)
    with pytest.raises(BudgetError, match="CLAIMBOOK_SEED"):
        get_budget()


def test_describe_lists_every_field_once(no_env_budget):
    text = get_budget().describe()
    names = [line.split()[0] for line in text.splitlines()]
    assert names == [f.name for f in dataclasses.fields(get_budget())]
    assert "seed             0" in text


def test_replicate_seeds_are_independent_streams(no_env_budget, monkeypatch):
    b = get_budget()
    a = b.replicate_seeds("dlr-helps")
    assert len(a) == b.replicates == 8
    assert len(set(a)) == 8
    assert a == get_budget().replicate_seeds("dlr-helps")  # reproducible
    assert not set(a) & set(b.replicate_seeds("lrf-study"))  # streams differ
    assert b.replicate_seeds("x", 3) == b.replicate_seeds("x")[:3]
    monkeypatch.setenv("CLAIMBOOK_SEED", "1")
    other = get_budget().replicate_seeds("dlr-helps")
    assert not set(a) & set(other)  # another seed: a disjoint set, not a shift
    assert all(0 <= s < 2**31 for s in a + other)
    with pytest.raises(BudgetError):
        b.replicate_seeds("x", 0)


def test_mini_budget_is_the_full_path_at_toy_sizes(no_env_budget):
    full, mini = get_budget("full", device="cpu"), get_budget("mini")
    assert (mini.dataset, mini.arch) == (full.dataset, full.arch)
    assert not mini.is_small
    assert not mini.is_reference
    assert mini.device == "cpu"
    assert mini.img_size < full.img_size
    assert mini.replicates < full.replicates
