"""The registry: the claim inventory and the decision rules, as data in the package.

The files live in ``claimbook/registered/`` and ship with ``pip install`` (package
data): ``claims.toml`` is the claim inventory (every ID with its source, the
chapter that records it and our paraphrase).

TOML is read with the standard library's ``tomllib`` (Python 3.11+) or its
backport ``tomli`` on Python 3.10. This module imports nothing from the package.
"""

from __future__ import annotations

import sys
from functools import cache, lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

REGISTERED = Path(__file__).with_name("registered")
INVENTORY = REGISTERED / "claims.toml"


class RegistryError(ValueError):
    """A registry file that is missing, malformed or inconsistent."""


def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as e:
        raise RegistryError(f"{path} is missing from the package") from e
    except tomllib.TOMLDecodeError as e:
        raise RegistryError(f"{path}: {e}") from e


def parse_inventory(data: dict, where: str = "claims.toml") -> dict:
    """{id: (source, chapter, text)} from the inventory's parsed TOML, checked."""
    out: dict[str, tuple[str, str, str]] = {}
    for i, row in enumerate(data.get("claim", [])):
        missing = {"id", "source", "chapter", "text"} - set(row)
        if missing:
            raise RegistryError(f"{where}: claim #{i + 1} lacks {sorted(missing)}")
        if row["id"] in out:
            raise RegistryError(f"{where}: claim {row['id']!r} is listed twice")
        out[row["id"]] = (row["source"], row["chapter"], row["text"])
    if not out:
        raise RegistryError(f"{where}: no [[claim]] entries")
    return out


@lru_cache(maxsize=1)
def _inventory() -> dict:
    return parse_inventory(read_toml(INVENTORY), INVENTORY.name)


def load_inventory() -> dict[str, tuple[str, str, str]]:
    """The claim inventory, {id: (source, chapter, paraphrase)}, in file order."""
    return dict(_inventory())


# --- decision rules ---------------------------------------------------------------
#
# One file per chapter, ``registered/NN_slug.toml``, one table per rule:
#
#   [rule."dlr-ten-x"]
#   claim = "dlr-ten-x"              # the claim it decides (a rule key may add
#                                    # ":part" for a control or a sub-rule)
#   quantity = "..."                 # per replicate, with its sign convention
#   design = "non-inferiority"       # superiority | non-inferiority | equivalence
#   direction = "greater"            # greater | less
#   margin = 0.01                    # non-inferiority / equivalence; superiority
#   min_effect = 0.02                #   takes min_effect instead
#   method = "t"                     # t | bootstrap | proportion
#   confidence = 0.95                # optional (equivalence: 0.90)
#   n = { small = 8, full = 4, mini = 2 }   # replicates per budget
#   control = "dlr-ten-x:control"    # optional: the control rule's key
#   aggregation = "..."              # optional: how several tasks combine
#   registered = "2026-12-06"
#   [[rule."dlr-ten-x".history]]     # append-only; the first entry registers it
#   date = "2026-12-06"
#   change = "..."                   # what was fixed or changed
#   why = "..."
#   results_seen = true              # had any result of this rule been seen?
#
# tests/test_registry.py walks the files' git history: a commit that changes a
# rule's fields without appending a history entry fails the tests.

RULE_FIELDS = (
    "claim",
    "quantity",
    "design",
    "direction",
    "margin",
    "min_effect",
    "method",
    "confidence",
    "n",
    "control",
    "aggregation",
    "registered",
)
REQUIRED = ("claim", "quantity", "design", "direction", "method", "n", "registered")
HISTORY_FIELDS = ("date", "change", "why", "results_seen")
BUDGETS = ("small", "full", "mini")


def rule_files() -> list[Path]:
    """The chapters' rule files, in chapter order."""
    return sorted(p for p in REGISTERED.glob("[0-9][0-9]_*.toml"))


