"""2018 name -> today's name: the table a reader of the 2018 notes keeps, checked.

Introduced in chapter 10 (The 2018 code today). Each row names what the lessons
wrote (and the lesson whose fastai release has it: `claimbook.wheels` checks that
side against the release's own wheel), what fastai 2.8 spells instead, and a check
that runs today's spelling on tiny synthetic data (`tiny_kit`). The chapter runs
every check and prints the table; ``tests/test_renames.py`` runs them too, so the
table fails the tests the day a "today" entry stops working.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np


@dataclass
class Kit:
    """Tiny fastai objects on synthetic shapes, built once for every check.

    `root`: a folder of 32-pixel PNGs in the lessons' layouts (``train/<class>``
    and ``valid/<class>`` for folder labels, class names in file names for
    regex labels, ``seg/images`` + ``seg/labels`` for masks); `dls` the folder's
    DataLoaders; `learn` a `vision_learner` on them, trained one epoch;
    `seg_dls` the segmentation DataLoaders."""

    root: Path
    dls: object
    learn: object
    seg_dls: object
    classes: tuple[str, ...]


def _write_images(root: Path, seed: int, n_train: int = 8, n_valid: int = 4):
    from PIL import Image

    from .data import make_shapes

    classes = ("ring", "frame")
    for split, n in (("train", n_train), ("valid", n_valid)):
        data = make_shapes(4 * n, task="target", size=32, seed=seed, split=split)
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            idx = np.flatnonzero(data.y == data.classes.index(name))[:n]
            for i in idx:
                img = (data.x[i].transpose(1, 2, 0) * 255).round().astype(np.uint8)
                Image.fromarray(img).save(folder / f"{name}_{i}.png")
                seg = root / "seg"
                (seg / "images").mkdir(parents=True, exist_ok=True)
                (seg / "labels").mkdir(parents=True, exist_ok=True)
                fn = f"{split}_{name}_{i}.png"
                Image.fromarray(img).save(seg / "images" / fn)
                mask = data.masks[i].astype(np.uint8)
                Image.fromarray(mask).save(seg / "labels" / fn)
    return classes


def tiny_kit(root: str | Path | None = None, seed: int = 0) -> Kit:
    """Build the checks' data and learner under `root` (default: a new temporary
    folder). Seeded; a second of CPU or so."""
    import torch
    from fastai.callback.progress import ProgressCallback
    from fastai.vision.all import (
        DataBlock,
        ImageBlock,
        ImageDataLoaders,
        MaskBlock,
        RandomSplitter,
        get_image_files,
        vision_learner,
    )

    from .models import register_with_fastai, resnet_small

    register_with_fastai()
    root = Path(root or tempfile.mkdtemp(prefix="claimbook-kit-"))
    classes = _write_images(root, seed)
    torch.manual_seed(seed)
    dls = ImageDataLoaders.from_folder(
        root, train="train", valid="valid", bs=8, num_workers=0, seed=seed
    )
    labels = root / "seg" / "labels"
    seg_dls = DataBlock(
        blocks=(ImageBlock, MaskBlock(codes=("background", "shape"))),
        get_items=get_image_files,
        get_y=lambda p: labels / p.name,
        splitter=RandomSplitter(valid_pct=0.25, seed=seed),
    ).dataloaders(root / "seg" / "images", bs=4, num_workers=0)
    learn = vision_learner(dls, resnet_small, pretrained=False)
    learn.remove_cbs([cb for cb in learn.cbs if isinstance(cb, ProgressCallback)])
    learn.logger = _quiet  # no per-epoch lines (they carry wall-clock times)
    learn.fit_one_cycle(1, lr_max=1e-3)
    return Kit(root, dls, learn, seg_dls, classes)


def _quiet(*args, **kwargs) -> None:
    return None


# ------------------------------------------------------------------ the checks
# Each takes the kit, runs today's spelling and returns a short, stable text
# (shapes, names, counts: nothing that depends on training noise).


def _vision_learner(kit: Kit) -> str:
    from fastai.vision.all import vision_learner

    from .models import resnet_small

    learn = vision_learner(kit.dls, resnet_small, pretrained=False)
    xb, _ = kit.dls.one_batch()
    return f"a body + head; output {tuple(learn.model.eval()(xb).shape)}"


def _dataloaders(kit: Kit) -> str:
    from fastai.data.core import DataLoaders

    dls = DataLoaders(kit.dls.train, kit.dls.valid)
    return (
        f"{len(dls.loaders)} loaders: {len(dls.train_ds)} train, "
        f"{len(dls.valid_ds)} valid items"
    )


def _from_name_re(kit: Kit) -> str:
    from fastai.vision.all import ImageDataLoaders, get_image_files

    files = get_image_files(kit.root / "train")
    dls = ImageDataLoaders.from_name_re(
        kit.root,
        files,
        pat=r"([a-z]+)_\d+\.png$",
        valid_pct=0.25,
        seed=0,
        bs=4,
        num_workers=0,
    )
    return f"labels from file names: vocab {list(dls.vocab)}"


def _lr_max(kit: Kit) -> str:
    learn = kit.learn
    try:
        learn.fit_one_cycle(1, max_lr=1e-3)
        old = "accepted"
    except TypeError:
        old = "raises TypeError"
    learn.fit_one_cycle(1, lr_max=1e-3)
    return f"lr_max= trains ({len(learn.recorder.lrs)} steps); max_lr= {old}"


def _lr_find(kit: Kit) -> str:
    res = kit.learn.lr_find(num_it=12, show_plot=False)
    return f"returns {type(res).__name__}({', '.join(res._fields)}); plots loss vs lr"


def _plot_loss(kit: Kit) -> str:
    import matplotlib.pyplot as plt

    kit.learn.fit_one_cycle(1, lr_max=1e-3)  # a fresh history (lr_find keeps none)
    kit.learn.recorder.plot_loss()
    ax = plt.gca()
    labels = [line.get_label() for line in ax.get_lines()]
    plt.close(ax.figure)
    return f"draws {', '.join(labels)} losses"


def _plot_sched(kit: Kit) -> str:
    import matplotlib.pyplot as plt

    kit.learn.recorder.plot_sched()
    fig = plt.gcf()
    n = len(fig.axes)
    plt.close(fig)
    return f"draws {n} panels (lr, mom)"


def _set_hyper(kit: Kit) -> str:
    import torch
    from fastai.optimizer import SGD

    groups = [[torch.nn.Parameter(torch.zeros(1))] for _ in range(3)]
    opt = SGD(groups, lr=0.1)
    opt.set_hyper("lr", slice(1e-3))
    return "lr per group: " + ", ".join(f"{h['lr']:.0e}" for h in opt.hypers)


def _cleaner(kit: Kit) -> str:
    from unittest import mock

    import fastai.vision.widgets as fw

    # the cleaner draws each thumbnail with IPython's `display` (a builtin only
    # inside IPython); it is never shown here, so it need not draw them
    with mock.patch.object(fw, "display", _quiet, create=True):
        cleaner = fw.ImageClassifierCleaner(kit.learn, height=32, width=32, max_n=2)
    first = cleaner.iw.widget.children[0].children[1]  # the first image's dropdown
    first.value = "<Delete>"
    idxs = list(cleaner.delete())
    path = cleaner.fns[idxs[0]]
    data = path.read_bytes()
    for i in cleaner.delete():  # the line the reader writes
        cleaner.fns[i].unlink()
    gone = not path.exists()
    path.write_bytes(data)  # the kit stays whole for the other checks
    return f"marks {len(idxs)} image, the reader's loop deletes it: {gone}"


def _accuracy_multi(kit: Kit) -> str:
    import torch
    from fastai.metrics import accuracy_multi

    acc_02 = partial(accuracy_multi, thresh=0.2)
    inp = torch.tensor([[-2.0, 0.0, 2.0], [-1.0, -1.5, 3.0]])  # sigmoid .12 .5 .88
    targ = torch.tensor([[0, 1, 1], [1, 0, 1]])
    return f"partial(accuracy_multi, thresh=0.2) = {float(acc_02(inp, targ)):.3f}"


def _unet_learner(kit: Kit) -> str:
    from fastai.vision.all import unet_learner

    from .models import resnet_small

    learn = unet_learner(kit.seg_dls, resnet_small, pretrained=False, n_out=2)
    xb, _ = kit.seg_dls.one_batch()
    return f"a DynamicUnet; output {tuple(learn.model.eval()(xb).shape)}"


def _datablock(kit: Kit) -> str:
    from fastai.vision.all import (
        CategoryBlock,
        DataBlock,
        GrandparentSplitter,
        ImageBlock,
        get_image_files,
        parent_label,
    )

    dls = DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=get_image_files,
        get_y=parent_label,
        splitter=GrandparentSplitter(),
    ).dataloaders(kit.root, bs=4, num_workers=0, path=kit.root)
    return f"{len(dls.train_ds)} train, {len(dls.valid_ds)} valid, vocab {dls.vocab}"


def _random_splitter(kit: Kit) -> str:
    from fastai.data.transforms import RandomSplitter

    train, valid = RandomSplitter(valid_pct=0.25, seed=0)(list(range(20)))
    return f"{len(train)} train, {len(valid)} valid of 20"


def _device_dataloader(kit: Kit) -> str:
    import torch
    from fastai.data.load import DataLoader

    ds = [(torch.tensor([float(i)]), i % 2) for i in range(8)]
    dl = DataLoader(ds, bs=4, device=torch.device("meta"))
    xb, yb = next(iter(dl))
    return f"batches arrive on {xb.device.type} (device='meta' here)"


def _aug_transforms(kit: Kit) -> str:
    from fastai.vision.augment import aug_transforms

    tfms = aug_transforms()
    return ", ".join(type(t).__name__ for t in tfms)


def _pil_image(kit: Kit) -> str:
    from fastai.vision.core import PILImage, PILMask

    img = PILImage.create(next((kit.root / "seg" / "images").iterdir()))
    mask = PILMask.create(next((kit.root / "seg" / "labels").iterdir()))
    return f"{type(img).__name__} {img.size}, {type(mask).__name__} {mask.size}"


def _conv_layer(kit: Kit) -> str:
    from fastai.layers import ConvLayer

    return " -> ".join(type(m).__name__ for m in ConvLayer(3, 8))


def _res_block(kit: Kit) -> str:
    import torch
    from fastai.layers import ResBlock

    out = ResBlock(1, 8, 8)(torch.zeros(2, 8, 4, 4))
    return f"ResBlock(1, 8, 8): output {tuple(out.shape)}"


def _lin_bn_drop(kit: Kit) -> str:
    from fastai.layers import LinBnDrop

    return " -> ".join(type(m).__name__ for m in LinBnDrop(8, 4, bn=True, p=0.5))


def _tta(kit: Kit) -> str:
    preds, targs = kit.learn.tta(n=2)
    return f"predictions {tuple(preds.shape)}"


def _to_fp16(kit: Kit) -> str:
    from fastai.callback.fp16 import MixedPrecision

    learn = kit.learn
    learn.to_fp16()
    added = any(isinstance(cb, MixedPrecision) for cb in learn.cbs)
    learn.to_fp32()
    return f"adds a MixedPrecision callback: {added}"


def _interp(kit: Kit) -> str:
    from fastai.interpret import ClassificationInterpretation

    interp = ClassificationInterpretation.from_learner(kit.learn)
    return f"confusion matrix {interp.confusion_matrix().shape}"


def _freeze(kit: Kit) -> str:
    learn = kit.learn
    learn.freeze_to(-1)
    frozen = learn.opt.frozen_idx
    learn.unfreeze()
    return f"freeze_to(-1) freezes {frozen} of {len(learn.opt.param_lists)} groups"


def _vocab(kit: Kit) -> str:
    return f"dls.vocab = {list(kit.dls.vocab)}"


@dataclass(frozen=True)
class Rename:
    """One row: the 2018 spelling, today's, and the check that runs today's.

    `lesson`: a lesson whose fastai release (`claimbook.wheels.LESSON_RELEASE`)
    defines `where` (``path:qualname`` in its wheel; `param`, when given, must be
    one of that function's parameters). `since`: when the spelling changed, from
    the changelogs."""

    then: str
    today: str
    lesson: int
    where: str
    since: str
    check: Callable[[Kit], str]
    param: str = ""

    @property
    def unchanged(self) -> bool:
        return self.since == "unchanged"


RENAMES: tuple[Rename, ...] = (
    Rename(
        "ConvLearner(data, arch)",
        "vision_learner(dls, arch)",
        1,
        "fastai/vision/learner.py:ConvLearner",
        "1.0.15 create_cnn (2018-10-28); 1.0.47 cnn_learner; 2.6.0 vision_learner",
        _vision_learner,
    ),
    Rename(
        "create_cnn(data, arch)",
        "vision_learner(dls, arch)",
        2,
        "fastai/vision/learner.py:create_cnn",
        "1.0.47 cnn_learner (2019-03-06); 2.6.0 vision_learner",
        _vision_learner,
    ),
    Rename(
        "DataBunch(train_dl, valid_dl)",
        "DataLoaders(train, valid)",
        3,
        "fastai/basic_data.py:DataBunch",
        "2.0 (the rewrite)",
        _dataloaders,
    ),
    Rename(
        "ImageDataBunch.from_name_re(...)",
        "ImageDataLoaders.from_name_re(...)",
        1,
        "fastai/vision/data.py:ImageDataBunch.from_name_re",
        "2.0",
        _from_name_re,
    ),
    Rename(
        "fit_one_cycle(n, max_lr=...)",
        "fit_one_cycle(n, lr_max=...)",
        1,
        "fastai/train.py:fit_one_cycle",
        "2.0",
        _lr_max,
        param="max_lr",
    ),
    Rename(
        "lr_find(learn); learn.recorder.plot()",
        "learn.lr_find()  # plots, returns suggestions",
        1,
        "fastai/basic_train.py:Recorder.plot",
        "2.0",
        _lr_find,
    ),
    Rename(
        "learn.recorder.plot_losses()",
        "learn.recorder.plot_loss()",
        3,
        "fastai/basic_train.py:Recorder.plot_losses",
        "2.0",
        _plot_loss,
    ),
    Rename(
        "learn.recorder.plot_lr()",
        "learn.recorder.plot_sched()",
        3,
        "fastai/basic_train.py:Recorder.plot_lr",
        "2.0",
        _plot_sched,
    ),
    Rename(
        "learn.lr_range(slice(lr))",
        "learn.opt.set_hyper('lr', slice(lr))",
        5,
        "fastai/basic_train.py:Learner.lr_range",
        "2.0 (lr/3 became lr/10 in 1.0.29, 2018-11-27)",
        _set_hyper,
    ),
    Rename(
        "FileDeleter(file_paths)",
        "ImageClassifierCleaner(learn)",
        2,
        "fastai/widgets/file_picker.py:FileDeleter",
        "1.0.20 ImageDeleter; 1.0.25 ImageCleaner; 2.0 ImageClassifierCleaner",
        _cleaner,
    ),
    Rename(
        "partial(accuracy_thresh, thresh=0.2)",
        "partial(accuracy_multi, thresh=0.2)",
        3,
        "fastai/metrics.py:accuracy_thresh",
        "2.0",
        _accuracy_multi,
    ),
    Rename(
        "Learner.create_unet(data, arch)",
        "unet_learner(dls, arch)",
        3,
        "fastai/vision/learner.py:Learner.create_unet",
        "1.0.29 unet_learner (2018-11-27)",
        _unet_learner,
    ),
    Rename(
        "ImageFileList.from_folder(path).label_from_folder().split_by_folder()",
        "DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, "
        "get_y=parent_label, splitter=GrandparentSplitter())",
        3,
        "fastai/vision/data.py:ImageFileList",
        "1.0.23 split before label (2018-11-13); 2.0 DataBlock",
        _datablock,
    ),
    Rename(
        ".random_split_by_pct(0.2)",
        "RandomSplitter(valid_pct=0.2)",
        4,
        "fastai/data_block.py:ItemList.random_split_by_pct",
        "1.0.47 split_by_rand_pct (2019-03-06); 2.0 RandomSplitter",
        _random_splitter,
    ),
    Rename(
        "DeviceDataLoader(dl, device)",
        "DataLoader(dataset, bs=..., device=...)  # fastai's",
        3,
        "fastai/basic_data.py:DeviceDataLoader",
        "2.0",
        _device_dataloader,
    ),
    Rename(
        "get_transforms()",
        "aug_transforms()",
        1,
        "fastai/vision/transform.py:get_transforms",
        "2.0",
        _aug_transforms,
    ),
    Rename(
        "open_image(fn), open_mask(fn)",
        "PILImage.create(fn), PILMask.create(fn)",
        3,
        "fastai/vision/image.py:open_image",
        "2.0",
        _pil_image,
    ),
    Rename(
        "conv_layer(ni, nf)",
        "ConvLayer(ni, nf)",
        7,
        "fastai/layers.py:conv_layer",
        "2.0",
        _conv_layer,
    ),
    Rename(
        "res_block(nf)",
        "ResBlock(1, nf, nf)",
        7,
        "fastai/layers.py:res_block",
        "2.0",
        _res_block,
    ),
    Rename(
        "bn_drop_lin(n_in, n_out, p=...)",
        "LinBnDrop(n_in, n_out, p=...)",
        7,
        "fastai/layers.py:bn_drop_lin",
        "2.0",
        _lin_bn_drop,
    ),
    Rename(
        "learn.TTA()",
        "learn.tta()",
        1,
        "fastai/vision/tta.py:Learner.TTA",
        "2.0",
        _tta,
    ),
    Rename(
        "data.classes",
        "dls.vocab",
        1,
        "fastai/vision/data.py:ImageDataBunch",
        "2.0",
        _vocab,
    ),
    Rename(
        "learn.to_fp16()",
        "learn.to_fp16()",
        3,
        "fastai/train.py:Learner.to_fp16",
        "unchanged",
        _to_fp16,
    ),
    Rename(
        "ClassificationInterpretation.from_learner(learn)",
        "ClassificationInterpretation.from_learner(learn)",
        2,
        "fastai/vision/learner.py:ClassificationInterpretation.from_learner",
        "unchanged",
        _interp,
    ),
    Rename(
        "learn.freeze_to(-1); learn.unfreeze()",
        "learn.freeze_to(-1); learn.unfreeze()",
        1,
        "fastai/basic_train.py:Learner.freeze_to",
        "unchanged",
        _freeze,
    ),
)


@dataclass(frozen=True)
class Checked:
    row: Rename
    ok: bool
    result: str  # the check's text, or the error it raised


def run_checks(kit: Kit, rows=RENAMES) -> list[Checked]:
    """Run every row's check on `kit`; an exception is a failed row, not a crash."""
    import matplotlib.pyplot as plt

    out = []
    for row in rows:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(Checked(row, True, row.check(kit)))
        except Exception as e:  # noqa: BLE001 - a failing row is reported as such
            out.append(Checked(row, False, f"{type(e).__name__}: {e}"))
        finally:
            plt.close("all")
    return out


def then_side(row: Rename) -> str:
    """Whether the lesson's release defines the 2018 spelling: "yes (1.0.21)",
    "no (1.0.21)", or "not checked here" when the wheel is not cached."""
    from . import wheels

    version = wheels.LESSON_RELEASE[row.lesson]
    path, qualname = row.where.split(":")
    try:
        ok = wheels.has(version, path, qualname)
        if ok and row.param:
            names = [p for p, _ in wheels.structure(version, path, qualname).params]
            ok = row.param in names
    except wheels.WheelMissing:
        return f"not checked here ({version} not cached)"
    return f"{'yes' if ok else 'no'} ({version})"
