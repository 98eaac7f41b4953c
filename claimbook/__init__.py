"""claimbook: what the chapters of the executable companion book import.

Modules (each says which chapter introduced it):

* `budget`: the `Budget` (sizes, device, seed) read from the environment;
* `runtime`: `setup()`, the one call every chapter's setup cell makes;
* `claims`: the claim inventory and `record()`, which prints a verdict line;
* `evidence`: decision rules, replicates and intervals for experiments;
* `replicates`: M independent models trained at once (vmap), Adam per replicate;
* `lrfind`: the one reading of "where the loss starts to shoot up" (01, 02);
* `data`: synthetic tasks with ground truth, and the Pets loader;
* `models`: the small ResNet and its cached pretrained body;
* `groups`: layer groups and per-group learning rates (chapter 02);
* `hooks`: forward/backward hooks that own their handles (chapter 03);
* `seeding`: random draws in DataLoader workers, and the fix (chapter 04);
* `debug`: backprop dependency checks across a batch (chapter 05);
* `wheels`: the 2018 fastai's own code, read from its cached wheels (chapter 10);
* `renames`: 2018 names and today's, each checked by running it (chapter 10);
* `plotting`: small plotting helpers;
* `callbacks`: the fastai callback `setup()` installs.

Importing the package has no side effects (no seeding, no plot settings, no
fastai import); `setup()` does that explicitly. The book's build tools (ledger,
executor, Sphinx extension) live apart, in the repository's `bookbuild/`.
"""

from . import claims, evidence
from .budget import Budget, BudgetError, get_budget
from .claims import (
    CAVEAT,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_CHECKED,
    OUTDATED,
    below,
    record,
)
from .evidence import Rule, decide, paired
from .runtime import seed_everything, setup
from .tolerance import float_tolerance

__all__ = [
    "Budget",
    "BudgetError",
    "get_budget",
    "setup",
    "seed_everything",
    "claims",
    "record",
    "below",
    "evidence",
    "Rule",
    "decide",
    "paired",
    "float_tolerance",
    "HOLDS",
    "CAVEAT",
    "OUTDATED",
    "FAILS",
    "INCONCLUSIVE",
    "NOT_CHECKED",
]
__version__ = "0.2.0"
