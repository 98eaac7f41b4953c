"""The full budget in miniature: what the full budget reads, at toy size, offline.

`python -m bookbuild miniature --out DIR` builds what the full budget reads, at toy
size and with no network:

* ``DIR/oxford-iiit-pet/images/``: a folder in the Oxford-IIIT Pets layout, the 37
  breeds under lesson 1's file names (``Abyssinian_12.jpg``: cat breeds capitalised,
  ``great_pyrenees_173.jpg``: dog breeds in lower case), a few small JPEGs each. Each
  breed has its own coat colour and stripe direction, so a network can learn
  something; sizes vary as in the real set, one Egyptian Mau is greyscale and a
  ``.mat`` file sits among the images, as in the real download.
* ``DIR/torch/hub/checkpoints/resnet34-b627a593.pth``: a seeded random ResNet-34
  state dict (BatchNorm statistics measured on those images) under the exact file
  name torchvision's ``ResNet34_Weights.IMAGENET1K_V1`` downloads to, so
  ``resnet34(weights="IMAGENET1K_V1")`` and ``vision_learner(dls, resnet34)`` take
  their normal path and find the file in torch's cache.

It prints the three variables to export (``CLAIMBOOK_BUDGET=mini``,
``CLAIMBOOK_PETS``, ``TORCH_HOME``). ``--test [NOTEBOOK ...]`` (``make test-full``)
builds one in a temporary folder and runs every chapter on it with nbval's lax mode,
one pytest per chapter, and prints each chapter's result, time and peak memory.

The notebooks' Colab cell is `bookbuild.colab`.
"""

from __future__ import annotations

import argparse
import colorsys
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .notebooks import chapters
from .project import find_root

# The 37 breeds of Oxford-IIIT Pets as lesson 1's regex reads them from the file
# names: the 12 cat breeds capitalised, the 25 dog breeds in lower case.
CATS = (
    "Abyssinian",
    "Bengal",
    "Birman",
    "Bombay",
    "British_Shorthair",
    "Egyptian_Mau",
    "Maine_Coon",
    "Persian",
    "Ragdoll",
    "Russian_Blue",
    "Siamese",
    "Sphynx",
)
DOGS = (
    "american_bulldog",
    "american_pit_bull_terrier",
    "basset_hound",
    "beagle",
    "boxer",
    "chihuahua",
    "english_cocker_spaniel",
    "english_setter",
    "german_shorthaired",
    "great_pyrenees",
    "havanese",
    "japanese_chin",
    "keeshond",
    "leonberger",
    "miniature_pinscher",
    "newfoundland",
    "pomeranian",
    "pug",
    "saint_bernard",
    "samoyed",
    "scottish_terrier",
    "shiba_inu",
    "staffordshire_bull_terrier",
    "wheaten_terrier",
    "yorkshire_terrier",
)
BREEDS = CATS + DOGS
PER_BREED = 6  # 222 images; a breed wholly in a 20% split: ~0.2% of random draws
ARCHS = ("resnet34",)  # the full budget's architectures (claimbook.budget)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ----------------------------------------------------------------- the images


def _breed_look(k: int) -> tuple[np.ndarray, float, float]:
    """Breed `k`'s coat colour (RGB in [0, 1]), stripe angle and stripe period
    (a fraction of the image side): distinct for the 37 breeds."""
    hue = (k * 0.618034) % 1.0  # golden-ratio steps spread the hues
    coat = np.array(colorsys.hsv_to_rgb(hue, 0.65, 0.85))
    angle = np.pi * ((k * 5) % 37) / 37
    period = (0.08, 0.13, 0.2)[k % 3]
    return coat, angle, period


def pet_image(k: int, rng: np.random.Generator) -> np.ndarray:
    """One uint8 RGB picture of breed `k`: a striped elliptic 'animal' in the
    breed's coat on a random muted background, with pixel noise."""
    h, w = (int(v) for v in rng.integers(96, 161, 2))
    coat, angle, period = _breed_look(k)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(0.35, 0.65) * h, rng.uniform(0.35, 0.65) * w
    ry, rx = rng.uniform(0.25, 0.4) * h, rng.uniform(0.25, 0.4) * w
    body = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    side = max(h, w)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) / (period * side)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * phase + rng.uniform(0, 2 * np.pi))
    fur = coat[None, None] * (0.7 + 0.3 * stripes[..., None])
    background = rng.uniform(0.2, 0.8, 3) * rng.uniform(0.5, 1.0)
    img = np.where(body[..., None], fur, background[None, None])
    img = img + rng.normal(0.0, 0.05, img.shape)
    return (np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)


