"""The notebooks' Colab cell: every chapter installs this package at the book's release.

Every notebook's first cell installs `claimbook` at the revision the book was built
from, `_config.yml`'s ``repository.branch`` (a release tag, ``v`` +
`claimbook.__version__`), and only when it runs in Colab. `colab_cell` writes that
cell; `check_colab` (``python -m bookbuild colab --check``; a unit test runs it)
lists the notebooks whose first cell differs and a tag that does not match the
package's version; `fix_colab` (``--fix``) rewrites those cells, nothing else.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .notebooks import chapters
from .project import find_root

COLAB_TEMPLATE = """\
# Colab: install this book's helper package at the release this page was built
# from (does nothing anywhere else). For the lessons' full budget (a GPU runtime;
# it downloads Pets and ResNet-34's weights), uncomment the last line.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "claimbook @ git+{url}@{ref}",
        ],
        check=True,
    )
# %env CLAIMBOOK_BUDGET=full"""


def colab_ref(root: Path) -> tuple[str, str]:
    """(repository URL, revision) from `_config.yml`: the one place both are set."""
    import yaml

    repo = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    return str(repo["url"]).rstrip("/"), str(repo["branch"])


def colab_cell(url: str, ref: str) -> str:
    """The first cell of every notebook: pip-installs the package at `ref`."""
    return COLAB_TEMPLATE.format(url=url, ref=ref)


def check_colab(root: Path) -> list[str]:
    """'notebook: problem' for each notebook whose first cell is not the Colab
    cell for `_config.yml`'s repository and revision (empty: all match)."""
    url, ref = colab_ref(root)
    problems = []
    if ref in ("main", "master", "HEAD", ""):
        problems.append(
            f"_config.yml: repository.branch is {ref!r}, a moving branch; set it to "
            "the release tag the book is built from (e.g. v0.1.0)"
        )
    from claimbook import __version__

    if ref not in ("main", "master", "HEAD", "") and ref != f"v{__version__}":
        problems.append(
            f"_config.yml: repository.branch is {ref!r}, but the package is "
            f"{__version__} (claimbook.__version__): the tag must be v{__version__}"
        )
    want = colab_cell(url, ref)
    for nb in chapters(root):
        cells = json.loads(nb.read_text())["cells"]
        first = "".join(cells[0]["source"]) if cells else ""
        if not cells or cells[0]["cell_type"] != "code" or first != want:
            problems.append(
                f"{nb.relative_to(root)}: the first cell is not the Colab cell for "
                f"{url}@{ref} (python -m bookbuild colab --fix)"
            )
    return problems


def fix_colab(root: Path) -> list[Path]:
    """Rewrite the first cell's source where it differs: that cell only (ids,
    metadata and outputs untouched), written as nbformat writes (indent 1, sorted
    keys), so the diff is the cell's lines."""
    url, ref = colab_ref(root)
    want = colab_cell(url, ref)
    changed = []
    for nb in chapters(root):
        book = json.loads(nb.read_text())
        cell = book["cells"][0] if book["cells"] else None
        if cell and cell["cell_type"] == "code" and "".join(cell["source"]) != want:
            cell["source"] = want.splitlines(keepends=True)
            text = json.dumps(book, indent=1, sort_keys=True, ensure_ascii=False)
            nb.write_text(text + "\n")
            changed.append(nb)
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bookbuild colab",
        description="The notebooks' first cell, which installs this package in Colab "
        "at the release _config.yml names.",
    )
    ap.add_argument("--cell", action="store_true", help="print the cell")
    ap.add_argument("--check", action="store_true", help="list mismatches (exit 1)")
    ap.add_argument("--fix", action="store_true", help="rewrite mismatching cells")
    ap.add_argument("--root", help="the book project (default: found from cwd)")
    args = ap.parse_args(argv)
    if not (args.cell or args.check or args.fix):
        ap.error("nothing to do: give --cell, --check or --fix")
    root = find_root(args.root)
    if args.cell:
        print(colab_cell(*colab_ref(root)))
    if args.fix:
        for nb in fix_colab(root):
            print(f"rewrote the Colab cell of {nb.relative_to(root)}")
    if args.check:
        problems = check_colab(root)
        print("\n".join(problems) or "every notebook's Colab cell matches _config.yml")
        if problems:
            return 1
    return 0
