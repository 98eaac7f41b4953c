"""The built book in a real browser: Debian's headless Chromium on a localhost server.

`make site-test`, the last step of `make test`, runs this after the book is built
(`_build/html`; another folder with CLAIMBOOK_SITE). Every page is loaded once and
checked the way a reader meets it: it answers 200, logs no console error, asks
nothing of the network (the site must work offline), every image decodes, every
internal link and anchor resolves, saved widget state renders, math typesets, and
chapters carry their launch (Colab, Binder), download and repository buttons.
Every page is loaded twice, at desktop width and at a phone's 390 px, and its layout
checked at both: nothing makes the page scroll sideways (code and wide outputs scroll
in their own box), figures scale down, no table cell is squeezed to a few characters
or breaks a word mid-word, no verdict badge spills over a neighbouring cell. The
ledger's experiment markup (interval, rule, the inconclusive verdict) is checked on a
fixture: the built ledger page with such rows put in, served by the test only.
Screenshots of the home page, the ledger and one chapter, at both widths, go to
`_build/screenshots/`.

The browser is the system's Chromium (CLAIMBOOK_CHROMIUM, default /usr/bin/chromium),
driven by Playwright; nothing here downloads a browser. Outside `make` the tests skip
when the site is not built or Chromium is missing; the Makefile sets
CLAIMBOOK_SITE_TEST=required, and then those are failures.
"""

from __future__ import annotations

import functools
import html.parser
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

from bookbuild.ledger import MAX_SURPRISING, VERDICT_CLASS
from claimbook.claims import INCONCLUSIVE
from claimbook.evidence import Rule, decide
from tests.conftest import ROOT

SITE = Path(os.environ.get("CLAIMBOOK_SITE", ROOT / "_build" / "html"))
SHOTS = Path(os.environ.get("CLAIMBOOK_SCREENSHOTS", ROOT / "_build" / "screenshots"))
CHROMIUM = os.environ.get("CLAIMBOOK_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("CLAIMBOOK_SITE_TEST") == "required"
# Without the background-networking flags Chromium keeps dialling Google's hosts,
# which this offline machine refuses; the profile is a fresh folder per run.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# the site budget (issue 31): 20 MB for twelve chapters, their sources and vendored JS
MAX_SITE_BYTES = 20_000_000
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 1400}  # a current phone, in CSS pixels
WIDTHS = {"desktop": VIEWPORT, "phone": PHONE}
# A table cell's text needs at least this many characters a line to be read (a cell
# with a shorter text may be narrower).
MIN_CELL_CHARS = 4
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'
REFRESH_RE = re.compile(r'<meta http-equiv="Refresh" content="\d+; url=([^"]+)"', re.I)
HOME = "book/intro.html"  # the root index.html forwards here


def _missing(reason: str):
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class PageReport:
    path: str  # relative to the site root, e.g. "book/claims.html"
    status: int | None = None
    errors: list[str] = field(
        default_factory=list
    )  # console errors, page errors, failed loads
    external: list[str] = field(default_factory=list)  # requests that left localhost
    broken_images: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # absolute hrefs of every <a>
    widgets: dict = field(default_factory=dict)  # what the widget check found
    math: dict = field(default_factory=dict)
    buttons: dict = field(default_factory=dict)
    layout: dict = field(default_factory=dict)  # what the layout check found
    callouts: list = field(default_factory=list)  # each verdict callout, measured
    alts: list = field(default_factory=list)  # content images without real alt text
    seconds: float = 0.0
    redirect: str | None = (
        None  # where a <meta http-equiv="Refresh"> page sent the browser
    )


def pages(site: Path) -> list[str]:
    """Every HTML page of the site (not the theme's template fragments in _static)."""
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if not p.relative_to(site).parts[0].startswith("_")
    )


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("id", "name") and v:
                self.ids.add(v)


@functools.cache
def ids_in(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(errors="replace"))
    return frozenset(parser.ids)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").exists():
        _missing(f"{SITE}/index.html not found: build the book first (make build-book)")
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} not found: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (requirements.txt)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport=VIEWPORT,
            service_workers="block",
        )
        yield context
        context.close()


