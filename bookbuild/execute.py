"""Re-execute the chapters and write fresh outputs back (`make book EXECUTE=1`).

`python -m bookbuild execute notebooks`: each notebook runs in a fresh kernel on
the small budget at the default seed (the setting the committed outputs are
for). A notebook that fails is left exactly as it was on disk and the
command exits 1, naming the notebook and the failing cell; the others are still
executed and written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .notebooks import chapters_in


class ExecutionFailed(RuntimeError):
    def __init__(self, path: Path, index: int, source: str, error: str):
        first = source.strip().splitlines()[0] if source.strip() else "<empty>"
        super().__init__(f"{path}: cell {index} failed ({first!r}): {error}")
        self.path, self.index = path, index


def execute_notebook(
    path: Path, *, timeout: int = 600, kernel: str = "python3"
) -> float:
    """Execute `path` in place; on failure raise ExecutionFailed, file untouched."""
    nb = nbformat.read(path, as_version=4)
    env_budget = os.environ.get("CLAIMBOOK_BUDGET", "").strip() or "small"
    env_seed = os.environ.get("CLAIMBOOK_SEED", "").strip()
    if env_budget != "small" or env_seed not in ("", "0"):
        raise RuntimeError(
            "write-back execution is for the small budget at the default seed; "
            "unset CLAIMBOOK_BUDGET and CLAIMBOOK_SEED"
        )
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        index = next(
            (
                i
                for i, c in enumerate(nb.cells)
                if c.cell_type == "code"
                and any(o.get("output_type") == "error" for o in c.get("outputs", []))
            ),
            -1,
        )
        src = nb.cells[index].source if index >= 0 else ""
        ename = (
            str(err).strip().splitlines()[-1]
            if str(err).strip()
            else type(err).__name__
        )
        raise ExecutionFailed(path, index, src, ename) from None
    for cell in nb.cells:  # keep diffs small: no timestamps in cell metadata
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(nb, path)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "paths", nargs="+", type=Path, help="notebooks or folders of notebooks"
    )
    args = ap.parse_args(argv)
    nbs = []
    for p in args.paths:
        nbs += chapters_in(p) if p.is_dir() else [p]
    failed = []
    for nb in nbs:
        try:
            secs = execute_notebook(nb)
            print(f"executed {nb} in {secs:.1f} s")
        except ExecutionFailed as err:
            print(f"FAILED {err} (file left unchanged)", file=sys.stderr)
            failed.append(nb)
    if failed:
        print(
            f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
