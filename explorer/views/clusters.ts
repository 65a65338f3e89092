/** The clusters page: per round the D2D clusters and heads, who went over Uu alone, and each peer's modeled energy (chart + table). */
import { html, type SafeHtml } from "../html.ts";
import type { ExplorerStatus } from "../service.ts";
import type { ClusterRoundReport, ClustersReport } from "../services/clusters.ts";
import { page } from "./layout.ts";
import { badge, cidLink, roundLink } from "./format.ts";

const peers = (xs: number[]): string => (xs.length ? xs.map((p) => `peer${p}`).join(", ") : "none");

function clusterTable(r: ClusterRoundReport): SafeHtml {
  if (r.clusters.length === 0) return html`<p class="empty">No cluster in this round's clustering: every committer went over Uu alone.</p>`;
  return html`<table class="list"><thead><tr><th>Head</th><th>Members</th><th>Record</th><th>Included</th><th>Accepted samples</th><th>Cluster aggregate</th><th>Challenge</th></tr></thead><tbody>${r.clusters.map(
    (c) => html`<tr><td><strong>peer${c.head}</strong></td><td>${peers(c.members.slice(1))}</td><td>${
      !c.recorded ? badge("missing: members went flat", "warn") : !c.membersMatch ? badge("members differ from the clustering", "bad")
        : c.leftOut.length ? html`${badge("recorded", "ok")} ${badge(`left out (judged alone): ${peers(c.leftOut)}`, "warn")}` : badge("recorded", "ok")
    }</td><td>${c.recorded ? peers(c.included) : "—"}</td><td>${c.recorded ? String(c.acceptedSamples) : "—"}</td><td>${c.aggregateCid ? cidLink(c.aggregateCid) : "—"}</td><td>${
      c.challengedBy ? html`${badge("challenged: checked by every verifier", "warn")} <span class="mono">${c.challengedBy}</span>` : "—"
    }</td></tr>`,
  )}</tbody></table>${html`<p class="muted">Check seed (drawn after the record window; it picks each cluster's checkers): <span class="mono">${r.checkSeed ?? "not drawn"}</span>. Whether a challenge was justified: the round's audit.</p>`}`;
}

function energyTable(r: ClusterRoundReport): SafeHtml {
  return html`<table class="list"><thead><tr><th>Peer</th><th>Tier</th><th>Role</th><th>Train J</th><th>Uu J</th><th>Sidelink J</th><th>Total J</th></tr></thead><tbody>${r.energy.map(
    (e) => html`<tr><td>peer${e.peer}</td><td>${e.tier}</td><td>${e.role}</td><td>${e.trainJ.toFixed(2)}</td><td>${e.uuJ.toFixed(2)}</td><td>${e.sidelinkJ.toFixed(2)}</td><td><strong>${e.totalJ.toFixed(2)}</strong></td></tr>`,
  )}</tbody></table>${r.energyComplete ? "" : html`<p class="muted">Some update sizes are not known yet (IPFS): their transmit energy is left out until they are.</p>`}`;
}

/** Per-peer energy per round as Chart.js series: {labels: rounds, datasets: [{label: peerN, data}]}. */
export function energySeries(report: ClustersReport): { labels: number[]; datasets: { label: string; data: (number | null)[] }[] } {
  const labels = report.rounds.map((r) => r.round);
  const all = [...new Set(report.rounds.flatMap((r) => r.energy.map((e) => e.peer)))].sort((a, b) => a - b);
  return { labels, datasets: all.map((p) => ({ label: `peer${p}`, data: report.rounds.map((r) => { const e = r.energy.find((x) => x.peer === p); return e ? Number(e.totalJ.toFixed(3)) : null; }) })) };
}

export function clustersPage(status: ExplorerStatus, report: ClustersReport | null): string {
  if (!report) {
    const body = html`<h1>Clusters</h1><p class="empty">No ClusterRounds contract: start the explorer with <span class="mono">--cluster-rounds ADDRESS</span> (the demo prints it with <span class="mono">--clusters</span>).</p>`;
    return page({ title: "Clusters", status, body, active: "/clusters" });
  }
  const c = report.config;
  const body = html`<h1>Clusters</h1>
<section class="card"><h2>Clustered mode</h2><table class="kv" id="cluster-config">
<tr><th>ClusterRounds</th><td class="mono">${report.address}</td></tr>
${c ? html`<tr><th>Scenario</th><td>${report.scenarioName ?? ""} ${cidLink(c.scenarioCid)}</td></tr><tr><th>Cluster size cap</th><td>${String(c.maxClusterSize)}</td></tr><tr><th>Head battery ≥</th><td>${(c.minHeadEnergy * 100).toFixed(0)} %</td></tr><tr><th>Record window</th><td>first ${(c.recordWindowBps / 100).toFixed(0)} % of verify-commit</td></tr>` : html`<tr><th>Config</th><td>not configured yet</td></tr>`}
</table><p>The clustering of each round is recomputed here from the scenario, the round's committers and the seed sha256(task | round | global model CID), as every peer computes it. Whether each head's aggregate reproduces from its members' CIDs is checked by the round's audit.</p></section>
<section class="card chart"><h2>Energy per peer and round (modeled, J)</h2><canvas id="chart-energy" data-series="${JSON.stringify(energySeries(report))}"></canvas></section>
${report.rounds.map((r) => html`<section class="card" id="clusters-round-${String(r.round)}"><h2>Round ${roundLink(r.round)}</h2>
<p>Committed: ${peers(r.committed)} · over Uu alone: ${peers(r.lone)}${r.strayHeads.length ? html` · ${badge(`records by non-heads: ${peers(r.strayHeads)}`, "bad")}` : ""}</p>
${clusterTable(r)}
<h3>Energy</h3>${energyTable(r)}</section>`)}
${report.rounds.length === 0 ? html`<p class="empty">No round with commits yet.</p>` : ""}`;
  return page({ title: "Clusters", status, body, active: "/clusters", scripts: ["/assets/chart.umd.js", "/assets/clusters.js"] });
}
