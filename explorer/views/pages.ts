/** The explorer's pages, rendered on the server from the service's plain data. */
import { html, type SafeHtml } from "../html.ts";
import type { BlockSummary, ContractTx, TxSummary } from "../chain-index.ts";
import type { BanView, ChallengeView, CommitFate, CommitteeMembership, PeerView, ReputationView, RoundSummary, RoundView } from "../rounds.ts";
import type { ExplorerStatus } from "../service.ts";
import type { BlockDetail, TxDetail } from "../services/blocks.ts";
import type { CidDetail } from "../services/cids.ts";
import type { AddressDetail } from "../services/peers.ts";
import type { RoundDetail } from "../services/rounds.ts";
import type { TaskInfo } from "../services/task.ts";
import { page } from "./layout.ts";
import { epsilonCell } from "./privacy.ts";
import type { EpsilonAuditRow } from "../../node/privacy/ledger.ts";
import {
  addressLink, argsTable, badge, blockLink, bytes, cidLink, eth, int, num, pct, phaseBadge, roundLink, shortHex, time, txLink, valueHtml,
} from "./format.ts";

const empty = (text: string): SafeHtml => html`<p class="empty">${text}</p>`;

function blocksTable(blocks: BlockSummary[]): SafeHtml {
  if (blocks.length === 0) return empty("No blocks indexed yet.");
  return html`<table class="list"><thead><tr><th>Block</th><th>Time</th><th>Txs</th><th>Gas used</th><th>Hash</th></tr></thead><tbody>
${blocks.map((b) => html`<tr><td>${blockLink(b.number)}</td><td>${time(b.timestamp)}</td><td>${b.txHashes.length}</td><td>${int(b.gasUsed)}</td><td class="mono">${shortHex(b.hash, 8)}</td></tr>`)}
</tbody></table>`;
}

function contractTxTable(txs: ContractTx[]): SafeHtml {
  if (txs.length === 0) return empty("No task transactions yet.");
  return html`<table class="list"><thead><tr><th>Tx</th><th>Block</th><th>Method</th><th>Round</th><th>From</th><th>Gas</th><th>Status</th></tr></thead><tbody>
${txs.map(
  (t) => html`<tr><td>${txLink(t.hash)}</td><td>${blockLink(t.blockNumber)}</td><td><code>${t.method ?? "—"}</code></td><td>${roundLink(t.round)}</td><td>${addressLink(t.from)}</td><td>${int(t.gasUsed)}</td><td>${
    t.status === 1 ? badge("ok", "ok") : badge("failed", "bad")
  }</td></tr>`,
)}
</tbody></table>`;
}

function roundsTable(rounds: RoundSummary[]): SafeHtml {
  if (rounds.length === 0) return empty("No rounds yet: the task has not started.");
  return html`<table class="list"><thead><tr><th>Round</th><th>Phase</th><th>Commits</th><th>Accepted</th><th>Rejected</th><th>Verdicts (revealed / committed)</th><th>Aggregates (revealed / committed)</th><th>Challenges</th><th>Accuracy</th><th>Gas</th><th>Global model</th></tr></thead><tbody>
${rounds.map(
  (r) => html`<tr><td>${roundLink(r.round)}</td><td>${phaseBadge(r.phase)}</td><td>${r.commits}</td><td>${r.accepted ?? "—"}</td><td>${r.rejected ?? "—"}${r.undecided ? html` <span class="muted">(+${r.undecided} undecided)</span>` : ""}</td><td>${r.verdicts} / ${r.verdictCommits}</td><td>${r.aggregates} / ${r.aggregateCommits}</td><td>${r.challenges || "—"}</td><td>${pct(r.accuracyBps)}</td><td>${int(r.gasUsed)}</td><td>${cidLink(r.finalCid)}</td></tr>`,
)}
</tbody></table>`;
}

function taskCard(task: TaskInfo): SafeHtml {
  if (!task.config) return html`<section class="card"><h2>Task</h2>${empty("The task is not configured yet (no TaskConfigured event).")}</section>`;
  const c = task.config;
  const committee = (size: unknown) => (Number(size) === 0 ? "every eligible peer" : `${size} drawn per round`);
  const admission = task.admission === "bond" ? `bond (at least ${eth(String(c.bondWei))} per peer; the same exact bond per challenge)` : (task.admission ?? "—");
  const rows: [string, SafeHtml | string][] = [
    ["State", task.completed ? badge("completed", "ok") : task.started ? badge(`running · round ${task.currentRound ?? "?"}`, "warn") : badge("configured", "muted")],
    ["Robust rule", task.ruleName ?? "—"],
    ["Rounds", String(c.rounds)],
    ["Admission", admission],
    ["Committees (verifiers / aggregators)", `${committee(c.verifierCommitteeSize)} / ${committee(c.aggregatorCommitteeSize)}`],
    ["Min trainers / aggregator quorum", `${c.minTrainers} / ${pct(Number(c.aggregatorQuorumBps))} of the aggregator committee`],
    [
      "Windows (train / verdict commit / aggregate commit / reveal / challenge)",
      `${c.trainingDuration} s / ${c.verificationDuration} s / ${c.aggregationDuration} s / ${c.revealDuration} s / ${Number(c.challengeDuration) > 0 ? `${c.challengeDuration} s` : "no challenges"}`,
    ],
    [
      "Update screening",
      `at most ${int(String(c.maxSamplesPerPeer))} samples per commit; near-copies rejected at cosine ≥ ${Number(c.copyCosineThresholdBps) > 0 ? pct(Number(c.copyCosineThresholdBps)) : "off"}; FedAvg weights clipped at ${Number(c.sampleWeightClipMilli) > 0 ? `${Number(c.sampleWeightClipMilli) / 1000} × median` : "off"}`,
    ],
    ["DP", Number(c.dpClipNormMilli) > 0 ? `clip ${Number(c.dpClipNormMilli) / 1000}, σ ${Number(c.dpNoiseMultiplierMilli) / 1000}, δ 1e-${c.dpDeltaExponent}` : "off"],
    ["Reputation", `start ${c.reputationInitial}, +${c.reputationReward} / −${c.reputationPenalty}, threshold ${c.reputationThreshold} (below: banned), max ${c.reputationMax}`],
    ["Model spec", cidLink(String(c.modelSpecCid), true)],
    ["Initial model", cidLink(String(c.initialModelCid), true)],
    ["Latest global model", cidLink(task.latestGlobalModelCid, true)],
    ["Peers", `${task.peerCount} registered · ${task.admittedCount} admitted · ${task.bannedCount} banned`],
    [
      "Bonds",
      task.bondTotals
        ? `posted ${eth(task.bondTotals.posted)} · held ${eth(task.bondTotals.held)} · refunded ${eth(task.bondTotals.refunded)} · slashed ${eth(task.bondTotals.slashed)} · credited, unclaimed ${eth(task.bondTotals.claimableTotal)}`
        : "—",
    ],
    ["Challenges", task.challenges.length === 0 ? "none" : `${task.challenges.length} (${task.challenges.filter((x) => x.status === "open").length} open, ${task.challenges.filter((x) => x.status === "upheld").length} upheld)`],
  ];
  return html`<section class="card" id="task"><h2>Task</h2><table class="kv">${rows.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table></section>`;
}

