"""The reader's install at the lowest versions the package allows (issue 32).

`make lowest` builds a fresh virtual environment (``.venv-lowest``), installs the
package with every direct dependency at the lowest version ``pyproject.toml``
allows (``uv pip install --resolution lowest-direct``), runs the unit tests of the
package and one chapter on the mini budget there. torch and torchvision stay at
the lock's versions: a second multi-GB torch would cost CI about ten minutes, so
`link` makes the locked torch, torchvision and everything they depend on (but
NumPy and Pillow, which the package lowers) visible in the new environment by
symbolic links into its site-packages, where the installer sees them as installed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from importlib.metadata import Distribution, distribution
from pathlib import Path

LINKED = ("torch", "torchvision")
LOWERED = ("numpy", "pillow")  # torchvision needs them; the package pins their floor


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots=LINKED, exclude=LOWERED) -> dict[str, Distribution]:
    """The installed distributions `roots` need (their requirements whose markers
    hold here, extras left out, recursively), without `exclude`."""
    from packaging.requirements import Requirement

    found: dict[str, Distribution] = {}
    stack, skip = list(roots), {_key(e) for e in exclude}
    while stack:
        name = stack.pop()
        key = _key(name)
        if key in found or key in skip:
            continue
        try:
            dist = distribution(name)
        except Exception:
            continue
        found[key] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(req.name)
    return found


def link(site_packages: Path, roots=LINKED, exclude=LOWERED) -> list[str]:
    """Symlink each distribution of `closure` (its top-level files and folders,
    dist-info included) into `site_packages`; returns the names linked."""
    site_packages.mkdir(parents=True, exist_ok=True)
    made = []
    for dist in closure(roots, exclude).values():
        base = Path(dist.locate_file(""))
        for top in sorted({f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}):
            target = site_packages / top
            if (base / top).exists() and not target.exists():
                os.symlink(base / top, target)
                made.append(top)
    return made


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bookbuild lowest", description=__doc__)
    ap.add_argument("site_packages", type=Path, help="the new venv's site-packages")
    args = ap.parse_args(argv)
    made = link(args.site_packages)
    print(f"linked {len(made)} entries of {', '.join(LINKED)} and their dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