# In-page checks, run after the page has loaded and gone quiet.
_IMAGES_JS = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return imgs.filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => i.currentSrc || i.src);
}"""

# Every verdict callout (bookbuild.callouts): its claim ID, whether it lies inside the
# viewport's width, whether anything in it scrolls sideways, and whether its badge,
# claim and finding are drawn (a non-zero box).
_CALLOUTS_JS = """() => {
  const vw = document.documentElement.clientWidth;
  return Array.from(document.querySelectorAll('.verdict-callout')).map(c => {
    const r = c.getBoundingClientRect();
    const wide = Array.from(c.querySelectorAll('*')).concat([c])
      .filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0
              && getComputedStyle(e).overflowX !== 'visible');
    const drawn = sel => { const e = c.querySelector(sel);
      return !!e && e.getBoundingClientRect().width > 0; };
    return {id: c.id.replace(/^verdict-/, ''), left: r.left, right: r.right, vw,
            scrolls: wide.length, badge: drawn('.verdict'), claim: drawn('.vc-claim'),
            found: drawn('.vc-found')};
  });
}"""

# Images in the article whose alt text is missing, empty or a file path.
_ALTS_JS = r"""() => Array.from(document.querySelectorAll('article img'))
  .filter(i => { const a = (i.getAttribute('alt') || '').trim();
                 return !a || /[\/\\][^ ]*\.(png|svg|jpe?g|gif)$/i.test(a); })
  .map(i => i.getAttribute('src'))"""

# For each widget view in the page: did the embedder render it (a non-empty
# .widget-subarea before the view's script tag), and does what it shows match the
# saved state (every description reachable from the view's model appears, every
# slider readout shows its saved value, text inputs hold their saved text)?
_WIDGETS_JS = """() => {
  const stateTag = document.querySelector(
    'script[type="application/vnd.jupyter.widget-state+json"]');
  const views = Array.from(document.querySelectorAll('__WIDGET_VIEW__'));
  if (!stateTag) return {views: views.length, state: false,
                         problems: views.length ? ['views but no saved state'] : []};
  const state = JSON.parse(stateTag.textContent).state;
  const problems = [];
  let rendered = 0;
  const strip = s => {
    const d = document.createElement('div');
    d.innerHTML = s;
    return d.textContent.trim();
  };
  const reach = (id, acc) => {
    if (acc.has(id) || !state[id]) return acc;
    acc.add(id);
    JSON.stringify(state[id].state).replace(
      /IPY_MODEL_([0-9a-f]+)/g, (m, sub) => { reach(sub, acc); return m; });
    return acc;
  };
  if (document.body.textContent.includes('Error displaying widget'))
    problems.push('"Error displaying widget" on the page');
  views.forEach((tag, k) => {
    const id = JSON.parse(tag.textContent).model_id;
    const area = tag.previousElementSibling;
    if (!state[id]) {
      problems.push(`view ${k}: model ${id} not in the saved state`); return;
    }
    if (!area || !area.classList.contains('widget-subarea') || !area.children.length) {
      problems.push(`view ${k} (${state[id].model_name}): not rendered`); return;
    }
    rendered += 1;
    const text = area.innerText;
    const readouts = Array.from(area.querySelectorAll('.widget-readout')).map(
      e => (e.value !== undefined && e.value !== '' ? e.value : e.textContent).trim());
    const inputs = Array.from(area.querySelectorAll('input, textarea'))
      .map(e => e.value);
    for (const sub of reach(id, new Set())) {
      const m = state[sub], s = m.state;
      if (s.description && !s.description_allow_html
          && !text.includes(strip(s.description)))
        problems.push(`view ${k}: ${m.model_name} description `
                      + `${JSON.stringify(s.description)} not shown`);
      // A slider shows its saved value snapped to its step (as it does live), printed
      // with its readout format: allow half a step plus the printing's rounding.
      if (/SliderModel$/.test(m.model_name) && !/Range|Selection/.test(m.model_name)
          && s.readout !== false && typeof s.value === 'number') {
        const log = /LogSlider/.test(m.model_name);
        const near = r => log
          ? Math.abs(Math.log10(parseFloat(r)) - Math.log10(s.value))
            <= (s.step || 0.1) / 2 + 0.01
          : Math.abs(parseFloat(r) - s.value) <= (s.step || 1) / 2 + 0.006;
        if (!readouts.some(near))
          problems.push(`view ${k}: ${m.model_name} value ${s.value} `
                        + `not in readouts ${JSON.stringify(readouts)}`);
      }
      if (m.model_name === 'OutputModel' && (s.outputs || []).length
          && area.querySelectorAll('.jp-OutputArea-child').length < s.outputs.length)
        problems.push(`view ${k}: Output widget shows fewer than its `
                      + `${s.outputs.length} saved outputs`);
      if (/^DropdownModel$/.test(m.model_name) && typeof s.index === 'number'
          && s._options_labels) {
        // option labels are drawn with non-breaking spaces
        const shown = Array.from(area.querySelectorAll('select'))
          .map(e => e.options[e.selectedIndex]
                    && e.options[e.selectedIndex].text.replace(/\u00a0/g, ' '));
        if (!shown.includes(s._options_labels[s.index]))
          problems.push(`view ${k}: Dropdown shows ${JSON.stringify(shown)}, `
                        + `saved ${s._options_labels[s.index]}`);
      }
      if (/^(Text|Textarea)Model$/.test(m.model_name) && s.value
          && !inputs.includes(s.value))
        problems.push(`view ${k}: ${m.model_name} value ${JSON.stringify(s.value)} `
                      + `not in the inputs`);
    }
  });
  return {views: views.length, rendered, state: true, problems};
}""".replace("__WIDGET_VIEW__", WIDGET_VIEW)

_MATH_JS = """async () => {
  const math = document.querySelectorAll('.math, span.math, div.math').length;
  if (!math) return {math: 0};
  if (window.MathJax && MathJax.startup && MathJax.startup.promise)
    await MathJax.startup.promise;
  return {math, typeset: document.querySelectorAll('mjx-container').length,
          errors: document.querySelectorAll('mjx-merror').length,
          src: (document.querySelector('script[src*="mathjax"]') || {}).src || null};
}"""

_BUTTONS_JS = """() => {
  const hrefs = sel => Array.from(document.querySelectorAll(sel))
    .map(a => a.getAttribute('href'));
  return {launch: hrefs('.dropdown-launch-buttons a'),
          download: hrefs('.dropdown-download-buttons a'),
          repository: hrefs('a.btn-source-repository-button')};
}"""


# Does the page fit its width? (arg: MIN_CELL_CHARS)
# 1. The page does not scroll sideways, and no element sticks out of the viewport
#    unless a box of its own scrolls it (code cells, wide outputs: overflow-x auto).
# 2. Figures scale down: no image is wider than the article.
# 3. Tables: no cell narrower than `minChars` characters of its own font (unless its
#    text is that short), no word broken mid-word (a break right after _ = - / , ; :
#    ( ) or after a '.' before a letter is a joint, allowed), no verdict badge outside
#    its cell or over another cell, no two cells of a row on top of each other; the
#    ledger never scrolls sideways inside its box.
_LAYOUT_JS = """(minChars) => {
  const vw = document.documentElement.clientWidth, problems = [];
  const px = Math.round;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + Array.from(e.classList).slice(0, 2).map(c => '.' + c).join('');
  const where = e => {
    const p = [];
    for (let x = e; x && x !== document.body && p.length < 3; x = x.parentElement)
      p.unshift(name(x));
    return p.join(' > ');
  };
  const shown = e => e.getClientRects().length > 0;
  const overlap = (a, b) =>
    Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left))
    * Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top));
  const quote = e =>
    JSON.stringify(e.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40));

  const sw = document.documentElement.scrollWidth;
  if (sw > vw + 1)
    problems.push(`the page scrolls sideways: ${sw} px wide in ${vw} px`);
  // true when it reported e or something in it (the innermost culprit is named)
  let out = 0;
  const visit = e => {
    const cs = getComputedStyle(e);
    if (cs.display === 'none' || cs.position === 'fixed') return false;
    const r = e.getBoundingClientRect();
    if (cs.visibility !== 'hidden' && cs.display !== 'contents' && r.width > 0
        && r.height > 0 && (r.right > vw + 1 || r.left < -1)) {
      if (out++ < 5) problems.push(
        `${where(e)} spans ${px(r.left)}..${px(r.right)} px of a ${vw} px page`);
      return true;  // its children would only repeat it
    }
    if (cs.overflowX === 'auto' || cs.overflowX === 'scroll') return false;
    let found = false;
    for (const c of e.children) found = visit(c) || found;
    if (!found && cs.overflowX === 'visible' && e.scrollWidth > e.clientWidth + 1
        && r.left + e.scrollWidth > vw + 1) {  // its own text runs past the page
      if (out++ < 5) problems.push(`the text of ${where(e)} ${quote(e)} runs to `
        + `${px(r.left + e.scrollWidth)} px of a ${vw} px page`);
      return true;
    }
    return found;
  };
  for (const c of document.body.children) visit(c);

  const article = document.querySelector('.bd-article') || document.body;
  const aw = article.getBoundingClientRect().width;
  for (const img of article.querySelectorAll('img')) {
    const w = img.getBoundingClientRect().width;
    if (shown(img) && w > aw + 1) problems.push(
      `image ${img.getAttribute('src')} is ${px(w)} px wide in a ${px(aw)} px article`);
  }

  const ctx = document.createElement('canvas').getContext('2d');
  const charWidth = cs => {
    ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    return ctx.measureText('0').width;
  };
  // a joint: after _ = - / , ; : ( ) or after a '.' that a letter follows
  const joint = (w, i) => /[_=\\-\\/,;:()]/.test(w[i - 1])
    || (w[i - 1] === '.' && /[A-Za-z]/.test(w[i]));
  const brokenWords = cell => {
    const found = [], range = document.createRange();
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      for (const m of t.nodeValue.matchAll(/\\S{2,}/g)) {
        range.setStart(t, m.index);
        range.setEnd(t, m.index + m[0].length);
        const rects = Array.from(range.getClientRects()).filter(r => r.width > 0);
        if (rects.every(r => Math.abs(r.top - rects[0].top) < 2)) continue;
        let line = null;
        for (let i = 0; i < m[0].length; i++) {
          range.setStart(t, m.index + i);
          range.setEnd(t, m.index + i + 1);
          const r = range.getBoundingClientRect();
          if (!r.width) continue;
          if (line !== null && r.top > line + 2 && !joint(m[0], i))
            found.push(m[0].slice(0, i) + '|' + m[0].slice(i));
          line = r.top;
        }
      }
    }
    return found;
  };
  const reported = {};  // the first few of each kind (the message's first word)
  const report = msg => {
    const kind = msg.split(' ', 1)[0];
    reported[kind] = (reported[kind] || 0) + 1;
    if (reported[kind] <= 4) problems.push(msg);
  };
  for (const table of article.querySelectorAll('table')) {
    if (!shown(table)) continue;
    for (const row of table.rows) {
      const section = row.parentElement.getBoundingClientRect();
      if (!shown(row) || section.width <= 2 || section.height <= 2) continue;
      const cells = Array.from(row.cells).filter(shown);
      const rects = cells.map(c => c.getBoundingClientRect());
      cells.forEach((cell, k) => {
        const cs = getComputedStyle(cell);
        const inner = cell.clientWidth - parseFloat(cs.paddingLeft)
          - parseFloat(cs.paddingRight);
        const need = minChars * charWidth(cs);
        if (cell.textContent.trim().length > minChars && inner < need - 0.5)
          report(`table cell ${quote(cell)} is ${px(inner)} px wide, under `
                 + `${minChars} characters (${px(need)} px)`);
        for (const w of brokenWords(cell)) report(`word broken mid-word: "${w}"`);
        for (const badge of cell.querySelectorAll('.verdict')) {
          const b = badge.getBoundingClientRect(), c = rects[k];
          if (b.left < c.left - 1 || b.right > c.right + 1 || b.top < c.top - 1
              || b.bottom > c.bottom + 1)
            report(`badge ${quote(badge)} spills out of its cell (${px(b.left)}..`
                   + `${px(b.right)} in ${px(c.left)}..${px(c.right)})`);
          rects.forEach((o, j) => {
            if (j !== k && overlap(b, o) > 1)
              report(`badge ${quote(badge)} overlaps the cell ${quote(cells[j])}`);
          });
        }
      });
      for (let i = 0; i < rects.length; i++)
        for (let j = i + 1; j < rects.length; j++)
          if (overlap(rects[i], rects[j]) > 1)
            report(`cells ${quote(cells[i])} and ${quote(cells[j])} overlap`);
    }
  }
  for (const ledger of article.querySelectorAll('.claim-ledger')) {
    const table = ledger.querySelector('table');
    const box = table && table.parentElement;
    if (box && box.scrollWidth > box.clientWidth + 1)
      problems.push(`the ledger scrolls sideways in its box: ${box.scrollWidth} px `
                    + `of content in ${box.clientWidth} px`);
  }
  return {width: vw, problems};
}"""


def _settle(page) -> None:
    """Wait until what a reader would wait for is drawn: fonts, math, widgets."""
    page.evaluate("""async () => {
      await document.fonts.ready;
      if (window.MathJax && MathJax.startup && MathJax.startup.promise)
        await MathJax.startup.promise;
    }""")
    views = page.locator(WIDGET_VIEW).count()
    if views:
        try:  # the embedder renders on window load; give it a moment on a busy machine
            page.wait_for_function(
                "n => document.querySelectorAll('.widget-subarea').length >= n",
                arg=views,
                timeout=15_000,
            )
        except Exception:
            pass  # the widget test reports what did not render


def _visit(context, base: str, path: str, viewport: dict = VIEWPORT) -> PageReport:
    rep = PageReport(path)
    page = context.new_page()
    page.set_viewport_size(viewport)
    t0 = time.perf_counter()

    def block(r):
        rep.external.append(r.request.url)
        r.abort()

    # Only requests that leave the local server reach Python (and are refused).
    page.route(re.compile(r"^(?!" + re.escape(base) + r")(https?|wss?|ftp)://"), block)
    page.on(
        "console",
        lambda m: (
            rep.errors.append(f"console: {m.text}") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: rep.errors.append(f"page error: {e}"))
    page.on(
        "requestfailed",
        lambda r: (
            rep.errors.append(f"failed: {r.url} ({r.failure})")
            if r.url.startswith(base)
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            rep.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
        ),
    )
    resp = page.goto(base + path, wait_until="load")
    rep.status = resp.status if resp else None
    refresh = REFRESH_RE.search((SITE / path).read_text(errors="replace"))
    if refresh:  # the root index.html forwards to the home page
        target = urljoin(base + path, refresh.group(1))
        page.wait_for_url(target, timeout=10_000)
        rep.redirect = page.url
    _settle(page)
    rep.broken_images = page.evaluate(_IMAGES_JS)
    rep.links = page.evaluate(
        "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
    )
    rep.widgets = page.evaluate(_WIDGETS_JS)
    rep.math = page.evaluate(_MATH_JS)
    rep.buttons = page.evaluate(_BUTTONS_JS)
    rep.layout = page.evaluate(_LAYOUT_JS, MIN_CELL_CHARS)
    rep.callouts = page.evaluate(_CALLOUTS_JS)
    rep.alts = page.evaluate(_ALTS_JS)
    rep.seconds = time.perf_counter() - t0
    page.close()
    return rep


@pytest.fixture(scope="module")
def views(server, browser) -> dict[str, dict[str, PageReport]]:
    """Every page, loaded once at each width (WIDTHS); the tests read what was seen."""
    return {
        width: {path: _visit(browser, server, path, size) for path in pages(SITE)}
        for width, size in WIDTHS.items()
    }


@pytest.fixture(scope="module")
def reports(views) -> dict[str, PageReport]:
    """Every page at desktop width (links and buttons are the same at any width)."""
    return views["desktop"]


def _each(views) -> list[tuple[str, PageReport]]:
    """('page @width', report) for every page at every width."""
    return [(f"{p} @{w}", r) for w, by in views.items() for p, r in by.items()]


@pytest.fixture(scope="module")
def shots() -> Path:
    """The screenshot folder, emptied once per run (tests may write to it in any
    order)."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