function challengeStatus(c: ChallengeView): SafeHtml {
  return c.status === "open" ? badge("open", "warn") : c.status === "upheld" ? badge("upheld", "bad") : badge("rejected", "muted");
}

function challengesTable(challenges: ChallengeView[], withRound: boolean): SafeHtml {
  if (challenges.length === 0) return empty("No challenges.");
  return html`<table class="list" id="challenges"><thead><tr><th>#</th>${withRound ? html`<th>Round</th>` : ""}<th>Challenger</th><th>Bond</th><th>Status</th><th>Slashed</th><th>Banned</th><th>Raised</th><th>Settled</th></tr></thead><tbody>${challenges.map(
    (c) => html`<tr><td>${c.id}</td>${withRound ? html`<td>${roundLink(c.round)}</td>` : ""}<td>${addressLink(c.challenger)}</td><td>${eth(c.bond)}</td><td>${challengeStatus(c)}</td><td>${
      c.slashed === null ? "—" : eth(c.slashed)
    }</td><td>${c.banned.length ? c.banned.map((b) => html`${addressLink(b)} `) : "—"}</td><td>${txLink(c.raisedTx)}</td><td>${c.settledTx ? txLink(c.settledTx) : html`<span class="muted">open</span>`}</td></tr>`,
  )}</tbody></table>`;
}

export function overviewPage(status: ExplorerStatus, task: TaskInfo, rounds: RoundSummary[], blocks: BlockSummary[], txs: ContractTx[]): string {
  const finalized = rounds.filter((r) => r.phase === "Finalized");
  const lastAcc = finalized.find((r) => r.accuracyBps !== null);
  const body = html`
<h1>Overview</h1>
<div class="tiles">
  <div class="tile"><div class="label">Head block</div><div class="value">${status.index.head ?? "—"}</div></div>
  <div class="tile"><div class="label">Rounds</div><div class="value">${rounds.length}</div><div class="sub">${finalized.length} finalized</div></div>
  <div class="tile"><div class="label">Peers</div><div class="value">${task.peerCount}</div></div>
  <div class="tile"><div class="label">Latest accuracy</div><div class="value">${lastAcc ? pct(lastAcc.accuracyBps) : "—"}</div></div>
</div>
${taskCard(task)}
<section class="card"><h2>Rounds</h2>${roundsTable(rounds.slice(0, 10))}${rounds.length > 10 ? html`<p><a href="/rounds">All rounds →</a></p>` : ""}</section>
${task.challenges.length ? html`<section class="card"><h2>Challenges</h2>${challengesTable(task.challenges, true)}</section>` : ""}
<div class="cols">
  <section class="card"><h2>Latest blocks</h2>${blocksTable(blocks)}<p><a href="/blocks">More blocks →</a></p></section>
  <section class="card"><h2>Latest task transactions</h2>${contractTxTable(txs)}</section>
</div>`;
  return page({ title: "Overview", status, body, active: "/" });
}

export function blocksPage(status: ExplorerStatus, blocks: BlockSummary[]): string {
  const oldest = blocks[blocks.length - 1];
  const body = html`<h1>Blocks</h1><section class="card">${blocksTable(blocks)}${
    oldest && oldest.number > 0 ? html`<p><a href="/blocks?before=${oldest.number}">Older blocks →</a></p>` : ""
  }</section>`;
  return page({ title: "Blocks", status, body, active: "/blocks" });
}