def make_pets(root: str | Path, *, per_breed: int = PER_BREED, seed: int = 0) -> Path:
    """`root`/images in the Pets layout: `per_breed` JPEGs for each of the 37
    breeds, numbered as in the real set (1..200, with gaps). Returns `root`."""
    from PIL import Image

    images = Path(root) / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 37])
    for k, breed in enumerate(BREEDS):
        numbers = np.sort(rng.choice(np.arange(1, 201), per_breed, replace=False))
        for j, n in enumerate(numbers):
            img = Image.fromarray(pet_image(k, rng))
            if breed == "Egyptian_Mau" and j == 0:
                img = img.convert("L")  # the real set has greyscale Maus
            img.save(images / f"{breed}_{n}.jpg", quality=90)
    # the real images/ folder holds three MATLAB files among the JPEGs
    (images / "Abyssinian_100.mat").write_bytes(b"MATLAB 5.0 MAT-file (placeholder)")
    return Path(root)


# ---------------------------------------------------------------- the weights


def _calibration_batch(pets: Path, size: int):
    """Every image of the miniature at `size` px, ImageNet-normalised (N, 3, S, S)."""
    import torch
    from PIL import Image

    files = sorted((pets / "images").glob("*.jpg"))
    arr = np.stack(
        [np.asarray(Image.open(f).convert("RGB").resize((size, size))) for f in files]
    )
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def make_weights(
    torch_home: str | Path,
    *,
    arch: str = "resnet34",
    seed: int = 0,
    calibrate_on: Path | None = None,
    size: int = 64,
) -> Path:
    """A seeded random `arch` state dict where torchvision looks for its ImageNet
    weights under `torch_home` (TORCH_HOME/hub/checkpoints/<the URL's file name>).

    With `calibrate_on` (a Pets-layout folder) the BatchNorm running statistics
    are measured on its images at `size` px, as real pretrained statistics would
    be, so the frozen body's eval-mode activations keep a sane scale."""
    import torch
    import torchvision

    from claimbook.weights import weights_file

    saved = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(torch_home)
    try:
        path = weights_file(arch)
    finally:
        if saved is None:
            del os.environ["TORCH_HOME"]
        else:
            os.environ["TORCH_HOME"] = saved
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = getattr(torchvision.models, arch)(weights=None)
    if calibrate_on is not None:
        bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches
        x = _calibration_batch(Path(calibrate_on), size)
        model.train()
        with torch.no_grad():
            for i in range(0, len(x), 64):
                model(x[i : i + 64])
        for m in bns:
            m.momentum = 0.1
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- the whole


def build(
    out: str | Path, *, per_breed: int = PER_BREED, seed: int = 0
) -> dict[str, str]:
    """Build the miniature under `out`; returns the environment to export."""
    from claimbook.budget import get_budget

    out = Path(out).resolve()
    pets = make_pets(out / "oxford-iiit-pet", per_breed=per_breed, seed=seed)
    size = get_budget("mini", device="cpu").img_size
    for arch in ARCHS:
        make_weights(out / "torch", arch=arch, seed=seed, calibrate_on=pets, size=size)
    return {
        "CLAIMBOOK_BUDGET": "mini",
        "CLAIMBOOK_PETS": str(pets),
        "TORCH_HOME": str(out / "torch"),
    }


def exports(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())


# ------------------------------------------------- every chapter on the miniature


