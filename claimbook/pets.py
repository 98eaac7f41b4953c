"""The lessons' real dataset: Oxford-IIIT Pets in lesson 1's layout.

Used by the full budget (and the mini budget's generated miniature of it, see
`bookbuild.miniature`). `check_pets` vets a folder's layout before anything trains;
`pets_path` finds the folder ($CLAIMBOOK_PETS, fastai's data folder, or a download
when the machine is online); `pets_dls` builds lesson 1's DataLoaders from it. The
chapters reach it through `claimbook.data.budget_dls`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .network import is_online

PETS_PATTERN = (
    r"^(.+)_\d+\.jpg$"  # lesson 1: the breed is the file name up to _<number>.jpg
)
PETS_HOST = ("s3.amazonaws.com", 443)  # where fastai's URLs.PETS lives
# A breed with fewer images than this can land wholly in lesson 1's random 20%
# validation split, and fastai then fails on its first validation batch with
# "Label ... was not included in the training dataset"; the real set has ~200 each.
PETS_MIN_PER_BREED = 5
PETS_LAYOUT = (
    "an unpacked oxford-iiit-pet folder holds images/ with files named "
    "<breed>_<number>.jpg (images/Abyssinian_12.jpg, images/great_pyrenees_173.jpg)"
)


class PetsUnavailable(RuntimeError):
    """The full budget needs Oxford-IIIT Pets in lesson 1's layout, and it is not
    here, cannot be downloaded, or the folder is not in that layout (the message
    names the folder and the problem)."""


@dataclass(frozen=True)
class PetsFolder:
    """A folder that passed `check_pets`: its images and their breeds."""

    path: Path
    n_images: int
    breeds: tuple[str, ...]


def pets_label(fname: str | Path) -> str:
    """The lessons' regex labelling: 'great_pyrenees_173.jpg' -> 'great_pyrenees'."""
    m = re.match(PETS_PATTERN, Path(fname).name)
    if m is None:
        raise ValueError(
            f"{Path(fname).name!r} does not match the Pets pattern {PETS_PATTERN}"
        )
    return m.group(1)


def _image_files(folder: Path) -> list[Path]:
    """The files fastai's `get_image_files` would find under `folder` (image
    extensions, any depth, hidden files and folders skipped), sorted."""
    import mimetypes

    exts = {k for k, v in mimetypes.types_map.items() if v.startswith("image/")}
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [
            Path(parent) / f
            for f in files
            if not f.startswith(".") and f".{f.rsplit('.', 1)[-1].lower()}" in exts
        ]
    return sorted(found)


def check_pets(path: str | Path, *, origin: str = "") -> PetsFolder:
    """Check that `path` is in lesson 1's Pets layout, before anything trains.

    Raises `PetsUnavailable` naming the folder (and `origin`, e.g. the environment
    variable it came from) and the problem: no such folder, no ``images/`` in it,
    no images there, file names the lesson's regex cannot label, a single breed, or
    a breed too small for a random 20% validation split. Reads names only (the
    real set's 7,390 names take milliseconds).
    """
    path = Path(path)
    where = f"{origin}{path}" if origin else str(path)
    if not path.is_dir():
        raise PetsUnavailable(f"{where}: no such folder; {PETS_LAYOUT}")
    images = path / "images"
    if not images.is_dir():
        hint = ""
        if any(re.match(PETS_PATTERN, p.name) for p in path.iterdir()):
            hint = " (it holds the images itself: use the folder above it)"
        raise PetsUnavailable(f"{where} has no images/ folder{hint}; {PETS_LAYOUT}")
    files = _image_files(images)
    if not files:
        raise PetsUnavailable(f"no images under {images}; {PETS_LAYOUT}")
    bad = [f.relative_to(images) for f in files if not re.match(PETS_PATTERN, f.name)]
    if bad:
        shown = ", ".join(repr(str(b)) for b in bad[:3])
        raise PetsUnavailable(
            f"{len(bad)} of {len(files)} images under {images} have names that "
            f"lesson 1's pattern {PETS_PATTERN} cannot label (e.g. {shown}): the "
            f"breed is read from the file name, so {PETS_LAYOUT}"
        )
    counts: dict[str, int] = {}
    for f in files:
        counts[pets_label(f)] = counts.get(pets_label(f), 0) + 1
    if len(counts) < 2:
        raise PetsUnavailable(
            f"all {len(files)} images under {images} are one breed "
            f"({next(iter(counts))!r}): lesson 1 classifies breeds (37 in the real "
            "set) and needs at least two"
        )
    few = sorted(b for b, n in counts.items() if n < PETS_MIN_PER_BREED)
    if few:
        shown = ", ".join(f"{b} ({counts[b]})" for b in few[:5])
        raise PetsUnavailable(
            f"{len(few)} breeds under {images} have fewer than {PETS_MIN_PER_BREED} "
            f"images ({shown}): lesson 1's random 20% validation split can leave "
            "such a breed out of training, and fastai then fails mid-run"
        )
    return PetsFolder(path, len(files), tuple(sorted(counts)))


def pets_path(*, online: bool | None = None) -> Path:
    """The Pets folder: $CLAIMBOOK_PETS, fastai's data folder, or a download.

    Whichever it is, `check_pets` checks its layout first, so a wrong folder stops
    here with a message naming it, before any training. Without network and
    without a local copy this fails fast (a few seconds) with a message saying
    what to download, instead of hanging in a download.
    """
    env = os.environ.get("CLAIMBOOK_PETS")
    if env:
        check_pets(env, origin="CLAIMBOOK_PETS=")
        return Path(env)
    from fastai.data.external import URLs, fastai_cfg, untar_data

    local = Path(fastai_cfg().data) / "oxford-iiit-pet"
    if local.exists():
        check_pets(local, origin="fastai's data folder: ")
        return local
    if online is None:
        online = is_online(PETS_HOST)
    if not online:
        raise PetsUnavailable(
            "The full budget needs Oxford-IIIT Pets (fastai URLs.PETS, about 800 MB) "
            f"and this machine cannot download it (nothing at {local}). On a "
            "machine with internet run\n"
            "  python -c 'from fastai.vision.all import *; untar_data(URLs.PETS)'\n"
            "or point CLAIMBOOK_PETS at an unpacked oxford-iiit-pet folder; "
            "or use CLAIMBOOK_BUDGET=small."
        )
    path = untar_data(URLs.PETS)  # pragma: no cover - needs the network
    check_pets(path, origin="the download: ")  # pragma: no cover
    return path  # pragma: no cover


def pets_dls(
    path: str | Path, *, size: int = 224, bs: int = 64, seed: int = 42, device=None
):
    """Lesson 1's DataLoaders: labels from file names by regex, 20% validation,
    Resize then the standard augmentations at `size`. Works on any folder in the
    Pets layout (``images/Breed_name_123.jpg``); `check_pets` vets it first."""
    from fastai.vision.all import (
        ImageDataLoaders,
        Resize,
        aug_transforms,
        get_image_files,
    )

    path = Path(path)
    check_pets(path)
    fnames = get_image_files(path / "images")
    return ImageDataLoaders.from_name_re(
        path,
        fnames,
        pat=PETS_PATTERN,
        valid_pct=0.2,
        seed=seed,
        item_tfms=Resize(int(size * 460 / 224)),
        batch_tfms=aug_transforms(size=size, min_scale=0.75),
        bs=bs,
        device=device,
        num_workers=0,
    )