export function blockPage(status: ExplorerStatus, block: BlockDetail): string {
  const body = html`<h1>Block #${block.number}</h1>
<section class="card"><table class="kv">
<tr><th>Hash</th><td class="mono">${block.hash}</td></tr>
<tr><th>Parent</th><td>${block.number > 0 ? html`<a class="mono" href="/block/${block.number - 1}">${block.parentHash}</a>` : html`<span class="mono">${block.parentHash}</span>`}</td></tr>
<tr><th>Time</th><td>${time(block.timestamp)}</td></tr>
<tr><th>Miner</th><td>${addressLink(block.miner, block.miner)}</td></tr>
<tr><th>Gas used / limit</th><td>${int(block.gasUsed)} / ${int(block.gasLimit)}</td></tr>
</table></section>
<section class="card"><h2>Transactions (${block.txs.length})</h2>${
    block.txs.length === 0
      ? empty("No transactions in this block.")
      : html`<table class="list"><thead><tr><th>#</th><th>Hash</th><th>From</th><th>To</th><th>Method</th></tr></thead><tbody>${block.txs.map(
          (t) => html`<tr><td>${t.index}</td><td>${txLink(t.hash)}</td><td>${addressLink(t.from)}</td><td>${t.to ? addressLink(t.to) : html`<span class="muted">contract creation</span>`}</td><td><code>${t.method ?? "—"}</code></td></tr>`,
        )}</tbody></table>`
  }</section>`;
  return page({ title: `Block ${block.number}`, status, body, active: "/blocks" });
}

export function txPage(status: ExplorerStatus, tx: TxDetail): string {
  const statusBadge = tx.status === "success" ? badge("success", "ok") : tx.status === "failed" ? badge("failed", "bad") : badge("pending", "warn");
  let revert: SafeHtml = html``;
  if (tx.revert) {
    if ("name" in tx.revert) {
      revert = html`<section class="card error-card" id="revert"><h2>Reverted with <code>${tx.revert.name}</code></h2><p class="mono">${tx.revert.signature}</p>${argsTable(tx.revert.args)}</section>`;
    } else if ("raw" in tx.revert) {
      revert = html`<section class="card error-card" id="revert"><h2>Reverted (undecoded data)</h2><p class="mono wrap">${tx.revert.raw}</p></section>`;
    } else {
      revert = html`<section class="card error-card" id="revert"><h2>Failed</h2><p>${tx.revert.message}</p></section>`;
    }
  }
  const body = html`<h1>Transaction</h1>
<section class="card"><table class="kv">
<tr><th>Hash</th><td class="mono">${tx.hash}</td></tr>
<tr><th>Status</th><td>${statusBadge}</td></tr>
<tr><th>Block</th><td>${blockLink(tx.blockNumber)} · ${time(tx.timestamp)}</td></tr>
<tr><th>From</th><td>${addressLink(tx.from, tx.from)}</td></tr>
<tr><th>To</th><td>${tx.to ? html`${addressLink(tx.to, tx.to)}${tx.toIsTask ? html` ${badge("task contract", "info")}` : ""}` : html`<span class="muted">contract creation</span>`}</td></tr>
<tr><th>Value</th><td>${eth(tx.value)}</td></tr>
<tr><th>Gas used / limit</th><td>${int(tx.gasUsed)} / ${int(tx.gasLimit)}</td></tr>
<tr><th>Nonce</th><td>${tx.nonce}</td></tr>
${tx.round !== null ? html`<tr><th>Round</th><td>${roundLink(tx.round)}</td></tr>` : ""}
</table></section>
${revert}
<section class="card"><h2>Call ${tx.method ? html`<code>${tx.method}</code>` : ""}</h2>${
    tx.method ? argsTable(tx.args) : empty(tx.input === "0x" ? "Plain transfer (no call data)." : "Call data not decodable with the task ABI.")
  }<details><summary>Raw input (${(tx.input.length - 2) / 2} bytes)</summary><p class="mono wrap">${tx.input}</p></details></section>
<section class="card"><h2>Events (${tx.events.length})</h2>${
    tx.events.length === 0
      ? empty("No task events.")
      : html`${tx.events.map((e) => html`<div class="event"><h3><code>${e.name}</code> <span class="muted">log ${e.logIndex}</span></h3>${argsTable(e.args)}</div>`)}`
  }</section>`;
  return page({ title: `Tx ${shortHex(tx.hash)}`, status, body });
}

function timeline(round: RoundView & { phaseDeadline: number | null }): SafeHtml {
  if (round.timeline.length === 0) return empty("No phase events yet.");
  const first = round.timeline[0].timestamp;
  return html`<ol class="timeline" id="timeline">${round.timeline.map((t) =>
    t.kind === "phase"
      ? html`<li class="phase-${t.phase.toLowerCase()}"><div class="dot"></div><div class="what">${phaseBadge(t.phase)} <code>${t.event}</code>${
          t.detail ? html` — ${t.detail}` : ""
        }</div><div class="when">${time(t.timestamp)} <span class="muted">(+${t.timestamp - first} s)</span> · ${blockLink(t.blockNumber)} · ${txLink(t.txHash)}${
          t.deadline ? html` · ${t.phase === "Finalized" ? "challenge window ends" : "window ends"} ${time(t.deadline)}` : ""
        }</div></li>`
      : html`<li class="milestone"><div class="what"><code>${t.event}</code>${t.detail ? html` — ${t.detail}` : ""}</div><div class="when">${time(t.timestamp)} · ${blockLink(
          t.blockNumber,
        )} · ${txLink(t.txHash)}</div></li>`,
  )}</ol>`;
}

function memberList(members: CommitteeMembership[]): SafeHtml {
  if (members.length === 0) return html`<span class="muted">none</span>`;
  return html`${members.map((m) => html`<span class="member">#${m.index} ${m.address ? addressLink(m.address) : html`<span class="muted">unknown</span>`}</span> `)}`;
}

