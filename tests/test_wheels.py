"""claimbook.wheels: reading the 2018 library's code from a wheel, offline.

Most tests build a wheel here from a few lines of source (no network); the last
ones read the real fastai 1.0 wheels and skip when they are not cached."""

import ast
import subprocess
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pytest

from claimbook import wheels

SRC = """\
"A few lines in the style of fastai 1.0, for the tests."
from .core import *

def even_mults(start:float, stop:float, n:int)->np.ndarray:
    "Evenly stepped from `start` to `stop` in `n` steps."
    mult = stop/start
    step = mult**(1/(n-1))
    return np.array([start*(step**i) for i in range(n)])

class Learner():
    "A learner."
    def lr_range(self, lr:Union[float,slice])->np.ndarray:
        if not isinstance(lr,slice): return lr
        if lr.start: res = even_mults(lr.start, lr.stop, len(self.layer_groups))
        else: res = [lr.stop/3]*(len(self.layer_groups)-1) + [lr.stop]
        return np.array(res)

def Learner_make_unet(cls, data:DataBunch)->Learner:
    return ('unet', data)

Learner.make_unet = Learner_make_unet

def conv_layer(ni:int, nf:int, bn:bool=True, use_activ:bool=True, leaky=None):
    conv = nn.Conv2d(ni, nf, 3)
    layers = [conv]
    if use_activ: layers.append(relu(True, leaky=leaky))
    if bn: layers.append(nn.BatchNorm2d(nf))
    else: layers += [nn.Identity()]
    return nn.Sequential(*layers)

@dataclass
class Holder():
    dl: DataLoader
    n: int = 2
    def doubled(self): return twice(self.n)
"""


@pytest.fixture
def wheel(tmp_path):
    """A wheel named like the registry's, holding the source above."""
    wheels.build_wheel(
        tmp_path, {"fastai/__init__.py": "", "fastai/basic.py": SRC}, "9.9.1"
    )
    return tmp_path


# ------------------------------------------------------------- the release table


def test_lessons_map_to_the_releases_uploaded_by_their_date():
    assert wheels.LESSON_RELEASE == {
        1: "1.0.11",
        2: "1.0.18",
        3: "1.0.21",
        4: "1.0.24",
        5: "1.0.28",
        6: "1.0.29",
        7: "1.0.37",
    }
    assert wheels.NEEDED == tuple(wheels.LESSON_RELEASE[k] for k in range(1, 8))
    for lesson, version in wheels.LESSON_RELEASE.items():
        local = wheels.pacific(wheels.RELEASES[version][1])
        assert local.date().isoformat() <= wheels.LESSONS[lesson][0]
        # every one of them was out by the early evening of its lesson's day
        assert local.hour < 18 or (local.hour, local.minute) <= (18, 5)
        nxt = f"1.0.{int(version.split('.')[-1]) + 1}"
        up = wheels.RELEASES[nxt][1]
        assert (
            up is None
            or wheels.pacific(up).date().isoformat() > (wheels.LESSONS[lesson][0])
        )


def test_lesson_seven_differs_from_the_changelog_date_by_the_time_zone():
    # 1.0.37's changelog heading says 2018-12-13: its UTC upload date; in San
    # Francisco it was out at 17:29 on lesson 7's day
    changelog, uploaded = wheels.RELEASES["1.0.37"]
    assert changelog == uploaded[:10] == "2018-12-13"
    assert wheels.pacific(uploaded) == datetime(2018, 12, 12, 17, 29, 50)


def test_pacific_switches_from_daylight_to_standard_time_on_4_november_2018():
    assert wheels.pacific("2018-11-04T08:59:00Z") == datetime(2018, 11, 4, 1, 59)
    assert wheels.pacific("2018-11-04T09:00:00Z") == datetime(2018, 11, 4, 1, 0)
    with pytest.raises(ValueError, match="outside the table's window"):
        wheels.pacific("2020-01-01T00:00:00Z")


def test_unreleased_versions_are_never_chosen():
    assert wheels.RELEASES["1.0.23"][1] is None
    assert "1.0.23" not in wheels.LESSON_RELEASE.values()
    with pytest.raises(KeyError):
        wheels.lesson_release(8)


