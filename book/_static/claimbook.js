// The book's own script (loaded on every page):
// 1. filters the claims ledger by verdict and by text (the table is complete without
//    it; it only adds a row of toggle buttons and a search box above the table) and
//    lets its long names (evidence, quoted code) break at a joint, not mid-word;
// 2. bridges the one MathJax 2 call the ipywidgets 8 embedder makes to MathJax 3;
// 3. draws the interactive figures (claimbook.interactive: a Vega-Lite spec in a
//    div.claimbook-vega) with the vega, vega-lite and vega-embed files the site
//    serves from _static/vendor/vega, loaded only on pages that hold such a figure.
(function () {
  "use strict";

  // this script's own folder (_static/), to find the vendored files from any page
  var STATIC = (function () {
    var s = document.currentScript || document.querySelector('script[src*="claimbook.js"]');
    return s ? s.src.replace(/claimbook\.js(\?.*)?$/, "") : "_static/";
  })();
  var VEGA = ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js"];

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }

  function drawFigures() {
    var figs = Array.prototype.slice.call(
      document.querySelectorAll(".claimbook-vega:not([data-drawn])"));
    if (!figs.length) return;
    var chain = Promise.resolve();
    if (!window.vegaEmbed) {
      VEGA.forEach(function (f) {
        chain = chain.then(function () { return loadScript(STATIC + "vendor/vega/" + f); });
      });
    }
    chain.then(function () {
      figs.forEach(function (el) {
        var spec = JSON.parse(el.querySelector("script.claimbook-vega-spec").textContent);
        el.dataset.drawn = "pending";
        window.vegaEmbed(el.querySelector(".claimbook-vega-view"), spec,
                         { actions: false, renderer: "svg" })
          .then(function () { el.dataset.drawn = "1"; })
          .catch(function (err) { console.error("interactive figure", el.id, err); });
      });
    }).catch(function (err) { console.error(err.message); });
  }

  // @jupyter-widgets/html-manager typesets every widget label with MathJax 2's
  // MathJax.Hub.Queue(["Typeset", MathJax.Hub, el]) whenever window.MathJax exists;
  // the book loads MathJax 3, which has no Hub, so each label threw a TypeError on
  // pages with both math and widgets. Runs at DOMContentLoaded: after the deferred
  // MathJax script, before the embedder renders on window load.
  function bridgeMathJax2() {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) return;
    mj.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (job) {
          if (!Array.isArray(job) || job[0] !== "Typeset") return;
          var el = job[2];
          mj.startup.promise
            .then(function () { return mj.typesetPromise(el ? [el] : undefined); })
            .catch(function (err) { console.warn("MathJax could not typeset a widget label", err); });
        });
      }
    };
  }

  function verdictOf(row) {
    var badge = row.querySelector(".verdict");
    if (!badge) return null;
    for (var i = 0; i < badge.classList.length; i++) {
      var c = badge.classList[i];
      if (c.indexOf("verdict-") === 0) return { key: c, label: badge.textContent.trim() };
    }
    return null;
  }

  // Evidence names are long snake_case identifiers, and claims quote code: in a word
  // of 16 characters or more, let a line break (a <wbr>) after '_', '=', a call's '(',
  // a ')' that '[', '.' or '(' follows, or a '.' before a letter, so a name too long
  // for its line splits at a joint, never mid-word. Shorter words and prose keep
  // their usual breaks.
  var JOINT = /(_|=|\w\((?!\))|\)(?=[\[.(])|\.(?=[A-Za-z]))(?=\S)/g;
  function markBreakPoints(el) {
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT), texts = [];
    for (var n = walker.nextNode(); n; n = walker.nextNode()) texts.push(n);
    texts.forEach(function (t) {
      var parts = t.nodeValue.replace(/\S{16,}/g, function (word) {
        return word.replace(JOINT, "$1\u0000");
      }).split("\u0000");
      if (parts.length < 2) return;
      var frag = document.createDocumentFragment();
      parts.forEach(function (part, i) {
        if (i) frag.appendChild(document.createElement("wbr"));
        frag.appendChild(document.createTextNode(part));
      });
      t.parentNode.replaceChild(frag, t);
    });
  }

  function setUp(container) {
    var table = container.querySelector("table");
    if (!table || container.querySelector(".ledger-filter")) return;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    table.querySelectorAll("tbody td").forEach(markBreakPoints);
    var verdicts = [], seen = {}, active = null, query = "";
    rows.forEach(function (row) {
      var v = verdictOf(row);
      row.dataset.verdict = v ? v.key : "";
      if (v && !seen[v.key]) { seen[v.key] = { label: v.label, n: 0 }; verdicts.push(v.key); }
      if (v) seen[v.key].n += 1;
    });

    var bar = document.createElement("div");
    bar.className = "ledger-filter";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", "Filter the ledger by verdict");
    var count = document.createElement("span");
    count.className = "ledger-count";
    count.setAttribute("aria-live", "polite");

    function apply() {
      var shown = 0;
      rows.forEach(function (row) {
        var ok = (!active || row.dataset.verdict === active) &&
          (!query || row.textContent.toLowerCase().indexOf(query) !== -1);
        row.hidden = !ok;
        if (ok) shown += 1;
      });
      buttons.forEach(function (b) {
        b.setAttribute("aria-pressed", String((b.dataset.verdict || null) === active));
      });
      count.textContent = "showing " + shown + " of " + rows.length;
    }

    function button(key, text) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "verdict " + (key || "verdict-all");
      b.dataset.verdict = key || "";
      b.textContent = text;
      b.addEventListener("click", function () { active = key; apply(); });
      bar.appendChild(b);
      return b;
    }

    var order = ["verdict-holds", "verdict-caveat", "verdict-outdated", "verdict-fails",
                 "verdict-inconclusive", "verdict-not-checked"];
    verdicts.sort(function (a, b) { return order.indexOf(a) - order.indexOf(b); });
    var buttons = [button(null, "all · " + rows.length)];
    verdicts.forEach(function (k) { buttons.push(button(k, seen[k].label + " · " + seen[k].n)); });
    var search = document.createElement("input");
    search.type = "search";
    search.placeholder = "filter by text (claim, source, evidence)";
    search.setAttribute("aria-label", "Filter the ledger by text");
    search.addEventListener("input", function () { query = search.value.trim().toLowerCase(); apply(); });
    bar.appendChild(search);
    bar.appendChild(count);
    container.insertBefore(bar, container.firstChild);
    apply();
  }

  function init() {
    bridgeMathJax2();
    document.querySelectorAll(".claim-ledger").forEach(setUp);
    // a chapter's closing verdict table (bookbuild.callouts): names break at joints
    document.querySelectorAll(".verdict-table td").forEach(markBreakPoints);
    drawFigures();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
