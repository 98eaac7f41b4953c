import random

import numpy as np
import pytest
import torch

from claimbook.budget import get_budget
from claimbook.data import (
    SOURCE_CLASSES,
    TARGET_CLASSES,
    budget_dls,
    make_ratings,
    make_sequences,
    make_shapes,
    make_tabular,
    shapes_dls,
    shapes_task,
    tensor_dls,
)
from claimbook.network import is_online
from claimbook.pets import (
    PETS_HOST,
    PetsUnavailable,
    check_pets,
    pets_dls,
    pets_label,
    pets_path,
)


def test_shapes_are_deterministic_and_seed_dependent():
    a, b = make_shapes(64, seed=3), make_shapes(64, seed=3)
    c = make_shapes(64, seed=4)
    assert np.array_equal(a.x, b.x)
    assert np.array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.x, c.x)
    assert not np.array_equal(a.x, make_shapes(64, seed=3, split="valid").x)


@pytest.mark.parametrize(
    ("task", "classes"), [("source", SOURCE_CLASSES), ("target", TARGET_CLASSES)]
)
def test_shapes_ground_truth(task, classes):
    d = make_shapes(240, task=task, size=32, seed=0)
    assert d.x.shape == (240, 3, 32, 32)
    assert d.x.dtype == np.float32
    assert 0.0 <= d.x.min()
    assert d.x.max() <= 1.0
    assert d.classes == classes
    assert np.bincount(d.y).tolist() == [240 // len(classes)] * len(classes)  # balanced
    for m, (x0, y0, x1, y1) in zip(d.masks, d.boxes, strict=False):
        assert m.sum() > 10
        inside = np.zeros_like(m)
        inside[y0:y1, x0:x1] = True
        assert not (m & ~inside).any()  # mask within box
        assert m[y0].any()
        assert m[y1 - 1].any()
        assert m[:, x0].any()
        assert m[:, x1 - 1].any()


def test_shape_pixels_differ_from_background():
    d = make_shapes(200, seed=1, noise=0.0)
    for img, m in zip(d.x, d.masks, strict=False):
        fg = img[:, m].mean(1)
        bg = img[:, ~m].mean(1)
        assert np.abs(fg - bg).max() > 0.2  # visible in at least one channel


def test_small_budget_sets_come_from_the_budget():
    """Sizes come from the budget, and each split is its own draw."""
    b = get_budget("small", device="cpu")
    for task in ("source", "target"):
        tr, va = shapes_task(b, task, "train"), shapes_task(b, task, "valid")
        assert tr.x.shape == (b.n_train, 3, b.img_size, b.img_size)
        assert va.x.shape == (b.n_valid, 3, b.img_size, b.img_size)
        assert not np.array_equal(tr.x[: b.n_valid], va.x)
        assert np.array_equal(tr.x, shapes_task(b, task, "train").x)


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="task="):
        make_shapes(4, task="animals")
    with pytest.raises(ValueError, match="split="):
        make_shapes(4, split="holdout")


def test_shapes_dls_batches():
    b = get_budget("small", device="cpu")
    dls = shapes_dls(b, "target", bs=32)
    xb, yb = dls.one_batch()
    assert tuple(xb.shape) == (32, 3, 32, 32)
    assert yb.max() < 4
    assert dls.c == 4
    dls2 = shapes_dls(b, "target", bs=32)
    assert np.array_equal(dls2.one_batch()[1].numpy(), yb.numpy())  # same shuffle


def test_tabular_sequence_ratings():
    t = make_tabular(500, seed=0)
    assert t.x.shape == (500, 8)
    assert set(np.unique(t.y)) <= {0, 1, 2}
    assert np.array_equal(t.y, make_tabular(500, seed=0).y)
    s = make_sequences(300, seed=0)
    assert s.x.shape == (300, 12)
    assert s.x.max() < s.vocab
    assert 0.3 < s.y.mean() < 0.7
    r = make_ratings(1000, seed=0)
    assert r.ratings.min() >= 0.5
    assert r.ratings.max() <= 5.0
    assert r.users.max() < r.n_users
    assert r.items.max() < r.n_items


def _fake_pets(root, breeds=("Abyssinian", "great_pyrenees", "yorkshire_terrier"), n=6):
    from PIL import Image

    img_dir = root / "images"
    img_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for breed in breeds:
        for i in range(1, n + 1):
            arr = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
            Image.fromarray(arr).save(img_dir / f"{breed}_{i}.jpg")
    return root


def test_pets_label_is_the_lessons_regex():
    assert pets_label("great_pyrenees_173.jpg") == "great_pyrenees"
    assert pets_label("/x/Abyssinian_1.jpg") == "Abyssinian"
    with pytest.raises(ValueError, match="notes.txt"):
        pets_label("notes.txt")


