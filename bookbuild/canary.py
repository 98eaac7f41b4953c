"""Do the verdicts survive the newest releases? `python -m bookbuild canary`.

The lock (requirements.txt) keeps the book's stack fixed, so a strict nbval run fails
only when a claim's measurement changes. The canary tries what the lock holds back:
it builds a separate virtual environment, ``.venv-canary`` (never ``.venv``), with
the newest releases of torch, torchvision and fastai and the chapters' other
requirements unlocked (requirements.in's ranges, not the lock's pins; a machine-wide
pip constraints file is lifted with ``PIP_CONSTRAINT=/dev/null``, as `make install`
does for the lock), then runs
every chapter there: copies in fresh kernels, the small budget, the default seed,
every verdict guard active (a changed verdict is printed, then its guard raises).
The pretrained body is rebuilt with the new libraries, in the canary's own cache.

It prints one table (claim, committed verdict, canary verdict), what changed (a
verdict word, or a finding's words or counts such as "3 of 4 tasks"; its continuous
numbers may move: `bookbuild.notebooks.compare`, as `make stability` compares), the
cells whose outputs changed (a short diff, after nbval's sanitizing:
tests/nbval_sanitize.cfg) and the versions it used, and writes the same to
``book/canary.json``, which the ledger (`python -m bookbuild ledger`) turns into its
"newest releases" section.

The venv is built in a temporary folder beside its final place and moved there only
when complete; an interrupted or failed install leaves nothing behind.

Exit status: 0 every verdict and finding agrees and no cell failed (changed outputs
alone are reported, not failed); 1 a verdict or a finding changed, a verdict went
unrecorded, or a cell failed;
2 bad arguments; 3 the package registry is unreachable (nothing installed);
4 the install failed.

This module imports only the standard library (and `bookbuild.notebooks`, which does
too) at the top: the install runs under any Python 3.11 (`python3 -m bookbuild
canary`, no `.venv` needed); everything after it runs inside the canary venv
(``--inside``), which imports `bookbuild.stability`.
"""

from __future__ import annotations

import argparse
import configparser
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .notebooks import (
    chapters,
    compare,
    errors_in,
    outcomes,
    output_lines,
    versions_line,
)
from .project import find_root

VENV = Path(".venv-canary")
RESULT = Path("book") / "canary.json"
# Lifted to their newest release, whatever requirements.in allows.
NEWEST = ("torch", "torchvision", "fastai")
# What the chapters import; the canary installs these from requirements.in (its
# ranges, unlocked) and nothing else (no site build, no test tools).
CHAPTER_NEEDS = NEWEST + (
    "numpy",
    "scipy",
    "matplotlib",
    "pandas",
    "pillow",
    "ipywidgets",
    "ipykernel",
    "nbformat",
    "nbclient",
)
# The versions reported (and written to the result file), in this order.
REPORTED = CHAPTER_NEEDS[:8]
DEFAULT_INDEX = "https://pypi.org/simple"
EXIT_OK, EXIT_CHANGED, EXIT_USAGE, EXIT_OFFLINE, EXIT_INSTALL = 0, 1, 2, 3, 4
# A changed cell's diff: at most this many lines, each cut to this many characters.
DIFF_LINES, DIFF_WIDTH = 6, 110
IGNORE_MARK = "# NBVAL_IGNORE_OUTPUT"
# pip's note for each project a configured local index lacks: noise, not news.
PIP_NOISE = re.compile(r"WARNING: Location '.*' is ignored: it is neither a file")


def _name(req: str) -> str:
    """A requirement's normalised project name ('Pillow>=9' -> 'pillow')."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else ""


def requirements(root: Path) -> list[str]:
    """The canary's install list: NEWEST bare (newest release), the rest of
    CHAPTER_NEEDS with requirements.in's ranges."""
    found = {}
    for line in (root / "requirements.in").read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec and _name(spec) in CHAPTER_NEEDS:
            found[_name(spec)] = spec.replace(" ", "")
    missing = [n for n in CHAPTER_NEEDS if n not in found]
    if missing:
        raise ValueError(f"requirements.in lacks {', '.join(missing)}")
    return [n if n in NEWEST else found[n] for n in CHAPTER_NEEDS]


