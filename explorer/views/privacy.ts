/** The privacy page: the task's DP unit and parameters, and every trainer's epsilon per round (reported vs recomputed). */
import { html, type SafeHtml } from "../html.ts";
import type { ExplorerStatus } from "../service.ts";
import type { PrivacyReport } from "../services/privacy.ts";
import { MECHANISM, type EpsilonAuditRow, type EpsilonCheck, type PrivacyUnit } from "../../node/privacy/ledger.ts";
import { page } from "./layout.ts";
import { addressLink, badge, roundLink } from "./format.ts";

const KIND: Record<EpsilonCheck, "ok" | "bad" | "warn"> = { ok: "ok", missing: "warn", "under-reported": "bad", "over-budget": "bad", "invalid-samples": "bad" };

/** One cell: the reported epsilon, and a badge when it differs from the recomputation. */
export function epsilonCell(row: EpsilonAuditRow | undefined): SafeHtml {
  if (!row) return html`<span class="muted">—</span>`;
  const reported = row.reportedMilli === null ? html`<span class="muted">none</span>` : html`${(row.reportedMilli / 1000).toFixed(3)}`;
  const expected = row.expectedMilli === null ? "" : ` (audit ${(row.expectedMilli / 1000).toFixed(3)})`;
  return html`<span title="reported on the privacy ledger${expected}">${reported}</span> ${badge(row.status, KIND[row.status])}`;
}

const UNIT_TEXT: Record<PrivacyUnit, string> = {
  example: "example (DP-SGD in every trainer)",
  peer: "peer (each update clipped and noised; epsilon in the aggregate reveals)",
  distributed: "peer, distributed (private task: each trainer adds its share of the noise; only the secure sum carries it in full)",
};

function paramsTable(r: PrivacyReport): SafeHtml {
  const p = r.params;
  if (!p) return html`<p class="empty">The ledger at <span class="mono">${r.ledger}</span> is not configured yet.</p>`;
  const rows: [string, string][] = [
    ["Ledger", r.ledger],
    ["Unit", UNIT_TEXT[p.unit]],
    ["Mechanism", MECHANISM[p.unit]],
    ...(p.unit === "distributed" ? [["Noise peers n_min (each adds 1/n_min of the variance)", String(p.noisePeers)], ["Fixed-point bits", String(p.scaleBits)]] as [string, string][] : []),
    ["Noise multiplier σ", String(p.noiseMultiplier)],
    ["Clip norm C", p.clipNorm === null ? "left to each peer" : String(p.clipNorm)],
    ...(p.unit === "example" ? [["Expected batch B (q = B / N)", String(p.expectedBatchSize)], ["Local epochs per round", String(p.localEpochs)]] as [string, string][] : []),
    ["δ", String(p.delta)],
    ["Budget ε per peer", p.epsilonBudget === Infinity ? "none" : String(p.epsilonBudget)],
  ];
  return html`<table class="kv" id="privacy-params">${rows.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>`;
}

function epsilonTable(r: PrivacyReport): SafeHtml {
  if (r.params?.unit !== "example" && r.params?.unit !== "distributed") return html`<p class="empty">No per-peer reports: ${r.params ? "the peer unit's epsilon is in each round's aggregate reveals." : "no parameters yet."}</p>`;
  if (r.peers.length === 0) return html`<p class="empty">No commits yet.</p>`;
  return html`<table class="list" id="privacy-epsilon"><thead><tr><th>Trainer</th>${r.rounds.map((n) => html`<th>${roundLink(n)}</th>`)}<th>Latest ε</th></tr></thead><tbody>${r.peers.map(
    (p) => html`<tr><td>${addressLink(p.trainer)}</td>${r.rounds.map((n) => html`<td>${epsilonCell(p.rows.find((x) => x.round === n))}</td>`)}<td><strong>${p.latestEpsilon === null ? "—" : p.latestEpsilon.toFixed(3)}</strong>${
      r.params?.epsilonBudget !== Infinity && p.latestEpsilon !== null ? html` <span class="muted">of ${r.params!.epsilonBudget}</span>` : ""
    }</td></tr>`,
  )}</tbody></table>`;
}

export function privacyPage(status: ExplorerStatus, report: PrivacyReport | null): string {
  const body = report
    ? html`<h1>Privacy</h1>
<section class="card"><h2>Unit and parameters</h2>${paramsTable(report)}</section>
<section class="card"><h2>Epsilon per trainer and round</h2>
<p>${report.params?.unit === "distributed"
  ? "Each cell is the cumulative peer-level ε the trainer reported on the ledger once that round's training closed, checked against the ε the task's parameters and the rounds it committed in give (RDP of the Skellam mechanism on the secure sum, with min(committed peers, n_min) noise shares per round)."
  : "Each cell is the cumulative example-level ε the trainer reported on the ledger after its commit of that round, checked against the ε the task's parameters and the trainer's own commits give (RDP of the Poisson-subsampled Gaussian over all its DP-SGD steps)."} <em>under-reported</em>: it claims less loss than the task's σ allows; <em>missing</em>: it committed without reporting; <em>over-budget</em>: it committed past the budget.</p>
${epsilonTable(report)}</section>`
    : html`<h1>Privacy</h1><p class="empty">No privacy ledger: start the explorer with <span class="mono">--privacy-ledger ADDRESS</span> (the demo prints it with <span class="mono">--dp example</span>).</p>`;
  return page({ title: "Privacy", status, body, active: "/privacy" });
}
