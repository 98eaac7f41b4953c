"""`python -m bookbuild <command> [options]`: the build tools' one entry point."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "ledger": ("bookbuild.ledger", "regenerate (or --check) the ledger, rules page"),
    "execute": ("bookbuild.execute", "re-execute chapters, write outputs back"),
    "vendor": ("bookbuild.site", "check node_modules for the site's vendored files"),
    "stability": (
        "bookbuild.stability",
        "chapters under other seeds: changed verdicts, findings",
    ),
    "canary": ("bookbuild.canary", "chapters on the newest torch/fastai: what changed"),
    "miniature": ("bookbuild.miniature", "the full budget in miniature"),
    "colab": ("bookbuild.colab", "check (or fix) the notebooks' Colab install cell"),
    "reference": (
        "bookbuild.reference",
        "were the committed outputs made on this kind of CPU?",
    ),
    "lowest": ("bookbuild.lowest", "link the locked torch into a lowest-bounds venv"),
    "figures": ("bookbuild.figures", "is every figure's text readable as displayed?"),
}


def usage() -> str:
    rows = "\n".join(f"  {k:10s} {v[1]}" for k, v in COMMANDS.items())
    return f"usage: python -m bookbuild <command> [options]\n\ncommands:\n{rows}\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"unknown command {cmd!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[cmd][0]).main(rest)


if __name__ == "__main__":
    sys.exit(main())
