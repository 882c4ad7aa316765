/* optscan rolls page: POST /api/rolls (CSRF token, same origin) and draw the answer,
   the contract of `optscan rolls --format json`. Every text is set with textContent:
   provider error messages are untrusted and never become HTML. */
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function num(value, digits) {
    return value === null || value === undefined ? "" : Number(value).toFixed(digits);
  }

  var when = window.optscanFormat.when; // static/format.js

  var ROLL_COLUMNS = [ // [JSON key, header, digits or null for text]
    ["contract_symbol", "new contract", null], ["expiration", "expiration", null],
    ["strike", "strike", 2], ["bid", "bid", 2], ["net_credit", "net credit", 2],
    ["net_credit_total", "net credit total $", 2], ["days_added", "days added", 0],
    ["annualized_return", "annualized %", 1], ["delta", "delta", 3],
    ["breakeven", "breakeven", 2], ["prob_otm", "P(OTM) %", null],
  ];

  function rollsTable(position) {
    var table = el("table", null, "grid rolls");
    var head = table.createTHead().insertRow();
    ROLL_COLUMNS.forEach(function (c) { head.appendChild(el("th", c[1])); });
    var body = table.createTBody();
    (position.rolls || []).forEach(function (roll) {
      var tr = body.insertRow();
      ROLL_COLUMNS.forEach(function (c) {
        var value = roll[c[0]];
        var text = c[0] === "prob_otm" ? num(value === null ? null : value * 100, 1)
          : c[2] === null ? (value === null ? "" : value) : num(value, c[2]);
        tr.appendChild(el("td", text, c[2] === null && c[0] !== "prob_otm" ? "" : "num"));
      });
    });
    return table;
  }

  function render(doc) {
    var summary = $("rolls-summary");
    summary.textContent = "";
    summary.hidden = false;
    [["as of", when(doc.as_of)], ["provider", doc.provider], ["positions", doc.positions.length]]
      .forEach(function (kv) {
        var span = el("span", kv[0] + ": ");
        span.appendChild(el("strong", kv[1]));
        summary.appendChild(span);
      });
    var box = $("rolls-positions");
    box.textContent = "";
    doc.positions.forEach(function (p) {
      var section = el("section", null, "position status-" + p.status);
      section.dataset.contract = p.contract_symbol;
      section.appendChild(el("h2", p.contract_symbol + " \u00b7 " + p.quantity + " short contract(s) \u00b7 " + p.status));
      var facts = [
        "strike " + num(p.strike, 2), "expires " + p.expiration,
        "close at ask " + (p.close_ask === null ? "(no quote)" : num(p.close_ask, 2)),
        "premium received " + (p.average_price === null ? "unknown (breakevens use 0)" : num(p.average_price, 2)),
      ];
      if (p.itm) facts.push("IN THE MONEY");
      if (p.early_assignment_risk) facts.push("EARLY ASSIGNMENT RISK (dividend above extrinsic value)");
      section.appendChild(el("p", facts.join(" \u00b7 ")));
      if (p.error) section.appendChild(el("p", p.error, "banner error"));
      if ((p.rolls || []).length) section.appendChild(rollsTable(p));
      else if (p.status !== "failed") section.appendChild(el("p", "No roll for a net credit passes the screen.", "banner info"));
      box.appendChild(section);
    });
    // the file's long options: named as `optscan rolls` names them (not_rolled_note)
    var longs = doc.long_options_not_rolled || [], note = $("rolls-not-rolled");
    note.textContent = longs.length ? longs.length + " long option(s) not rolled (rolls are for short ones): " + longs.join(", ") : "";
    note.hidden = !longs.length;
  }

  var form = $("rolls-form");
  if (!form) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = $("rolls-find"), status = $("rolls-status"), error = $("rolls-error");
    button.disabled = true;
    error.hidden = true;
    status.textContent = "finding rolls\u2026";
    fetch("/api/rolls", {
      method: "POST",
      headers: {
        "Content-Type": "application/json", Accept: "application/json",
        "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').getAttribute("content"),
      },
      body: JSON.stringify({ provider: $("rolls-provider").value }),
    }).then(function (r) {
      return r.json().then(function (body) { return [r.status, body]; });
    }).then(function (answer) {
      if (answer[0] !== 200) throw new Error(answer[1].error || "error " + answer[0]);
      render(answer[1]);
      status.textContent = "done";
      document.body.dataset.rolls = "1";
    }).catch(function (e) {
      error.textContent = String(e.message || e);
      error.hidden = false;
      status.textContent = "";
      document.body.dataset.rolls = "error";
    }).then(function () { button.disabled = false; });
  });
})();
