"""claimbook.renames: every "today" entry of the 2018 -> today table still runs.

The day fastai renames or breaks one of them, the row's check raises and this
test names the row."""

import pytest

from claimbook import renames, wheels


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    import matplotlib

    matplotlib.use("Agg")
    return renames.tiny_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def checked(kit):
    """Every row's check, run once for the module (tiny models: one thread)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return renames.run_checks(kit)
    finally:
        torch.set_num_threads(threads)


def test_every_today_entry_runs(checked):
    failed = [f"{c.row.then} -> {c.row.today}: {c.result}" for c in checked if not c.ok]
    assert not failed, "today's spelling no longer works:\n" + "\n".join(failed)


def test_the_checks_report_what_they_measured(checked):
    got = {c.row.today: c.result for c in checked}
    assert got["learn.opt.set_hyper('lr', slice(lr))"] == (
        "lr per group: 1e-04, 1e-04, 1e-03"
    )
    assert got["ConvLayer(ni, nf)"] == "Conv2d -> BatchNorm2d -> ReLU"
    assert got["fit_one_cycle(n, lr_max=...)"].endswith("max_lr= raises TypeError")
    assert "deletes it: True" in got["ImageClassifierCleaner(learn)"]


def test_a_broken_check_is_a_failed_row_not_a_crash(kit):
    def broken(kit):
        raise AttributeError("gone")

    row = renames.Rename("old()", "new()", 1, "fastai/x.py:old", "2.0", broken)
    (c,) = renames.run_checks(kit, [row])
    assert not c.ok
    assert c.result == "AttributeError: gone"


def test_rows_point_at_lessons_and_files_that_exist():
    for row in renames.RENAMES:
        assert row.lesson in wheels.LESSONS
        path, qualname = row.where.split(":")
        assert path.startswith("fastai/")
        assert path.endswith(".py")
        assert qualname
        assert row.since


def test_the_then_side_is_in_the_lessons_wheel():
    missing = [v for v in wheels.NEEDED if not wheels.available(v)]
    if missing:
        pytest.skip(f"wheels not cached: {missing} (python -m claimbook)")
    sides = {row.then: renames.then_side(row) for row in renames.RENAMES}
    assert all(s.startswith("yes") for s in sides.values()), sides


def test_the_then_side_without_the_wheel_is_not_checked(tmp_cache):
    row = renames.RENAMES[0]
    assert renames.then_side(row).startswith("not checked here")