def run_chapter(nb: Path, env: dict[str, str], root: Path, log: Path) -> dict:
    """One chapter under pytest's nbval lax mode (any error fails it), in a child
    process; its wall time, CPU time and peak resident memory (the largest
    process: pytest or the kernel it started)."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        "tests/nbval_sanitize.cfg",
        "--nbval-cell-timeout=600",
        "-p",
        "no:cacheprovider",
        "-q",
        str(nb),
    ]
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            cmd, cwd=root, env={**os.environ, **env}, stdout=fh, stderr=fh
        )
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "chapter": nb.name,
        "ok": proc.returncode == 0,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
    }


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL = re.compile(r"^_+ .*::(Cell \d+) _+$")
_ERROR = re.compile(
    r"^([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Warning))\b:?(.*)$"
)


def failed_cells(log_text: str) -> list[str]:
    """'Cell N: ErrorName: message' for each failed cell in a pytest-nbval log
    (colours stripped; the last exception line of each cell's report)."""
    found, cell, error = [], None, None
    for line in _ANSI.sub("", log_text).splitlines() + ["_ end::Cell -1 _"]:
        head = _CELL.match(line) or line.startswith("=" * 10)
        if head:
            if cell:
                found.append(f"{cell}: {error or 'cell execution failed'}")
            cell, error = (head.group(1) if _CELL.match(line) else None), None
            continue
        m = _ERROR.match(line)
        if cell and m and not (error or "").startswith("Timeout"):
            error = (m.group(1) + (":" + m.group(3) if m.group(3) else ""))[:240]
        elif cell and re.match(r"^Cell \d+: Timeout of \d+ seconds", line):
            error = line.split(": ", 1)[1]  # nbval's --nbval-cell-timeout
    return found


def _failure(log: Path) -> str:
    cells = failed_cells(log.read_text(errors="replace"))
    if not cells:  # not a cell failure (a collection or start-up error): the tail
        cells = _ANSI.sub("", log.read_text(errors="replace")).splitlines()[-25:]
    return "\n".join(f"    {c}" for c in cells) + f"\n    (full log: {log})"


def run_chapters(
    notebooks: list[Path],
    root: Path,
    *,
    keep: Path | None = None,
    per_breed: int = PER_BREED,
    seed: int = 0,
    logs: Path | None = None,
) -> int:
    """Build a miniature (in `keep`, or a temporary folder removed afterwards) and
    run each chapter on it; print a table; 1 when any chapter failed. Each
    chapter's pytest log goes to `logs` (default: _build/test-full/, kept)."""
    out = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="claimbook-mini-"))
    logs = Path(logs) if logs else root / "_build" / "test-full"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        env = build(out, per_breed=per_breed, seed=seed)
        env.setdefault("PYTHONHASHSEED", "0")
        print(f"miniature built in {time.perf_counter() - t0:.1f} s under {out}")
        print(exports(env), flush=True)
        rows = []
        for nb in notebooks:
            row = run_chapter(nb, env, root, logs / f"{nb.stem}.log")
            rows.append(row)
            print(
                f"{row['chapter']:32s} {'ok' if row['ok'] else 'FAILED':6s} "
                f"{row['wall_s']:7.1f} s wall {row['cpu_s']:7.1f} s CPU "
                f"{row['peak_mb']:7.0f} MB peak",
                flush=True,
            )
            if not row["ok"]:
                print(_failure(logs / f"{nb.stem}.log"), flush=True)
        wall = sum(r["wall_s"] for r in rows)
        cpu = sum(r["cpu_s"] for r in rows)
        peak = max((r["peak_mb"] for r in rows), default=0.0)
        failed = [r["chapter"] for r in rows if not r["ok"]]
        print(
            f"mini budget: {len(rows)} chapters, {wall:.0f} s wall, {cpu:.0f} s CPU, "
            f"{peak:.0f} MB peak" + (f"; failed: {', '.join(failed)}" if failed else "")
        )
        print(f"chapters: {len(rows) - len(failed)} passed, {len(failed)} failed")
        return 1 if failed else 0
    finally:
        if keep is None:
            shutil.rmtree(out, ignore_errors=True)


def _notebooks(root: Path, names=()) -> list[Path]:
    if names:
        paths = [Path(n) if Path(n).is_absolute() else root / n for n in names]
        out = []
        for p in paths:
            out += sorted(p.glob("*.ipynb")) if p.is_dir() else [p]
        return out
    return chapters(root)


# ----------------------------------------------------------------------- CLI


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bookbuild miniature",
        description="The full budget in miniature (a Pets-layout folder and seeded "
        "ResNet-34 weights in torch's cache).",
    )
    ap.add_argument("--out", type=Path, help="build the miniature in this folder")
    ap.add_argument(
        "--test",
        nargs="*",
        metavar="NOTEBOOK",
        help="build one in a temporary folder and run these chapters on it "
        "(default: all) with nbval's lax mode",
    )
    ap.add_argument("--per-breed", type=int, default=PER_BREED)
    ap.add_argument("--seed", type=int, default=0, help="images and weights")
    ap.add_argument("--root", help="the book project (default: found from cwd)")
    args = ap.parse_args(argv)
    if args.out is None and args.test is None:
        ap.error("nothing to do: give --out DIR or --test")
    root = find_root(args.root)
    if args.out is not None and args.test is None:
        t0 = time.perf_counter()
        env = build(args.out, per_breed=args.per_breed, seed=args.seed)
        print(
            f"# miniature built in {time.perf_counter() - t0:.1f} s; "
            "run a chapter on the full budget's code path with:"
        )
        print(exports(env))
    if args.test is not None:
        return run_chapters(
            _notebooks(root, args.test),
            root,
            keep=args.out,
            per_breed=args.per_breed,
            seed=args.seed,
        )
    return 0