def check_rule_table(key: str, t: dict, where: str) -> list[str]:
    """Problems with one rule's table (empty when it is well formed)."""
    import re

    out = []
    missing = [f for f in REQUIRED if f not in t]
    if missing:
        out.append(f"{where}: rule {key!r} lacks {missing}")
    unknown = set(t) - set(RULE_FIELDS) - {"history"}
    if unknown:
        out.append(f"{where}: rule {key!r} has unknown fields {sorted(unknown)}")
    if key.split(":")[0] != t.get("claim"):
        out.append(f"{where}: rule {key!r} must start with its claim ID")
    n = t.get("n", {})
    if not isinstance(n, dict) or set(n) != set(BUDGETS):
        out.append(f"{where}: rule {key!r} needs n for each of {BUDGETS}")
    elif not all(isinstance(v, int) and v >= 1 for v in n.values()):
        out.append(f"{where}: rule {key!r}: n must be whole numbers >= 1")
    hist = t.get("history", [])
    if not hist:
        out.append(f"{where}: rule {key!r} has no history entry (its registration)")
    for i, h in enumerate(hist):
        lack = [f for f in HISTORY_FIELDS if f not in h]
        if lack:
            out.append(f"{where}: rule {key!r} history #{i + 1} lacks {lack}")
        elif not re.fullmatch(r"\d{4}-\d\d-\d\d", str(h["date"])):
            out.append(f"{where}: rule {key!r} history #{i + 1}: date as YYYY-MM-DD")
        elif not isinstance(h["results_seen"], bool):
            out.append(f"{where}: rule {key!r} history #{i + 1}: results_seen bool")
    return out


def fields_of(t: dict) -> dict:
    """A rule's fields without its history (what a history entry must cover)."""
    return {k: v for k, v in t.items() if k != "history"}


def check_history(old: dict, new: dict, where: str = "") -> list[str]:
    """Problems between two versions of one rule file's parsed TOML.

    A rule whose fields changed needs a new history entry; history is append-only
    (earlier entries unchanged); a new rule needs its registration entry."""
    out = []
    old_rules, new_rules = old.get("rule", {}), new.get("rule", {})
    for key, t in new_rules.items():
        hist = t.get("history", [])
        if key not in old_rules:
            if not hist:
                out.append(f"{where}: new rule {key!r} has no registration entry")
            continue
        o = old_rules[key]
        ohist = o.get("history", [])
        if hist[: len(ohist)] != ohist:
            out.append(f"{where}: rule {key!r}: an earlier history entry was edited")
        if fields_of(t) != fields_of(o) and len(hist) <= len(ohist):
            changed = sorted(
                k for k in set(fields_of(t)) | set(fields_of(o)) if t.get(k) != o.get(k)
            )
            out.append(
                f"{where}: rule {key!r} changed {changed} without a new history "
                "entry (date, change, why, results_seen)"
            )
    return out


@cache
def _rules_file(path: Path) -> dict:
    data = read_toml(path)
    problems = []
    for key, t in data.get("rule", {}).items():
        problems += check_rule_table(key, t, path.name)
    if problems:
        raise RegistryError("; ".join(problems))
    return data.get("rule", {})


def all_rules() -> dict[str, dict]:
    """Every registered rule's table, by key, over all chapters' files."""
    out: dict[str, dict] = {}
    for path in rule_files():
        for key, t in _rules_file(path).items():
            if key in out:
                raise RegistryError(f"rule {key!r} is registered twice")
            out[key] = dict(t, file=path.name)
    return out


def rule(key: str, budget=None):
    """The registered rule `key` as a `claimbook.evidence.Rule`, with n for
    `budget` (its ``name``: small, full or mini; default small)."""
    from .evidence import Rule

    rules = all_rules()
    if key not in rules:
        raise RegistryError(
            f"no rule {key!r} in the registry (claimbook/registered/*.toml)"
        )
    t = rules[key]
    name = getattr(budget, "name", budget) or "small"
    if name not in BUDGETS:
        raise RegistryError(f"budget {name!r}; use one of {BUDGETS}")
    hist = tuple(t["history"])
    return Rule(
        quantity=t["quantity"],
        direction=t["direction"],
        min_effect=float(t.get("min_effect", 0.0)),
        confidence=t.get("confidence"),
        method=t["method"],
        design=t["design"],
        margin=t.get("margin"),
        key=key,
        claim=t["claim"],
        n=int(t["n"][name]),
        control=t.get("control", ""),
        aggregation=t.get("aggregation", ""),
        registered=str(t["registered"]),
        amended=any(h["results_seen"] for h in hist),
        history=hist,
    )


def rules_for(claim_id: str) -> list[str]:
    """The keys of every rule registered for one claim."""
    return [k for k, t in all_rules().items() if t["claim"] == claim_id]
