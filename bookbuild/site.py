"""Serve the book's front-end code from the built site itself, never from a CDN.

Introduced with the website (the ledger page, the widgets, the browser test). A
Sphinx extension, listed under ``sphinx.extra_extensions`` in ``_config.yml``:
when the HTML builder starts it copies the few files the pages load out of
``node_modules`` (installed by ``npm ci`` from ``package.json`` and its lock file;
third-party code is a dependency, never committed) into ``_static/vendor/``:

* ``widgets/embed.js``: ``@jupyter-widgets/html-manager`` 1.x, the ipywidgets 8
  embedder that renders the widget state a notebook saved (``nb_ipywidgets_js``
  in ``_config.yml`` points at it), with its icon fonts;
* ``mathjax/``: MathJax 3's ``tex-mml-chtml`` component, its fonts and the TeX
  extensions it loads on demand (``mathjax_path`` points at it);
* ``vega/``: vega, vega-lite and vega-embed's browser builds, which
  ``claimbook.js`` loads on a page with an interactive figure.

When the build finishes it deletes the theme's source maps and translation files,
which no page loads (see `trim`), to keep the site well under its 15 MB budget.

A missing or stale ``node_modules`` stops the build with a message saying to run
``npm ci``; ``python -m bookbuild vendor`` runs the same check from the shell.
Paths come from Sphinx's source folder (the book's root), never from this file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from .project import find_root

VENDOR_DIR = "vendor"  # under the site's _static/

# (folder under _static/vendor, package folder under node_modules, files to copy):
# paths under the package folder keep their layout, so MathJax finds its fonts and
# extensions next to its script and the widget embedder finds its fonts.
ASSETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "widgets",
        "@jupyter-widgets/html-manager/dist",
        ("embed.js", "embed.js.LICENSE.txt", "*.woff2", "*.woff"),
    ),
    (
        "mathjax",
        "mathjax/es5",
        (
            "tex-mml-chtml.js",
            "output/chtml/fonts/woff-v2/*.woff",
            "input/tex/extensions/*.js",
        ),
    ),
    ("mathjax", "mathjax", ("LICENSE",)),
    # the interactive figures (claimbook.plotting.interactive): Vega-Lite specs
    # embedded in the page, drawn by vega-embed; claimbook.js loads these three
    # scripts on the pages that hold such a figure
    ("vega", "vega/build", ("vega.min.js",)),
    ("vega", "vega-lite/build", ("vega-lite.min.js",)),
    ("vega", "vega-embed/build", ("vega-embed.min.js",)),
    ("vega/licenses/vega", "vega", ("LICENSE",)),
    ("vega/licenses/vega-lite", "vega-lite", ("LICENSE",)),
    ("vega/licenses/vega-embed", "vega-embed", ("LICENSE",)),
)


class VendorError(RuntimeError):
    """node_modules lacks a file the site needs, or holds another version."""


def pinned_versions(root: Path) -> dict[str, str]:
    """The versions package.json pins (exact versions, no ranges)."""
    return json.loads((root / "package.json").read_text())["dependencies"]


def check(root: Path) -> list[Path]:
    """The files to copy; raises VendorError when node_modules is missing or stale."""
    modules = root / "node_modules"
    hint = "run `npm ci --ignore-scripts` (or `make book`, which does)"
    for name, version in pinned_versions(root).items():
        meta = modules / name / "package.json"
        if not meta.exists():
            raise VendorError(f"{name} is not installed in {modules}: {hint}")
        found = json.loads(meta.read_text())["version"]
        if found != version:
            raise VendorError(
                f"{name} {found} is installed, package.json pins {version}: {hint}"
            )
    files = []
    for _, src, patterns in ASSETS:
        for pattern in patterns:
            matches = sorted((modules / src).glob(pattern))
            if not matches:
                raise VendorError(
                    f"node_modules/{src}/{pattern} matches nothing: {hint}"
                )
            files += matches
    return files


def copy_assets(static_dir: Path, root: Path) -> int:
    """Copy the vendored files into `static_dir`/vendor; returns the bytes copied."""
    check(root)
    modules, total = root / "node_modules", 0
    for dest, src, patterns in ASSETS:
        for pattern in patterns:
            for path in sorted((modules / src).glob(pattern)):
                target = (
                    static_dir / VENDOR_DIR / dest / path.relative_to(modules / src)
                )
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists() or target.stat().st_size != path.stat().st_size:
                    shutil.copyfile(path, target)
                total += path.stat().st_size
    return total


def _on_builder_inited(app) -> None:
    from sphinx.errors import ExtensionError

    if app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    try:
        copy_assets(static, Path(app.srcdir))
    except VendorError as err:
        raise ExtensionError(str(err)) from None
    # Every local script the config names must now exist (a typo would fail silently).
    wanted = [app.config.mathjax_path, *getattr(app.config, "nb_ipywidgets_js", {})]
    for uri in wanted:
        if "://" in uri:
            raise ExtensionError(
                f"{uri} loads from the network; point it at _static/{VENDOR_DIR}"
            )
        if not (static / uri).exists():
            raise ExtensionError(f"_static/{uri} (named in _config.yml) was not copied")


def trim(outdir: Path) -> int:
    """Delete what the theme copies but no page loads; returns the bytes freed.

    Source maps (`*.map`, 3.4 MB, fetched only by a browser's developer tools) and
    the theme's compiled translations (`_static/locales`, used at build time, never
    by a page) would take a quarter of the 15 MB the site may weigh.
    """
    static, freed = outdir / "_static", 0
    doomed = [*static.rglob("*.map"), *(static / "locales").rglob("*")]
    for path in doomed:
        if path.is_file():
            freed += path.stat().st_size
            path.unlink()
    shutil.rmtree(static / "locales", ignore_errors=True)
    return freed


def _on_build_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        trim(Path(app.outdir))


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated script tags from a page.

    sphinx-thebe registers its inline config script twice (once with filename None,
    once with ''), which Sphinx does not see as the same file; the page then declares
    `const THEBE_JS_URL` twice and the browser logs a SyntaxError on every page.
    """
    seen, kept = set(), []
    for js in context.get("script_files", []):
        attrs = tuple(
            sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items())
        )
        key = (getattr(js, "filename", js) or "", getattr(js, "priority", 500), attrs)
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def _static_digest(app) -> str:
    """A hash of the static files (the book's and the extensions') and the npm pins."""
    root, h = Path(app.srcdir), hashlib.sha256()
    for folder in app.config.html_static_path:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                h.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    h.update(json.dumps(pinned_versions(root), sort_keys=True).encode())
    return h.hexdigest()


def _on_env_get_outdated(app, env, added, changed, removed) -> list[str]:
    """Rewrite every page when a static file changed.

    Sphinx copies `html_static_path` only when some page is rewritten, so an edit to
    book/_static/claimbook.css alone would never reach the site (and the pages'
    `?v=` checksums would go stale).
    """
    digest = _static_digest(app)
    if getattr(env, "claimbook_static_digest", None) != digest:
        env.claimbook_static_digest = digest
        return sorted(env.found_docs)
    return []


def setup(app) -> dict:
    app.connect("builder-inited", _on_builder_inited)
    app.connect("env-get-outdated", _on_env_get_outdated)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="check node_modules for the site's files")
    ap.add_argument("--root", type=Path, default=None)
    args = ap.parse_args(argv)
    try:
        files = check(find_root(args.root))
    except VendorError as err:
        print(err, file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in files)
    print(
        f"node_modules has the site's {len(files)} vendored files ({size / 1e6:.1f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
