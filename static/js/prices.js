// The WattShift price curve on a home page: a uPlot step chart, the current interval and the
// cheapest two hours shaded. Runs on load and after htmx swaps the card in.
(function () {
  "use strict";

  function shade(u, from, to, color) {
    var ctx = u.ctx;
    var x0 = u.valToPos(from, "x", true);
    var x1 = u.valToPos(to, "x", true);
    ctx.save();
    ctx.fillStyle = color;
    ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
    ctx.restore();
  }

  function draw(el) {
    if (el.dataset.drawn || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(document.getElementById(el.dataset.priceChart).textContent);
    var tz = el.dataset.timezone;
    el.dataset.drawn = "1";
    var step = 15 * 60;
    var stepped = uPlot.paths.stepped({ align: 1 });
    // Prices always; WattShift's current API adds what importing and exporting a kWh cost or earn.
    var series = [{}, { label: "Price", stroke: "#0d6efd", width: 2, fill: "rgba(13,110,253,0.08)", paths: stepped }];
    var columns = [data.t, data.price];
    if (data.imports && data.imports.length) {
      series.push({ label: "Import", stroke: "#fd7e14", width: 2, dash: [6, 4], paths: stepped, spanGaps: false });
      columns.push(data.imports);
    }
    if (data.exports && data.exports.length) {
      series.push({ label: "Export", stroke: "#198754", width: 2, paths: stepped, spanGaps: false });
      columns.push(data.exports);
    }
    var opts = {
      width: el.clientWidth || 600,
      height: 260,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), tz); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max * 1.1]; } } },
      axes: [{ values: [
        [86400, "{MM}-{DD}", "\n{YYYY}", null, null, null, null, null, 1],
        [3600, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
        [60, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
      ] }, { label: "$/kWh", values: function (u, vals) { return vals.map(function (v) { return v.toFixed(2); }); } }],
      series: series,
      hooks: {
        drawClear: [function (u) {
          shade(u, data.cheapest[0], data.cheapest[1], "rgba(25,135,84,0.15)");
          if (data.current !== null) {
            var t = data.t[data.current];
            shade(u, t, t + step, "rgba(255,193,7,0.35)");
          }
        }]
      },
      legend: { show: series.length > 2 }
    };
    new uPlot(opts, columns, el);
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-price-chart]").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