function committeesCard(round: RoundView): SafeHtml {
  const c = round.committees;
  if (!c) {
    return html`<section class="card" id="committees"><h2>Committees</h2>${empty(
      round.failedCode !== null ? "The round failed before training closed: no committees." : "Training has not closed yet: the seed block is not fixed.",
    )}</section>`;
  }
  const drawn = c.selected
    ? html`${badge("drawn", "ok")} in ${blockLink(c.selectedBlock)} by <code>${c.selectedBy?.method ?? "?"}</code> from ${addressLink(c.selectedBy?.from ?? null)} · ${txLink(c.selectedTx ?? "")}`
    : c.fromView
      ? html`${badge("not stored yet", "warn")} <span class="muted">members computed by the getCommittees view; the first selectCommittees / commitVerdict / commitAggregate stores them</span>`
      : html`${badge("not drawn", "muted")} <span class="muted">the seed block's hash is not available yet, or nobody drew</span>`;
  return html`<section class="card" id="committees"><h2>Committees</h2><table class="kv">
<tr><th>Seed block</th><td>${blockLink(c.seedBlock)} <span class="muted">(fixed when training closed, ${txLink(c.seedFixedTx)}${c.reanchored ? `; re-anchored ${c.reanchored}×` : ""})</span></td></tr>
<tr><th>Draw</th><td>${drawn}</td></tr>
${c.seed ? html`<tr><th>Seed</th><td class="mono wrap">${c.seed}</td></tr>` : ""}
<tr><th>Verifier committee (${c.verifiers.length} of ${c.verifierPool.length})</th><td id="verifier-committee">${memberList(c.verifiers)}</td></tr>
<tr><th>Aggregator committee (${c.aggregators.length} of ${c.aggregatorPool.length})</th><td id="aggregator-committee">${memberList(c.aggregators)}</td></tr>
<tr><th>Verifier pool</th><td>${memberList(c.verifierPool)}</td></tr>
<tr><th>Aggregator pool</th><td>${memberList(c.aggregatorPool)}</td></tr>
</table></section>`;
}

const STATUS_KIND = { revealed: "ok", "awaiting reveal": "warn", "not revealed": "bad", "no commit": "bad", "awaiting commit": "muted" } as const;

function verdictsTable(round: RoundView): SafeHtml {
  if (round.verdicts.length === 0) return empty("No verifier committee and no verdict commits yet.");
  return html`<table class="list" id="verdicts"><thead><tr><th>Verifier</th><th>Committee</th><th>Commit</th><th>Status</th><th>Revealed mask</th><th>vs accepted mask</th><th>Reveal</th></tr></thead><tbody>${round.verdicts.map(
    (v) => html`<tr class="verdict-${v.status.replace(/ /g, "-")}"><td>${addressLink(v.verifier)}</td><td>${v.inCommittee ? badge("member", "info") : badge("not a member", "bad")}</td><td>${
      v.commitTx ? html`${txLink(v.commitTx)} <span class="mono muted" title="${v.commitment ?? ""}">${shortHex(v.commitment ?? "", 6)}</span>` : html`<span class="muted">—</span>`
    }</td><td>${badge(v.status, STATUS_KIND[v.status])}</td><td class="mono">${v.mask ?? "—"}</td><td>${
      v.agreesWithAccepted === null ? "—" : v.agreesWithAccepted ? badge("agrees", "ok") : badge("differs", "bad")
    }</td><td>${v.revealTx ? txLink(v.revealTx) : html`<span class="muted">—</span>`}</td></tr>`,
  )}</tbody></table>`;
}

function verdictMatrix(round: RoundView): SafeHtml {
  if (round.commits.length === 0) return empty("No commits, so no verdicts.");
  const rows = round.verdicts.filter((v) => v.committed);
  if (rows.length === 0) return empty("No verdicts committed yet.");
  const fateCell = (fate: CommitFate) =>
    fate === "accepted" ? html`<td class="acc">✓</td>` : fate === "rejected" ? html`<td class="rej">✗</td>` : fate === "undecided" ? html`<td class="muted" title="no majority">–</td>` : html`<td class="muted">·</td>`;
  return html`<table class="matrix" id="verdict-matrix"><thead><tr><th>Verifier \\ commit (revealed masks)</th>${round.commits.map(
    (c) => html`<th title="${c.trainer}">#${c.index}</th>`,
  )}</tr></thead><tbody>
