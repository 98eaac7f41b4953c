"""Budgets: one frozen object that says what a chapter runs on, at what size.

Introduced in chapter 00 (Start here). Pure definitions: this module imports
nothing from the package and has no side effects; `claimbook.runtime.setup()`
acts on a budget (threads, seeds, determinism).

Three settings, read from the environment when a budget is made:

* ``CLAIMBOOK_BUDGET``: ``small`` (default: synthetic data, CPU), ``full`` (the
  lessons' Pets and ImageNet ResNet-34, for a GPU) or ``mini`` (the full budget's
  code path at toy sizes, for CI on a generated Pets-layout folder);
* ``CLAIMBOOK_DEVICE``: ``cpu``, ``cuda`` or ``auto``;
* ``CLAIMBOOK_SEED``: an integer that shifts every seed a chapter uses (data
  draws and initialisation). The committed outputs are for the default; any
  other value must give the same verdicts (``make stability`` checks it).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

BUDGETS = ("small", "full", "mini")
DEVICES = ("cpu", "cuda", "auto")
DEFAULT_SEED = {"small": 0, "full": 42, "mini": 42}


class BudgetError(ValueError):
    """A budget, device or seed setting that is not one of the allowed values."""


@dataclass(frozen=True)
class Budget:
    """Everything a budget decides. Chapters read sizes from here, never hard-code."""

    name: str
    device: str
    dataset: str  # "synthetic-shapes" or "oxford-iiit-pets"
    img_size: int
    n_train: int  # images per task (source / target) in the training split
    n_valid: int
    bs: int
    epochs: int
    num_it: int  # iterations of an LR range test
    replicates: int  # independent replicates per statistical verdict
    arch: str
    seed: int  # the base seed (CLAIMBOOK_SEED, or the budget's default)
    threads: int
    progress_bars: bool
    deterministic: bool

    @property
    def seeds(self) -> tuple[int, int, int]:
        """Three consecutive seeds from the base (single-run sections use these)."""
        return (self.seed, self.seed + 1, self.seed + 2)

    def replicate_seeds(self, stream: str, n: int | None = None) -> tuple[int, ...]:
        """`n` (default: `replicates`) independent seeds for one experiment.

        Derived from the base seed and the experiment's name (`stream`) through
        NumPy's SeedSequence, so two experiments never share seeds, and another
        CLAIMBOOK_SEED gives a disjoint set (not the same seeds shifted by one)."""
        import hashlib

        import numpy as np

        n = self.replicates if n is None else n
        if n < 1:
            raise BudgetError(f"n={n}; need at least one replicate")
        key = int.from_bytes(hashlib.sha256(stream.encode()).digest()[:8], "little")
        seq = np.random.SeedSequence([self.seed, key])
        return tuple(int(v) for v in seq.generate_state(n, np.uint32) & 0x7FFFFFFF)

    @property
    def is_small(self) -> bool:
        """The synthetic-data budget (everything else takes the lessons' Pets path)."""
        return self.name == "small"

    @property
    def is_reference(self) -> bool:
        """True for the setting the committed outputs were made with (the small
        budget at its default seed): only there is a different verdict an error."""
        return self.is_small and self.seed == DEFAULT_SEED["small"]

    def describe(self) -> str:
        """One line per field, stable, for the setup cell's output."""
        fields = dataclasses.fields(self)
        return "\n".join(f"{f.name:16s} {getattr(self, f.name)!r}" for f in fields)


def _small(device: str, seed: int) -> Budget:
    return Budget(
        name="small",
        device=device,
        dataset="synthetic-shapes",
        img_size=32,
        n_train=1024,
        n_valid=256,
        bs=64,
        epochs=3,
        num_it=60,
        replicates=8,
        arch="resnet_small",
        seed=seed,
        threads=2,
        progress_bars=False,
        deterministic=True,
    )


def _full(device: str, seed: int) -> Budget:
    return Budget(
        name="full",
        device=device,
        dataset="oxford-iiit-pets",
        img_size=224,
        n_train=0,  # 0: the whole dataset (the lessons' 80/20 split)
        n_valid=0,
        bs=64,
        epochs=4,
        num_it=100,
        replicates=4,
        arch="resnet34",
        seed=seed,
        threads=max(1, (os.cpu_count() or 2)),
        progress_bars=True,
        deterministic=False,
    )


def _mini(device: str, seed: int) -> Budget:
    """The full budget's code path (Pets layout, torchvision ResNet-34, fastai's
    vision_learner) at sizes that run every chapter in minutes on 2 CPU cores; CI
    points CLAIMBOOK_PETS at a generated folder and fills torch's weights cache."""
    return Budget(
        name="mini",
        device=device,
        dataset="oxford-iiit-pets",
        img_size=32,
        n_train=0,  # every image of the (small, generated) folder
        n_valid=0,
        bs=16,
        epochs=1,
        num_it=30,  # fastai's `slide` suggestion needs more than 25 points
        replicates=2,
        arch="resnet34",
        seed=seed,
        threads=2,
        progress_bars=False,
        deterministic=True,
    )


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_device(name: str, requested: str | None) -> str:
    """Turn CLAIMBOOK_DEVICE into 'cpu' or 'cuda'; `cuda` without a GPU is an error."""
    default = "auto" if name == "full" else "cpu"
    requested = (requested or "").strip().lower() or default
    if requested not in DEVICES:
        raise BudgetError(
            f"CLAIMBOOK_DEVICE={requested!r} is not allowed; "
            f"use one of: {', '.join(DEVICES)}"
        )
    if requested == "auto":
        return "cuda" if _cuda_available() else "cpu"
    if requested == "cuda" and not _cuda_available():
        raise BudgetError(
            "CLAIMBOOK_DEVICE='cuda' but torch sees no CUDA GPU here; "
            "use CLAIMBOOK_DEVICE=cpu (or auto) on this machine"
        )
    return requested


def resolve_seed(name: str, requested: str | int | None) -> int:
    """CLAIMBOOK_SEED as an integer in [0, 2**31); unset: the budget's default."""
    if requested is None or (isinstance(requested, str) and not requested.strip()):
        return DEFAULT_SEED[name]
    try:
        seed = int(str(requested).strip())
    except ValueError:
        raise BudgetError(
            f"CLAIMBOOK_SEED={requested!r} is not an integer; "
            "use a whole number such as 0, 1 or 17"
        ) from None
    if not 0 <= seed < 2**31:
        raise BudgetError(f"CLAIMBOOK_SEED={seed} is outside [0, 2**31)")
    return seed


def get_budget(
    name: str | None = None, device: str | None = None, seed: int | str | None = None
) -> Budget:
    """The budget named by the argument or by CLAIMBOOK_BUDGET (default: small)."""
    raw = name if name is not None else os.environ.get("CLAIMBOOK_BUDGET", "")
    raw = raw.strip().lower() or "small"
    if raw not in BUDGETS:
        raise BudgetError(
            f"CLAIMBOOK_BUDGET={raw!r} is not allowed; use one of: {', '.join(BUDGETS)}"
        )
    env_device = os.environ.get("CLAIMBOOK_DEVICE")
    dev = resolve_device(raw, device if device is not None else env_device)
    s = resolve_seed(
        raw, seed if seed is not None else os.environ.get("CLAIMBOOK_SEED")
    )
    return {"small": _small, "full": _full, "mini": _mini}[raw](dev, s)


def cache_dir() -> Path:
    """Where built artefacts (the pretrained body) live: outside the repository.

    CLAIMBOOK_CACHE overrides; else $XDG_CACHE_HOME/claimbook or ~/.cache/claimbook.
    """
    env = os.environ.get("CLAIMBOOK_CACHE")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "claimbook"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cpu_fingerprint() -> str:
    """The CPU's vendor and the kernel family torch dispatches to on it, e.g.
    'GenuineIntel AVX512' or 'AuthenticAMD AVX2'.

    float32 training is bit-for-bit repeatable on one kind of CPU, not across kinds:
    MKL and oneDNN pick other kernels (other summation orders) by vendor and vector
    width, and a few thousand optimizer steps turn the last bit into another model.
    The committed outputs name the fingerprint they were made on (each chapter's
    versions line); `make nbval` compares strictly only on that kind of CPU."""
    import platform

    import torch

    vendor = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    vendor = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    vendor = vendor or platform.processor() or platform.machine() or "unknown"
    try:
        cap = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # pragma: no cover - torch < 2.0
        cap = "unknown"
    return f"{vendor} {cap}"
