/* Draws the analytics dashboard's charts from the JSON the page embeds (#analytics-data).
   Chart.js is served from static/analytics/vendor: no CDN, and no inline script (CSP). */
(function () {
  "use strict";

  var COLORS = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2",
                "#db2777", "#65a30d", "#ea580c", "#475569"];

  function formatter(unit, currency, exponent) {
    if (unit === "money") {
      return function (v) {
        return (v / Math.pow(10, exponent)).toLocaleString(undefined,
          {maximumFractionDigits: exponent}) + " " +
          (currency || "").toUpperCase();
      };
    }
    if (unit === "ratio") {
      return function (v) { return (v * 100).toFixed(1) + " %"; };
    }
    if (unit === "seconds") {
      return function (v) { return (v / 60).toFixed(1) + " min"; };
    }
    return function (v) { return v.toLocaleString(); };
  }

  function draw(spec, payload) {
    var canvas = document.getElementById("chart-" + spec.key);
    if (!canvas || spec.empty) { return; }
    var format = formatter(spec.unit, payload.currency, payload.exponent);
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: {mode: "index", intersect: false},
      scales: {y: {beginAtZero: true, ticks: {callback: format}}},
      plugins: {
        tooltip: {callbacks: {label: function (ctx) {
          return ctx.dataset.label + ": " + format(ctx.parsed.y);
        }}}
      }
    };
    if (spec.key === "mrr") {
      // Drill-down: a click on a day lists the subscriptions behind that day's MRR.
      options.onClick = function (event, elements, chart) {
        var points = chart.getElementsAtEventForMode(event, "index", {intersect: false}, true);
        if (!points.length) { return; }
        var day = spec.labels[points[0].index];
        window.location.href = payload.drilldown + "?day=" + encodeURIComponent(day) +
          "&currency=" + encodeURIComponent(payload.currency || "");
      };
    }
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (ds, i) {
          var color = COLORS[i % COLORS.length];
          return {label: ds.label, data: ds.data, borderColor: color, backgroundColor: color,
                  pointRadius: 0, borderWidth: 2, spanGaps: true, tension: 0.2};
        })
      },
      options: options
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var node = document.getElementById("analytics-data");
    if (!node || !window.Chart) { return; }
    var payload = JSON.parse(node.textContent);
    payload.charts.forEach(function (spec) { draw(spec, payload); });
  });
})();