${rows.map(
  (v) => html`<tr><th>${addressLink(v.verifier)}</th>${round.commits.map((c) =>
    v.accepts === null
      ? html`<td class="hidden-vote" title="${v.status === "not revealed" ? "committed, never revealed" : "committed, not revealed yet"}">?</td>`
      : v.accepts[c.index] ? html`<td class="acc" title="accepted">✓</td>` : html`<td class="rej" title="rejected">✗</td>`,
  )}</tr>`,
)}
<tr class="majority"><th>Majority (on chain)</th>${round.commits.map((c) => fateCell(c.fate))}</tr>
</tbody></table>`;
}

/** Cumulative ε as the contract records it; "off" when the task runs without DP (then ε is 0 but means nothing). */
function epsilon(milli: number | null, dpEnabled: boolean | null): string {
  if (dpEnabled === false) return "off";
  return milli === null ? "—" : String(milli / 1000);
}

function fateBadge(fate: string): SafeHtml {
  return fate === "accepted" ? badge(fate, "ok") : fate === "pending" ? badge(fate, "muted") : fate === "undecided" ? badge(fate, "warn") : badge(fate, "bad");
}

function reputationBadge(r: ReputationView): SafeHtml {
  return badge(r.reasonName, r.newScore > r.oldScore ? "ok" : r.newScore < r.oldScore ? "bad" : "muted");
}

function banBadge(b: BanView): SafeHtml {
  return badge(`banned: ${b.reasonName}`, "bad");
}

/** `epsilons`: each trainer's example-level epsilon row for this round (lower-case address → row), from the privacy ledger. */
export function roundPage(status: ExplorerStatus, round: RoundDetail, epsilons: Map<string, EpsilonAuditRow> = new Map()): string {
  const withEps = epsilons.size > 0;
  const commits =
    round.commits.length === 0
      ? empty("No updates committed.")
      : html`<table class="list" id="commits"><thead><tr><th>#</th><th>Trainer</th><th>Update CID</th><th>Samples</th>${withEps ? html`<th>Example ε (reported)</th>` : ""}<th>Fate</th><th>Tx</th></tr></thead><tbody>${round.commits.map(
          (c) => html`<tr><td>${c.index}</td><td>${addressLink(c.trainer)}</td><td>${cidLink(c.cid)}</td><td>${int(c.numSamples)}</td>${withEps ? html`<td>${epsilonCell(epsilons.get(c.trainer.toLowerCase()))}</td>` : ""}<td>${fateBadge(c.fate)}</td><td>${txLink(c.txHash)}</td></tr>`,
        )}</tbody></table>`;
  const aggregates =
    round.aggregates.length === 0
      ? empty("No aggregator committee and no aggregate commits yet.")
      : html`<table class="list" id="aggregates"><thead><tr><th>Aggregator</th><th>Committee</th><th>Commit</th><th>Status</th><th>CID</th><th>Accuracy</th><th>DP epsilon</th><th>Agrees with leader</th><th>Final?</th><th>Reveal</th></tr></thead><tbody>${round.aggregates.map(
          (a) => html`<tr class="aggregate-${a.status.replace(/ /g, "-")}"><td>${addressLink(a.aggregator)}</td><td>${a.inCommittee ? badge("member", "info") : badge("not a member", "bad")}</td><td>${
            a.commitTx ? txLink(a.commitTx) : html`<span class="muted">—</span>`
          }</td><td>${badge(a.status, STATUS_KIND[a.status])}</td><td>${cidLink(a.cid)}</td><td>${pct(a.accuracyBps)}</td><td>${a.revealed ? epsilon(a.cumulativeEpsilonMilli, round.dpEnabled) : "—"}</td><td>${
            a.agreesWithLeader === null ? "—" : a.agreesWithLeader ? badge("agrees", "ok") : badge("disagrees", "bad")
          }</td><td>${a.matchesFinal === null ? "—" : a.matchesFinal ? badge("= final", "ok") : badge("≠ final", "bad")}</td><td>${a.revealTx ? txLink(a.revealTx) : html`<span class="muted">—</span>`}</td></tr>`,
        )}</tbody></table>`;
  const reputation =
    round.reputation.length === 0
      ? empty("No reputation changes in this round.")
      : html`<table class="list" id="round-reputation"><thead><tr><th>Peer</th><th>Reason</th><th>Score</th><th>Tx</th></tr></thead><tbody>${round.reputation.map(
          (r) => html`<tr><td>${addressLink(r.peer)}</td><td>${reputationBadge(r)} <span class="muted small">(${r.reason})</span></td><td>${r.oldScore} → <strong>${r.newScore}</strong></td><td>${txLink(r.txHash)}</td></tr>`,
        )}</tbody></table>`;
  const sanctions =
    round.bans.length === 0 && round.slashes.length === 0
      ? empty("No bans or bond slashing in this round.")
      : html`<table class="list" id="sanctions"><thead><tr><th>Peer</th><th>Sanction</th><th>Tx</th></tr></thead><tbody>${round.bans.map(
          (b) => html`<tr><td>${addressLink(b.peer)}</td><td>${banBadge(b)}</td><td>${txLink(b.txHash)}</td></tr>`,
        )}${round.slashes.map(
          (x) => html`<tr><td>${addressLink(x.peer)}</td><td>${badge(`bond slashed: ${eth(x.amount)}`, "bad")} to ${addressLink(x.beneficiary)}</td><td>${txLink(x.txHash)}</td></tr>`,
        )}</tbody></table>`;
  const canAudit = round.phase === "Finalized";
  const committeeSize = round.committees?.verifiers.length ?? 0;
  const revealed = round.verdicts.filter((v) => v.revealed).length;
  const body = html`<div class="titlebar"><h1>Round ${round.round} ${phaseBadge(round.phase)}</h1>
<div class="pager">${round.round > 1 ? html`<a href="/round/${round.round - 1}">← round ${round.round - 1}</a>` : ""} ${round.round < round.lastRound ? html`<a href="/round/${round.round + 1}">round ${round.round + 1} →</a>` : ""}</div></div>
<div class="tiles">
  <div class="tile"><div class="label">Accuracy (reported)</div><div class="value">${pct(round.accuracyBps)}</div></div>
  <div class="tile"><div class="label">Accepted / rejected</div><div class="value">${round.acceptedMask === null ? "—" : `${round.acceptedIndices.length} / ${round.rejectedIndices.length} of ${round.commits.length}`}</div><div class="sub" id="masks">accepted ${round.acceptedMask ?? "—"} · rejected ${round.rejectedMask ?? "—"}</div></div>
  <div class="tile"><div class="label">Verdicts revealed</div><div class="value">${revealed} / ${committeeSize || round.verdicts.length}</div><div class="sub">${round.verdicts.filter((v) => v.committed).length} committed</div></div>
  <div class="tile"><div class="label">Gas (${round.txCount} txs)</div><div class="value">${int(round.gasUsed)}</div>${round.failedTxCount ? html`<div class="sub">${round.failedTxCount} failed</div>` : ""}</div>
  <div class="tile"><div class="label">DP epsilon (cumulative)</div><div class="value">${epsilon(round.cumulativeEpsilonMilli, round.dpEnabled)}</div></div>
