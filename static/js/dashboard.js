// Dashboard charts drawn with the vendored Chart.js from the numbers the page embeds.
// The same numbers are in the tables below the charts, so nothing is lost without JavaScript.
(function () {
  "use strict";

  var source = document.getElementById("dashboard-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var Chart = window.Chart;
  // Status colours match the badges: pending red, in progress amber, corrected and closed green.
  var STATUS_COLOURS = ["#b3261e", "#d88a1c", "#4caf6e", "#1b7a3d"];
  var common = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { position: "bottom" } },
  };

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
    }
  }

  draw("chart-visits", {
    type: "bar",
    data: {
      labels: data.divisions,
      datasets: [
        { label: data.visits.labels[0], data: data.visits.visited, backgroundColor: "#1f5f8b" },
        { label: data.visits.labels[1], data: data.visits.not_visited, backgroundColor: "#c9cfd6" },
      ],
    },
    options: Object.assign({}, common, {
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    }),
  });

  draw("chart-findings", {
    type: "bar",
    data: {
      labels: data.divisions,
      datasets: data.findings.statuses.map(function (label, index) {
        return { label: label, data: data.findings.counts[index], backgroundColor: STATUS_COLOURS[index] };
      }),
    },
    options: Object.assign({}, common, {
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    }),
  });

  draw("chart-trend", {
    type: "line",
    data: {
      labels: data.trend.weeks,
      datasets: [
        { label: data.trend.labels[0], data: data.trend.visits, borderColor: "#1f5f8b", backgroundColor: "#1f5f8b" },
        { label: data.trend.labels[1], data: data.trend.opened, borderColor: "#b3261e", backgroundColor: "#b3261e" },
        { label: data.trend.labels[2], data: data.trend.corrected, borderColor: "#1b7a3d", backgroundColor: "#1b7a3d" },
      ],
    },
    options: Object.assign({}, common, { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }),
  });
})();
