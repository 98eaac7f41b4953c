"""Budgets, device choice, seeding and the one `setup()` call every chapter makes.

Introduced in chapter 00 (Start here). Importing this module has no side effects;
`setup()` does the seeding, thread and plotting settings explicitly.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import random
from dataclasses import dataclass
from pathlib import Path

BUDGETS = ("small", "full")
DEVICES = ("cpu", "cuda", "auto")


class BudgetError(ValueError):
    """A budget or device setting that is not one of the allowed values."""


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
    arch: str
    seeds: tuple[int, ...]
    threads: int
    progress_bars: bool
    deterministic: bool

    @property
    def seed(self) -> int:
        """The first seed: the one a single-run experiment uses."""
        return self.seeds[0]

    @property
    def is_small(self) -> bool:
        return self.name == "small"

    def describe(self) -> str:
        """One line per field, stable, for the setup cell's output."""
        rows = [f"{f.name:16s} {getattr(self, f.name)!r}" for f in dataclasses.fields(self)]
        return "\n".join(rows)


def _small(device: str) -> Budget:
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
        arch="resnet_small",
        seeds=(0, 1, 2),
        threads=2,
        progress_bars=False,
        deterministic=True,
    )


def _full(device: str) -> Budget:
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
        arch="resnet34",
        seeds=(42, 43, 44),
        threads=max(1, (os.cpu_count() or 2)),
        progress_bars=True,
        deterministic=False,
    )


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_device(name: str, requested: str | None) -> str:
    """Turn CLAIMBOOK_DEVICE into 'cpu' or 'cuda'; `cuda` without a GPU is an error."""
    requested = (requested or "").strip().lower() or ("cpu" if name == "small" else "auto")
    if requested not in DEVICES:
        raise BudgetError(
            f"CLAIMBOOK_DEVICE={requested!r} is not allowed; use one of: {', '.join(DEVICES)}"
        )
    if requested == "auto":
        return "cuda" if _cuda_available() else "cpu"
    if requested == "cuda" and not _cuda_available():
        raise BudgetError(
            "CLAIMBOOK_DEVICE='cuda' but torch sees no CUDA GPU here; "
            "use CLAIMBOOK_DEVICE=cpu (or auto) on this machine"
        )
    return requested


def get_budget(name: str | None = None, device: str | None = None) -> Budget:
    """The budget named by the argument or by CLAIMBOOK_BUDGET (default: small)."""
    raw = name if name is not None else os.environ.get("CLAIMBOOK_BUDGET", "")
    raw = raw.strip().lower() or "small"
    if raw not in BUDGETS:
        raise BudgetError(
            f"CLAIMBOOK_BUDGET={raw!r} is not allowed; use one of: {', '.join(BUDGETS)}"
        )
    dev = resolve_device(raw, device if device is not None else os.environ.get("CLAIMBOOK_DEVICE"))
    return _small(dev) if raw == "small" else _full(dev)


def cache_dir() -> Path:
    """Where built artefacts (the pretrained body) live: outside the repository.

    CLAIMBOOK_CACHE overrides; otherwise $XDG_CACHE_HOME/claimbook or ~/.cache/claimbook.
    """
    env = os.environ.get("CLAIMBOOK_CACHE")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "claimbook"
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def versions() -> str:
    """The library versions verdicts were measured on (sanitized out of nbval)."""
    import torch

    try:
        import fastai

        fa = fastai.__version__
    except ImportError:  # pragma: no cover - fastai is a requirement
        fa = "not installed"
    return f"python {platform.python_version()}, torch {torch.__version__}, fastai {fa}"


def setup(budget: Budget | str | None = None, *, quiet: bool = False) -> Budget:
    """Seed everything, fix threads, pick determinism and plotting defaults.

    Every chapter's setup cell calls this once. It prints the budget and the
    library versions (the versions line is sanitized out of nbval's comparison).
    """
    import warnings

    import numpy as np  # noqa: F401
    import torch

    # fastai 2.8 still calls torch.jit.script at import time, which today's torch
    # deprecates; the warning is about fastai's internals, not about any chapter.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)
    if not isinstance(budget, Budget):
        budget = get_budget(budget)
    torch.set_num_threads(budget.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process (a second setup() call)
        pass
    if budget.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    seed_everything(budget.seed)
    _quiet_fastai(budget)
    _plot_defaults()
    from .models import register_with_fastai

    register_with_fastai()
    if not quiet:
        print(budget.describe())
        print(f"versions: {versions()}")
    return budget


def _quiet_fastai(budget: Budget) -> None:
    """On the small budget: no HTML progress bars and no per-epoch log lines (they
    carry wall-clock times). Chapters print the rounded numbers they need from
    `learn.recorder.values`. The full budget keeps fastai's progress bars."""
    try:
        from fastai.callback.core import Callback
        from fastai.callback.progress import ProgressCallback
        from fastai.learner import defaults
        from fastcore.basics import noop
    except ImportError:  # pragma: no cover
        return

    class QuietRecorder(Callback):
        "Silence the Recorder's per-epoch print (installed by claimbook.setup)."
        order = 100

        def before_fit(self):
            self.learn.logger = noop

    cbs = [c for c in getattr(defaults, "callbacks", [])
           if c is not ProgressCallback and getattr(c, "__name__", "") != "QuietRecorder"]
    cbs.append(ProgressCallback if budget.progress_bars else QuietRecorder)
    defaults.callbacks = cbs


def _plot_defaults() -> None:
    import matplotlib

    matplotlib.rcParams.update(
        {
            "figure.dpi": 72,
            "savefig.dpi": 72,
            "figure.figsize": (6.4, 3.6),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "claimbook",
        }
    )