def test_pets_loader_on_a_folder_in_the_pets_layout(tmp_path):
    root = _fake_pets(tmp_path / "oxford-iiit-pet")
    dls = pets_dls(root, size=32, bs=4, seed=42, device="cpu")
    assert list(dls.vocab) == ["Abyssinian", "great_pyrenees", "yorkshire_terrier"]
    assert len(dls.train_ds) + len(dls.valid_ds) == 18
    assert len(dls.valid_ds) == 3
    xb, yb = dls.one_batch()
    assert tuple(xb.shape) == (4, 3, 32, 32)
    for fname, (_, y) in zip(dls.valid_ds.items, dls.valid_ds, strict=False):
        assert dls.vocab[int(y)] == pets_label(fname)


def test_pets_path_env_and_offline_failure(tmp_path, monkeypatch):
    root = _fake_pets(tmp_path / "pets", n=5)
    monkeypatch.setenv("CLAIMBOOK_PETS", str(root))
    assert pets_path() == root
    monkeypatch.setenv("CLAIMBOOK_PETS", str(tmp_path / "missing"))
    with pytest.raises(PetsUnavailable, match="missing: no such folder"):
        pets_path()
    (tmp_path / "unpacked").mkdir()
    monkeypatch.setenv("CLAIMBOOK_PETS", str(tmp_path / "unpacked"))
    with pytest.raises(PetsUnavailable, match="unpacked has no images/ folder;"):
        pets_path()
    monkeypatch.setenv("CLAIMBOOK_PETS", str(root / "images"))  # one level too deep
    with pytest.raises(PetsUnavailable, match="images itself: use the folder above"):
        pets_path()
    monkeypatch.delenv("CLAIMBOOK_PETS")
    monkeypatch.setenv("FASTAI_HOME", str(tmp_path / "fastai_home"))

    def no_network(*args, **kwargs):
        raise AssertionError("pets_path tried the network although told it is offline")

    monkeypatch.setattr("socket.create_connection", no_network)
    monkeypatch.setattr("fastai.data.external.untar_data", no_network)
    with pytest.raises(PetsUnavailable, match="untar_data"):  # the hint names it
        pets_path(online=False)


def _no_training(monkeypatch):
    """Make any attempt to build DataLoaders, a learner or fetch data fail loudly:
    a bad folder must be reported before any of that."""

    def boom(*args, **kwargs):
        raise AssertionError("got past the folder check")

    monkeypatch.setattr("socket.create_connection", boom)
    monkeypatch.setattr("fastai.data.external.untar_data", boom)
    monkeypatch.setattr(
        "fastai.vision.all.ImageDataLoaders.from_name_re", classmethod(boom)
    )


def _bad_folder(tmp_path, problem):
    """A folder in the Pets layout but for one `problem`."""
    from PIL import Image

    root = tmp_path / f"pets-{problem}"
    img = Image.fromarray(np.zeros((8, 8, 3), np.uint8))
    (root / "images").mkdir(parents=True)
    if problem == "no-images":  # the folder is there, the pictures are not
        (root / "images" / "README.txt").write_text("see the download page")
        (root / "images" / "Abyssinian_100.mat").write_bytes(b"MATLAB")
    elif problem == "names":  # labels cannot be read from these file names
        for i in range(5):
            img.save(root / "images" / f"Abyssinian_{i}.jpg")
            img.save(root / "images" / f"IMG_{i:04d}.JPG")
        img.save(root / "images" / "beagle.png")
    elif problem == "one-breed":
        for i in range(10):
            img.save(root / "images" / f"great_pyrenees_{i}.jpg")
    elif problem == "tiny-breed":  # could land wholly in the validation split
        for i in range(6):
            img.save(root / "images" / f"Abyssinian_{i}.jpg")
        img.save(root / "images" / "pug_1.jpg")
    return root


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("no-images", r"no images under .*pets-no-images/images"),
        ("names", r"6 of 11 images under .*pets-names/images have names.*IMG_0000"),
        ("one-breed", r"all 10 images under .*pets-one-breed/images are one breed"),
        ("tiny-breed", r"1 breeds under .*pets-tiny-breed/images have fewer than 5"),
    ],
)
def test_bad_pets_folder_is_a_clear_error_before_training(
    problem, message, tmp_path, monkeypatch, no_env_budget
):
    """CLAIMBOOK_PETS at a folder that is not in lesson 1's layout: pets_path() and
    budget_dls() stop with the folder and the problem, before any data loading,
    training or network use."""
    root = _bad_folder(tmp_path, problem)
    monkeypatch.setenv("CLAIMBOOK_PETS", str(root))
    _no_training(monkeypatch)
    with pytest.raises(PetsUnavailable, match=message):
        pets_path()
    for name in ("mini", "full"):
        with pytest.raises(PetsUnavailable, match=message):
            budget_dls(get_budget(name, device="cpu"))
    with pytest.raises(PetsUnavailable, match=message):
        pets_dls(root)


