// Readings charts: every element with data-chart-src gets a uPlot chart of that JSON
// ({bucket, timezone, x: UTC epoch seconds, y: kWh, labels?, hours?, expected_hours?}).
// Times are drawn in the series' own timezone, not the browser's. No inline script or style:
// uPlot sets its sizes through the CSSOM, which the CSP allows.
(function () {
  "use strict";

  var COLOR = "#0d6efd";
  var FILL = "rgba(13, 110, 253, 0.15)";
  var PARTIAL = "#fd7e14"; // a day or month with hours missing
  // A net-metered meter's channels (the badges in portal.css use the same colours).
  var CHANNEL_COLORS = { delivered: "#0d6efd", received: "#198754", net: "#6f42c1" };

  function text(el, message) {
    el.textContent = "";
    var p = document.createElement("p");
    p.className = "text-body-secondary small mb-0 chart-message";
    p.textContent = message;
    el.appendChild(p);
  }

  // At rest (no point under the cursor) the legend shows the series' names only, no placeholders.
  function number(v) {
    if (v === null || v === undefined) { return ""; }
    return v.toLocaleString("en-US", { maximumFractionDigits: 3 }) + " kWh";
  }

  // The portal's one date and clock (README, "Time"): 2026-12-07, 15:00, months as "Dec 2026".
  // uPlot's table: [tick step, label, then the label added on a new year, month, day, hour...].
  var DAY = 86400;
  var TIME_AXIS = [
    [DAY * 365, "{YYYY}", null, null, null, null, null, null, 1],
    [DAY * 28, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
    [DAY, "{MM}-{DD}", "\n{YYYY}", null, null, null, null, null, 1],
    [3600, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
    [60, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
  ];
  var stampFormat = null;
  function stamp(date) {
    stampFormat = stampFormat || uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}");
    return stampFormat(date);
  }

  // uPlot 1.2 has no bar builder: a series' paths(u, seriesIdx, i0, i1) returns Path2Ds.
  function barPaths(u, sidx, i0, i1) {
    var xs = u.data[0];
    var ys = u.data[sidx];
    var fill = new Path2D();
    var zero = u.valToPos(0, "y", true);
    for (var i = i0; i <= i1; i++) {
      if (ys[i] === null || ys[i] === undefined) { continue; }
      var x = u.valToPos(xs[i], "x", true);
      var next = i + 1 < xs.length ? u.valToPos(xs[i + 1], "x", true)
        : (i > 0 ? 2 * x - u.valToPos(xs[i - 1], "x", true) : x + 40);
      var gap = (next - x) * 0.15;
      var y = u.valToPos(ys[i], "y", true);
      fill.rect(x + gap, Math.min(y, zero), Math.max(next - x - 2 * gap, 1), Math.abs(zero - y));
    }
    return { stroke: new Path2D(), fill: fill, clip: null };
  }

  function options(el, data, withIncomplete) {
    var tz = data.timezone;
    // Several channels are drawn as lines side by side, bars would hide one another.
    var bars = el.dataset.chartKind === "bars" && data.bucket !== "hour" && !data.lines;
    var height = parseInt(el.dataset.chartHeight || "240", 10);
    var value = function (u, v) { return number(v); };
    var main = {
      label: el.dataset.chartLabel || "kWh",
      stroke: COLOR,
      width: bars ? 0 : 1.5,
      fill: bars ? COLOR : FILL,
      points: { show: data.x.length < 60 && !bars },
      value: value,
    };
    var unit = { hour: "Hour", day: "Day", month: "Month" }[data.bucket] || "Time";
    var series = [{
      label: unit + " (" + tz + ")",
      value: function (u, v) { return v === null || v === undefined ? "" : stamp(uPlot.tzDate(new Date(v * 1e3), tz)); },
    }, main];
    if (data.lines) {
      series = [series[0]];
      data.lines.forEach(function (line) {
        var color = CHANNEL_COLORS[line.channel] || COLOR;
        series.push({
          label: line.label, stroke: color, width: line.computed ? 1 : 1.5,
          dash: line.computed ? [4, 3] : undefined,
          points: { show: data.x.length < 60 }, value: value,
        });
      });
    }
    if (bars) {
      main.paths = barPaths;
      if (withIncomplete) {
        series.push({ label: "hours missing", stroke: PARTIAL, fill: PARTIAL, width: 0,
          paths: barPaths, points: { show: false }, value: value });
      }
    }
    if (data.labels) {
      series[0].value = function (u, v, si, idx) {
        if (idx === null || idx === undefined) { return ""; }
        var label = data.labels[idx];
        if (data.hours) {
          label += " · " + data.hours[idx] + " of " + data.expected_hours[idx] + " h";
        }
        return label;
      };
    }
    // kWh axes start at 0 (below it only when there are negative values: exports).
    var scales = { x: { time: true }, y: { range: function (u, min, max) {
      var top = Math.max(max, 0);
      var bottom = Math.min(min, 0);
      var pad = (top - bottom) * 0.08 || 1;
      return [bottom < 0 ? bottom - pad : 0, top + pad];
    } } };
    if (data.lines && data.bucket !== "hour" && data.x.length) {
      // Days or months as lines: the axis spans whole buckets, even for a single one.
      var span = data.x.length > 1 ? data.x[data.x.length - 1] - data.x[data.x.length - 2]
        : (data.bucket === "month" ? 31 : 1) * 86400;
      var first = data.x[0];
      var end = data.x[data.x.length - 1] + span;
      scales.x.range = function () { return [first - span / 2, end - span / 2]; };
    }
    if (bars) {
      // Room for the last bar (a bar spans its day or month), and bars grow from zero.
      var xs = data.x;
      var last = xs.length > 1 ? xs[xs.length - 1] - xs[xs.length - 2]
        : (data.bucket === "month" ? 31 : 1) * 86400;
      scales.x.range = function (u, min, max) { return [xs[0], xs[xs.length - 1] + last]; };
    }
    return {
      width: Math.max(el.clientWidth, 200),
      height: height,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), tz); },
      scales: scales,
      series: series,
      axes: [
        timeAxis(data, tz),
        { stroke: "#6c757d", grid: { stroke: "#e9ecef" }, size: 60, label: "kWh", labelSize: 20 },
      ],
    };
  }

  // The time axis. Months get a tick each, at their start, labelled by name (the year under the
  // first and under each January): left to itself, uPlot ticks a span of one or a few months
  // by days, which labelled a single month's chart 12-01, 12-08...
  var MONTH_TICKS = 12;
  function timeAxis(data, tz) {
    var axis = { stroke: "#6c757d", grid: { stroke: "#e9ecef" }, values: TIME_AXIS };
    if (data.bucket !== "month" || !data.x.length || data.x.length > MONTH_TICKS) { return axis; }
    var name = uPlot.fmtDate("{MMM}");
    var named = uPlot.fmtDate("{MMM}\n{YYYY}");
    axis.splits = function () { return data.x.slice(); };
    axis.values = function (u, splits) {
      return splits.map(function (v, i) {
        var date = uPlot.tzDate(new Date(v * 1e3), tz);
        return i === 0 || date.getMonth() === 0 ? named(date) : name(date);
      });
    };
    return axis;
  }

  // Hours without a reading break the line instead of being drawn across.
  function withGaps(data) {
    var xs = [];
    var ys = [];
    for (var i = 0; i < data.x.length; i++) {
      if (i > 0 && data.x[i] - data.x[i - 1] > 3600) {
        xs.push(data.x[i - 1] + 3600);
        ys.push(null);
      }
      xs.push(data.x[i]);
      ys.push(data.y[i]);
    }
    return [xs, ys];
  }

  // Several channels: one column each, an hour without a reading breaking each line.
  function channelColumns(data) {
    var xs = [];
    var ys = data.lines.map(function () { return []; });
    for (var i = 0; i < data.x.length; i++) {
      if (data.bucket === "hour" && i > 0 && data.x[i] - data.x[i - 1] > 3600) {
        xs.push(data.x[i - 1] + 3600);
        ys.forEach(function (col) { col.push(null); });
      }
      xs.push(data.x[i]);
      data.lines.forEach(function (line, k) { ys[k].push(line.y[i]); });
    }
    return [xs].concat(ys);
  }

  // Days or months with hours missing go into a second, orange series.
  function columns(data) {
    if (data.lines) { return [channelColumns(data), false]; }
    if (data.bucket === "hour") { return [withGaps(data), false]; }
    if (!data.hours) { return [[data.x, data.y], false]; }
    var full = [];
    var part = [];
    var any = false;
    for (var i = 0; i < data.x.length; i++) {
      var incomplete = data.hours[i] < data.expected_hours[i];
      any = any || incomplete;
      full.push(incomplete ? null : data.y[i]);
      part.push(incomplete ? data.y[i] : null);
    }
    return any ? [[data.x, full, part], true] : [[data.x, data.y], false];
  }

  function render(el, data) {
    el.textContent = "";
    if (!data.x || !data.x.length || data.y.every(function (v) { return v === null; })) {
      text(el, "No readings in this range.");
      return;
    }
    if (typeof uPlot === "undefined") {
      text(el, "The chart library did not load.");
      return;
    }
    var cols = columns(data);
    var plot = new uPlot(options(el, data, cols[1]), cols[0], el);
    el._uplot = plot;
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        var width = Math.max(el.clientWidth, 200);
        if (Math.abs(width - plot.width) > 4) { plot.setSize({ width: width, height: plot.height }); }
      }).observe(el);
    }
  }

  function draw(el) {
    if (el.dataset.chartReady) { return; }
    el.dataset.chartReady = "1";
    el.classList.add("chart"); // only with JavaScript: without it the box would stay empty
    text(el, "Loading…");
    fetch(el.dataset.chartSrc, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.error || "HTTP " + response.status); }
          return body;
        });
      })
      .then(function (data) { render(el, data); })
      .catch(function (error) { text(el, "The chart could not be loaded: " + error.message); });
  }

  function scan(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("[data-chart-src]")) { draw(scope); }
    scope.querySelectorAll("[data-chart-src]").forEach(draw);
  }

  window.GridfolioCharts = { scan: scan };
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.target); });
  document.addEventListener("gridfolio:loaded", function (event) { scan(event.target); });
  if (document.readyState !== "loading") { scan(document); }
})();