</div>
<section class="card"><h2>Models</h2><table class="kv">
<tr><th>Started from</th><td>${cidLink(round.startGlobalCid, true)}</td></tr>
<tr><th>Finalized global model</th><td id="final-cid">${round.finalCid ? cidLink(round.finalCid, true) : html`<span class="muted">${round.failedReason ? `round failed: ${round.failedReason}` : "not finalized yet"}</span>`}</td></tr>
${round.phaseDeadline ? html`<tr><th>${round.phaseDeadlineLabel === "challenge window" ? "Challenge window ends" : "Current window ends"}</th><td>${time(round.phaseDeadline)}</td></tr>` : ""}
</table></section>
<section class="card audit"><h2>Audit</h2>
<p>Recompute this round from the chain and IPFS alone: the robust rule's verdict on every committed update (compared with every revealed mask), and the aggregate of the on-chain accepted set, down to its CID.</p>
<button id="audit-button" data-round="${round.round}" ${canAudit ? "" : "disabled"}>Audit round ${round.round}</button>${canAudit ? "" : html` <span class="muted">only finalized rounds can be audited</span>`}
<div id="audit-result" aria-live="polite"></div>
</section>
<section class="card"><h2>Timeline</h2>${timeline(round)}</section>
${committeesCard(round)}
<section class="card"><h2>Commits (${round.commits.length})</h2>${commits}</section>
<section class="card"><h2>Verdicts (${revealed} revealed of ${round.verdicts.filter((v) => v.committed).length} committed)</h2>${verdictsTable(round)}<h3>Revealed masks</h3>${verdictMatrix(round)}</section>
<section class="card"><h2>Aggregates (${round.aggregates.filter((a) => a.revealed).length} revealed of ${round.aggregates.filter((a) => a.committed).length} committed)</h2>${aggregates}</section>
<section class="card"><h2>Reputation</h2>${reputation}</section>
<section class="card"><h2>Challenges (${round.challenges.length})</h2>${challengesTable(round.challenges, false)}</section>
<section class="card"><h2>Bans and slashing</h2>${sanctions}</section>`;
  return page({ title: `Round ${round.round}`, status, body, active: "/rounds" });
}

export function roundsPage(status: ExplorerStatus, rounds: RoundSummary[]): string {
  return page({ title: "Rounds", status, body: html`<h1>Rounds</h1><section class="card">${roundsTable(rounds)}</section>`, active: "/rounds" });
}

function admissionBadges(p: PeerView): SafeHtml {
  return html`${p.admitted ? badge("admitted", "info") : ""}${BigInt(p.bond.posted) > 0n ? badge(`bond ${eth(p.bond.posted)}`, "info") : ""}${
    p.registered ? "" : badge("not registered", "muted")
  }`;
}

function peerStateBadges(p: PeerView): SafeHtml {
  if (p.banned) return banBadge(p.banned);
  if (!p.registered) return badge("—", "muted");
  return html`${p.active ? badge("active", "ok") : badge("left", "muted")}${p.excludedInRound !== null ? badge(`excluded in round ${p.excludedInRound}`, "bad") : ""}`;
}

function roleBadges(p: PeerView): SafeHtml {
  return html`${p.roles.map((r) => badge(r, "info"))}${p.revokedRoles.map((r) => html`<span class="badge bad revoked" title="revoked for good"><s>${r}</s></span>`)}`;
}

export function peersPage(status: ExplorerStatus, peers: PeerView[]): string {
  const body = html`<h1>Peers</h1><section class="card">${
    peers.length === 0
      ? empty("No peers admitted or registered yet.")
      : html`<table class="list" id="peers"><thead><tr><th>#</th><th>Address</th><th>Admission</th><th>Status</th><th>Roles</th><th>Reputation</th><th>Bond (held / slashed)</th><th>Updates</th><th>Verdicts (revealed / committed)</th><th>Aggregates (revealed / committed)</th><th>Committees (V / A)</th><th>Multiaddr</th></tr></thead><tbody>${peers.map(
          (p) => html`<tr><td>${p.peerIndex ?? "—"}</td><td>${addressLink(p.address)}</td><td>${admissionBadges(p)}</td><td>${peerStateBadges(p)}</td><td>${roleBadges(p)}</td><td>${p.reputation ?? "—"}</td><td>${
            BigInt(p.bond.posted) > 0n ? `${eth(p.bond.held)} / ${eth(p.bond.slashed)}` : "—"
          }</td><td>${p.updates.filter((u) => u.fate === "accepted").length} ✓ / ${p.updates.filter((u) => u.fate === "rejected").length} ✗</td><td>${p.verdictsRevealed} / ${p.verdictsCommitted}${
            p.verdictsNotRevealed.length ? html` ${badge(`${p.verdictsNotRevealed.length} not revealed`, "bad")}` : ""
          }</td><td>${p.aggregatesRevealed} / ${p.aggregatesCommitted}${p.aggregatesNotRevealed.length ? html` ${badge(`${p.aggregatesNotRevealed.length} not revealed`, "bad")}` : ""}</td><td>${p.verifierCommittees.length} / ${
            p.aggregatorCommittees.length
          }</td><td class="mono small multiaddr">${p.multiaddr}</td></tr>`,
        )}</tbody></table>`
  }</section>`;
  return page({ title: "Peers", status, body, active: "/peers" });
}

function txSummaryTable(txs: TxSummary[]): SafeHtml {
  if (txs.length === 0) return empty("No transactions.");
  return html`<table class="list"><thead><tr><th>Tx</th><th>Block</th><th>From</th><th>To</th><th>Method</th></tr></thead><tbody>${txs.map(
    (t) => html`<tr><td>${txLink(t.hash)}</td><td>${blockLink(t.blockNumber)}</td><td>${addressLink(t.from)}</td><td>${t.to ? addressLink(t.to) : "create"}</td><td><code>${t.method ?? "—"}</code></td></tr>`,
  )}</tbody></table>`;
}

export function addressPage(status: ExplorerStatus, a: AddressDetail, task?: TaskInfo, contractTxs?: ContractTx[]): string {
  const kindLabel = { "task-contract": "Task contract", peer: "Peer", account: "Account", contract: "Contract" }[a.kind];
  let peerSection: SafeHtml = html``;
  if (a.peer) {
    const p = a.peer;
    const st = p.status;
    const rounds = (list: number[]) => (list.length ? html`${list.map((r) => html`${roundLink(r)} `)}` : html`<span class="muted">none</span>`);
    peerSection = html`<section class="card" id="peer"><h2>${p.registered ? `Peer #${p.peerIndex ?? "?"}` : "Admitted address (not registered)"}</h2><table class="kv">
