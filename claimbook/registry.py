"""The registry: the claim inventory and the decision rules, as data in the package.

The files live in ``claimbook/registered/`` and ship with ``pip install`` (package
data): ``claims.toml`` is the claim inventory (every ID with its source, the
chapter that records it and our paraphrase).

TOML is read with the standard library's ``tomllib`` (Python 3.11+) or its
backport ``tomli`` on Python 3.10. This module imports nothing from the package.
"""

from __future__ import annotations

import sys
from functools import lru_cache
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
