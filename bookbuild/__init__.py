"""bookbuild: the book's build tools, kept apart from the `claimbook` package.

Chapters never import this; it is not part of the installed package. One
command-line entry point, ``python -m bookbuild <command>`` (see ``--help``):

* ``ledger``: regenerate the claims ledger, the home page's summary and the
  registered rules page;
* ``execute``: re-execute chapters and write fresh outputs back;
* ``vendor``: check that node_modules holds the site's pinned front-end files;
* ``stability``: run the chapters under other seeds and list changed verdicts
  and findings;
* ``canary``: run the chapters on the newest torch and fastai, the same way;
* ``miniature``: the full budget in miniature, and the notebooks' Colab cell.

``bookbuild.notebooks`` is the one list of chapters and the one reader of their
stored outputs (verdict lines, versions, text as nbval compares it), and compares
two runs' verdicts and findings for ``stability`` and ``canary``.

``bookbuild.site`` is the Sphinx extension that serves the vendored JavaScript
from the built site (listed under ``sphinx.local_extensions`` in _config.yml).
Every path comes from ``--root`` or the project holding the current directory.
"""