# ----------------------------------------------------------------- reading code


def test_source_of_a_function_a_method_and_a_patched_method(wheel):
    src = wheels.source("9.9.1", "fastai/basic.py", "even_mults", root=wheel)
    assert src.startswith("def even_mults(start:float")
    method = wheels.source("9.9.1", "fastai/basic.py", "Learner.lr_range", root=wheel)
    assert method.startswith("def lr_range(self")  # dedented
    patched = wheels.source("9.9.1", "fastai/basic.py", "Learner.make_unet", root=wheel)
    assert patched.startswith("def Learner_make_unet(cls")
    cls = wheels.source("9.9.1", "fastai/basic.py", "Holder", root=wheel)
    assert cls.startswith("@dataclass\nclass Holder")


def test_has_and_where(wheel):
    assert wheels.has("9.9.1", "fastai/basic.py", "Learner.lr_range", root=wheel)
    assert wheels.has("9.9.1", "fastai/basic.py", "Learner.make_unet", root=wheel)
    assert not wheels.has("9.9.1", "fastai/basic.py", "Learner.fit", root=wheel)
    assert not wheels.has("9.9.1", "fastai/basic.py", "create_unet", root=wheel)
    assert wheels.where("9.9.1", "make_unet", root=wheel) == [
        "fastai/basic.py:Learner.make_unet"
    ]
    assert wheels.where("9.9.1", "lr_range", root=wheel) == [
        "fastai/basic.py:Learner.lr_range"
    ]
    with pytest.raises(wheels.WheelError, match="no file"):
        wheels.read("9.9.1", "fastai/absent.py", root=wheel)


# --------------------------------------------------------------- evaluating code


def test_evaluate_a_method_with_its_names_injected(wheel):
    even = wheels.evaluate(
        "9.9.1", "fastai/basic.py", "even_mults", inject={"np": np}, root=wheel
    )
    assert even(1e-5, 1e-3, 3) == pytest.approx([1e-5, 1e-4, 1e-3])
    lr_range = wheels.evaluate(
        "9.9.1",
        "fastai/basic.py",
        "Learner.lr_range",
        inject={"np": np, "even_mults": even},
        root=wheel,
    )
    learner = SimpleNamespace(layer_groups=[0, 1, 2])
    assert lr_range(learner, slice(3e-3)) == pytest.approx([1e-3, 1e-3, 3e-3])
    assert lr_range(learner, slice(1e-5, 1e-3)) == pytest.approx([1e-5, 1e-4, 1e-3])
    assert lr_range(learner, 0.1) == 0.1


def test_evaluate_names_what_is_missing_before_running(wheel):
    with pytest.raises(wheels.WheelError) as err:
        wheels.evaluate("9.9.1", "fastai/basic.py", "Learner.lr_range", root=wheel)
    assert "even_mults, np" in str(err.value)
    assert "inject=" in str(err.value)
    # annotations are dropped, so their names (Union, np.ndarray) are not needed
    with pytest.raises(wheels.WheelError, match="needs np;"):
        wheels.evaluate(
            "9.9.1",
            "fastai/basic.py",
            "Learner.lr_range",
            inject={"even_mults": None},
            root=wheel,
        )


def test_evaluate_several_names_in_one_namespace(wheel):
    got = wheels.evaluate(
        "9.9.1",
        "fastai/basic.py",
        ["even_mults", "Learner.lr_range"],
        inject={"np": np},
        root=wheel,
    )
    learner = SimpleNamespace(layer_groups=[0, 1])
    assert got["Learner.lr_range"](learner, slice(1e-4, 1e-2)) == pytest.approx(
        [1e-4, 1e-2]
    )


