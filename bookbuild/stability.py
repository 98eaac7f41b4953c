"""Do the verdicts survive another seed? `python -m bookbuild stability --seeds 1 2`.

The committed outputs are for the default seed. This runs chapters again with
``CLAIMBOOK_SEED`` set to each other seed (every data draw and initialisation
changes; the numbers may differ), in fresh kernels, on copies (the committed files
are never touched). Off the reference seed a verdict guard reports instead of
raising, so a run goes to the end and every claim's verdict is read from it.

A verdict line must come back with the same verdict word and the same finding, in
its words and counts ("3 of 4 tasks"); its continuous numbers may move
(`bookbuild.notebooks.compare`). It prints one table (claim, committed verdict, what
each seed gave), then each change in full, and exits 1 when a verdict or a finding
changed, a claim was not recorded, or a cell failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .notebooks import NOT_RECORDED, chapters, compare, errors_in, outcomes
from .project import find_root


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


def changes(
    committed: dict[str, dict], runs: dict[int, dict[str, dict]]
) -> dict[str, dict[int, list[str]]]:
    """claim ID -> seed -> what changed (`compare`), for the claims that changed."""
    out: dict[str, dict[int, list[str]]] = {}
    for cid, before in committed.items():
        for seed, found in runs.items():
            diff = compare(before, found.get(cid))
            if diff:
                out.setdefault(cid, {})[seed] = diff
    return out


def table(
    committed: dict[str, dict], runs: dict[int, dict[str, dict]]
) -> tuple[list[str], int]:
    """Markdown-ish rows, then every change in full, and the number of claims whose
    verdict or finding changed under some seed."""
    seeds = list(runs)
    changed = changes(committed, runs)
    head = "| claim | committed | " + " | ".join(f"seed {s}" for s in seeds) + " |"
    rows = [head, "|---" * (len(seeds) + 2) + "|"]
    for cid, before in committed.items():
        cells = []
        for s in seeds:
            diff = changed.get(cid, {}).get(s, [])
            got = runs[s].get(cid, {}).get("verdict", NOT_RECORDED)
            if any(d.startswith("verdict:") for d in diff):
                cells.append(f"**{got}**")
            elif diff:
                cells.append("finding changed")
            else:
                cells.append("same")
        mark = " (changed)" if cid in changed else ""
        rows.append(
            f"| {cid}{mark} | {before['verdict']} | " + " | ".join(cells) + " |"
        )
    if changed:
        rows += ["", "what changed:"]
        for cid, by_seed in changed.items():
            for s, diff in by_seed.items():
                rows += [f"  {cid} (seed {s}): {d}" for d in diff]
    return rows, len(changed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the results")
    args = ap.parse_args(argv)
    root = find_root(args.root)
    paths = args.notebooks or chapters(root)
    if any(s == 0 for s in args.seeds):
        print("seed 0 is the committed setting; pick others", file=sys.stderr)
        return 2
    committed: dict[str, dict] = {}
    runs: dict[int, dict[str, dict]] = {s: {} for s in args.seeds}
    failures: list[str] = []
    for path in paths:
        committed.update(outcomes(json.loads(Path(path).read_text())))
        for s in args.seeds:
            t0 = time.perf_counter()
            nb = run_with_seed(Path(path), s)
            runs[s].update(outcomes(nb))
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
        f"\n{changed} of {len(committed)} verdicts or findings changed under seeds "
        f"{', '.join(map(str, args.seeds))}; {len(failures)} failed cell(s)"
    )
    for f in failures:
        print(f"  failed: {f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "committed": committed,
                    "runs": runs,
                    "changes": changes(committed, runs),
                    "failures": failures,
                },
                indent=1,
            )
        )
    return 1 if changed or failures else 0


if __name__ == "__main__":
    sys.exit(main())
