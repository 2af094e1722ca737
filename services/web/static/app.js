// Draws the charts of package and compare pages with Plotly from the JSON embedded in the page
// (<script type="application/json" id="chart-data">): one generic drawing function reads each
// chart's spec (kind "lines", "stacked" or "bar", percent allowed or not, top N) and its series, so a
// new chart needs no code here. The server sums days into weeks or months (data.bin) and marks the
// partial first and last bins (data.partial); this file only slices and transforms (range shown,
// top N plus "other", 7- or 28-day rolling mean, percentage, log axis, indexed growth): no number
// is computed here that the server did not send. The pure parts of the trend views (rolling
// means, indexing, the view in the URL) are trends.js's (window.PypistatsTrends), loaded first.
// Also owns the page's view in the URL: a range link this page has the days for (a daily range
// no longer than data.dates) is drawn at once and pushed into the history (pushState); any
// other range or bin is an ordinary link, loaded from the server. The log-scale toggle is pushed
// the same way (?log=1), and so is every trend choice: the rolling mean (?mean=7|28, daily bins),
// the charts drawn as percentages (?pct=<chart ids>), "people only" (?people=1) and, on compare,
// indexed growth (?index=1: 100 = the first whole bin of the range); a reload or a pasted link
// shows the same view. Back/forward redraw the view of each entry. Each chart has its own
// percentage toggle, CSV link and the table of the numbers it shows; the overall chart
// (spec.people) also a "people only" toggle, drawing its people series alone.
// Every time chart marks the package's releases (the release block below), and the adoption
// chart (data.adoption) is drawn like the others, with a "group by" selector of its own.
// No inline script: the Content-Security-Policy allows only files from our own origin.
(function () {
  "use strict";

  var NARROW = window.matchMedia("(max-width: 640px)");
  var T = window.PypistatsTrends;
  var OTHER = "other";
  var number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  //: How the hover label names a bin, and what the y axis counts, by bin.
  var HOVER_FORMAT = { day: undefined, week: "week of %Y-%m-%d", month: "%B %Y" };
  var PER_BIN = { day: "downloads", week: "downloads a week", month: "downloads a month" };

  function total(values) {
    var sum = 0;
    for (var i = 0; i < values.length; i++) sum += values[i];
    return sum;
  }

  // The `top` series with the most downloads in the shown range, in their original order, and
  // one "other" series summing the rest (a stored "other" category is always part of it).
  function topN(series, top) {
    if (!top || series.length <= top) return series;
    var ranked = series
      .filter(function (s) { return s.category !== OTHER; })
      .map(function (s) { return { s: s, sum: total(s.values) }; })
      .sort(function (a, b) { return b.sum - a.sum; });
    var kept = {};
    ranked.slice(0, top).forEach(function (r) { kept[r.s.category] = true; });
    var rest = null;
    var out = [];
    series.forEach(function (s) {
      if (kept[s.category]) { out.push(s); return; }
      rest = rest ? rest.map(function (v, i) { return v === null || s.values[i] === null ? null : v + s.values[i]; })
        : s.values.slice();
    });
    if (rest) out.push({ category: OTHER, name: OTHER, values: rest });
    return out;
  }

  function percentages(series) {
    var length = series.length ? series[0].values.length : 0;
    var totals = [];
    for (var i = 0; i < length; i++) {
      var sum = 0;
      series.forEach(function (s) { sum += s.values[i]; });
      totals.push(sum);
    }
    return series.map(function (s) {
      return {
        category: s.category,
        name: s.name,
        values: s.values.map(function (v, j) {
          if (v === null) return null; // no mean there
          return totals[j] ? Math.round((10000 * v) / totals[j]) / 100 : 0;
        })
      };
    });
  }

  // What one chart shows for a view {points, percent, mean, index}: its last `points` bins and
  // series (each a rolling mean of `mean` days, or an index of its first whole bin shown).
  function shown(chart, dates, view, partial) {
    var n = Math.min(view.points || dates.length, dates.length);
    var x = dates.slice(dates.length - n);
    var all = chart.people
      ? chart.series.filter(function (s) { return (s.category === "people") === !!view.people; })
      : chart.series;
    var series = all.map(function (s) {
      var values = view.mean ? T.rollingMean(s.values, view.mean) : s.values;
      return { category: s.category, name: s.name, values: values.slice(values.length - n) };
    });
    series = topN(series, chart.top);
    if (view.percent && chart.percent) series = percentages(series);
    var base = null;
    if (view.index) {
      var at = T.baseBin(x, partial || {});
      if (view.mean) at = Math.max(at, Math.max.apply(null, series.map(function (s) { return T.firstNumber(s.values, 0); })));
      base = x[at];
      series = series.map(function (s) { return { category: s.category, name: s.name, values: T.indexed(s.values, at) }; });
    }
    return { x: x, series: series, base: base };
  }

  // " (partial: 3 of 7 days)" for a partial bin, "" otherwise.
  function partialText(partial, x) {
    var p = partial[x];
    return p ? " (partial: " + p.days + " of " + p.of + " days)" : "";
  }

  // Light bands behind the partial bins, each from its point to its neighbour, so the line into
  // a partial week or month (which looks like a drop) is drawn on grey.
  function partialBands(xs, partial) {
    var shapes = [];
    if (xs.length < 2) return shapes;
    xs.forEach(function (x, i) {
      if (!partial[x]) return;
      var ends = [x, i === 0 ? xs[1] : xs[i - 1]].sort(); // ISO dates sort as strings
      shapes.push({
        type: "rect", xref: "x", yref: "paper", layer: "below", x0: ends[0], x1: ends[1], y0: 0, y1: 1,
        fillcolor: "#8a94a3", opacity: 0.16, line: { width: 0 }
      });
    });
    return shapes;
  }

  // "20k", "1.5M", "3B": the tick labels of a log axis (Plotly's own ones there read "2 3 4 5").
  function compact(value) {
    var units = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (value >= units[i][0]) return String(Math.round((value / units[i][0]) * 10) / 10) + units[i][1];
    }
    return String(value);
  }

  // Ticks of a log axis over the positive values shown: the first of 1-2-5 steps, every digit,
  // 1-3 steps or powers of ten that gives 3 to 10 ticks (else 2); undefined (Plotly's own) when
  // none falls inside.
  function logTicks(series) {
    var low = Infinity;
    var high = 0;
    series.forEach(function (s) {
      s.values.forEach(function (v) { if (v > 0) { low = Math.min(low, v); high = Math.max(high, v); } });
    });
    if (!(high > 0)) return undefined;
    low /= 1.3; high *= 1.3; // Plotly pads its range a little
    var candidates = [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3], [1]].map(function (steps) {
      var ticks = [];
      for (var p = Math.floor(Math.log10(low)); p <= Math.ceil(Math.log10(high)); p++) {
        steps.forEach(function (m) {
          var v = m * Math.pow(10, p);
          if (v >= low && v <= high) ticks.push(v);
        });
      }
      return ticks;
    });
    var fits = function (min) { return function (t) { return t.length >= min && t.length <= 10; }; };
    return candidates.filter(fits(3))[0] || candidates.filter(fits(2))[0];
  }

  function format(value, view) {
    if (value === null) return "–"; // a group not released yet (adoption chart)
    if (view.index) return value.toFixed(1);
    return view.percent ? value.toFixed(1) + "%" : number.format(value);
  }

  // The y axis title of a line chart: what a value is, in this view.
  function unitOf(view, what) {
    if (what.base) return "index, 100 = " + (view.bin === "day" ? "" : view.bin + " of ") + what.base;
    if (view.mean) return "downloads (" + view.mean + "-day mean)";
    return PER_BIN[view.bin];
  }

  // A "bar" chart: one bar per category, ranked, of its downloads over the days shown (a day's
  // average with a rolling mean chosen, a share of the total with the percentage toggle); "other" last.
  function drawBars(div, chart, what, view, narrow) {
    var days = what.x.length || 1;
    var rows = what.series.map(function (s) {
      var sum = total(s.values);
      return { name: s.name, other: s.category === OTHER, value: view.mean ? sum / days : sum };
    }).filter(function (r) { return r.value > 0; });
    var grand = rows.reduce(function (acc, r) { return acc + r.value; }, 0);
    var percent = view.percent && chart.percent;
    if (percent) rows.forEach(function (r) { r.value = grand ? Math.round((10000 * r.value) / grand) / 100 : 0; });
    rows.sort(function (a, b) { return (a.other - b.other) || (b.value - a.value); });
    rows.reverse(); // Plotly draws the first bar at the bottom
    var trace = {
      type: "bar",
      orientation: "h",
      x: rows.map(function (r) { return r.value; }),
      y: rows.map(function (r) { return r.name; }),
      marker: { color: "#3b6ea5" },
      hovertemplate: percent ? "%{y}: %{x:.1f}%<extra></extra>" : "%{y}: %{x:,.0f}<extra></extra>"
    };
    var layout = {
      margin: { l: narrow ? 70 : 110, r: 10, t: narrow ? 8 : 30, b: 30 },
      height: Math.max(160, 60 + 22 * rows.length),
      dragmode: false,
      font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: narrow ? 11 : 12 },
      xaxis: {
        rangemode: "tozero",
        fixedrange: true,
        exponentformat: "B",
        ticksuffix: percent ? "%" : "",
        title: { text: narrow ? "" : (percent ? "share of downloads" : (view.mean ? "downloads a day" : "downloads")) }
      },
      yaxis: { fixedrange: true, automargin: true }
    };
    var config = { displaylogo: false, responsive: true, displayModeBar: false };
    return window.Plotly.react(div, [trace], layout, config).then(function () {
      div.dataset.state = [what.x.length, percent, view.mean || false, view.bin, "linear"].join(" ");
      return what;
    });
  }

  // ---- Release markers (PyPI upload times, <script id="release-data">; services/web/pypi.py) ----
  // Every time chart marks the releases in its range with a dotted vertical line and a triangle
  // at the top naming the version on hover. Final releases only (no pre- or dev-releases); when
  // more than MAX_MARKERS fall in the range, only those starting a new minor version, then a
  // new major version, so a package releasing daily still gets a readable chart.
  var MAX_MARKERS = 20;
  var FINAL = /^v?(\d+!)?\d+(\.\d+)*(\.?post\d*)?$/i;
  var BIN_DAYS = { day: 1, week: 7, month: 31 };

  function readReleases() {
    var holder = document.getElementById("release-data");
    if (!holder) return [];
    try {
      return JSON.parse(holder.textContent).filter(function (r) { return FINAL.test(r.version); });
    } catch (error) {
      return [];
    }
  }

  function leading(version, parts) {
    return version.replace(/^v/i, "").split(/[.+]/).slice(0, parts).join(".");
  }

  // The releases between the first bin shown and the end of the last one, thinned (see above).
  function releasesShown(releases, xs, bin) {
    if (!releases.length || !xs.length) return [];
    var end = new Date(xs[xs.length - 1] + "T00:00:00Z");
    end.setUTCDate(end.getUTCDate() + (BIN_DAYS[bin] || 1));
    var from = xs[0];
    var to = end.toISOString().slice(0, 10);
    var found = releases.filter(function (r) { return r.time.slice(0, 10) >= from && r.time.slice(0, 10) < to; });
    [2, 1].forEach(function (parts) {
      if (found.length <= MAX_MARKERS) return;
      var before = releases.filter(function (r) { return r.time.slice(0, 10) < from; });
      var previous = before.length ? leading(before[before.length - 1].version, parts) : null;
      found = found.filter(function (r) {
        var key = leading(r.version, parts);
        var changed = key !== previous;
        previous = key;
        return changed;
      });
    });
    return found;
  }

  // Plotly's drawing of the markers: lines (shapes) and one hover trace on a hidden 0..1 axis.
  function releaseMarkers(releases, xs, bin) {
    var shown = releasesShown(releases, xs, bin);
    var times = shown.map(function (r) { return r.time.replace("T", " ").replace("Z", ""); });
    return {
      shapes: times.map(function (t) {
        return {
          type: "line", xref: "x", yref: "paper", layer: "below", x0: t, x1: t, y0: 0, y1: 1,
          line: { color: "#6b7785", width: 1, dash: "dot" }
        };
      }),
      trace: shown.length ? {
        type: "scatter", mode: "markers", name: "releases", showlegend: false, yaxis: "y2",
        x: times, y: times.map(function () { return 1; }),
        text: shown.map(function (r) { return r.version; }),
        marker: { symbol: "triangle-down", size: 9, color: "#6b7785" },
        hovertemplate: "release %{text}<extra></extra>"
      } : null
    };
  }
  // ---- end of release markers ----

  function draw(div, chart, data, view) {
    var percent = (view.percent && chart.percent) || chart.unit === "%"; // "%": values are shares already
    var log = view.log && !percent; // a share on a log axis says nothing
    // On a log axis stacked areas would misdraw every layer but the first: draw lines instead.
    var stacked = chart.kind === "stacked" && !log;
    var narrow = NARROW.matches;
    var partial = data.partial || {};
    var what = shown(chart, data.dates, view, partial);
    if (chart.kind === "bar") return drawBars(div, chart, what, view, narrow);
    var marks = what.x.map(function (x) { return partialText(partial, x); });
    var anyPartial = marks.some(function (m) { return m !== ""; });
    var value = percent ? "%{y:.1f}%" : (what.base ? "%{y:.1f}" : (view.mean ? "%{y:,.0f}" : "%{y:,}"));
    var traces = what.series.map(function (s) {
      var trace = {
        type: "scatter",
        mode: anyPartial ? "lines+markers" : "lines",
        name: s.name,
        x: what.x,
        y: s.values,
        line: { width: stacked ? 0.5 : 1.8 },
        hovertemplate: anyPartial ? value + "%{customdata}" : value
      };
      if (anyPartial) {
        trace.customdata = marks;
        trace.marker = { symbol: "circle-open", size: marks.map(function (m) { return m ? 8 : 0; }) };
      }
      if (stacked) trace.stackgroup = "one";
      return trace;
    });
    var unit = unitOf(view, what);
    var ticks = log && !what.base ? logTicks(what.series) : undefined; // an index: Plotly's own
    var layout = {
      margin: { l: narrow ? 44 : 60, r: 10, t: narrow ? 8 : 30, b: 30 }, // the toolbar (on hover) sits in the top margin
      height: narrow ? 300 : 360,
      hovermode: "x unified",
      hoverlabel: { namelength: -1 },
      dragmode: narrow ? false : "zoom",
      font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: narrow ? 11 : 12 },
      legend: { orientation: "h", y: -0.14, yanchor: "top" },
      showlegend: chart.people ? true : undefined, // "by people" alone still names its line
      xaxis: { type: "date", fixedrange: narrow, hoverformat: HOVER_FORMAT[view.bin] },
      yaxis: {
        type: log ? "log" : "linear",
        rangemode: log ? undefined : "tozero",
        fixedrange: narrow,
        exponentformat: "B", // 800M, 1.2B (not 1.2G)
        ticksuffix: percent ? "%" : "",
        range: percent && stacked ? [0, 100] : undefined,
        tickvals: ticks,
        ticktext: ticks ? ticks.map(compact) : undefined,
        title: { text: narrow ? "" : (percent ? "share of downloads" : unit + (log ? ", log scale" : "")) }
      },
      shapes: partialBands(what.x, partial)
    };
    if (!traces.length) {
      // e.g. platforms and ABIs on days ingested before they were counted: say so, not a bare grid
      layout.annotations = [{
        text: "No downloads recorded for this chart in this range", showarrow: false,
        xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { size: 13, color: "#5a6572" }
      }];
    }
    var markers = releaseMarkers(view.releases || [], what.x, view.bin);
    if (markers.trace) {
      layout.shapes = layout.shapes.concat(markers.shapes);
      layout.yaxis2 = { overlaying: "y", range: [0, 1.02], visible: false, fixedrange: true };
      traces.push(markers.trace);
      // Plotly pads an axis around markers: keep the x axis on the bins (and the markers' times).
      var times = markers.trace.x;
      layout.xaxis.range = [
        what.x[0] < times[0] ? what.x[0] : times[0],
        what.x[what.x.length - 1] > times[times.length - 1] ? what.x[what.x.length - 1] : times[times.length - 1]
      ];
    }
    var config = {
      displaylogo: false,
      responsive: true,
      displayModeBar: narrow ? false : "hover",
      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"]
    };
    return window.Plotly.react(div, traces, layout, config).then(function () {
      var state = [what.x.length, percent, view.mean || false, view.bin, log ? "log" : "linear"];
      div.dataset.state = state.concat(what.base ? ["index"] : []).join(" ");
      return what;
    });
  }

  // The numbers behind a chart, as a table (newest day first): its text alternative.
  function fillTable(holder, chart, what, view, partial) {
    var table = document.createElement("table");
    var caption = table.createCaption();
    caption.textContent = chart.title + ": " + what.x.length + " " + view.bin + "s" +
      (view.bin === "day" ? "" : " (each named by its first day)") +
      (view.mean ? ", " + view.mean + "-day mean" : "") + (what.base ? ", index (100 = " + what.base + ")" : "") +
      (view.percent && chart.percent ? ", share of downloads" : "");
    var head = table.createTHead().insertRow();
    ["Date"].concat(what.series.map(function (s) { return s.name; })).forEach(function (label) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = label;
      head.appendChild(th);
    });
    var body = table.createTBody();
    for (var i = what.x.length - 1; i >= 0; i--) {
      var row = body.insertRow();
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = what.x[i] + partialText(partial, what.x[i]);
      row.appendChild(th);
      what.series.forEach(function (s) {
        var cell = row.insertCell();
        cell.className = "num";
        cell.textContent = format(s.values[i], {
          percent: (view.percent && chart.percent) || chart.unit === "%", index: !!what.base
        });
      });
    }
    holder.replaceChildren(table);
  }

  function mark(name) {
    if (window.performance && performance.mark) performance.mark(name);
  }

  // The URL's query without `log` (the CSV links'), commas kept readable.
  function query(params) {
    var text = params.toString().replace(/%2C/g, ",");
    return text ? "?" + text : "";
  }

  function init() {
    var holder = document.getElementById("chart-data");
    if (!holder || !window.Plotly) return;
    var data = JSON.parse(holder.textContent);
    var ranges = Array.prototype.slice.call(document.querySelectorAll(".range-bar a.range"));
    var binLinks = Array.prototype.slice.call(document.querySelectorAll(".range-bar a.bin"));
    var logBox = document.querySelector(".range-bar input.log");
    var meanBox = document.querySelector(".range-bar select.mean");
    var indexBox = document.querySelector(".controls input.index"); // compare's one chart
    var note = document.querySelector(".range-note");
    var current = ranges.filter(function (link) { return link.classList.contains("active"); })[0];
    // The view of a history entry: which range link is current, how many bins it draws, whether
    // the axis is logarithmic, the bin its range gets when the URL names none, and the trend
    // choices (rolling mean, percentage charts, people only, indexed growth) the URL holds.
    var first = {
      key: current ? current.dataset.range : "",
      points: data.show,
      log: logBox ? logBox.checked : false,
      auto: current ? current.dataset.bin : data.bin,
      trend: T.readView(window.location.search)
    };
    var page = Object.assign({}, first);
    var charts = [];
    var releases = readReleases();

    data.charts.concat(data.adoption ? [data.adoption] : []).forEach(function (chart) {
      var div = document.getElementById("chart-" + chart.id);
      if (!div) return;
      var entry = { chart: chart, div: div };
      entry.controls = document.querySelector('.controls[data-for="' + chart.id + '"]');
      entry.details = document.querySelector('details.chart-table[data-for="' + chart.id + '"]');
      entry.csv = entry.controls && entry.controls.querySelector("a.csv");
      entry.percentBox = entry.controls && entry.controls.querySelector("input.percent");
      entry.peopleBox = entry.controls && entry.controls.querySelector("input.people");
      if (entry.percentBox) {
        entry.percentBox.addEventListener("change", function () { pushTrend({ pct: percentCharts(entry) }); });
      }
      if (entry.peopleBox) {
        entry.peopleBox.addEventListener("change", function () { pushTrend({ people: entry.peopleBox.checked }); });
      }
      if (chart.groupings) adoptionControls(entry);
      if (entry.details) {
        entry.details.addEventListener("toggle", function () { if (entry.details.open && entry.what) table(entry); });
      }
      charts.push(entry);
    });

    // ---- Adoption chart (services/web/adoption.py): its "group by" selector swaps the series
    // drawn for those of another grouping (major, minor, version); values are shares already. ----
    function adoptionControls(entry) {
      var select = entry.controls && entry.controls.querySelector("select.grouping");
      if (!select) return;
      select.addEventListener("change", function () {
        var found = entry.chart.groupings[select.value];
        if (!found) return;
        entry.chart.series = found;
        entry.chart.grouping = select.value;
        redraw(entry);
      });
    }
    // ---- end of adoption chart ----

    // The charts drawn as percentages once `entry`'s box has changed.
    function percentCharts(entry) {
      var others = page.trend.pct.filter(function (id) { return id !== entry.chart.id; });
      return entry.percentBox.checked ? others.concat([entry.chart.id]) : others;
    }

    // A new history entry with the trend choices in `change`, drawn.
    function pushTrend(change) {
      var state = Object.assign({}, page, { trend: Object.assign({}, page.trend, change) });
      var params = T.writeView(new URLSearchParams(window.location.search), state.trend);
      window.history.pushState(state, "", window.location.pathname + query(params));
      apply(state);
    }

    function view(entry) {
      var trend = page.trend;
      return {
        points: page.points,
        percent: !!entry.percentBox && trend.pct.indexOf(entry.chart.id) >= 0,
        mean: data.bin === "day" ? trend.mean : 0,
        index: !!indexBox && trend.index && entry.chart.unit !== "%",
        log: page.log,
        bin: data.bin,
        people: !!entry.chart.people && trend.people,
        releases: releases
      };
    }

    function table(entry) {
      fillTable(entry.details.querySelector(".table-wrap"), entry.chart, entry.what, view(entry), data.partial || {});
    }

    function redraw(entry) {
      return draw(entry.div, entry.chart, data, view(entry)).then(function (what) {
        entry.what = what;
        if (entry.details && entry.details.open) table(entry);
      });
    }

    // Whether this page has the days a range link asks for: a daily range no longer than the
    // days it carries (the server sends at least the default 180 days with every daily view).
    function inPage(link) {
      var points = parseInt(link.dataset.points, 10);
      return data.bin === "day" && link.dataset.bin === "day" && points >= 1 && points <= data.dates.length;
    }

    // The range bar, the bin links and the CSV links for the view of the current entry.
    function showView() {
      var here = new URLSearchParams(window.location.search);
      ranges.forEach(function (link) {
        var active = link.dataset.range === page.key;
        link.classList.toggle("active", active);
        if (active) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
        if (active && note) { note.textContent = link.dataset.note; note.hidden = !link.dataset.note; }
        var url = new URL(link.href);
        var params = T.writeView(url.searchParams, page.trend);
        if (page.log) params.set("log", "1"); else params.delete("log");
        link.href = url.pathname + query(params);
      });
      binLinks.forEach(function (link) {
        var params = new URLSearchParams(here);
        params.delete("bin");
        if (link.dataset.bin !== page.auto) params.set("bin", link.dataset.bin);
        link.href = window.location.pathname + query(params);
        var active = link.dataset.bin === data.bin;
        link.classList.toggle("active", active);
        if (active) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
      });
      if (logBox) logBox.checked = page.log;
      showTrend();
      var csv = T.writeView(here, { pct: [] });
      csv.delete("log");
      charts.forEach(function (entry) {
        if (entry.csv) entry.csv.href = new URL(entry.csv.href).pathname + query(csv);
      });
    }

    // The trend controls as the current entry's view has them.
    function showTrend() {
      if (meanBox) meanBox.value = page.trend.mean ? String(page.trend.mean) : "";
      if (indexBox) indexBox.checked = page.trend.index;
      charts.forEach(function (entry) {
        if (entry.percentBox) entry.percentBox.checked = page.trend.pct.indexOf(entry.chart.id) >= 0;
        if (entry.peopleBox) entry.peopleBox.checked = page.trend.people;
      });
    }

    function apply(state) {
      page = Object.assign({}, state);
      showView();
      return Promise.all(charts.filter(drawnYet).map(redraw));
    }

    // Whether a chart has been drawn (or is being drawn) already: the others are drawn with the
    // view of the moment they come near the screen (drawInTurn).
    function drawnYet(entry) {
      return !!entry.firstDraw;
    }

    // First visit: the charts on the first screen are drawn at once; the others when they come
    // near the screen (IntersectionObserver: a visitor who scrolls to a chart sees it drawn
    // without waiting for the ones between) or, one at a time, when the browser is idle, so the
    // first screen never waits for charts below it. Every chart's data is in the page already:
    // drawing is the only work deferred.
    function drawInTurn() {
      var first = charts.filter(function (entry) {
        return entry.div.getBoundingClientRect().top < window.innerHeight;
      });
      var rest = charts.filter(function (entry) { return first.indexOf(entry) < 0; });
      var idle = window.requestIdleCallback || function (callback) { return window.setTimeout(callback, 1); };
      // Each chart's first drawing, by whichever comes first: the observer or the idle turn.
      var done = charts.map(function (entry) {
        return new Promise(function (resolve) { entry.drawn = resolve; });
      });
      function once(entry) {
        if (!entry.firstDraw) entry.firstDraw = redraw(entry).then(entry.drawn);
        return entry.firstDraw;
      }
      var near = null;
      if (window.IntersectionObserver) {
        near = new IntersectionObserver(function (seen) {
          seen.forEach(function (item) {
            if (!item.isIntersecting) return;
            near.unobserve(item.target);
            rest.forEach(function (entry) { if (entry.div === item.target) once(entry); });
          });
        }, { rootMargin: "300px 0px" });
      }
      return Promise.all(first.map(once)).then(function () {
        mark("first-screen-charts-drawn");
        if (near) rest.forEach(function (entry) { near.observe(entry.div); });
        var left = rest.slice();
        (function next() {
          var entry = left.shift();
          while (entry && entry.firstDraw) entry = left.shift(); // drawn as it came near
          if (!entry) return;
          idle(function () { once(entry).then(next); }, { timeout: 200 });
        })();
        return Promise.all(done);
      }).then(function () {
        if (near) near.disconnect();
      });
    }

    ranges.forEach(function (link) {
      link.addEventListener("click", function (event) {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        if (!inPage(link)) return; // the server draws it: an ordinary link
        event.preventDefault();
        var state = {
          key: link.dataset.range, points: parseInt(link.dataset.points, 10), log: page.log, auto: link.dataset.bin,
          trend: page.trend
        };
        if (link.href !== window.location.href) window.history.pushState(state, "", link.href);
        else window.history.replaceState(state, "");
        apply(state);
      });
    });
    if (logBox) {
      logBox.addEventListener("change", function () {
        var params = new URLSearchParams(window.location.search);
        if (logBox.checked) params.set("log", "1"); else params.delete("log");
        var state = Object.assign({}, page, { log: logBox.checked });
        window.history.pushState(state, "", window.location.pathname + query(params));
        apply(state);
      });
    }
    if (meanBox) {
      meanBox.addEventListener("change", function () { pushTrend({ mean: parseInt(meanBox.value, 10) || 0 }); });
    }
    if (indexBox) indexBox.addEventListener("change", function () { pushTrend({ index: indexBox.checked }); });
    window.history.replaceState(first, "");
    window.addEventListener("popstate", function (event) { apply(event.state || first); });
    NARROW.addEventListener("change", function () { charts.filter(drawnYet).forEach(redraw); });

    showView();
    drawInTurn().then(function () {
      mark("charts-drawn");
      document.body.dataset.chartsReady = "true";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
