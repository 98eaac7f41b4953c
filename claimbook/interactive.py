"""Interactive figures that work without a kernel: Vega-Lite specs in the page.

A chapter builds a chart with Altair (a Vega-Lite spec: the data travel inside
it) and shows it with `interactive(chart, alt=...)`. The output carries

* ``text/html``: a ``<div class="claimbook-vega">`` holding the spec as JSON and
  its alt text, plus a short script. On the book's pages ``claimbook.js`` draws
  every such div with the vega, vega-lite and vega-embed files the site serves
  from ``_static/vendor/vega`` (pinned in ``package.json``; nothing loads from a
  CDN there). Anywhere else (Jupyter, Colab) the script loads the same versions
  from jsDelivr, as Altair's own HTML output does;
* ``text/plain``: the alt text.

The spec travels once, inside the HTML (a second copy under Vega-Lite's own MIME
type would double the notebook's size, and JupyterLab's built-in renderer reads
only older Vega-Lite versions).

Unlike Altair's HTML output, nothing in it is random: the element's id is a hash
of the spec, so strict nbval sees the same output on every run. Sliders, dropdowns
and hover work in the browser from the embedded data; there is no Python
callback, so what a figure lets a reader explore has to be in its data.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Any

# The versions the book's site serves (package.json); the script outside the book
# asks jsDelivr for the same majors/minors.
VEGA = "6.2.0"
VEGA_LITE = "6.4.1"
VEGA_EMBED = "7.1.0"

_LOADER = """<script>
(function () {
  var el = document.getElementById("%(id)s");
  if (!el || el.dataset.drawn) return;
  // on the book's pages claimbook.js draws it from the vendored files
  if (document.querySelector('script[src*="claimbook.js"]')) return;
  var cdn = "https://cdn.jsdelivr.net/npm/", libs = [
    "vega@%(vega)s/build/vega.min.js", "vega-lite@%(vl)s/build/vega-lite.min.js",
    "vega-embed@%(embed)s/build/vega-embed.min.js"];
  function next(i) {
    if (i === libs.length) {
      var spec = JSON.parse(el.querySelector("script.claimbook-vega-spec").textContent);
      el.dataset.drawn = "1";
      return window.vegaEmbed(el.querySelector(".claimbook-vega-view"), spec,
                              {actions: false, renderer: "svg"});
    }
    var s = document.createElement("script");
    s.src = cdn + libs[i];
    s.onload = function () { next(i + 1); };
    document.head.appendChild(s);
  }
  next(window.vegaEmbed ? libs.length : 0);
})();
</script>"""


class InteractiveError(ValueError):
    """The chart is not a Vega-Lite spec, or it has no alt text."""


def spec_of(chart: Any) -> dict:
    """The Vega-Lite spec of an Altair chart (or a spec dict, checked)."""
    spec = chart.to_dict() if hasattr(chart, "to_dict") else chart
    if not isinstance(spec, dict) or "$schema" not in spec:
        raise InteractiveError(
            "interactive() needs an Altair chart or a Vega-Lite spec with a $schema"
        )
    if "vega-lite" not in spec["$schema"]:
        raise InteractiveError(f"not a Vega-Lite spec: {spec['$schema']}")
    return spec


class Interactive:
    """An interactive figure's output (see the module's docstring)."""

    def __init__(self, spec: dict, alt: str):
        self.spec = spec
        self.alt = alt
        text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
        self.id = "cbv-" + hashlib.sha256(text.encode()).hexdigest()[:12]
        self._json = text

    def html(self) -> str:
        # '</' cannot close the script element early: JSON allows '<\/'
        data = self._json.replace("</", "<\\/")
        loader = _LOADER % {
            "id": self.id,
            "vega": VEGA,
            "vl": VEGA_LITE,
            "embed": VEGA_EMBED,
        }
        return (
            f'<div class="claimbook-vega" id="{self.id}" role="figure" '
            f'aria-label="{html.escape(self.alt)}">'
            f'<script type="application/json" class="claimbook-vega-spec">{data}'
            "</script>"
            '<div class="claimbook-vega-view" style="width:100%;display:block"></div>'
            f"<noscript>{html.escape(self.alt)}</noscript></div>\n{loader}"
        )

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {
            "text/html": self.html(),
            "text/plain": f"[interactive figure] {self.alt}",
        }


def interactive(chart: Any, alt: str) -> Interactive:
    """Show an Altair chart (or Vega-Lite spec) as a figure that works with no
    kernel. `alt` says what the figure shows, for readers who cannot see it."""
    if not alt or not alt.strip():
        raise InteractiveError("an interactive figure needs alt text")
    return Interactive(spec_of(chart), alt.strip())