def _fail_if(problems: list[str], what: str):
    assert not problems, f"{len(problems)} {what}:\n" + "\n".join(problems[:40])


def test_there_are_pages(reports, server):
    assert HOME in reports
    assert "book/claims.html" in reports
    assert any(p.startswith("notebooks/") for p in reports), (
        "no chapter pages were built"
    )
    assert reports["index.html"].redirect == server + HOME, reports[
        "index.html"
    ].redirect


def test_every_page_answers_200(views):
    _fail_if(
        [f"{p}: {r.status}" for p, r in _each(views) if r.status != 200],
        "pages not 200",
    )


def test_no_console_errors(views):
    _fail_if(
        [f"{p}: {e}" for p, r in _each(views) for e in r.errors],
        "errors in the browser",
    )


def test_nothing_loads_from_the_network(views):
    _fail_if(
        [f"{p}: {u}" for p, r in _each(views) for u in r.external],
        "requests that left localhost (the site must work offline)",
    )


def test_every_image_loads(views):
    _fail_if(
        [f"{p}: {src}" for p, r in _each(views) for src in r.broken_images],
        "images that did not load (naturalWidth 0)",
    )


def test_every_internal_link_resolves(reports, server):
    problems = []
    for p, r in reports.items():
        for href in set(r.links):
            if not href.startswith(server):
                continue
            parts = urlsplit(href)
            rel = unquote(parts.path[1:]) or "index.html"
            target = SITE / rel
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{p}: {href} -> no such file")
            elif (
                parts.fragment
                and target.suffix == ".html"
                and unquote(parts.fragment) not in ids_in(target)
            ):
                problems.append(f"{p}: {href} -> no #{parts.fragment} in {rel}")
    _fail_if(problems, "broken internal links")


