// Draws the charts of package and compare pages with Plotly from the JSON embedded in the page
// (<script type="application/json" id="chart-data">), and wires each chart's controls: range
// buttons (last N days or all), percentage toggle and 7-day average toggle. No inline script:
// the Content-Security-Policy allows only files from our own origin.
(function () {
  "use strict";

  function movingAverage(values, width) {
    var out = [];
    var sum = 0;
    for (var i = 0; i < values.length; i++) {
      sum += values[i];
      if (i >= width) sum -= values[i - width];
      var n = Math.min(i + 1, width);
      out.push(Math.round((sum / n) * 100) / 100);
    }
    return out;
  }

  function percentages(series, base) {
    var length = series.length ? series[0].values.length : 0;
    var totals = [];
    var baseSeries = null;
    series.forEach(function (s) { if (s.category === base) baseSeries = s; });
    for (var i = 0; i < length; i++) {
      var total = 0;
      if (baseSeries) {
        total = baseSeries.values[i];
      } else {
        series.forEach(function (s) { total += s.values[i]; });
      }
      totals.push(total);
    }
    return series.map(function (s) {
      return {
        category: s.category,
        name: s.name,
        values: s.values.map(function (v, i) {
          return totals[i] ? Math.round((10000 * v) / totals[i]) / 100 : 0;
        })
      };
    });
  }

  function draw(div, chart, dates, state) {
    var series = chart.series;
    if (state.average) {
      series = series.map(function (s) {
        return { category: s.category, name: s.name, values: movingAverage(s.values, 7) };
      });
    }
    if (state.percent) series = percentages(series, chart.base);
    var n = state.range === "all" ? dates.length : Math.min(parseInt(state.range, 10), dates.length);
    var x = dates.slice(dates.length - n);
    var traces = series.map(function (s) {
      return { type: "scatter", mode: "lines", name: s.name, x: x, y: s.values.slice(s.values.length - n) };
    });
    var layout = {
      margin: { l: 60, r: 20, t: 10, b: 40 },
      height: 360,
      hovermode: "x unified",
      legend: { orientation: "h", y: -0.15 },
      xaxis: { type: "date" },
      yaxis: { rangemode: "tozero", ticksuffix: state.percent ? "%" : "", title: { text: state.percent ? "share of downloads" : (state.average ? "downloads (7-day average)" : "downloads") } }
    };
    div.dataset.range = state.range;
    div.dataset.percent = String(state.percent);
    div.dataset.average = String(state.average);
    window.Plotly.react(div, traces, layout, { displaylogo: false, responsive: true });
  }

  function init() {
    var holder = document.getElementById("chart-data");
    if (!holder || !window.Plotly) return;
    var data = JSON.parse(holder.textContent);
    data.charts.forEach(function (chart) {
      var div = document.getElementById("chart-" + chart.id);
      if (!div) return;
      var controls = document.querySelector('.controls[data-for="' + chart.id + '"]');
      var state = { range: "all", percent: false, average: false };
      if (controls) {
        controls.querySelectorAll("button.range").forEach(function (button) {
          button.addEventListener("click", function () {
            controls.querySelectorAll("button.range").forEach(function (b) { b.classList.remove("active"); });
            button.classList.add("active");
            state.range = button.dataset.range;
            draw(div, chart, data.dates, state);
          });
        });
        var percent = controls.querySelector("input.percent");
        var average = controls.querySelector("input.average");
        if (percent) percent.addEventListener("change", function () { state.percent = percent.checked; draw(div, chart, data.dates, state); });
        if (average) average.addEventListener("change", function () { state.average = average.checked; draw(div, chart, data.dates, state); });
      }
      draw(div, chart, data.dates, state);
    });
    document.body.dataset.chartsReady = "true";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