def test_check_pets_reads_the_layout(tmp_path):
    root = _fake_pets(tmp_path / "pets", n=5)
    (root / "images" / "Abyssinian_100.mat").write_bytes(
        b"MATLAB"
    )  # as in the real set
    (root / "images" / ".DS_Store").write_bytes(b"")
    found = check_pets(root)
    assert found.n_images == 15
    assert found.path == root
    assert found.breeds == ("Abyssinian", "great_pyrenees", "yorkshire_terrier")
    with pytest.raises(PetsUnavailable, match="CLAIMBOOK_PETS=/nowhere: no such"):
        check_pets("/nowhere", origin="CLAIMBOOK_PETS=")


def test_offline_probe_gives_up_quickly(monkeypatch):
    """The network probe passes a short timeout to the socket (fail fast offline)."""

    seen = {}

    def refuse(host, timeout=None):
        seen["timeout"] = timeout
        raise OSError("unreachable")

    monkeypatch.setattr("socket.create_connection", refuse)
    assert is_online(PETS_HOST) is False
    assert 0 < seen["timeout"] <= 5


def test_pets_loader_rejects_empty_folder(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(PetsUnavailable, match=f"no images under {tmp_path}"):
        pets_dls(tmp_path)


def test_tensor_dls_no_workers_seeded_and_leaves_random_alone():
    b = get_budget("small", device="cpu")
    tr, va = shapes_task(b, "target", "train"), shapes_task(b, "target", "valid")
    x, y = tr.tensors()
    train, valid = (x[:64], y[:64]), va.tensors()
    dls = tensor_dls(train, valid, bs=16, seed=3, c=4)
    assert dls.c == 4
    assert all(dl.fake_l.num_workers == 0 for dl in (dls.train, dls.valid))
    first = dls.one_batch()[1]
    assert torch.equal(tensor_dls(train, valid, bs=16, seed=3).one_batch()[1], first)
    assert not torch.equal(
        tensor_dls(train, valid, bs=16, seed=4).one_batch()[1], first
    )
    random.seed(123)
    expected = random.random()
    random.seed(123)
    tensor_dls(train, valid, bs=16, seed=3)
    assert (
        random.random() == expected
    )  # a seeded call restores the global `random` state


def test_budget_dls_small_is_the_shapes_task(no_env_budget):
    b = get_budget("small")
    dls = budget_dls(b, "target")
    assert dls.vocab == list(TARGET_CLASSES)
    assert dls.c == 4
    assert len(dls.train_ds) == b.n_train
    assert dls.train.bs == b.bs


def test_budget_dls_full_path_reads_pets(tmp_path, monkeypatch, no_env_budget):
    root = _fake_pets(tmp_path / "pets")
    monkeypatch.setenv("CLAIMBOOK_PETS", str(root))
    dls = budget_dls(get_budget("mini"), bs=4)
    xb, _ = dls.one_batch()
    b = get_budget("mini")
    assert tuple(xb.shape[1:]) == (3, b.img_size, b.img_size)
    assert dls.c == 3


def test_box_from_masks_is_the_tight_box_the_generator_reports():
    from claimbook.data import box_from_masks, make_shapes

    masks = np.zeros((2, 6, 6), dtype=bool)
    masks[0, 1:3, 2:5] = True  # rows 1-2, columns 2-4
    masks[1, 5, 0] = True  # the bottom-left pixel alone
    assert box_from_masks(masks).tolist() == [[2, 1, 5, 3], [0, 5, 1, 6]]
    d = make_shapes(16, size=20, seed=3)
    assert np.array_equal(box_from_masks(d.masks), d.boxes)


def test_stream_keys_cannot_collide():
    """A key enters the seed as its first four bytes: the set of keys is fixed and
    their codes distinct, and a key outside it (one that would share a stream)
    is refused."""
    from claimbook import data

    codes = [data._key_code(k) for k in data.STREAM_KEYS]
    assert len(set(codes)) == len(codes)
    assert data._key_code("valid") == data._key_code("validation")  # why it matters
    with pytest.raises(ValueError, match="unknown stream key"):
        data._rng(0, "target", "validation")
    # the draws the book has always made, unchanged (the first value of one stream)
    first = data._rng(3, "target", "valid").random()
    targ, vali = (int.from_bytes(b, "little") for b in (b"targ", b"vali"))
    ref = np.random.default_rng(np.random.SeedSequence([3, targ, vali])).random()
    assert first == ref