<tr><th>Admission</th><td>${admissionBadges(p)}${p.admittedBlock !== null ? html` <span class="muted">admitted in ${blockLink(p.admittedBlock)}</span>` : ""}</td></tr>
<tr><th>Status</th><td>${
      p.banned
        ? html`${banBadge(p.banned)} <span class="muted">in ${blockLink(p.banned.blockNumber)} · ${txLink(p.banned.txHash)}</span>`
        : p.registered ? ((p.onChain?.active ?? p.active) ? badge("active", "ok") : badge("left", "muted")) : badge("not registered", "muted")
    }${p.excludedInRound !== null ? html` ${badge(`excluded in round ${p.excludedInRound}`, "bad")}` : ""}</td></tr>
<tr><th>Roles</th><td>${roleBadges(p)}${p.revokedRoles.length ? html` <span class="muted">(struck: revoked for good)</span>` : ""}</td></tr>
<tr><th>Reputation</th><td><strong>${p.onChain?.reputation ?? p.reputation ?? "—"}</strong></td></tr>
<tr><th>Bond</th><td>${
      BigInt(p.bond.posted) > 0n || (st && BigInt(st.bond) > 0n)
        ? html`posted ${eth(p.bond.posted)} · held ${eth(st?.bond ?? p.bond.held)} · refunded ${eth(p.bond.refunded)} · slashed ${eth(p.bond.slashed)}`
        : html`<span class="muted">no bond</span>`
    }</td></tr>
<tr><th>Credited payouts (claimable / claimed)</th><td>${eth(st?.claimable ?? null)} / ${eth(p.bond.claimed)}</td></tr>
<tr><th>Verifier committees</th><td>${rounds(p.verifierCommittees)}</td></tr>
<tr><th>Aggregator committees</th><td>${rounds(p.aggregatorCommittees)}</td></tr>
<tr><th>Verdicts</th><td>${p.verdictsRevealed} revealed of ${p.verdictsCommitted} committed${p.verdictsNotRevealed.length ? html` · ${badge("not revealed", "bad")} in ${rounds(p.verdictsNotRevealed)}` : ""}</td></tr>
<tr><th>Aggregates</th><td>${p.aggregatesRevealed} revealed of ${p.aggregatesCommitted} committed${p.aggregatesNotRevealed.length ? html` · ${badge("not revealed", "bad")} in ${rounds(p.aggregatesNotRevealed)}` : ""}</td></tr>
${p.challengesRaised.length ? html`<tr><th>Challenges raised</th><td>${p.challengesRaised.map((id) => html`#${id} `)}</td></tr>` : ""}
<tr><th>Multiaddr</th><td class="mono wrap">${p.multiaddr || "—"}</td></tr>
<tr><th>Public key</th><td class="mono wrap">${p.publicKey || "—"}</td></tr>
<tr><th>Registered in</th><td>${blockLink(p.registeredBlock)}</td></tr>
</table></section>
${
      p.bond.slashes.length
        ? html`<section class="card"><h2>Bond slashing</h2><table class="list" id="slashes"><thead><tr><th>Round</th><th>Amount</th><th>To</th><th>Tx</th></tr></thead><tbody>${p.bond.slashes.map(
            (x) => html`<tr><td>${roundLink(x.round)}</td><td>${eth(x.amount)}</td><td>${addressLink(x.beneficiary)}</td><td>${txLink(x.txHash)}</td></tr>`,
          )}</tbody></table></section>`
        : ""
    }
<section class="card"><h2>Reputation history</h2>${
      p.reputationHistory.length === 0
        ? empty("No reputation changes yet.")
        : html`<table class="list" id="reputation"><thead><tr><th>Round</th><th>Reason</th><th>Score</th><th>Tx</th></tr></thead><tbody>${p.reputationHistory.map(
            (r) => html`<tr><td>${roundLink(r.round)}</td><td>${reputationBadge(r)}</td><td>${r.oldScore} → <strong>${r.newScore}</strong></td><td>${txLink(r.txHash)}</td></tr>`,
          )}</tbody></table>`
    }</section>
<section class="card"><h2>Updates</h2>${
      p.updates.length === 0
        ? empty("This peer has committed no updates.")
        : html`<table class="list" id="updates"><thead><tr><th>Round</th><th>Commit</th><th>CID</th><th>Samples</th><th>Fate</th></tr></thead><tbody>${p.updates.map(
            (u) => html`<tr><td>${roundLink(u.round)}</td><td>#${u.commitIndex}</td><td>${cidLink(u.cid)}</td><td>${int(u.numSamples)}</td><td>${fateBadge(u.fate)}</td></tr>`,
          )}</tbody></table>`
    }</section>`;
  }
  const body = html`<h1>${kindLabel} <span class="mono h-addr">${a.address}</span></h1>
<section class="card"><table class="kv">
<tr><th>Balance</th><td>${eth(a.balance)}</td></tr>
<tr><th>Nonce</th><td>${a.nonce ?? "—"}</td></tr>
</table></section>
${task && a.kind === "task-contract" ? taskCard(task) : ""}
${peerSection}
<section class="card"><h2>Transactions</h2>${a.kind === "task-contract" && contractTxs ? contractTxTable(contractTxs) : txSummaryTable(a.txs)}</section>`;
  return page({ title: `${kindLabel} ${shortHex(a.address)}`, status, body, active: a.kind === "peer" ? "/peers" : undefined });
}

