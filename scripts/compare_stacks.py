"""Time the chapters on two Python stacks side by side (a benchmark, not a test).

    python scripts/compare_stacks.py .venv .venv-canary --rounds 2 [notebooks...]

For each notebook, runs alternate between the two venvs (A, B, A, B, ...), each a
fresh kernel of that venv executing the notebook with nbclient (outputs discarded),
so both stacks see the same machine load. Prints each run's wall time, then per
notebook the median time on each stack and the ratio B / A. Run it on an idle
machine: on 2 cores, anything else running skews the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

RUN_ONE = r"""
import sys, time, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
t0 = time.perf_counter()
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
print(f"{time.perf_counter() - t0:.2f}")
"""


def run(venv: Path, notebook: Path, cache: Path | None) -> float:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if cache is not None:
        env["CLAIMBOOK_CACHE"] = str(cache)
    out = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            RUN_ONE,
            str(notebook),
            str(notebook.parent),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path, help="the first venv (e.g. .venv)")
    ap.add_argument("b", type=Path, help="the second venv (e.g. .venv-canary)")
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cache-b", type=Path, help="CLAIMBOOK_CACHE for venv b")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    for venv in (args.a, args.b):
        if not (venv / "bin" / "python").exists():
            ap.error(f"{venv} is not a venv (no bin/python)")
    notebooks = args.notebooks or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    rows = []
    for nb in notebooks:
        times = {"a": [], "b": []}
        for r in range(args.rounds):
            for key, venv, cache in (("a", args.a, None), ("b", args.b, args.cache_b)):
                t = run(venv, nb, cache)
                times[key].append(t)
                print(
                    f"{nb.stem:30s} round {r + 1} {venv.name:14s} {t:7.1f} s",
                    flush=True,
                )
        ma, mb = statistics.median(times["a"]), statistics.median(times["b"])
        rows.append((nb.stem, ma, mb, mb / ma))
    print(f"\n| notebook | {args.a.name} (s) | {args.b.name} (s) | ratio b/a |")
    print("|---|---|---|---|")
    for name, ma, mb, ratio in rows:
        print(f"| {name} | {ma:.1f} | {mb:.1f} | {ratio:.2f} |")
    ta, tb = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"| total | {ta:.1f} | {tb:.1f} | {tb / ta:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
