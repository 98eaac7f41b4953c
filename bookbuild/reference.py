"""`python -m bookbuild reference`: were the committed outputs made on this kind of CPU?

float32 training repeats bit for bit on one kind of CPU only (MKL and oneDNN choose
kernels by vendor and vector width; a few thousand steps turn a last-bit difference
into another model). Each chapter's setup cell prints the CPU it ran on in its
versions line (`claimbook.budget.cpu_fingerprint`, e.g. 'GenuineIntel AVX512').
This command compares that with the CPU it runs on: exit 0 when they agree (or a
chapter names none), exit 1 with a message naming both when they differ. `make
nbval` then runs nbval lax with CLAIMBOOK_REFERENCE=0: every cell still runs and
every verdict guard still reports a changed verdict, but numbers are not compared
against outputs made on other hardware.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .notebooks import chapters, versions_line
from .project import find_root


def committed_cpus(root: Path) -> dict[str, str]:
    """chapter stem -> the CPU its committed outputs name ('' if none)."""
    out = {}
    for path in chapters(root):
        line = versions_line(json.loads(path.read_text()))
        parts = dict(
            p.strip().split(" ", 1) for p in line.split(",") if " " in p.strip()
        )
        out[path.stem] = parts.get("cpu", "")
    return out


def mismatches(committed: dict[str, str], here: str) -> dict[str, str]:
    """The chapters whose outputs name another CPU than `here`."""
    return {k: v for k, v in committed.items() if v and v != here}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bookbuild reference")
    ap.add_argument("--root", type=Path, default=None)
    args = ap.parse_args(argv)
    from claimbook.budget import cpu_fingerprint

    here = cpu_fingerprint()
    other = mismatches(committed_cpus(find_root(args.root)), here)
    if not other:
        print(f"reference: this CPU ({here}) made the committed outputs")
        return 0
    kinds = sorted(set(other.values()))
    print(
        f"reference: the committed outputs of {len(other)} chapter(s) were made on "
        f"{' / '.join(kinds)}; this CPU is {here}: float32 training gives other "
        "numbers here, so nbval runs lax and verdict changes are reported"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
