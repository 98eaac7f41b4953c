"""The full budget in miniature (bookbuild.miniature), and the files that take a
chapter off this machine: the Colab cell, the package's dependencies, Binder."""

import importlib.metadata
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from packaging.requirements import Requirement

from bookbuild import miniature
from claimbook.pets import PETS_PATTERN, check_pets, pets_label
from tests.conftest import ROOT


@pytest.fixture
def offline(monkeypatch):
    """Any network connection or download attempt fails the test."""

    def no_network(*args, **kwargs):
        raise AssertionError(f"network use attempted: {args}")

    monkeypatch.setattr("socket.create_connection", no_network)
    monkeypatch.setattr("torch.hub.download_url_to_file", no_network)
    monkeypatch.setattr("fastai.data.external.untar_data", no_network)


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    """One miniature Pets folder (5 images a breed) for the image tests."""
    return miniature.make_pets(tmp_path_factory.mktemp("mini") / "pets", per_breed=5)


# ------------------------------------------------------------------- the images


def test_the_37_breeds_as_lesson_one_reads_them():
    assert len(set(miniature.BREEDS)) == 37
    assert len(miniature.CATS) == 12
    assert len(miniature.DOGS) == 25
    assert all(b[0].isupper() for b in miniature.CATS)  # cats capitalised
    assert all(b == b.lower() for b in miniature.DOGS)  # dogs in lower case
    for breed in ("Abyssinian", "great_pyrenees", "British_Shorthair"):
        assert breed in miniature.BREEDS
        assert pets_label(f"{breed}_173.jpg") == breed


def test_pets_folder_is_in_the_lessons_layout(pets):
    found = check_pets(pets)  # the check the full budget runs before training
    assert found.breeds == tuple(sorted(miniature.BREEDS))
    assert found.n_images == 37 * 5
    names = sorted(p.name for p in (pets / "images").iterdir())
    assert "Abyssinian_100.mat" in names  # a non-image, as in the real download
    jpgs = [n for n in names if n.endswith(".jpg")]
    assert all(re.match(PETS_PATTERN, n) for n in jpgs)
    assert all(1 <= int(n.rsplit("_", 1)[1][:-4]) <= 200 for n in jpgs)
    from PIL import Image

    modes = {Image.open(pets / "images" / n).mode for n in jpgs}
    assert modes == {"RGB", "L"}  # one greyscale Egyptian Mau, as in the real set
    sizes = {Image.open(pets / "images" / n).size for n in jpgs[:20]}
    assert len(sizes) > 5  # sizes vary; Resize makes them equal


def test_pets_folder_is_deterministic(pets, tmp_path):
    again = miniature.make_pets(tmp_path / "again", per_breed=5)
    for name in ("Abyssinian", "yorkshire_terrier"):
        a = sorted((pets / "images").glob(f"{name}_*.jpg"))
        b = sorted((again / "images").glob(f"{name}_*.jpg"))
        assert [p.name for p in a] == [p.name for p in b]
        assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=False))