def index_url() -> str:
    """The index pip asks first: PIP_INDEX_URL, else pip's configured index-url, else
    PyPI. (Local extra indexes and find-links do not count: they hold no new
    releases.)"""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"].split()[0]
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.strip().endswith(".index-url"):
            return value.strip().strip("'\"").split()[0]
    return DEFAULT_INDEX


def registry_error(index: str, timeout: float = 20.0) -> str | None:
    """None when `index` answers for torch's page; else why not (one line)."""
    url = index.rstrip("/") + "/torch/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read(64)
        return None
    except urllib.error.HTTPError as e:  # it answered: reachable
        return None if e.code < 500 else f"{url}: HTTP {e.code}"
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return f"{url}: {reason}"


def _relocate(venv: Path, old: Path) -> None:
    """Point the scripts of a venv built at `old` (shebangs, activate) at `venv`."""
    for f in (venv / "bin").iterdir():
        if f.is_symlink() or not f.is_file():
            continue
        try:
            text = f.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if str(old) in text:
            f.write_text(text.replace(str(old), str(venv)))


def build_venv(
    root: Path, venv: Path, index: str, python: str = sys.executable
) -> tuple[int, str]:
    """Build the canary venv at `venv` (replacing any old one) or leave nothing.

    Returns (exit status, message)."""
    why = registry_error(index)
    if why:
        return EXIT_OFFLINE, (
            f"canary: the package registry is unreachable ({why}). The canary needs "
            "it for the newest torch, torchvision and fastai; nothing was installed"
            + (f" and {venv} is as it was." if venv.exists() else ".")
        )
    try:
        reqs = requirements(root)
    except (OSError, ValueError) as e:
        return EXIT_USAGE, f"canary: {e}"
    tmp = venv.with_name(f"{venv.name}.partial-{os.getpid()}")
    env = dict(os.environ, PIP_CONSTRAINT="/dev/null", PIP_NO_INPUT="1")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    t0 = time.perf_counter()
    try:
        subprocess.run([python, "-m", "venv", str(tmp)], check=True)
        py = str(tmp / "bin" / "python")
        print(f"canary: installing {' '.join(reqs)} into {venv}", file=sys.stderr)
        pip = subprocess.Popen(
            [py, "-m", "pip", "install", "-q", *reqs],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in pip.stdout:
            if not PIP_NOISE.match(line):
                sys.stderr.write(line)
        if pip.wait():
            return EXIT_INSTALL, "canary: pip install failed (above); nothing was kept"
        # The book's own packages (claimbook, bookbuild) from this checkout, as an
        # editable install would give them, without building anything.
        site = subprocess.run(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        Path(site, "claimbook-canary.pth").write_text(str(root) + "\n")
        if venv.exists():
            shutil.rmtree(venv)
        tmp.rename(venv)
        _relocate(venv, tmp)
    except KeyboardInterrupt:
        raise  # the `finally` below still removes the partial venv
    except (OSError, subprocess.SubprocessError) as e:
        return EXIT_INSTALL, f"canary: install failed ({e}); nothing was kept"
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return EXIT_OK, f"canary: installed in {time.perf_counter() - t0:.0f} s"


# --- inside the canary venv -------------------------------------------------------


def sanitizer(cfg: Path):
    """The replacements of nbval's sanitize file (regex -> replace), as a function."""
    parser = configparser.ConfigParser(interpolation=None)
    if cfg.exists():
        parser.read(cfg)
    subs = [
        (re.compile(parser[s]["regex"]), parser[s].get("replace", ""))
        for s in parser.sections()
        if "regex" in parser[s]
    ]

    def clean(text: str) -> str:
        for rx, rep in subs:
            text = rx.sub(rep, text)
        return text

    return clean


def _compared(cell: dict) -> bool:
    if cell.get("cell_type") != "code":
        return False
    src = "".join(cell.get("source", ""))
    tags = cell.get("metadata", {}).get("tags", [])
    return not (
        src.lstrip().startswith(IGNORE_MARK)
        or {"nbval-ignore-output", "nbval-skip"} & set(tags)
    )


def _clip(sign: str, line: str, start: int) -> str:
    """One diff line, DIFF_WIDTH characters of it from `start` ('…' marks a cut)."""
    if not line:
        return f"{sign}(blank line)"
    text = line[start : start + DIFF_WIDTH]
    return (
        sign
        + ("…" if start else "")
        + text
        + ("…" if len(line) > start + DIFF_WIDTH else "")
    )


def _diff(before: list[str], after: list[str]) -> list[str]:
    """'-old' / '+new' lines; a changed line is shown from a little before the first
    character that differs, so a long verdict line shows its change."""
    out = []
    ops = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            continue
        olds, news = before[i1:i2], after[j1:j2]
        starts = [0] * max(len(olds), len(news))
        for k, (a, b) in enumerate(zip(olds, news, strict=False)):
            first = next(
                (n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)),
            )
            starts[k] = max(0, first - DIFF_WIDTH // 3)
        out += [_clip("-", a, starts[k]) for k, a in enumerate(olds)]
        out += [_clip("+", b, starts[k]) for k, b in enumerate(news)]
    return out


def changed_cells(old: dict, new: dict, clean=lambda s: s) -> list[dict]:
    """[{cell, diff}] for each compared code cell whose sanitized text differs;
    `cell` counts code cells from 0, as nbval's "Cell N" does."""
    changed, i = [], -1
    for a, b in zip(old.get("cells", []), new.get("cells", []), strict=False):
        if a.get("cell_type") == "code":
            i += 1
        if not _compared(a):
            continue
        before = [clean(x) for x in output_lines(a)]
        after = [clean(x) for x in output_lines(b)]
        if before == after:
            continue
        diff = _diff(before, after)
        more = len(diff) - DIFF_LINES
        diff = diff[:DIFF_LINES] + ([f"... {more} more line(s)"] if more > 0 else [])
        changed.append({"cell": i, "diff": diff})
    return changed


def installed_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in REPORTED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def build_body(root: Path) -> None:
    """The pretrained body, built once with the new libraries (in the canary's
    CLAIMBOOK_CACHE, not the lock's), so that no chapter pays for it."""
    subprocess.run([sys.executable, "-m", "claimbook"], cwd=root, check=False)


def run_inside(root: Path, paths: list[Path], out: Path) -> int:
    """Run the chapters in this interpreter's kernel; print and write the result."""
    from .stability import run_with_seed

    clean = sanitizer(root / "tests" / "nbval_sanitize.cfg")
    claims: dict[str, dict] = {}
    failures: list[str] = []
    changed: dict[str, list] = {}
    baseline: dict[str, str] = {}
    t0 = time.perf_counter()
    build_body(root)
    for path in paths:
        t = time.perf_counter()
        old = json.loads(path.read_text())
        new = run_with_seed(path, 0)
        before, after = outcomes(old), outcomes(new)
        for cid in {**before, **after}:
            claims[cid] = claim_result(path.stem, before.get(cid), after.get(cid))
        errs = errors_in(new)
        failures += [f"{path.stem} {e}" for e in errs]
        cells = changed_cells(old, new, clean)
        if cells:
            changed[path.stem] = cells
        baseline[path.stem] = versions_line(old)
        print(
            f"canary: ran {path.name} in {time.perf_counter() - t:.0f} s"
            + (f": {len(errs)} failed cell(s)" if errs else ""),
            file=sys.stderr,
        )
    differ = [c for c, v in claims.items() if v["changes"]]
    code = EXIT_CHANGED if differ or failures else EXIT_OK
    result = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "versions": installed_versions(),
        "committed_versions": baseline,
        "notebooks": [p.stem for p in paths],
        "claims": claims,
        "failures": failures,
        "changed_cells": changed,
        "exit_status": code,
        "seconds": round(time.perf_counter() - t0),
    }
    print(report(result))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"\nwrote {out}")
    return code


