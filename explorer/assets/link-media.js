// Live view: bytes each peer moved over Uu against the sidelink (from the agents' link counters, /api/link-media).
(function () {
  "use strict";
  /* global Chart */
  const canvas = document.getElementById("chart-media");
  if (!canvas) return;
  const chart = new Chart(canvas, {
    type: "bar",
    data: { labels: [], datasets: [
      { label: "Uu (base station) MiB", data: [], backgroundColor: "#c0392b" },
      { label: "sidelink (D2D) MiB", data: [], backgroundColor: "#1f8a4c" },
    ] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: true, position: "bottom" } }, scales: { y: { beginAtZero: true, title: { display: true, text: "MiB" } } } },
  });
  async function refresh() {
    const res = await fetch("/api/link-media");
    if (!res.ok) return;
    const rows = await res.json();
    chart.data.labels = rows.map((r) => r.peer);
    chart.data.datasets[0].data = rows.map((r) => r.uuBytes / 1048576);
    chart.data.datasets[1].data = rows.map((r) => r.sidelinkBytes / 1048576);
    chart.update();
  }
  refresh();
  setInterval(refresh, 5000);
})();
