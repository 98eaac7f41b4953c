"""Do the verdicts survive another seed? `python -m bookbuild stability --seeds 1 2`.

The committed outputs are for the default seed. This runs chapters again with
``CLAIMBOOK_SEED`` set to each other seed (every data draw and initialisation
changes; the numbers may differ), in fresh kernels, on copies (the committed files
are never touched). Off the reference seed a verdict guard reports instead of
raising, so a run goes to the end and every claim's verdict is read from it.

It prints one table (claim, committed verdict, the verdict under each seed) and
exits 1 when a verdict changed, a claim was not recorded, or a cell failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from claimbook.claims import parse_line

from .project import find_root


def verdicts_in(nb: dict) -> dict[str, str]:
    """claim ID -> verdict, from a notebook's stored outputs (the last line wins)."""
    found = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", ""))
            for line in text.splitlines():
                d = parse_line(line)
                if d:
                    found[d["id"]] = d["verdict"]
    return found


def errors_in(nb: dict) -> list[str]:
    """'cell N: ErrorName: message' for every stored error output."""
    errs = []
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errs.append(
                    f"cell {i}: {out.get('ename')}: {out.get('evalue', '')[:200]}"
                )
    return errs


def run_with_seed(path: Path, seed: int, timeout: int = 900) -> dict:
    """Execute a copy of `path` with CLAIMBOOK_SEED=seed; return the executed copy."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "CLAIMBOOK_BUDGET"}
    env["CLAIMBOOK_SEED"] = str(seed)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return json.loads(nbformat.writes(nb))


def table(
    committed: dict[str, str], runs: dict[int, dict[str, str]]
) -> tuple[list[str], int]:
    """Markdown-ish rows and the number of claims whose verdict changed."""
    seeds = list(runs)
    head = "| claim | committed | " + " | ".join(f"seed {s}" for s in seeds) + " |"
    rows = [head, "|---" * (len(seeds) + 2) + "|"]
    changed = 0
    for cid, verdict in committed.items():
        cells = []
        bad = False
        for s in seeds:
            got = runs[s].get(cid, "not recorded")
            if got != verdict:
                bad = True
                cells.append(f"**{got}**")
            else:
                cells.append("same")
        changed += bad
        mark = " (changed)" if bad else ""
        rows.append(f"| {cid}{mark} | {verdict} | " + " | ".join(cells) + " |")
    return rows, changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the results")
    args = ap.parse_args(argv)
    root = find_root(args.root)
    paths = args.notebooks or sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if any(s == 0 for s in args.seeds):
        print("seed 0 is the committed setting; pick others", file=sys.stderr)
        return 2
    committed: dict[str, str] = {}
    runs: dict[int, dict[str, str]] = {s: {} for s in args.seeds}
    failures: list[str] = []
    for path in paths:
        committed.update(verdicts_in(json.loads(Path(path).read_text())))
        for s in args.seeds:
            t0 = time.perf_counter()
            nb = run_with_seed(Path(path), s)
            runs[s].update(verdicts_in(nb))
            errs = errors_in(nb)
            failures += [f"{Path(path).name} (seed {s}) {e}" for e in errs]
            print(
                f"ran {Path(path).name} with CLAIMBOOK_SEED={s} in "
                f"{time.perf_counter() - t0:.0f} s"
                + (f": {len(errs)} failed cell(s)" if errs else ""),
                file=sys.stderr,
            )
    rows, changed = table(committed, runs)
    print("\n".join(rows))
    print(
        f"\n{changed} of {len(committed)} verdicts changed under seeds "
        f"{', '.join(map(str, args.seeds))}; {len(failures)} failed cell(s)"
    )
    for f in failures:
        print(f"  failed: {f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"committed": committed, "runs": runs, "failures": failures}, indent=1
            )
        )
    return 1 if changed or failures else 0


if __name__ == "__main__":
    sys.exit(main())
