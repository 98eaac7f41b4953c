"""bookbuild.lowest: the locked torch made visible in the lowest-bounds venv."""

from importlib.metadata import distribution

from bookbuild import lowest


def test_closure_follows_requirements_and_skips_the_lowered():
    found = lowest.closure(["pytest"], exclude=["pluggy"])
    assert {"pytest", "iniconfig", "packaging"} <= set(found)
    assert "pluggy" not in found  # excluded, and not followed
    # requirements whose markers do not hold here (Windows, Python < 3.11) are left out
    assert not {"colorama", "exceptiongroup", "tomli"} & set(found)


def test_torch_closure_keeps_numpy_and_pillow_out():
    found = lowest.closure()
    assert {"torch", "torchvision"} <= set(found)
    assert not {"numpy", "pillow"} & set(found)


def test_link_makes_the_distributions_importable_and_listed(tmp_path):
    made = lowest.link(tmp_path, roots=["iniconfig"], exclude=[])
    dist = distribution("iniconfig")
    assert "iniconfig" in made
    assert (tmp_path / "iniconfig").is_symlink()
    # the dist-info travels too, so an installer sees the package as installed
    info = f"iniconfig-{dist.version}.dist-info"
    assert (tmp_path / info).resolve() == (dist.locate_file(info)).resolve()
    # a second run links nothing new
    assert lowest.link(tmp_path, roots=["iniconfig"], exclude=[]) == []
