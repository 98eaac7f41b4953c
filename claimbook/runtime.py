"""`setup()`: the one call every chapter's setup cell makes.

Introduced in chapter 00 (Start here). It acts on a `Budget` (from
`claimbook.budget`): warnings, threads, determinism, seeds, fastai's default
callbacks, plotting defaults, the small ResNet's fastai metadata, and the
verdict guards' mode. Importing this module has no side effects.
"""

from __future__ import annotations

import platform
import random
import warnings

from . import claims
from .budget import Budget, get_budget
from .models import register_with_fastai
from .plotting import use_book_style


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def versions() -> str:
    """The library versions verdicts were measured on (sanitized out of nbval)."""
    import fastai
    import torch

    from .budget import cpu_fingerprint

    return (
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"fastai {fastai.__version__}, cpu {cpu_fingerprint()}"
    )


def setup(budget: Budget | str | None = None, *, quiet: bool = False) -> Budget:
    """Seed everything, fix threads, pick determinism and plotting defaults.

    Every chapter's setup cell calls this once. It prints the budget and the
    library versions (the versions line is sanitized out of nbval's comparison).
    Off the reference setting (the full budget, or another CLAIMBOOK_SEED, or
    CLAIMBOOK_REFERENCE=0: `make nbval` sets it on another kind of CPU than the
    committed outputs were made on) a verdict that differs from the committed one
    is reported, not raised.
    """
    import os

    import torch

    # fastai 2.8 still calls torch.jit.script at import time, which today's torch
    # deprecates; the warning is about fastai's internals, not about any chapter.
    warnings.filterwarnings(
        "ignore",
        message=r".*torch\.jit\.script.* is deprecated",
        category=FutureWarning,
    )
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
    quiet_fastai(budget.progress_bars)
    use_book_style()
    register_with_fastai()
    same_cpu = os.environ.get("CLAIMBOOK_REFERENCE", "1") != "0"
    claims.set_reference(
        budget.is_reference and same_cpu,
        f"{budget.name} budget, CLAIMBOOK_SEED={budget.seed}"
        + ("" if same_cpu else ", another kind of CPU"),
    )
    if not budget.is_small:
        # the lessons' data and weights: a clear error now, in the setup cell, rather
        # than a crash (or a hanging download) halfway through the chapter
        from .pets import pets_path
        from .weights import require_weights

        pets_path()
        require_weights(budget.arch, budget_name=budget.name)
    if not quiet:
        print(budget.describe())
        print(f"versions: {versions()}")
    return budget


def quiet_fastai(progress_bars: bool) -> None:
    """Without progress bars: no HTML progress bars and no per-epoch log lines (they
    carry wall-clock times); chapters print the rounded numbers they need from
    `learn.recorder.values`. With them: fastai's own progress bars."""
    from fastai.callback.progress import ProgressCallback
    from fastai.learner import defaults

    from .callbacks import QuietRecorder

    cbs = [c for c in defaults.callbacks if c not in (ProgressCallback, QuietRecorder)]
    cbs.append(ProgressCallback if progress_bars else QuietRecorder)
    defaults.callbacks = cbs
