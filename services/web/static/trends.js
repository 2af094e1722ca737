// The pure parts of the chart pages' trend views, shared by app.js and its unit tests (run by
// Node: tests/unit/web/test_trends_js.py): rolling means, indexed growth, and the view a URL
// asks for (?mean=7|28, ?pct=<chart ids>, ?people=1, ?index=1) read from and written back to a
// query string. No DOM, no Plotly: window.PypistatsTrends in the browser, module.exports in Node.
(function (root) {
  "use strict";

  //: The rolling means offered, in days (daily bins only).
  var MEANS = [7, 28];

  // The mean of each value and the `width` - 1 before it; null where fewer than `width` values
  // (or a null among them) precede, so a mean is never drawn from a partial window.
  function rollingMean(values, width) {
    var out = [];
    var sum = 0;
    var missing = 0;
    for (var i = 0; i < values.length; i++) {
      if (values[i] === null) missing++; else sum += values[i];
      if (i >= width) {
        if (values[i - width] === null) missing--; else sum -= values[i - width];
      }
      out.push(i + 1 >= width && missing === 0 ? Math.round((sum / width) * 100) / 100 : null);
    }
    return out;
  }

  // The first position from `start` on holding a number, or -1.
  function firstNumber(values, start) {
    for (var i = start; i < values.length; i++) if (values[i] !== null) return i;
    return -1;
  }

  // Each value as an index of the value at `base` (100 there), to one decimal; every value is
  // null when that value is 0 or missing (growth from nothing has no index).
  function indexed(values, base) {
    var first = values[base];
    return values.map(function (v) {
      return first && v !== null ? Math.round((1000 * v) / first) / 10 : null;
    });
  }

  // The position of the first whole bin (not in `partial`, keyed by the bin's first day) of `xs`,
  // or 0 when every bin is partial: what an index is taken against.
  function baseBin(xs, partial) {
    for (var i = 0; i < xs.length; i++) if (!partial[xs[i]]) return i;
    return 0;
  }

  // The trend view a query string asks for; values it does not know are left out.
  function readView(search) {
    var params = new URLSearchParams(search);
    var mean = parseInt(params.get("mean") || "", 10);
    var pct = (params.get("pct") || "").split(",").filter(function (id) { return /^[a-z_]{1,40}$/.test(id); });
    return {
      mean: MEANS.indexOf(mean) >= 0 ? mean : 0,
      pct: pct,
      people: params.get("people") === "1",
      index: params.get("index") === "1"
    };
  }

  // `params` (a URLSearchParams) with the trend view written into it, defaults left out.
  function writeView(params, view) {
    var out = new URLSearchParams(params);
    ["mean", "pct", "people", "index"].forEach(function (key) { out.delete(key); });
    if (view.mean) out.set("mean", String(view.mean));
    if (view.pct && view.pct.length) out.set("pct", view.pct.slice().sort().join(","));
    if (view.people) out.set("people", "1");
    if (view.index) out.set("index", "1");
    return out;
  }

  var api = {
    MEANS: MEANS, rollingMean: rollingMean, firstNumber: firstNumber, indexed: indexed, baseBin: baseBin,
    readView: readView, writeView: writeView
  };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.PypistatsTrends = api;
})(typeof window === "undefined" ? this : window);