def claim_result(chapter: str, before: dict | None, after: dict | None) -> dict:
    """One claim's entry in the result: its verdict with the lock (committed) and
    with the newest releases (canary), their findings, and what changed
    (`bookbuild.notebooks.compare`: the verdict word, the finding's words and
    counts; its continuous numbers may move)."""
    return {
        "chapter": chapter,
        "committed": (before or {}).get("verdict", "not recorded"),
        "canary": (after or {}).get("verdict", "not recorded"),
        "committed_finding": (before or {}).get("finding", ""),
        "canary_finding": (after or {}).get("finding", ""),
        "changes": compare(before, after),
    }


def _changes(v: dict) -> list[str]:
    """What changed for one claim (a result written before findings were compared
    has only the verdicts)."""
    if "changes" in v:
        return v["changes"]
    if v["committed"] != v["canary"]:
        return [f"verdict: {v['committed']} -> {v['canary']}"]
    return []


def report(result: dict) -> str:
    """The printed report: verdict table, what changed, changed cells, failures,
    versions."""
    rows = ["| claim | committed | canary |", "|---|---|---|"]
    changed = {}
    for cid, v in result["claims"].items():
        diff = _changes(v)
        if diff:
            changed[cid] = diff
        if v["committed"] != v["canary"]:
            got = f"**{v['canary']}**"
        else:
            got = "finding changed" if diff else "same"
        mark = " (changed)" if diff else ""
        rows.append(f"| {cid}{mark} | {v['committed']} | {got} |")
    n_diff = sum(v["committed"] != v["canary"] for v in result["claims"].values())
    n_find = sum(
        any(d.startswith("finding:") for d in diff) for diff in changed.values()
    )
    rows += [
        "",
        f"{n_diff} of {len(result['claims'])} verdicts changed with the newest "
        f"releases, {n_find} finding(s) changed; "
        f"{len(result['failures'])} failed cell(s)",
    ]
    if changed:
        rows += ["", "what changed:"]
        for cid, diff in changed.items():
            rows += [f"  {cid}: {d}" for d in diff]
    rows += [f"  failed: {f}" for f in result["failures"]]
    cells = result["changed_cells"]
    rows += ["", "cells whose outputs changed:" if cells else "no output changed"]
    for nb, items in cells.items():
        for item in items:
            rows.append(f"  {nb} Cell {item['cell']}:")
            rows += [f"    {line}" for line in item["diff"]]
    v = result["versions"]
    rows += ["", "versions: " + ", ".join(f"{k} {v[k]}" for k in v)]
    base = sorted(set(result["committed_versions"].values()) - {""})
    if base:
        rows.append("committed outputs: " + "; ".join(base))
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--venv", type=Path, default=None, help=f"default: <root>/{VENV}")
    ap.add_argument(
        "--out", type=Path, default=None, help=f"result file (default: <root>/{RESULT})"
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="run in the existing canary venv instead of building a fresh one",
    )
    ap.add_argument("--index-url", default=None, help="default: pip's index")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    root = find_root(args.root)
    paths = [p.resolve() for p in args.notebooks] or chapters(root)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"canary: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    out = (args.out or root / RESULT).resolve()
    if args.inside:
        return run_inside(root, paths, out)
    venv = (args.venv or root / VENV).resolve()
    if args.reuse and (venv / "bin" / "python").exists():
        print(f"canary: reusing {venv}", file=sys.stderr)
    else:
        code, msg = build_venv(root, venv, args.index_url or index_url())
        print(msg, file=sys.stderr)
        if code:
            return code
    cmd = [str(venv / "bin" / "python"), "-m", "bookbuild", "canary", "--inside"]
    cmd += ["--root", str(root), "--out", str(out), *map(str, paths)]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["CLAIMBOOK_CACHE"] = str(venv / "claimbook-cache")
    return subprocess.run(cmd, cwd=root, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