def test_widgets_render_their_saved_state(views):
    problems = [
        f"{p}: {m}" for p, r in _each(views) for m in r.widgets.get("problems", [])
    ]
    _fail_if(problems, "widget problems")
    for p, r in _each(views):
        assert r.widgets.get("rendered", 0) == r.widgets["views"], (p, r.widgets)


def test_math_typesets_from_the_site(views):
    for p, r in _each(views):
        if r.math.get("math"):
            assert r.math["typeset"] > 0, (p, r.math)
            assert not r.math["errors"], (p, r.math)
            assert "/_static/vendor/mathjax/" in (r.math["src"] or ""), (p, r.math)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_its_width(views, width):
    """At desktop width and on a phone: no sideways scrolling, figures scale down, no
    table cell squeezed below a few characters or breaking a word, no verdict badge
    over a neighbouring cell (_LAYOUT_JS)."""
    _fail_if(
        [f"{p}: {m}" for p, r in views[width].items() for m in r.layout["problems"]],
        f"layout problems at {WIDTHS[width]['width']} px",
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_verdict_callouts_are_fully_visible(views, width):
    """Every verdict callout lies inside the page's width, nothing in it scrolls
    sideways, and its badge, claim and finding are drawn (issue 31)."""
    problems = []
    for p, r in views[width].items():
        for c in r.callouts:
            if c["left"] < -1 or c["right"] > c["vw"] + 1:
                problems.append(
                    f"{p}: {c['id']} spans {c['left']:.0f}..{c['right']:.0f}"
                    f" px of {c['vw']}"
                )
            if c["scrolls"]:
                problems.append(
                    f"{p}: {c['id']} has {c['scrolls']} sideways scroller(s)"
                )
            if not (c["badge"] and c["claim"] and c["found"]):
                problems.append(f"{p}: {c['id']} lacks a drawn badge, claim or finding")
    _fail_if(problems, f"callout problems at {WIDTHS[width]['width']} px")


def test_every_verdict_line_is_a_callout(reports):
    """Each chapter page shows one callout per verdict line its notebook printed, in
    the same order."""
    from bookbuild.notebooks import verdict_lines

    problems, seen = [], 0
    for p, r in reports.items():
        if not p.startswith("notebooks/"):
            continue
        nb = ROOT / "notebooks" / (Path(p).stem + ".ipynb")
        want = [d["id"] for d in verdict_lines(json.loads(nb.read_text()))]
        got = [c["id"] for c in r.callouts]
        seen += len(got)
        if got != want:
            problems.append(f"{p}: callouts {got} != verdict lines {want}")
    _fail_if(problems, "chapters whose callouts differ from their verdict lines")
    assert seen >= 90, f"only {seen} callouts on the chapter pages"


# Move every control of an interactive figure and report whether its drawing changed.
_MOVE_JS = """async (fig) => {
  const el = document.getElementById(fig);
  const svg = () =>
    (el.querySelector('.claimbook-vega-view svg') || {}).innerHTML || '';
  const out = [];
  for (const input of el.querySelectorAll('input, select')) {
    const before = svg();
    if (input.tagName === 'SELECT') {
      const other = Array.from(input.options).find(o => o.value !== input.value);
      input.value = other.value;
      input.dispatchEvent(new Event('change', {bubbles: true}));
    } else if (input.type === 'range') {
      input.value = String(input.max);
      input.dispatchEvent(new Event('input', {bubbles: true}));
    } else continue;
    await new Promise(r => setTimeout(r, 300));
    out.push({control: input.name || input.type, changed: svg() !== before});
  }
  const r = el.getBoundingClientRect();
  return {controls: out, left: r.left, right: r.right,
          vw: document.documentElement.clientWidth};
}"""


def _figure_pages() -> dict[str, list[str]]:
    found = {}
    for p in pages(SITE):
        ids = re.findall(
            r'<div class="claimbook-vega" id="([^"]+)"', (SITE / p).read_text()
        )
        if ids:
            found[p] = ids
    return found


@pytest.mark.parametrize("width", WIDTHS)
def test_interactive_figures_react_without_a_kernel(browser, server, width):
    """Every interactive figure (claimbook.interactive) is drawn from the site's own
    vega files, fits the width, and each of its controls changes the drawing (issue
    31: no kernel, no network; test_nothing_loads_from_the_network checks the
    latter)."""
    figs = _figure_pages()
    assert sum(map(len, figs.values())) >= 1, "no interactive figure on the site"
    problems = []
    for path, ids in figs.items():
        page = browser.new_page()
        page.set_viewport_size(WIDTHS[width])
        page.goto(server + path, wait_until="load")
        for fid in ids:
            try:
                page.wait_for_selector(f'#{fid}[data-drawn="1"] svg', timeout=15_000)
            except Exception:
                problems.append(f"{path}: {fid} was not drawn")
                continue
            r = page.evaluate(_MOVE_JS, fid)
            if not r["controls"]:
                problems.append(f"{path}: {fid} has no control to move")
            for c in r["controls"]:
                if not c["changed"]:
                    problems.append(f"{path}: {fid}'s {c['control']} changed nothing")
            if r["left"] < -1 or r["right"] > r["vw"] + 1:
                problems.append(
                    f"{path}: {fid} spans {r['left']:.0f}..{r['right']:.0f}"
                )
        page.close()
    _fail_if(problems, f"interactive figure problems at {WIDTHS[width]['width']} px")


def test_every_image_has_alt_text(views):
    _fail_if(
        [f"{p}: {src}" for p, r in _each(views) for src in r.alts],
        "images without alt text (or with a file path as alt text)",
    )


def test_chapters_have_launch_download_and_repository_buttons(reports):
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo, branch = cfg["repository"]["url"], cfg["repository"]["branch"]
    slug = repo.split("github.com/", 1)[1]
    colab = cfg["launch_buttons"]["colab_url"].rstrip("/")
    binder = cfg["launch_buttons"]["binderhub_url"].rstrip("/")
    chapters = [
        p for p in reports if (SITE / "_sources" / p).with_suffix(".ipynb").exists()
    ]
    assert chapters, "no notebook pages"
    for p in chapters:
        nb = Path(p).with_suffix(".ipynb").as_posix()
        b = reports[p].buttons
        assert f"{colab}/github/{slug}/blob/{branch}/{nb}" in b["launch"], (p, b)
        assert f"{binder}/v2/gh/{slug}/{branch}?urlpath=tree/{nb}" in b["launch"], (
            p,
            b,
        )
        assert any(h.endswith(f"_sources/{nb}") for h in b["download"] if h), (p, b)
    for p, r in reports.items():
        if p not in ("genindex.html", "search.html"):
            assert repo in r.buttons["repository"], (p, r.buttons)


def test_launch_menu_opens(browser, server, reports):
    """A reader clicks the rocket and sees Colab and Binder."""
    chapter = next(p for p in reports if p.startswith("notebooks/"))
    page = browser.new_page()
    page.goto(server + chapter, wait_until="load")
    page.click(".dropdown-launch-buttons button")
    for name in ("Colab", "Binder"):
        assert page.locator(".dropdown-launch-buttons a", has_text=name).is_visible(), (
            name
        )
    page.close()


def test_output_column_is_as_wide_as_the_figure_check_assumes(browser, server, reports):
    """bookbuild.figures scales each figure to COLUMN CSS px to judge its text at
    1280 px: the chapters' output area must be at least that wide there."""
    from bookbuild.figures import COLUMN

    chapter = next(p for p in reports if p.startswith("notebooks/"))
    page = browser.new_page()
    page.set_viewport_size(VIEWPORT)
    page.goto(server + chapter, wait_until="load")
    widths = page.evaluate(
        "() => Array.from(document.querySelectorAll('.cell_output'))"
        ".map(o => o.getBoundingClientRect().width).filter(w => w > 0)"
    )
    page.close()
    assert widths, chapter
    assert min(widths) >= COLUMN - 1, (chapter, min(widths))


_SHOWN_ROWS_JS = """() =>
  Array.from(document.querySelectorAll('.claim-ledger tbody tr'))
    .filter(r => r.getClientRects().length > 0).length"""


@pytest.mark.parametrize("width", WIDTHS)
def test_ledger_filters_by_verdict(browser, server, width):
    page = browser.new_page()
    page.set_viewport_size(WIDTHS[width])
    page.goto(server + "book/claims.html", wait_until="load")
    rows = page.locator(".claim-ledger tbody tr")
    total = rows.count()
    assert total > 0
    buttons = page.locator(".ledger-filter button")
    assert buttons.count() >= 2
    assert buttons.first.get_attribute("aria-pressed") == "true"
    for i in range(1, buttons.count()):
        button = buttons.nth(i)
        verdict = button.get_attribute("data-verdict")
        button.click()
        shown = page.locator(".claim-ledger tbody tr:not([hidden])")
        assert shown.count() == int(button.inner_text().rsplit("·", 1)[1]), verdict
        assert (
            shown.count()
            == page.locator(f".claim-ledger tbody tr:not([hidden]) .{verdict}").count()
        )
        assert page.evaluate(_SHOWN_ROWS_JS) == shown.count(), verdict  # on screen
    buttons.first.click()
    page.fill(".ledger-filter input", "no claim says this")
    assert page.locator(".claim-ledger tbody tr:not([hidden])").count() == 0
    page.close()


def test_home_summary_matches_the_ledger(browser, server):
    """The home page's counts and the ledger's come from the same verdict lines."""
    page = browser.new_page()
    page.goto(server + "book/claims.html", wait_until="load")
    ledger_counts = page.locator(
        ".ledger-filter button.verdict:not(.verdict-all)"
    ).all_inner_texts()
    page.goto(server + HOME, wait_until="load")
    chips = page.locator(".verdict-summary .verdict").all_inner_texts()
    surprising = page.locator(".verdict-summary li").count()
    page.close()
    assert ledger_counts, chips
    assert set(ledger_counts) <= set(chips), (ledger_counts, chips)
    listed = sum(
        int(c.rsplit("·", 1)[1])
        for c in ledger_counts
        if c.split(" ·")[0] in ("does not hold", "outdated", "holds with a caveat")
    )
    assert surprising == min(listed, MAX_SURPRISING), (surprising, listed)


# The ledger's experiment rows as bookbuild.ledger writes them (see
# tests/test_build_ledger.py): the interval first in the evidence, the rule last
# before the note, and the inconclusive verdict. The committed ledger may have none
# yet, so the test puts three into the built page and serves it under another name
# (nothing is written to the site).
LEDGER_FIXTURE = "book/_ledger_fixture.html"
_EXPERIMENTS = (  # a rule and one value per replicate
    (
        Rule("accuracy_of_slice_minus_best_single_lr", "greater", 0.02),
        [0.031, 0.044, 0.052, 0.027, 0.038, 0.041, 0.036, 0.029],
    ),
    (Rule("gain", "greater", 0.02), [0.0, 0.05, -0.03, 0.04]),  # inconclusive
    (
        Rule("lr_rule_good_on_the_task", "greater", 0.5, method="proportion"),
        [1, 1, 1, 0, 1, 1, 1, 1],
    ),
)


def _ledger_fixture() -> str:
    """The built ledger with its first three rows that have no interval turned into
    experiments; the second one inconclusive. (Rows that already have an interval
    stay as they are, and are checked alike.)"""
    page = (SITE / "book" / "claims.html").read_text()
    head, rest = page.split("<tbody>", 1)
    body, tail = rest.split("</tbody>", 1)
    rows = [
        r
        for r in re.findall(r"<tr\b.*?</tr>", body, flags=re.S)
        if 'class="ci"' not in r
    ]
    assert len(rows) >= len(_EXPERIMENTS), "the ledger has too few rows"
    for k, (rule, values) in enumerate(_EXPERIMENTS):
        d = decide(values, rule)
        cells = re.findall(r"<td>.*?</td>", rows[k], flags=re.S)
        assert len(cells) == 5, rows[k]
        ev = cells[3].replace(
            "<td><p>",
            f'<td><p><span class="ci">{html.escape(d.interval_text())}</span> ',
        )
        rule_span = f'<span class="rule">rule: {html.escape(rule.describe())}</span>'
        ev = (
            ev.replace(" <em>", f" {rule_span} <em>", 1)
            if " <em>" in ev
            else ev.replace("</p></td>", f" {rule_span}</p></td>")
        )
        new = rows[k].replace(cells[3], ev)
        if k == 1:
            badge = re.search(r'<span class="verdict verdict-[^"]+">[^<]*</span>', new)
            new = new.replace(
                badge.group(0),
                f'<span class="verdict verdict-{VERDICT_CLASS[INCONCLUSIVE]}">'
                f"{INCONCLUSIVE}</span>",
            )
        body = body.replace(rows[k], new)
    return head + "<tbody>" + body + "</tbody>" + tail


def _open_ledger_fixture(browser, server, viewport: dict):
    page = browser.new_page()
    page.set_viewport_size(viewport)
    fixture = _ledger_fixture()
    page.route(
        server + LEDGER_FIXTURE,
        lambda route: route.fulfill(
            status=200, content_type="text/html; charset=utf-8", body=fixture
        ),
    )
    page.goto(server + LEDGER_FIXTURE, wait_until="load")
    _settle(page)
    return page


# Where each part of the fixture's experiment rows landed (page coordinates).
_EXPERIMENT_ROWS_JS = """() => {
  const box = e => {
    if (!e) return null;
    const r = e.getBoundingClientRect();
    return {l: r.left, r: r.right, t: r.top + scrollY, b: r.bottom + scrollY};
  };
  return Array.from(document.querySelectorAll('.claim-ledger tbody tr'))
    .filter(row => row.querySelector('.ci')).map(row => {
      const ev = row.cells[3];
      return {display: getComputedStyle(row).display,
              cells: Array.from(row.cells).map(box), ci: box(ev.querySelector('.ci')),
              items: Array.from(ev.querySelectorAll('.ev')).map(box),
              rule: box(ev.querySelector('.rule')), note: box(ev.querySelector('em')),
              ciText: ev.querySelector('.ci').innerText,
              badge: box(row.querySelector('.verdict'))};
    });
}"""


def _above(a: dict, b: dict) -> bool:
    return a["b"] <= b["t"] + 1


def _inside(a: dict, b: dict) -> bool:
    return b["l"] - 1 <= a["l"] and a["r"] <= b["r"] + 1


@pytest.mark.parametrize("width", WIDTHS)
def test_ledger_carries_intervals_rules_and_inconclusive(browser, server, shots, width):
    """Experiment rows: the interval, the items, the rule and the note in that order
    inside the evidence; on a phone each row a block (claim; badge and source on one
    line; evidence; link), at desktop width the five-column table; the inconclusive
    verdict has its own badge colour and filter button; the layout check passes."""
    page = _open_ledger_fixture(browser, server, WIDTHS[width])
    layout = page.evaluate(_LAYOUT_JS, MIN_CELL_CHARS)
    _fail_if(layout["problems"], f"layout problems in the ledger fixture @{width}")
    rows = page.evaluate(_EXPERIMENT_ROWS_JS)
    assert len(rows) >= len(_EXPERIMENTS), rows
    for row in rows:
        claim, source, verdict, evidence, link = row["cells"]
        # a pooled interval, a share, or a rule decided per task ("holds on k of K")
        assert row["ciText"].startswith(("mean ", "share ", "holds on ")), row["ciText"]
        parts = [p for p in (row["ci"], *row["items"], row["rule"], row["note"]) if p]
        assert all(_above(a, b) for a, b in zip(parts, parts[1:], strict=False)), parts
        assert all(_inside(p, evidence) for p in parts), (parts, evidence)
        if width == "phone":
            assert row["display"] != "table-row", row["display"]
            assert _above(claim, verdict)
            assert _above(claim, source)
            assert verdict["t"] < source["b"]
            assert source["t"] < verdict["b"]
            assert verdict["r"] <= source["l"] + 1  # the badge first
            assert _above(verdict, evidence)
            assert _above(source, evidence)
            assert _above(evidence, link)
        else:
            assert row["display"] == "table-row", row["display"]
            assert all(abs(c["t"] - claim["t"]) < 1 for c in row["cells"])
            lefts = [c["l"] for c in row["cells"]]
            assert lefts == sorted(lefts), lefts
    # the inconclusive badge: a colour of its own, and a filter button in its place
    colours = page.evaluate("""() => Object.fromEntries(
      Array.from(document.querySelectorAll('.ledger-filter button.verdict')).map(
        b => [b.dataset.verdict || 'all', getComputedStyle(b).backgroundColor]))""")
    key = f"verdict-{VERDICT_CLASS[INCONCLUSIVE]}"
    assert key in colours, colours
    assert colours[key] not in ("rgba(0, 0, 0, 0)", "transparent"), colours
    assert list(colours.values()).count(colours[key]) == 1, colours
    order = list(colours)[1:]  # the buttons after 'all', in the ledger's order
    expected = [f"verdict-{VERDICT_CLASS[v]}" for v in VERDICT_CLASS]
    assert order == [k for k in expected if k in order], order
    button = page.locator(f".ledger-filter button[data-verdict='{key}']")
    n = page.locator(f".claim-ledger tbody .{key}").count()
    assert button.inner_text() == f"{INCONCLUSIVE} · {n}"
    button.click()
    assert page.evaluate(_SHOWN_ROWS_JS) == n
    page.locator(".ledger-filter button").first.click()
    page.fill(".ledger-filter input", "95% ci, n=")  # the intervals' text
    with_ci = [r for r in rows if "95% ci, n=" in r["ciText"].lower()]
    assert with_ci
    # every row whose text holds it is shown: the interval rows, and rows whose
    # evidence quotes an interval (a part decided beside an exact check)
    holding = page.evaluate("""() =>
      Array.from(document.querySelectorAll('.claim-ledger tbody tr'))
        .filter(r => r.textContent.toLowerCase().includes('95% ci, n=')).length""")
    assert page.evaluate(_SHOWN_ROWS_JS) == holding
    assert holding >= len(with_ci)
    page.fill(".ledger-filter input", "")
    page.locator(".ledger-filter input").blur()
    top = page.locator(".ledger-filter").bounding_box()
    bottom = rows[len(_EXPERIMENTS) - 1]["cells"][-1]["b"]  # rows in page order
    y = top["y"] + page.evaluate("scrollY") - 8
    page.screenshot(
        path=str(shots / f"ledger-experiments-{width}.png"),
        full_page=True,
        clip={
            "x": 0,
            "y": y,
            "width": WIDTHS[width]["width"],
            "height": bottom - y + 8,
        },
    )
    page.close()


def test_screenshots(browser, server, reports, views, shots):
    """Home, ledger and a chapter (one with widgets if any) as a reader sees them, on
    a desktop and on a phone."""
    chapters = [p for p in reports if p.startswith("notebooks/")]
    with_widgets = [p for p in chapters if reports[p].widgets.get("views")]
    chapter = (
        with_widgets
        or [c for c in chapters if not c.startswith("notebooks/00_")]
        or chapters
    )[0]
    page = browser.new_page()
    page.set_viewport_size(VIEWPORT)
    for name, path, full in (
        ("home", HOME, False),
        ("ledger", "book/claims.html", True),
        ("chapter", chapter, False),
    ):
        page.goto(server + path, wait_until="load")
        _settle(page)
        page.evaluate(_IMAGES_JS)
        page.screenshot(
            path=str(shots / f"{name}.png"), full_page=full, timeout=120_000
        )
    if with_widgets:
        page.locator(".widget-subarea").first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "chapter-widget.png"))
    # On a phone: the first two screens of the ledger and of the chapter, and the
    # chapter's first figure.
    page.set_viewport_size(PHONE)
    for name, path in (
        ("ledger-phone", "book/claims.html"),
        ("chapter-phone", chapter),
    ):
        page.goto(server + path, wait_until="load")
        _settle(page)
        page.evaluate(_IMAGES_JS)
        # Two screens, taken through a viewport two screens tall: a full-page capture
        # of a long chapter at phone width resizes the page to its whole height first,
        # which took over 30 s on a slow CI machine.
        height = min(2 * PHONE["height"], page.evaluate("document.body.scrollHeight"))
        page.set_viewport_size({"width": PHONE["width"], "height": height})
        _settle(page)
        page.screenshot(path=str(shots / f"{name}.png"), timeout=120_000)
        page.set_viewport_size(PHONE)
    figures = page.locator(".cell_output img")
    if figures.count():
        figures.first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "chapter-phone-figure.png"))
    page.close()
    (shots / "pages.json").write_text(
        json.dumps(
            {
                p: {
                    "seconds": round(r.seconds, 2),
                    "phone_seconds": round(views["phone"][p].seconds, 2),
                    "widgets": r.widgets.get("views", 0),
                    "math": r.math.get("math", 0),
                }
                for p, r in reports.items()
            },
            indent=1,
        )
    )
    assert (shots / "home.png").stat().st_size > 10_000
    assert (shots / "ledger-phone.png").stat().st_size > 10_000


def test_site_size():
    if not SITE.exists():
        _missing("site not built")
    size = sum(f.stat().st_size for f in SITE.rglob("*") if f.is_file())
    assert size <= MAX_SITE_BYTES, (
        f"the built site is {size / 1e6:.1f} MB (limit {MAX_SITE_BYTES / 1e6:.0f} MB)"
    )


def test_no_local_path_leaks():
    """Pages must not point at this machine's files (file:// or /work/... links)."""
    bad = [
        p
        for p in pages(SITE)
        if re.search(
            r'(href|src)="(file:|/work/|/root/)', (SITE / p).read_text(errors="replace")
        )
    ]
    assert not bad, bad
