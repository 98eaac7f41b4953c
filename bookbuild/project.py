"""Where the book lives: an explicit folder, or the one above the current directory."""

from __future__ import annotations

from pathlib import Path

MARKERS = ("_toc.yml", "_config.yml")


class ProjectNotFound(RuntimeError):
    """No book project (a folder with _toc.yml and _config.yml) at or above a path."""


def find_root(root: str | Path | None = None) -> Path:
    """`root` if given (an existing folder), else the nearest folder at or above the
    current directory that holds `_toc.yml` and `_config.yml`."""
    if root is not None:
        path = Path(root).resolve()
        if not path.is_dir():
            raise ProjectNotFound(f"{path} is not a folder")
        return path
    here = Path.cwd().resolve()
    for path in (here, *here.parents):
        if all((path / m).exists() for m in MARKERS):
            return path
    raise ProjectNotFound(
        f"no book project at or above {here}: run from the repository or pass --root"
    )
