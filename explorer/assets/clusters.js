// Clusters page: per-peer modeled energy per round (Chart.js line chart; the series are in the canvas's data-series).
(function () {
  "use strict";
  /* global Chart */
  const canvas = document.getElementById("chart-energy");
  if (!canvas) return;
  const series = JSON.parse(canvas.dataset.series || "{\"labels\":[],\"datasets\":[]}");
  const colors = ["#3457d5", "#1f8a4c", "#c0392b", "#d08700", "#7b4bd6", "#0f7c8c", "#8c4f0f", "#596275"];
  Chart.defaults.font.family = "system-ui, sans-serif";
  Chart.defaults.animation = false;
  new Chart(canvas, {
    type: "line",
    data: { labels: series.labels, datasets: series.datasets.map((d, i) => ({ ...d, borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length], spanGaps: false })) },
    options: {
      responsive: true, maintainAspectRatio: false,
      plugins: { legend: { display: true, position: "bottom" } },
      scales: { x: { title: { display: true, text: "round" } }, y: { beginAtZero: true, title: { display: true, text: "J" } } },
    },
  });
})();