def test_each_breed_has_a_look_of_its_own(pets):
    """Coat colour and stripe direction differ by breed, so a network can learn
    something: the centre pixel's colour alone names the breed most of the time."""
    from PIL import Image

    looks = [miniature._breed_look(k) for k in range(37)]
    assert len({(tuple(np.round(c, 3)), round(a, 3)) for c, a, _ in looks}) == 37
    coats = np.stack([c for c, _, _ in looks])
    hits = n = 0
    for k, breed in enumerate(miniature.BREEDS):
        for f in sorted((pets / "images").glob(f"{breed}_*.jpg")):
            img = np.asarray(Image.open(f).convert("RGB"), np.float32) / 255
            h, w, _ = img.shape
            centre = img[h // 2 - 2 : h // 2 + 3, w // 2 - 2 : w // 2 + 3].mean((0, 1))
            centre = centre / np.linalg.norm(centre)
            unit = coats / np.linalg.norm(coats, axis=1, keepdims=True)
            hits += int(np.argmax(unit @ centre) == k)
            n += 1
    assert hits / n > 0.5  # chance is 1/37


# ------------------------------------------------------------------- the weights


def test_weights_sit_where_torchvision_looks(tmp_path, monkeypatch, offline):
    import torchvision

    path = miniature.make_weights(tmp_path / "torch", seed=3)
    assert path == tmp_path / "torch/hub/checkpoints/resnet34-b627a593.pth"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    model = torchvision.models.resnet34(weights="IMAGENET1K_V1")  # torch's own path
    state = torch.load(path, weights_only=True)
    assert torch.equal(model.layer4[0].conv1.weight, state["layer4.0.conv1.weight"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        fresh = torchvision.models.resnet34()
    assert torch.equal(fresh.fc.weight, state["fc.weight"])  # seeded, reproducible


# --------------------------------------------- the whole, on the mini budget path


def test_cli_builds_a_miniature_the_mini_budget_runs_on(
    tmp_path, monkeypatch, capsys, offline, no_env_budget
):
    """`--out DIR` prints the exports; with them, the full budget's code path
    (budget_dls, budget_arch, vision_learner with its pretrained weights) runs
    with no network."""
    from fastai.vision.all import vision_learner

    from claimbook import setup
    from claimbook.data import budget_dls
    from claimbook.models import budget_arch

    assert miniature.main(["--out", str(tmp_path / "m"), "--per-breed", "5"]) == 0
    out = capsys.readouterr().out
    env = dict(re.findall(r"^export (\w+)=(\S+)$", out, re.M))
    assert env == {
        "CLAIMBOOK_BUDGET": "mini",
        "CLAIMBOOK_PETS": str(tmp_path / "m" / "oxford-iiit-pet"),
        "TORCH_HOME": str(tmp_path / "m" / "torch"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    budget = setup(quiet=True)
    assert budget.name == "mini"
    dls = budget_dls(budget)
    assert dls.c == 37
    assert len(dls.train_ds) + len(dls.valid_ds) == 37 * 5
    learn = vision_learner(dls, budget_arch(budget), n_out=dls.c)
    stem_bn = learn.model[0][1]
    assert not torch.allclose(stem_bn.running_var, torch.ones_like(stem_bn.running_var))
    xb, _ = dls.valid.one_batch()
    with torch.no_grad():
        assert torch.isfinite(learn.model.eval()(xb)).all()


def test_run_chapters_reports_each_chapter(tmp_path, monkeypatch, capsys):
    """One pytest per chapter in nbval's lax mode: an error fails the run, and
    every chapter gets its time and peak memory."""
    import nbformat

    monkeypatch.setattr(
        miniature, "build", lambda out, **kw: {"CLAIMBOOK_BUDGET": "mini"}
    )
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    for path, code in (
        (good, "import os\nprint(os.environ['CLAIMBOOK_BUDGET'])"),
        (bad, "raise ValueError('broken on mini')"),
    ):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nbformat.write(nb, path)
    logs = tmp_path / "logs"
    assert (
        miniature.run_chapters([good, bad], ROOT, keep=tmp_path / "k", logs=logs) == 1
    )
    assert (logs / "02_bad.log").exists()
    out = capsys.readouterr().out
    assert re.search(r"01_good.ipynb\s+ok\s+[\d.]+ s wall\s+[\d.]+ s CPU\s+\d+ MB", out)
    assert re.search(r"02_bad.ipynb\s+FAILED", out)
    assert "broken on mini" in out
    assert "failed: 02_bad.ipynb" in out
    assert out.splitlines()[-1] == "chapters: 1 passed, 1 failed"  # what CI reads


# ------------------------------------------------- what `pip install` brings


def _declared(this_python: bool = True):
    """The declared dependencies; with `this_python`, only those whose environment
    marker (e.g. tomli's ``python_version < '3.11'``) applies to this interpreter."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(d) for d in deps["dependencies"]]
    return {
        r.name.lower(): r
        for r in reqs
        if not this_python or r.marker is None or r.marker.evaluate()
    }


def _imports(code: str) -> set[str]:
    """Top-level module names of every import statement in `code` (a notebook
    cell's IPython magics and shell lines are skipped)."""
    import ast

    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    found = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_package_declares_what_the_chapters_import():
    """`pip install` of the package alone must be enough to run any chapter: every
    third-party module a chapter or the package imports comes from a declared
    distribution (a dependency's dependency does not count)."""
    code = [p.read_text() for p in (ROOT / "claimbook").glob("*.py")]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    modules = set().union(*map(_imports, code)) - set(sys.stdlib_module_names)
    modules -= {"claimbook", "google", "__future__"}
    dists = importlib.metadata.packages_distributions()
    declared = _declared()
    # a backport imported only on older Pythons (tomli) is declared with a marker
    elsewhere = {
        n for n, r in _declared(this_python=False).items() if n not in declared
    }
    missing = {
        m: dists.get(m)
        for m in modules - elsewhere
        if not {d.lower() for d in dists.get(m, [])} & set(declared)
    }
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    assert str(declared["fastai"].specifier) in ("<2.9,>=2.8", ">=2.8,<2.9")


def test_declared_ranges_admit_the_pinned_stack():
    """requirements.txt's exact versions (what CI runs) satisfy the declared ranges."""
    declared = _declared()
    for name, req in declared.items():
        version = importlib.metadata.version(name)
        assert req.specifier.contains(version, prereleases=True), (name, version)


# ------------------------------------------------------------------------ Binder


def _requirements(path: Path) -> dict[str, Requirement]:
    """name -> requirement for each line of a pip requirements file that names a
    distribution (options, hashes, comments and local paths skipped)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    found = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", ".", "/")):
            continue
        line = re.sub(r"\s--hash=\S+", "", line)
        req = Requirement(line)
        found[req.name.lower()] = req
    return found


def test_binder_installs_the_cpu_build_of_the_pinned_stack():
    binder = ROOT / "binder"
    text = (binder / "requirements.txt").read_text()
    ours, pinned = (
        _requirements(binder / "requirements.txt"),
        _requirements(ROOT / "requirements.txt"),
    )
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert re.search(r"^\.$", text, re.M), "Binder must install this package"
    for name in ("torch", "torchvision"):
        (spec,) = ours[name].specifier
        assert spec.operator == "==", name
        assert spec.version.endswith("+cpu"), name
        (want,) = [s for s in pinned[name].specifier if s.operator == "=="]
        assert spec.version == f"{want.version}+cpu", (name, spec, want)
    for name, req in ours.items():
        if name in pinned and name not in ("torch", "torchvision"):
            assert all(
                req.specifier.contains(s.version)
                for s in pinned[name].specifier
                if s.operator == "=="
            ), (name, req, pinned[name])
            if not any(s.operator == "==" for s in pinned[name].specifier):
                assert req.specifier == pinned[name].specifier, (name, req)
    python = (binder / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(1[0-3])", python)
    assert (binder / "postBuild").stat().st_mode & 0o111
    launch = yaml.safe_load((ROOT / "_config.yml").read_text())["launch_buttons"]
    assert launch["binderhub_url"]  # the button stays: Binder can build this


def test_failed_cells_reads_nbval_logs():
    """The table names each failed cell with its error (colours stripped), or with
    nbval's cell timeout."""
    log = "\n".join(
        [
            "_____ notebooks/01_x.ipynb::Cell 3 _____",
            "Cell 3: Cell execution caused an exception",
            "\x1b[31mTypeError\x1b[39m         Traceback (most recent call last)",
            "\x1b[31mTypeError\x1b[39m: no implementation found for 'cross_entropy'",
            "_____ notebooks/01_x.ipynb::Cell 9 _____",
            "Cell 9: Timeout of 600 seconds exceeded executing cell",
            "KeyboardInterrupt: ",
            "=========================== short test summary info ===",
            "FAILED notebooks/01_x.ipynb::Cell 3 - Notebook cell execution failed",
        ]
    )
    assert miniature.failed_cells(log) == [
        "Cell 3: TypeError: no implementation found for 'cross_entropy'",
        "Cell 9: Timeout of 600 seconds exceeded executing cell",
    ]


def test_the_citation_file_names_this_release_and_repository():
    """CITATION.cff (GitHub's "Cite this repository") carries the package's version,
    the licence the LICENSE file opens with, and _config.yml's repository URL."""

    import claimbook

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert str(cff["version"]) == claimbook.__version__
    assert cff["repository-code"] == config["repository"]["url"]
    assert cff["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