def test_evaluate_a_dataclass_keeps_its_field_annotations(wheel):
    from dataclasses import dataclass, fields

    holder_cls = wheels.evaluate(
        "9.9.1",
        "fastai/basic.py",
        "Holder",
        inject={"dataclass": dataclass, "DataLoader": list, "twice": lambda n: 2 * n},
        root=wheel,
    )
    assert [f.name for f in fields(holder_cls)] == ["dl", "n"]
    assert holder_cls([1]).doubled() == 4
    with pytest.raises(wheels.WheelError, match="DataLoader"):
        wheels.evaluate(
            "9.9.1",
            "fastai/basic.py",
            "Holder",
            inject={"dataclass": dataclass, "twice": None},
            root=wheel,
        )


def test_free_names_ignores_builtins_locals_and_comprehension_variables():
    src = "def f(x):\n    y = [len(o) for o in x]\n    return helper(y) + np.pi\n"
    assert wheels.free_names(src) == {"helper", "np"}


# ----------------------------------------------------------- reading structure


def test_structure_reads_the_order_a_function_builds_its_layers(wheel):
    s = wheels.structure("9.9.1", "fastai/basic.py", "conv_layer", root=wheel)
    assert s.kind == "function"
    assert s.sequence("layers") == (
        ("conv", None),
        ("relu(True, leaky=leaky)", "use_activ"),
        ("nn.BatchNorm2d(nf)", "bn"),
        ("nn.Identity()", "not (bn)"),
    )
    assert s.default("bn") == "True"
    assert s.default("ni") is None
    assert s.calls[:2] == ("nn.Conv2d", "layers.append")
    with pytest.raises(KeyError):
        s.default("stride")


def test_structure_of_a_class_lists_its_methods_and_patched_ones(wheel):
    s = wheels.structure("9.9.1", "fastai/basic.py", "Learner", root=wheel)
    assert s.kind == "class"
    assert s.doc == "A learner."
    assert s.methods == ("lr_range", "make_unet")
    f = wheels.structure("9.9.1", "fastai/basic.py", "Learner.make_unet", root=wheel)
    assert f.params == (("cls", None), ("data", None))
    assert f.returns == "Learner"
    assert isinstance(f.node, ast.FunctionDef)


# ------------------------------------------------------------- a missing wheel


def test_a_missing_wheel_names_the_wheel_and_the_command(tmp_path):
    with pytest.raises(wheels.WheelMissing) as err:
        wheels.source("1.0.28", "fastai/basic_train.py", "Learner", root=tmp_path)
    msg = str(err.value)
    assert "fastai-1.0.28-py3-none-any.whl" in msg
    assert "pip download --no-deps --only-binary=:all: fastai==1.0.28 -d" in msg
    assert str(tmp_path) in msg
    assert not wheels.available("1.0.28", root=tmp_path)


def test_then_says_not_checked_here_instead_of_raising(tmp_path):
    def check():
        return wheels.has("1.0.21", "fastai/basic_data.py", "DataBunch", root=tmp_path)

    t = wheels.then("1.0.21", check, "fastai/basic_data.py: DataBunch")
    assert not t.checked
    assert t.held is None
    assert str(t).startswith("then (fastai 1.0.21): not checked here (")
    assert "pip download" in str(t)
    args = t.record_args(holds_now=False)
    assert args["holds"] is None
    assert "fastai==1.0.21" in args["reason"]
    assert t.record_args(holds_now=True) == {"holds": True}


def test_then_with_the_wheel_names_its_source(wheel):
    t = wheels.then(
        "9.9.1",
        lambda: (wheels.has("9.9.1", "fastai/basic.py", "Learner", root=wheel), "x"),
        "fastai/basic.py: Learner",
    )
    assert t.held is True
    assert t.detail == "x"
    assert t.source == "measured on fastai 9.9.1's code (fastai/basic.py: Learner)"
    assert t.record_args(False) == {
        "holds": False,
        "held_then": True,
        "then": t.source,
    }