export function cidPage(status: ExplorerStatus, c: CidDetail): string {
  let content: SafeHtml;
  if (c.kind === "weights") {
    content = html`<section class="card"><h2>Model weights ${
      c.matchesTaskSpec === true ? badge("matches the task's model spec", "ok") : c.matchesTaskSpec === false ? badge("does not match the task's model spec", "bad") : ""
    }</h2>${c.specProblem ? html`<p class="bad-text">${c.specProblem}</p>` : ""}
<p>${int(c.totalParameters)} parameters in ${c.layers.length} tensors · L2 norm <strong>${c.l2Norm === null ? "—" : num(c.l2Norm)}</strong></p>
<table class="list" id="layers"><thead><tr><th>Tensor</th><th>Shape</th><th>Parameters</th><th>L2 norm</th><th>Min</th><th>Mean</th><th>Max</th></tr></thead><tbody>${c.layers.map(
      (l) => html`<tr><td class="mono">${l.name}</td><td class="mono">[${l.shape.join(", ")}]</td><td>${int(l.parameters)}</td><td>${num(l.l2Norm)}</td><td>${num(l.min)}</td><td>${num(l.mean)}</td><td>${num(l.max)}</td></tr>`,
    )}</tbody></table></section>`;
  } else if (c.kind === "model-spec" && c.spec) {
    content = html`<section class="card"><h2>Model spec</h2><table class="kv">
<tr><th>Architecture</th><td>${c.spec.model}</td></tr><tr><th>Input shape</th><td class="mono">[${c.spec.inputShape.join(", ")}]</td></tr><tr><th>Classes</th><td>${c.spec.numClasses}</td></tr></table>
<table class="list"><thead><tr><th>Tensor</th><th>Shape</th></tr></thead><tbody>${c.spec.tensors.map((t) => html`<tr><td class="mono">${t.name}</td><td class="mono">[${t.shape.join(", ")}]</td></tr>`)}</tbody></table></section>`;
  } else {
    content = html`<section class="card"><h2>Opaque bytes</h2><p>Neither a peerfl weights file nor a model spec. First bytes:</p><p class="mono wrap">${c.preview ?? ""}</p></section>`;
  }
  const body = html`<h1>CID <span class="mono h-addr">${c.cid}</span></h1>
<section class="card"><table class="kv">
<tr><th>Size</th><td>${bytes(c.size)} (${int(c.size)} bytes)</td></tr>
<tr><th>Kind</th><td>${c.kind}</td></tr>
<tr><th>Download</th><td><a class="button" href="/cid/${c.cid}/raw" download="${c.cid}.bin">raw bytes</a></td></tr>
</table></section>
${content}
<section class="card"><h2>On chain</h2>${
    c.uses.length === 0
      ? empty("This CID is not referenced by any task event.")
      : html`<table class="list"><thead><tr><th>Use</th><th>Round</th><th>By</th><th>Tx</th></tr></thead><tbody>${c.uses.map(
          (u) => html`<tr><td>${u.kind}</td><td>${roundLink(u.round)}</td><td>${addressLink(u.by)}</td><td>${txLink(u.txHash)}</td></tr>`,
        )}</tbody></table>`
  }</section>`;
  return page({ title: `CID ${c.cid.slice(0, 12)}`, status, body });
}

export function livePage(status: ExplorerStatus, linkStats: unknown | null): string {
  const body = html`<div class="titlebar"><h1>Live</h1><div class="live-indicator"><span id="live-dot" class="dot-live"></span> <span id="live-head">head #${status.index.head ?? "—"}</span></div></div>
<div class="charts">
  <section class="card chart"><h2>Accuracy per round</h2><canvas id="chart-accuracy"></canvas></section>
  <section class="card chart"><h2>Accepted / rejected updates</h2><canvas id="chart-verdicts"></canvas></section>
  <section class="card chart"><h2>Gas per round</h2><canvas id="chart-gas"></canvas></section>
  <section class="card chart"><h2>Bytes committed per round</h2><canvas id="chart-bytes"></canvas></section>
</div>
<section class="card"><h2>New blocks</h2><ul id="live-blocks" class="feed"><li class="muted">waiting for blocks…</li></ul></section>
${linkStats !== null ? html`<section class="card chart"><h2>Bytes over Uu against the sidelink, per peer</h2><canvas id="chart-media"></canvas></section>` : ""}
${linkStats !== null ? html`<section class="card"><h2>Link statistics</h2>${valueHtml(linkStats)}</section>` : ""}`;
  return page({ title: "Live", status, body, active: "/live", scripts: ["/assets/chart.umd.js", "/assets/live.js", ...(linkStats !== null ? ["/assets/link-media.js"] : [])] });
}
