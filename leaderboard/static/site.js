// arena leaderboard: optional sorting and filtering on top of pages that work without it.
// Tables marked data-sortable get sort buttons in their headers (cells may carry data-sort
// with the value to sort by); tables marked data-filter get a text filter, and a status filter
// when their rows carry data-status. Nothing here fetches anything.
"use strict";

(function () {
  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) return "";
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim().toLowerCase() : v;
  }

  function compare(a, b) {
    var na = parseFloat(a), nb = parseFloat(b);
    var aNum = a !== "" && !isNaN(na), bNum = b !== "" && !isNaN(nb);
    if (aNum && bNum) return na - nb;
    if (aNum) return -1;  // numbers before blanks
    if (bNum) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function makeSortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, index) {
      if (th.hasAttribute("data-nosort")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () {
        var descending = th.getAttribute("aria-sort") === "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c = compare(cellValue(r1, index), cellValue(r2, index));
          return descending ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function makeFilter(table) {
    var bar = document.createElement("div");
    bar.className = "filter-bar";
    var label = document.createElement("label");
    label.className = "visually-hidden";
    var id = "filter-" + Math.random().toString(36).slice(2, 8);
    label.htmlFor = id;
    label.textContent = "Filter rows";
    var input = document.createElement("input");
    input.type = "search";
    input.id = id;
    input.placeholder = table.getAttribute("data-filter") || "Filter this page";
    bar.appendChild(label);
    bar.appendChild(input);

    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var statuses = [];
    rows.forEach(function (r) {
      var s = r.getAttribute("data-status");
      if (s && statuses.indexOf(s) < 0) statuses.push(s);
    });
    var select = null;
    if (statuses.length > 1) {
      select = document.createElement("select");
      select.setAttribute("aria-label", "Filter by status");
      var all = document.createElement("option");
      all.value = "";
      all.textContent = "every status";
      select.appendChild(all);
      statuses.sort().forEach(function (s) {
        var o = document.createElement("option");
        o.value = s;
        o.textContent = s;
        select.appendChild(o);
      });
      bar.appendChild(select);
    }
    var count = document.createElement("output");
    count.setAttribute("aria-live", "polite");
    bar.appendChild(count);

    var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
    // Tables marked data-tried also take "tag:name" and "argument>=value" (=, >=, <=, >, <)
    // against their rows' data-tags and the name=value codes of their arguments cell.
    var tried = table.hasAttribute("data-tried");
    var args = rows.map(function (r) {
      var out = {};
      r.querySelectorAll("td.args code").forEach(function (c) {
        var t = c.textContent, name = c.parentNode.getAttribute("data-arg");
        if (name) t = name + "=" + t;  // an argument's own page: the value alone
        var i = t.indexOf("=");
        if (i < 1) return;
        var v = t.slice(i + 1);
        try { v = JSON.parse(v); } catch (e) { /* a plain string */ }
        out[t.slice(0, i)] = v;
      });
      return out;
    });
    function triedTest(q, i) {
      var m = /^tag:\s*(\S+)$/.exec(q);
      if (m) return (" " + (rows[i].getAttribute("data-tags") || "") + " ").indexOf(" " + m[1] + " ") >= 0;
      m = /^([a-z0-9_.]+)\s*(>=|<=|=|>|<)\s*(\S+)$/.exec(q);
      if (!m) return null;
      var v = args[i][m[1]];
      if (v === undefined) return false;
      var a = parseFloat(v), b = parseFloat(m[3]);
      var num = typeof v === "number" && !isNaN(b);
      var c = num ? a - b : String(v).toLowerCase() < m[3] ? -1 : String(v).toLowerCase() > m[3] ? 1 : 0;
      return {">=": c >= 0, "<=": c <= 0, "=": c === 0, ">": c > 0, "<": c < 0}[m[2]];
    }
    function apply() {
      var q = input.value.trim().toLowerCase();
      var s = select ? select.value : "";
      var shown = 0;
      rows.forEach(function (r, i) {
        var t = tried && q ? triedTest(q, i) : null;
        var ok = (t === null ? (!q || texts[i].indexOf(q) >= 0) : t) &&
          (!s || r.getAttribute("data-status") === s);
        r.hidden = !ok;
        if (ok) shown += 1;
      });
      count.textContent = shown + " of " + rows.length + " shown";
    }
    input.addEventListener("input", apply);
    if (select) select.addEventListener("change", apply);
    var wrap = table.closest(".table-wrap") || table;
    wrap.parentNode.insertBefore(bar, wrap);
    apply();
  }

  document.querySelectorAll("table[data-sortable]").forEach(makeSortable);
  document.querySelectorAll("table[data-filter]").forEach(makeFilter);
})();
