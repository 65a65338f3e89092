// Live view: Chart.js charts fed from /api/stats, refreshed on every new block (server-sent events).
(function () {
  "use strict";
  /* global Chart */
  const palette = { blue: "#3457d5", green: "#1f8a4c", red: "#c0392b", amber: "#d08700", violet: "#7b4bd6" };
  Chart.defaults.font.family = "system-ui, sans-serif";
  Chart.defaults.animation = false;
  const base = (yTitle) => ({
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { display: true, position: "bottom" } },
    scales: { x: { title: { display: true, text: "round" } }, y: { beginAtZero: true, title: { display: true, text: yTitle } } },
  });
  const charts = {
    accuracy: new Chart(document.getElementById("chart-accuracy"), {
      type: "line",
      data: { labels: [], datasets: [{ label: "accuracy (%)", data: [], borderColor: palette.blue, backgroundColor: palette.blue, tension: 0.2, spanGaps: true }] },
      options: { ...base("%"), scales: { ...base("%").scales, y: { min: 0, max: 100, title: { display: true, text: "%" } } } },
    }),
    verdicts: new Chart(document.getElementById("chart-verdicts"), {
      type: "bar",
      data: { labels: [], datasets: [
        { label: "accepted", data: [], backgroundColor: palette.green, stack: "s" },
        { label: "rejected", data: [], backgroundColor: palette.red, stack: "s" },
        { label: "undecided", data: [], backgroundColor: "#9aa6c4", stack: "s" },
      ] },
      options: { ...base("updates"), scales: { x: { stacked: true, title: { display: true, text: "round" } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    }),
    gas: new Chart(document.getElementById("chart-gas"), {
      type: "bar",
      data: { labels: [], datasets: [{ label: "gas used", data: [], backgroundColor: palette.amber }] },
      options: base("gas"),
    }),
    bytes: new Chart(document.getElementById("chart-bytes"), {
      type: "bar",
      data: { labels: [], datasets: [{ label: "KiB committed", data: [], backgroundColor: palette.violet }] },
      options: base("KiB"),
    }),
  };

  async function refresh() {
    const res = await fetch("/api/stats");
    if (!res.ok) return;
    const { rounds } = await res.json();
    const labels = rounds.map((r) => r.round);
    const set = (chart, series) => {
      chart.data.labels = labels;
      series.forEach((data, i) => (chart.data.datasets[i].data = data));
      chart.update();
    };
    set(charts.accuracy, [rounds.map((r) => r.accuracy)]);
    set(charts.verdicts, [rounds.map((r) => r.accepted), rounds.map((r) => r.rejected), rounds.map((r) => r.undecided || 0)]);
    set(charts.gas, [rounds.map((r) => r.gasUsed)]);
    set(charts.bytes, [rounds.map((r) => (r.bytesCommitted === null ? null : r.bytesCommitted / 1024))]);
    document.body.dataset.rounds = String(rounds.length);
  }

  const feed = document.getElementById("live-blocks");
  const dot = document.getElementById("live-dot");
  const head = document.getElementById("live-head");
  let pending = null;
  const scheduleRefresh = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh(); }, 300);
  };

  const source = new EventSource("/api/events");
  source.addEventListener("open", () => { dot.className = "dot-live on"; });
  source.addEventListener("error", () => { dot.className = "dot-live off"; });
  source.addEventListener("block", (e) => {
    const b = JSON.parse(e.data);
    head.textContent = `head #${b.number}`;
    if (feed.firstElementChild && feed.firstElementChild.classList.contains("muted")) feed.innerHTML = "";
    const li = document.createElement("li");
    li.innerHTML = `<a href="/block/${b.number}">#${b.number}</a> · ${new Date(b.timestamp * 1000).toISOString().slice(11, 19)} UTC · ${b.txCount} tx · gas ${Number(b.gasUsed).toLocaleString("en-US")}`;
    feed.prepend(li);
    while (feed.children.length > 30) feed.lastElementChild.remove();
    scheduleRefresh();
  });
  source.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    const banners = document.getElementById("banners");
    let text = "";
    if (!s.chain.reachable) text += `<div class="banner bad"><strong>chain unreachable</strong> — ${s.chain.rpcUrl} does not answer.</div>`;
    if (!s.ipfs.reachable) text += `<div class="banner bad"><strong>IPFS unreachable</strong> — ${s.ipfs.mode}.</div>`;
    banners.innerHTML = text;
  });
  refresh();
  setInterval(refresh, 10000);
})();
