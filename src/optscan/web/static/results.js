/* optscan results page: draws a scan's JSON document (the contract of
   `optscan scan --format json`) as banners, tables and two uPlot charts, and runs
   Scan now through the JSON API. Every text is set with textContent: provider error
   messages and symbols are untrusted and never become HTML. */
(function () {
  "use strict";

  // [JSON key, header, kind]: from the server (optscan.web.pages.page_columns), so a
  // column added to optscan's column list shows here too
  var BASE_COLUMNS = JSON.parse(document.getElementById("columns").textContent).map(function (c) {
    return [c.key, c.header, c.kind];
  });
  var COLUMNS = BASE_COLUMNS; // and the enrichers' badges of the scan shown (factColumns)

  function factColumns(scan) {
    // each enricher fact named *_badge that the opportunities carry, as the terminal
    // table shows it (optscan.output.extras): key "<enricher>.<fact>", header the name
    // without "_badge" ("Value" for valuation.value_badge)
    var seen = {}, extra = [];
    ((scan && scan.opportunities) || []).forEach(function (o) {
      var extras = o.extras || {};
      Object.keys(extras).forEach(function (name) {
        var facts = extras[name] || {};
        Object.keys(facts).forEach(function (fact) {
          var key = name + "." + fact;
          if (/_badge$/.test(fact) && !seen[key]) {
            seen[key] = true;
            var header = fact.slice(0, -6).replace(/_/g, " ");
            extra.push([key, header.charAt(0).toUpperCase() + header.slice(1), "text"]);
          }
        });
      });
    });
    return BASE_COLUMNS.concat(extra);
  }

  function valueOf(o, key) {
    // a core field, or an enricher's fact "<enricher>.<fact>" in o.extras
    if (key in o || key.indexOf(".") < 0) return o[key];
    var dot = key.indexOf("."), facts = (o.extras || {})[key.slice(0, dot)];
    return facts ? facts[key.slice(dot + 1)] : undefined;
  }

  var state = {
    scan: null,
    rows: [], // the opportunities shown (filtered, sorted)
    sortKey: null,
    sortDir: -1,
    selected: null, // the selected opportunity (an object of scan.opportunities)
    scatter: null,
    payoff: null,
    scatterPoints: [], // opportunities in the scatter's (delta-sorted) order
    page: 0, // the table shows rows [page * pageSize, (page + 1) * pageSize) of rows
    pageSize: 200,
  };
  window.optscan = state; // for tests and the curious

  function $(id) { return document.getElementById(id); }
  function csrfToken() {
    return document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function fmt(value, kind) {
    // kinds of optscan.output.columns (money per share or per contract, percent,
    // fraction shown as a percent, delta, count...) and the page's own "dollars"
    if (value === null || value === undefined) return "";
    if (typeof value !== "number") return String(value);
    switch (kind) {
      case "money": return value.toFixed(2);
      case "dollars": return value.toFixed(0);
      case "percent": return value.toFixed(1);
      case "fraction": return (value * 100).toFixed(1);
      case "delta": return value.toFixed(3);
      case "count": case "seconds": return Math.round(value).toString();
      default: return String(value);
    }
  }

  var when = window.optscanFormat.when; // static/format.js

  function quoteRange(opps) {
    // when the quotes were taken, and how late the latest data was
    if (!opps.length) return "none";
    var first = opps[0].quote_time, last = first, delay = 0;
    opps.forEach(function (o) {
      if (o.quote_time < first) first = o.quote_time;
      if (o.quote_time > last) last = o.quote_time;
      if (o.data_delay_s > delay) delay = o.data_delay_s;
    });
    var text = first === last ? when(first) : when(first) + " to " + when(last);
    return delay > 0 ? text + ", up to " + Math.round(delay) + " s late" : text;
  }

  // ---------------------------------------------------------------- banners, summary
  function banner(text, cls) {
    var p = el("p", text, "banner " + cls);
    p.setAttribute("role", "status");
    $("banners").appendChild(p);
  }

  function renderSummary(scan) {
    var box = $("summary");
    box.textContent = "";
    if (!scan) {
      box.appendChild(el("p", "No scan yet: press Scan now."));
      return;
    }
    var line = el("p");
    line.appendChild(el("strong", scan.message));
    box.appendChild(line);
    var facts = [
      ["data as of", when(scan.as_of)],
      ["quotes", quoteRange(scan.opportunities || [])],
      ["provider", scan.provider],
      ["strategy", scan.strategy],
      ["profile", scan.profile],
      ["scan", scan.scan_id],
    ];
    var list = el("p", null, "facts");
    facts.forEach(function (f) {
      var fact = el("span", null, "fact");
      fact.appendChild(el("b", f[0] + ":"));
      fact.appendChild(document.createTextNode(" " + f[1]));
      list.appendChild(fact);
    });
    box.appendChild(list);
  }

  function renderBanners(scan) {
    $("banners").textContent = "";
    if (!scan) return;
    if (scan.synthetic) banner("Synthetic data: the " + scan.provider + " provider makes these quotes up; do not trade on them.", "warn synthetic");
    if (scan.outside_market_hours) banner("Quotes taken outside market hours: bids and implied volatilities may be stale or placeholders.", "warn outside-hours");
    if (scan.skipped) banner("Not scanned: " + scan.message, "warn skipped");
    var partial = (scan.symbols || []).filter(function (s) { return s.partial; });
    var failed = (scan.symbols || []).filter(function (s) { return s.status !== "ok"; });
    if (partial.length || failed.length) {
      var parts = [];
      if (failed.length) parts.push(failed.length + " of " + scan.symbols.length + " symbols failed or were skipped");
      if (partial.length) parts.push(partial.length + " symbols lost some expirations");
      banner("Partial scan: " + parts.join("; ") + " (see Symbols below).", "warn partial");
    }
    if (!scan.success && !scan.skipped) banner("The scan failed: no symbol could be scanned.", "error failed");
    (scan.errors || []).forEach(function (e) { banner(typeof e === "string" ? e : JSON.stringify(e), "error"); });
    (scan.warnings || []).forEach(function (w) { banner(w, "warn"); });
  }

  // ---------------------------------------------------------------- symbols table
  function renderSymbols(scan) {
    var body = $("symbols").tBodies[0];
    body.textContent = "";
    var symbols = scan ? scan.symbols || [] : [];
    $("symbols-section").hidden = symbols.length === 0;
    var frag = document.createDocumentFragment();
    symbols.forEach(function (s) {
      var tr = el("tr");
      tr.className = "status-" + s.status + (s.partial ? " partial" : "");
      tr.appendChild(el("td", s.symbol));
      tr.appendChild(el("td", s.status + (s.partial ? " (partial)" : "")));
      tr.appendChild(el("td", s.opportunities));
      tr.appendChild(el("td", s.contracts_seen));
      var rejected = Object.keys(s.rejected || {}).sort(function (a, b) { return s.rejected[b] - s.rejected[a]; })
        .map(function (k) { return k + " " + s.rejected[k]; }).join(", ");
      tr.appendChild(el("td", rejected));
      var fe = Object.keys(s.failed_expirations || {}).sort()
        .map(function (d) { return d + ": " + s.failed_expirations[d]; }).join("; ");
      tr.appendChild(el("td", fe));
      tr.appendChild(el("td", s.error || ""));
      frag.appendChild(tr);
    });
    body.appendChild(frag);
  }

  // ---------------------------------------------------------------- opportunities table
  function renderHeader() {
    var row = $("opportunities").tHead.rows[0];
    row.textContent = "";
    COLUMNS.forEach(function (c) {
      var th = el("th");
      var button = el("button", c[1]);
      button.type = "button";
      button.dataset.key = c[0];
      th.appendChild(button);
      th.dataset.key = c[0];
      if (state.sortKey === c[0]) th.setAttribute("aria-sort", state.sortDir > 0 ? "ascending" : "descending");
      row.appendChild(th);
    });
  }

  function numberOr(value, fallback) {
    var n = parseFloat(value);
    return isNaN(n) ? fallback : n;
  }

  function filteredRows() {
    var opps = state.scan ? state.scan.opportunities || [] : [];
    var text = $("filter-text").value.trim().toUpperCase();
    var minReturn = numberOr($("filter-min-return").value, -Infinity);
    var maxDelta = numberOr($("filter-max-delta").value, Infinity);
    var rows = opps.filter(function (o) {
      if (text && o.symbol.toUpperCase().indexOf(text) < 0 && o.contract_symbol.toUpperCase().indexOf(text) < 0) return false;
      if (o.annualized_return < minReturn) return false;
      if (Math.abs(o.delta) > maxDelta) return false;
      return true;
    });
    if (state.sortKey) {
      var key = state.sortKey, dir = state.sortDir;
      rows.sort(function (a, b) {
        var x = valueOf(a, key), y = valueOf(b, key);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1; // blanks last either way
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * dir;
      });
    }
    return rows;
  }

  function renderTable(keepPage) {
    state.rows = filteredRows();
    if (!keepPage) state.page = 0;
    renderPage();
    renderHeader();
    drawScatter();
  }

  function renderPage() {
    // One page of rows: laying out 3,000 rows x 15 cells costs seconds; 200 do not.
    var size = state.pageSize > 0 ? state.pageSize : state.rows.length || 1;
    var pages = Math.max(1, Math.ceil(state.rows.length / size));
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    var first = state.page * size, last = Math.min(state.rows.length, first + size);
    var body = $("opportunities").tBodies[0];
    var frag = document.createDocumentFragment();
    for (var i = first; i < last; i++) {
      var o = state.rows[i];
      var tr = document.createElement("tr");
      tr.dataset.index = i;
      if (o === state.selected) tr.className = "selected";
      for (var c = 0; c < COLUMNS.length; c++) {
        var td = document.createElement("td");
        var key = COLUMNS[c][0], value = valueOf(o, key);
        td.textContent = fmt(value, COLUMNS[c][2]);
        if (key.slice(-6) === "_badge" && value) td.className = "badge badge-" + String(value).replace(/[^a-z]/g, "");
        else if (COLUMNS[c][2] !== "text" && COLUMNS[c][2] !== "date") td.className = "num";
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    body.textContent = "";
    body.appendChild(frag);
    var total = state.scan ? (state.scan.opportunities || []).length : 0;
    $("opp-count").textContent = state.rows.length === total ? "(" + total + ")" : "(" + state.rows.length + " of " + total + ")";
    $("opportunities-section").hidden = total === 0;
    $("page-text").textContent = state.rows.length ? "rows " + (first + 1) + "\u2013" + last + " of " + state.rows.length : "no rows";
    $("page-prev").disabled = state.page === 0;
    $("page-next").disabled = state.page >= pages - 1;
  }

  // ---------------------------------------------------------------- charts
  function chartWidth(id) {
    return Math.max(320, Math.floor($(id).parentNode.clientWidth) - 8);
  }

  function nearestPoint(u) {
    // the point nearest the cursor in pixels (uPlot's own cursor snaps by x only)
    var left = u.cursor.left, top = u.cursor.top;
    if (left === undefined || left < 0) return null;
    var xs = u.data[0], ys = u.data[1], best = null, bestD = Infinity;
    for (var i = 0; i < xs.length; i++) {
      var dx = u.valToPos(xs[i], "x") - left, dy = u.valToPos(ys[i], "y") - top;
      var d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    return bestD <= 400 ? best : null; // within 20 px
  }

  function drawScatter() {
    var points = state.rows.slice().sort(function (a, b) { return a.delta - b.delta; });
    state.scatterPoints = points;
    var data = [points.map(function (o) { return o.delta; }), points.map(function (o) { return o.annualized_return; })];
    $("charts").hidden = !state.scan || (state.scan.opportunities || []).length === 0;
    $("scatter").dataset.marks = String(points.length);
    if ($("charts").hidden) return;
    if (state.scatter) {
      state.scatter.setData(data);
      return;
    }
    var hovered = null;
    state.scatter = new uPlot({
      width: chartWidth("scatter"),
      height: 300,
      scales: { x: { time: false }, y: {} },
      legend: { show: false },
      cursor: {
        drag: { x: false, y: false },
        dataIdx: function (u, seriesIdx, closestIdx) {
          hovered = nearestPoint(u);
          return hovered === null ? closestIdx : hovered;
        },
      },
      axes: [
        { label: "delta", stroke: "#333" },
        { label: "annualized return %", stroke: "#333", size: 56, labelGap: 4 },
      ],
      series: [
        {},
        {
          label: "opportunities",
          stroke: "#1f6feb",
          fill: "rgba(31,111,235,0.35)",
          paths: function () { return null; },
          points: { show: true, size: 6, width: 1, stroke: "#1f6feb", fill: "rgba(31,111,235,0.35)" },
        },
      ],
      hooks: {
        draw: [function (u) {
          // a ring around the selected trade
          var i = state.scatterPoints.indexOf(state.selected);
          if (i < 0) return;
          var ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#cf222e";
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.beginPath();
          ctx.arc(u.valToPos(u.data[0][i], "x", true), u.valToPos(u.data[1][i], "y", true), 7 * devicePixelRatio, 0, 2 * Math.PI);
          ctx.stroke();
          ctx.restore();
        }],
        setCursor: [function (u) {
          var tip = $("scatter-tip");
          if (hovered === null || !state.scatterPoints[hovered]) { tip.textContent = HOVER_HINT; return; }
          var o = state.scatterPoints[hovered];
          tip.textContent = o.contract_symbol + "  delta " + fmt(o.delta, "delta") + ", " + fmt(o.annualized_return, "percent") + " %/yr, bid " + fmt(o.bid, "money");
        }],
      },
    }, data, $("scatter"));
    state.scatter.over.addEventListener("click", function () {
      if (hovered !== null && state.scatterPoints[hovered]) select(state.scatterPoints[hovered]);
    });
  }

  function payoffData(o) {
    // P&L at expiry per contract (state.payoffAt) against the underlying's price
    var K = o.strike, S0 = o.underlying_price;
    var even = state.payoffBreakeven(o);
    var lo = Math.min(K, S0, even) * 0.8, hi = Math.max(K, S0, even) * 1.2;
    var xs = [], ys = [], n = 120;
    for (var i = 0; i <= n; i++) {
      var S = lo + (hi - lo) * i / n;
      xs.push(S);
      ys.push(Math.round(state.payoffAt(o, S) * 100) / 100);
    }
    return [xs, ys];
  }

  function drawPayoff() {
    var o = state.selected;
    var caption = $("selected");
    if (!o) {
      caption.textContent = "Select a trade in the table or the chart.";
      if (state.payoff) { state.payoff.destroy(); state.payoff = null; }
      return;
    }
    var even = state.payoffBreakeven(o);
    caption.textContent = (o.kind === "put" ? "Sell 1 put " : "Hold 100 shares (from today's price) and sell 1 call ") + o.contract_symbol +
      " for " + fmt(o.bid, "money") + " (" + fmt(o.premium, "dollars") + " $ a contract): strike " + fmt(o.strike, "money") +
      ", breakeven " + fmt(even, "money") + (o.kind === "put" ? "" : " (shares and call; the call alone: " + fmt(o.breakeven, "money") + ")") +
      ", underlying " + fmt(o.underlying_price, "money") + ", " + o.dte + " DTE.";
    var data = payoffData(o);
    if (state.payoff) state.payoff.destroy();
    var marks = [[o.strike, "strike", "#b35900"], [even, "breakeven", "#1a7f37"]];
    state.payoff = new uPlot({
      width: chartWidth("payoff"),
      height: 300,
      scales: { x: { time: false } },
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { label: "underlying price at expiry", stroke: "#333" },
        { label: "P&L per contract $", stroke: "#333", size: 64, labelGap: 8 },
      ],
      series: [{}, { label: "P&L", stroke: "#1f6feb", width: 2 }],
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
          ctx.save();
          ctx.lineWidth = 1;
          var zero = Math.round(u.valToPos(0, "y", true));
          ctx.strokeStyle = "#999";
          ctx.beginPath(); ctx.moveTo(u.bbox.left, zero); ctx.lineTo(u.bbox.left + u.bbox.width, zero); ctx.stroke();
          ctx.font = Math.round(12 * devicePixelRatio) + "px sans-serif";
          marks.forEach(function (m, i) {
            var x = Math.round(u.valToPos(m[0], "x", true));
            ctx.strokeStyle = m[2]; ctx.fillStyle = m[2];
            ctx.setLineDash([5, 4]);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
            ctx.setLineDash([]);
            // strike at the top, breakeven at the bottom: the two are often close
            var y = i === 0 ? top + 14 * devicePixelRatio : bottom - 6 * devicePixelRatio;
            // the payoff is flat at the top right of the strike, low at the bottom left
            ctx.textAlign = i === 0 ? "right" : "left";
            ctx.fillText(m[1] + " " + m[0].toFixed(2), x + (i === 0 ? -4 : 4) * devicePixelRatio, y);
          });
          ctx.restore();
        }],
      },
    }, data, $("payoff"));
  }

  function select(o) {
    state.selected = o;
    var at = state.rows.indexOf(o), size = state.pageSize;
    if (at >= 0 && size > 0 && Math.floor(at / size) !== state.page) { // show its page
      state.page = Math.floor(at / size);
      renderPage();
    }
    var rows = $("opportunities").tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) rows[i].classList.toggle("selected", state.rows[Number(rows[i].dataset.index)] === o);
    if (state.scatter) state.scatter.redraw(false, false);
    drawPayoff();
  }

  // ---------------------------------------------------------------- render a scan
  function render(scan) {
    state.scan = scan;
    COLUMNS = factColumns(scan);
    state.selected = null;
    renderSummary(scan);
    renderBanners(scan);
    renderSymbols(scan);
    renderTable();
    if (scan && state.rows.length) select(state.rows[0]);
    else drawPayoff();
    document.body.dataset.scanId = scan ? scan.scan_id : "";
  }

  // ---------------------------------------------------------------- Scan now
  function showError(text) {
    var p = $("scan-error");
    p.textContent = text || "";
    p.hidden = !text;
  }

  function showProgress(s) {
    $("progress").hidden = false;
    var bar = $("progress-bar");
    bar.max = Math.max(1, s.symbols_total || 0);
    bar.value = s.symbols_done || 0;
    var text = s.symbols_total
      ? s.state + ": " + (s.symbols_done || 0) + " of " + s.symbols_total + " symbols"
      : s.state + (s.state === "queued" ? ": waiting for a worker to start it" : "");
    if (s.symbols_failed) text += ", " + s.symbols_failed + " failed";
    if (s.symbols_skipped) text += ", " + s.symbols_skipped + " skipped";
    if ((s.state === "queued" || s.state === "running") && s.workers === 0) {
      text += ". No worker is listening on queue '" + s.queue + "': start one with `optscan worker`.";
    }
    if (s.error && s.state !== "queued" && s.state !== "running") text += ": " + s.error;
    else if (s.message && s.state !== "queued" && s.state !== "running") text += ": " + s.message;
    if (s.state === "skipped") text += " (tick \u201ceven if closed\u201d to scan anyway)";
    $("progress-text").textContent = text;
    $("progress").dataset.state = s.state;
  }

  var HOVER_HINT = "Hover a mark to see its contract.";
  var TERMINAL = { finished: 1, failed: 1, skipped: 1, lost: 1 };

  function follow(scanId) {
    $("scan-now").disabled = true;
    function poll() {
      fetch("/api/scans/" + encodeURIComponent(scanId), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return [r.status, body]; }); })
        .then(function (answer) {
          if (answer[0] !== 200) throw new Error(answer[1].error || "HTTP " + answer[0]);
          var s = answer[1];
          showProgress(s);
          if (!TERMINAL[s.state]) { setTimeout(poll, 400); return; }
          $("scan-now").disabled = false;
          return loadLatest();
        })
        .catch(function (e) { $("scan-now").disabled = false; showError("Following scan " + scanId + " failed: " + e.message); });
    }
    poll();
  }

  function loadLatest() {
    return fetch("/api/results/latest", { headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 404) return;
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json().then(render);
    });
  }

  function submitScan(event) {
    event.preventDefault();
    showError("");
    var body = { provider: $("scan-provider").value, strategy: $("scan-strategy").value };
    var symbols = $("scan-symbols").value.trim();
    if (symbols) body.symbols = symbols;
    if ($("scan-force").checked) body.force = true;
    $("scan-now").disabled = true;
    fetch("/api/scans", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body),
      credentials: "same-origin",
    })
      .then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
      .then(function (answer) {
        if (answer[0] === 202) {
          showProgress({ state: "queued", symbols_done: 0, symbols_total: 0 });
          follow(answer[1].scan_id);
          return;
        }
        $("scan-now").disabled = false;
        showError(answer[1].error || "HTTP " + answer[0]);
        if (answer[0] === 409 && answer[1].scan_id) follow(answer[1].scan_id);
      })
      .catch(function (e) { $("scan-now").disabled = false; showError("Scan now failed: " + e.message); });
  }

  // ---------------------------------------------------------------- wiring
  state.payoffAt = function (o, price) {
    // P&L at expiry per contract, dollars, of the trade the scan proposes:
    // a cash-secured put: the credit less what the put is worth, max(K - S, 0)
    //   (zero at the result's breakeven, K - bid);
    // a covered call: 100 shares held from today's price S0 plus the call sold,
    //   min(S, K) - S0 + bid (zero at S0 - bid; capped at K - S0 + bid above the strike).
    var K = o.strike, credit = o.bid;
    if (o.kind === "put") return (credit - Math.max(K - price, 0)) * 100;
    return (Math.min(price, K) - o.underlying_price + credit) * 100;
  };

  state.payoffBreakeven = function (o) {
    // where the drawn P&L is zero: the put's breakeven, or the covered call's S0 - bid
    return o.kind === "put" ? o.breakeven : o.underlying_price - o.bid;
  };

  function init() {
    $("scan-form").addEventListener("submit", submitScan);
    $("opportunities").tHead.addEventListener("click", function (e) {
      var button = e.target.closest("button[data-key]");
      if (!button) return;
      var key = button.dataset.key;
      if (state.sortKey === key) state.sortDir = -state.sortDir;
      else { state.sortKey = key; state.sortDir = key === "symbol" || key === "contract_symbol" || key === "expiration" || key === "dte" ? 1 : -1; }
      renderTable();
    });
    $("opportunities").tBodies[0].addEventListener("click", function (e) {
      var tr = e.target.closest("tr");
      if (tr) select(state.rows[Number(tr.dataset.index)]);
    });
    ["filter-text", "filter-min-return", "filter-max-delta"].forEach(function (id) {
      $(id).addEventListener("input", function () { renderTable(); });
    });
    $("page-size").addEventListener("change", function () {
      state.pageSize = Number($("page-size").value);
      state.page = 0;
      renderPage();
    });
    $("page-prev").addEventListener("click", function () { state.page -= 1; renderPage(); });
    $("page-next").addEventListener("click", function () { state.page += 1; renderPage(); });
    window.addEventListener("resize", function () {
      if (state.scatter) state.scatter.setSize({ width: chartWidth("scatter"), height: 300 });
      if (state.payoff) state.payoff.setSize({ width: chartWidth("payoff"), height: 300 });
    });
    render(JSON.parse($("scan-data").textContent));
    var running = $("page-state").dataset.running;
    if (running) follow(running);
    requestAnimationFrame(function () {
      setTimeout(function () { // after the first frame holding the results was drawn
        window.optscanRenderedAt = performance.now(); // ms since navigation start (bench/)
        document.body.dataset.ready = "1";
      }, 0);
    });
  }

  init();
})();
