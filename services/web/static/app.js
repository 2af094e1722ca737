// Draws the charts of package and compare pages with Plotly from the JSON embedded in the page
// (<script type="application/json" id="chart-data">): one generic drawing function reads each
// chart's spec (kind "lines", "stacked" or "bar", percent allowed or not, top N) and its series, so a
// new chart needs no code here. Also owns the page's date range (it lives in the URL as
// ?lookback=N; the range links update it with pushState, back/forward redraw), each chart's
// percentage and 7-day average toggles, its CSV link and the table of the numbers it shows.
// No inline script: the Content-Security-Policy allows only files from our own origin.
(function () {
  "use strict";

  var NARROW = window.matchMedia("(max-width: 640px)");
  var OTHER = "other";
  var number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

  function movingAverage(values, width) {
    var out = [];
    var sum = 0;
    for (var i = 0; i < values.length; i++) {
      sum += values[i];
      if (i >= width) sum -= values[i - width];
      out.push(Math.round((sum / Math.min(i + 1, width)) * 100) / 100);
    }
    return out;
  }

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
      rest = rest ? rest.map(function (v, i) { return v + s.values[i]; }) : s.values.slice();
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
        values: s.values.map(function (v, j) { return totals[j] ? Math.round((10000 * v) / totals[j]) / 100 : 0; })
      };
    });
  }

  // What one chart shows for a view {days, percent, average}: its dates and series.
  function shown(chart, dates, view) {
    var n = view.days ? Math.min(view.days, dates.length) : dates.length;
    var series = chart.series.map(function (s) {
      var values = view.average ? movingAverage(s.values, 7) : s.values;
      return { category: s.category, name: s.name, values: values.slice(values.length - n) };
    });
    series = topN(series, chart.top);
    if (view.percent && chart.percent) series = percentages(series);
    return { x: dates.slice(dates.length - n), series: series };
  }

  function format(value, view) {
    return view.percent ? value.toFixed(1) + "%" : number.format(value);
  }

  // A "bar" chart: one bar per category, ranked, of its downloads over the days shown (a day's
  // average with the 7-day toggle, a share of the total with the percentage toggle); "other" last.
  function drawBars(div, chart, what, view, narrow) {
    var days = what.x.length || 1;
    var rows = what.series.map(function (s) {
      var sum = total(s.values);
      return { name: s.name, other: s.category === OTHER, value: view.average ? sum / days : sum };
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
        title: { text: narrow ? "" : (percent ? "share of downloads" : (view.average ? "downloads a day" : "downloads")) }
      },
      yaxis: { fixedrange: true, automargin: true }
    };
    var config = { displaylogo: false, responsive: true, displayModeBar: false };
    return window.Plotly.react(div, [trace], layout, config).then(function () {
      div.dataset.state = [view.days || "all", percent, view.average].join(" ");
      return what;
    });
  }

  function draw(div, chart, data, view) {
    var percent = (view.percent && chart.percent) || chart.unit === "%"; // "%": values are shares already
    var stacked = chart.kind === "stacked";
    var narrow = NARROW.matches;
    var what = shown(chart, data.dates, view);
    if (chart.kind === "bar") return drawBars(div, chart, what, view, narrow);
    var traces = what.series.map(function (s) {
      var trace = {
        type: "scatter",
        mode: "lines",
        name: s.name,
        x: what.x,
        y: s.values,
        line: { width: stacked ? 0.5 : 1.8 },
        hovertemplate: percent ? "%{y:.1f}%" : (view.average ? "%{y:,.0f}" : "%{y:,}")
      };
      if (stacked) trace.stackgroup = "one";
      return trace;
    });
    var layout = {
      margin: { l: narrow ? 44 : 60, r: 10, t: narrow ? 8 : 30, b: 30 }, // the toolbar (on hover) sits in the top margin
      height: narrow ? 300 : 360,
      hovermode: "x unified",
      hoverlabel: { namelength: -1 },
      dragmode: narrow ? false : "zoom",
      font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: narrow ? 11 : 12 },
      legend: { orientation: "h", y: -0.14, yanchor: "top" },
      xaxis: { type: "date", fixedrange: narrow },
      yaxis: {
        rangemode: "tozero",
        fixedrange: narrow,
        exponentformat: "B", // 800M, 1.2B (not 1.2G)
        ticksuffix: percent ? "%" : "",
        range: percent && stacked ? [0, 100] : undefined,
        title: { text: narrow ? "" : (percent ? "share of downloads" : (view.average ? "downloads (7-day average)" : "downloads")) }
      }
    };
    var config = {
      displaylogo: false,
      responsive: true,
      displayModeBar: narrow ? false : "hover",
      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"]
    };
    return window.Plotly.react(div, traces, layout, config).then(function () {
      div.dataset.state = [view.days || "all", percent, view.average].join(" ");
      return what;
    });
  }

  // The numbers behind a chart, as a table (newest day first): its text alternative.
  function fillTable(holder, chart, what, view) {
    var table = document.createElement("table");
    var caption = table.createCaption();
    caption.textContent = chart.title + ": " + what.x.length + " days" +
      (view.average ? ", 7-day average" : "") + (view.percent && chart.percent ? ", share of downloads" : "");
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
      th.textContent = what.x[i];
      row.appendChild(th);
      what.series.forEach(function (s) {
        var cell = row.insertCell();
        cell.className = "num";
        cell.textContent = format(s.values[i], { percent: (view.percent && chart.percent) || chart.unit === "%" });
      });
    }
    holder.replaceChildren(table);
  }

  function mark(name) {
    if (window.performance && performance.mark) performance.mark(name);
  }

  function daysFromUrl(count) {
    var raw = new URLSearchParams(window.location.search).get("lookback");
    var days = raw && /^\d+$/.test(raw) ? parseInt(raw, 10) : 0;
    return days >= 1 && days <= count ? days : 0;
  }

  function init() {
    var holder = document.getElementById("chart-data");
    if (!holder || !window.Plotly) return;
    var data = JSON.parse(holder.textContent);
    var page = { days: daysFromUrl(data.dates.length) };
    var charts = [];

    data.charts.forEach(function (chart) {
      var div = document.getElementById("chart-" + chart.id);
      if (!div) return;
      var entry = { chart: chart, div: div, percent: false, average: false };
      entry.controls = document.querySelector('.controls[data-for="' + chart.id + '"]');
      entry.details = document.querySelector('details.chart-table[data-for="' + chart.id + '"]');
      entry.csv = entry.controls && entry.controls.querySelector("a.csv");
      if (entry.controls) {
        var percent = entry.controls.querySelector("input.percent");
        var average = entry.controls.querySelector("input.average");
        if (percent) percent.addEventListener("change", function () { entry.percent = percent.checked; redraw(entry); });
        if (average) average.addEventListener("change", function () { entry.average = average.checked; redraw(entry); });
      }
      if (entry.details) {
        entry.details.addEventListener("toggle", function () { if (entry.details.open && entry.what) table(entry); });
      }
      charts.push(entry);
    });

    function view(entry) {
      return { days: page.days, percent: entry.percent, average: entry.average };
    }

    function table(entry) {
      fillTable(entry.details.querySelector(".table-wrap"), entry.chart, entry.what, view(entry));
    }

    function redraw(entry) {
      return draw(entry.div, entry.chart, data, view(entry)).then(function (what) {
        entry.what = what;
        if (entry.details && entry.details.open) table(entry);
      });
    }

    function showRange() {
      document.querySelectorAll(".range-bar a.range").forEach(function (link) {
        var current = (parseInt(link.dataset.days, 10) || 0) === page.days;
        link.classList.toggle("active", current);
        if (current) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
      });
      charts.forEach(function (entry) {
        if (!entry.csv) return;
        var url = new URL(entry.csv.href);
        if (page.days) url.searchParams.set("lookback", String(page.days)); else url.searchParams.delete("lookback");
        entry.csv.href = url.pathname + url.search;
      });
    }

    function applyUrl() {
      page.days = daysFromUrl(data.dates.length);
      showRange();
      return Promise.all(charts.map(redraw));
    }

    // First visit: the charts on the first screen are drawn at once; the others one at a time
    // when the browser is idle, so the first screen does not wait for charts below it.
    function drawInTurn() {
      page.days = daysFromUrl(data.dates.length);
      showRange();
      var first = charts.filter(function (entry) {
        return entry.div.getBoundingClientRect().top < window.innerHeight;
      });
      var rest = charts.filter(function (entry) { return first.indexOf(entry) < 0; });
      var idle = window.requestIdleCallback || function (callback) { return window.setTimeout(callback, 1); };
      return Promise.all(first.map(redraw)).then(function () {
        mark("first-screen-charts-drawn");
        return new Promise(function (resolve) {
          (function next() {
            var entry = rest.shift();
            if (!entry) { resolve(); return; }
            idle(function () { redraw(entry).then(next); }, { timeout: 200 });
          })();
        });
      });
    }

    document.querySelectorAll(".range-bar a.range").forEach(function (link) {
      link.addEventListener("click", function (event) {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        if (link.href !== window.location.href) window.history.pushState(null, "", link.href);
        applyUrl();
      });
    });
    window.addEventListener("popstate", applyUrl);
    NARROW.addEventListener("change", function () { charts.forEach(redraw); });

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
