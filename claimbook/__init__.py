"""claimbook: the small helper package behind the executable companion book.

Modules: `config` (budgets, `setup()`), `data` (synthetic tasks with ground truth,
the Pets loader), `models` (the small ResNet and its cached pretrained body),
`claims` (verdicts and the inventory), `ledger` (the generated ledger page),
`plotting`. Importing the package has no side effects.
"""

from .claims import CAVEAT, FAILS, HOLDS, NOT_CHECKED, OUTDATED, record
from .config import Budget, BudgetError, get_budget, setup

__all__ = ["Budget", "BudgetError", "get_budget", "setup", "record",
           "HOLDS", "CAVEAT", "OUTDATED", "FAILS", "NOT_CHECKED"]
__version__ = "0.1.0"