def test_the_verdict_from_then_args():
    from claimbook import claims

    t = wheels.Then("1.0.21", True, "x")
    v = claims.record("fa-databunch", evidence="test", **t.record_args(False))
    assert v.verdict == claims.OUTDATED
    assert v.then == t.source
    missing = wheels.Then("1.0.21", None, "x", missing="no wheel")
    v = claims.record("fa-databunch", evidence="test", **missing.record_args(False))
    assert v.verdict == claims.NOT_CHECKED
    assert "no wheel" in v.note
    fixed = wheels.Then("1.0.21", False, "x")  # did not hold then, holds today
    v = claims.record("fa-databunch", evidence="test", **fixed.record_args(True))
    assert v.verdict == claims.HOLDS
    assert v.then == f"{fixed.source}; it did not hold then"


# ------------------------------------------------------------------- fetching


def test_fetch_returns_a_cached_wheel_without_running_pip(wheel, monkeypatch):
    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run for a cached wheel")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert wheels.fetch("9.9.1", root=wheel).name == "fastai-9.9.1-py3-none-any.whl"


def test_fetch_runs_one_pip_download_per_version(tmp_path, monkeypatch):
    calls = []

    def fake_pip(cmd, **kwargs):
        calls.append(cmd)
        wheels.build_wheel(tmp_path, {"fastai/__init__.py": ""}, cmd[6].split("==")[1])
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    got = wheels.fetch_all(["1.0.28", "1.0.29"], root=tmp_path)
    assert [g.path.name for g in got] == [
        "fastai-1.0.28-py3-none-any.whl",
        "fastai-1.0.29-py3-none-any.whl",
    ]
    assert [c[3:7] for c in calls] == [
        ["download", "--no-deps", "--only-binary=:all:", "fastai==1.0.28"],
        ["download", "--no-deps", "--only-binary=:all:", "fastai==1.0.29"],
    ]
    assert "install" not in {w for c in calls for w in c}


def test_fetch_failure_is_reported_with_the_command(tmp_path, monkeypatch):
    def offline(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: no network here\n")

    monkeypatch.setattr(subprocess, "run", offline)
    (got,) = wheels.fetch_all(["1.0.21"], root=tmp_path)
    assert got.path is None
    assert "no network here" in got.error
    assert "fastai==1.0.21" in got.error


# ------------------------------------------------- the real wheels, when cached


def _need(version):
    if not wheels.available(version):
        pytest.skip(f"fastai {version}'s wheel is not cached (python -m claimbook)")


def test_lr_range_divides_by_three_in_1_0_28_and_by_ten_from_1_0_29():
    _need("1.0.28")
    _need("1.0.29")
    even = wheels.evaluate("1.0.28", "fastai/core.py", "even_mults", inject={"np": np})
    learner = SimpleNamespace(layer_groups=[0, 1, 2])
    got = {}
    for v in ("1.0.28", "1.0.29"):
        f = wheels.evaluate(
            v,
            "fastai/basic_train.py",
            "Learner.lr_range",
            inject={"np": np, "even_mults": even},
        )
        got[v] = f(learner, slice(1e-3))
    assert got["1.0.28"] == pytest.approx([1e-3 / 3, 1e-3 / 3, 1e-3])
    assert got["1.0.29"] == pytest.approx([1e-4, 1e-4, 1e-3])


def test_conv_layer_of_lesson_seven_puts_relu_before_batchnorm():
    _need("1.0.37")
    s = wheels.structure("1.0.37", "fastai/layers.py", "conv_layer")
    order = [item for item, _ in s.sequence("layers")]
    assert order[0] == "conv"
    assert order[1].startswith("relu(")
    assert "BatchNorm2d" in order[2]


def test_structure_of_a_dataclass_lists_its_fields(wheel):
    s = wheels.structure("9.9.1", "fastai/basic.py", "Holder", root=wheel)
    assert s.fields == (("dl", None), ("n", "2"))


def test_quote_heads_the_source_or_says_it_is_not_checked(wheel, tmp_path):
    q = wheels.quote("9.9.1", "fastai/basic.py", "even_mults", root=wheel)
    assert q.startswith("# fastai 9.9.1, fastai/basic.py\ndef even_mults(")
    empty = tmp_path / "empty"
    q = wheels.quote("9.9.1", "fastai/basic.py", "even_mults", root=empty)
    assert q.startswith("# fastai 9.9.1, fastai/basic.py: not checked here (")
