"""The built book in a real browser: Debian's headless Chromium on a localhost server.

`make site-test`, the last step of `make test`, runs this after the book is built
(`_build/html`; another folder with CLAIMBOOK_SITE). Every page is loaded once and
checked the way a reader meets it: it answers 200, logs no console error, asks
nothing of the network (the site must work offline), every image decodes, every
internal link and anchor resolves, saved widget state renders, math typesets, and
chapters carry their launch (Colab, Binder), download and repository buttons.
Screenshots of the home page, the ledger and one chapter go to `_build/screenshots/`.

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

from bookbuild.ledger import MAX_SURPRISING
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
MAX_SITE_BYTES = 15_000_000
VIEWPORT = {"width": 1280, "height": 900}
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


@functools.lru_cache(maxsize=None)
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

# For each widget view in the page: did the embedder render it (a non-empty
# .widget-subarea before the view's script tag), and does what it shows match the
# saved state (every description reachable from the view's model appears, every
# slider readout shows its saved value, text inputs hold their saved text)?
_WIDGETS_JS = (
    """() => {
  const stateTag = document.querySelector(
    'script[type="application/vnd.jupyter.widget-state+json"]');
  const views = Array.from(document.querySelectorAll('%s'));
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
}"""
    % WIDGET_VIEW
)

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


def _visit(context, base: str, path: str) -> PageReport:
    rep = PageReport(path)
    page = context.new_page()
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
    rep.seconds = time.perf_counter() - t0
    page.close()
    return rep


@pytest.fixture(scope="module")
def reports(server, browser) -> dict[str, PageReport]:
    """Every page, loaded once; the tests below read what was seen."""
    return {path: _visit(browser, server, path) for path in pages(SITE)}


def _fail_if(problems: list[str], what: str):
    assert not problems, f"{len(problems)} {what}:\n" + "\n".join(problems[:40])


def test_there_are_pages(reports, server):
    assert HOME in reports and "book/claims.html" in reports
    assert any(p.startswith("notebooks/") for p in reports), (
        "no chapter pages were built"
    )
    assert reports["index.html"].redirect == server + HOME, reports[
        "index.html"
    ].redirect


def test_every_page_answers_200(reports):
    _fail_if(
        [f"{p}: {r.status}" for p, r in reports.items() if r.status != 200],
        "pages not 200",
    )


def test_no_console_errors(reports):
    _fail_if(
        [f"{p}: {e}" for p, r in reports.items() for e in r.errors],
        "errors in the browser",
    )


def test_nothing_loads_from_the_network(reports):
    _fail_if(
        [f"{p}: {u}" for p, r in reports.items() for u in r.external],
        "requests that left localhost (the site must work offline)",
    )


def test_every_image_loads(reports):
    _fail_if(
        [f"{p}: {src}" for p, r in reports.items() for src in r.broken_images],
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


def test_widgets_render_their_saved_state(reports):
    problems = [
        f"{p}: {m}" for p, r in reports.items() for m in r.widgets.get("problems", [])
    ]
    _fail_if(problems, "widget problems")
    for p, r in reports.items():
        assert r.widgets.get("rendered", 0) == r.widgets["views"], (p, r.widgets)


def test_math_typesets_from_the_site(reports):
    for p, r in reports.items():
        if r.math.get("math"):
            assert r.math["typeset"] > 0 and not r.math["errors"], (p, r.math)
            assert r.math["src"] and "/_static/vendor/mathjax/" in r.math["src"], (
                p,
                r.math,
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


def test_ledger_filters_by_verdict(browser, server):
    page = browser.new_page()
    page.goto(server + "book/claims.html", wait_until="load")
    rows = page.locator(".claim-ledger tbody tr")
    total = rows.count()
    assert total > 0
    buttons = page.locator(".ledger-filter button")
    assert (
        buttons.count() >= 2 and buttons.first.get_attribute("aria-pressed") == "true"
    )
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
    assert ledger_counts and set(ledger_counts) <= set(chips), (ledger_counts, chips)
    listed = sum(
        int(c.rsplit("·", 1)[1])
        for c in ledger_counts
        if c.split(" ·")[0] in ("does not hold", "outdated", "holds with a caveat")
    )
    assert surprising == min(listed, MAX_SURPRISING), (surprising, listed)


def test_screenshots(browser, server, reports):
    """Home, ledger and a chapter (one with widgets if any) as a reader sees them."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    chapters = [p for p in reports if p.startswith("notebooks/")]
    with_widgets = [p for p in chapters if reports[p].widgets.get("views")]
    chapter = (
        with_widgets
        or [c for c in chapters if not c.startswith("notebooks/00_")]
        or chapters
    )[0]
    page = browser.new_page()
    for name, path, full in (
        ("home", HOME, False),
        ("ledger", "book/claims.html", True),
        ("chapter", chapter, False),
    ):
        page.goto(server + path, wait_until="load")
        _settle(page)
        page.evaluate(_IMAGES_JS)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)
    if with_widgets:
        page.locator(".widget-subarea").first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "chapter-widget.png"))
    page.close()
    (SHOTS / "pages.json").write_text(
        json.dumps(
            {
                p: {
                    "seconds": round(r.seconds, 2),
                    "widgets": r.widgets.get("views", 0),
                    "math": r.math.get("math", 0),
                }
                for p, r in reports.items()
            },
            indent=1,
        )
    )
    assert (SHOTS / "home.png").stat().st_size > 10_000


def test_site_size():
    if not SITE.exists():
        _missing("site not built")
    size = sum(f.stat().st_size for f in SITE.rglob("*") if f.is_file())
    assert size <= MAX_SITE_BYTES, (
        f"the built site is {size / 1e6:.1f} MB (limit 15 MB)"
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
