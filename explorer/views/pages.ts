/** The explorer's pages, rendered on the server from the service's plain data. */
import { html, type SafeHtml } from "../html.ts";
import type { BlockSummary, ContractTx, TxSummary } from "../chain-index.ts";
import type { PeerView, RoundSummary, RoundView } from "../rounds.ts";
import type { ExplorerStatus } from "../service.ts";
import type { BlockDetail, TxDetail } from "../services/blocks.ts";
import type { CidDetail } from "../services/cids.ts";
import type { AddressDetail } from "../services/peers.ts";
import type { RoundDetail } from "../services/rounds.ts";
import type { TaskInfo } from "../services/task.ts";
import { page } from "./layout.ts";
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
  return html`<table class="list"><thead><tr><th>Round</th><th>Phase</th><th>Commits</th><th>Accepted</th><th>Rejected</th><th>Verdicts</th><th>Aggregates</th><th>Accuracy</th><th>Gas</th><th>Global model</th></tr></thead><tbody>
${rounds.map(
  (r) => html`<tr><td>${roundLink(r.round)}</td><td>${phaseBadge(r.phase)}</td><td>${r.commits}</td><td>${r.accepted ?? "—"}</td><td>${r.rejected ?? "—"}</td><td>${r.verdicts}</td><td>${r.aggregates}</td><td>${pct(r.accuracyBps)}</td><td>${int(r.gasUsed)}</td><td>${cidLink(r.finalCid)}</td></tr>`,
)}
</tbody></table>`;
}

function taskCard(task: TaskInfo): SafeHtml {
  if (!task.config) return html`<section class="card"><h2>Task</h2>${empty("The task is not configured yet (no TaskConfigured event).")}</section>`;
  const c = task.config;
  const rows: [string, SafeHtml | string][] = [
    ["State", task.completed ? badge("completed", "ok") : task.started ? badge(`running · round ${task.currentRound ?? "?"}`, "warn") : badge("configured", "muted")],
    ["Robust rule", task.ruleName ?? "—"],
    ["Rounds", String(c.rounds)],
    ["Min trainers / aggregator quorum", `${c.minTrainers} / ${c.aggregatorQuorum}`],
    ["Windows (train / verify / aggregate)", `${c.trainingDuration} s / ${c.verificationDuration} s / ${c.aggregationDuration} s`],
    ["DP", Number(c.dpClipNormMilli) > 0 ? `clip ${Number(c.dpClipNormMilli) / 1000}, σ ${Number(c.dpNoiseMultiplierMilli) / 1000}, δ 1e-${c.dpDeltaExponent}` : "off"],
    ["Reputation", `start ${c.reputationInitial}, +${c.reputationReward} / −${c.reputationPenalty}, threshold ${c.reputationThreshold}, max ${c.reputationMax}`],
    ["Model spec", cidLink(String(c.modelSpecCid), true)],
    ["Initial model", cidLink(String(c.initialModelCid), true)],
    ["Latest global model", cidLink(task.latestGlobalModelCid, true)],
    ["Peers", String(task.peerCount)],
  ];
  return html`<section class="card"><h2>Task</h2><table class="kv">${rows.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table></section>`;
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
  return html`<ol class="timeline">${round.timeline.map(
    (t) => html`<li class="phase-${t.phase.toLowerCase()}"><div class="dot"></div><div class="what">${phaseBadge(t.phase)} <code>${t.event}</code>${
      t.detail ? html` — ${t.detail}` : ""
    }</div><div class="when">${time(t.timestamp)} <span class="muted">(+${t.timestamp - first} s)</span> · ${blockLink(t.blockNumber)} · ${txLink(t.txHash)}${
      t.deadline ? html` · window ends ${time(t.deadline)}` : ""
    }</div></li>`,
  )}</ol>`;
}

function verdictMatrix(round: RoundView): SafeHtml {
  if (round.commits.length === 0) return empty("No commits, so no verdicts.");
  if (round.verdicts.length === 0) return empty("No verdicts submitted yet.");
  return html`<table class="matrix" id="verdict-matrix"><thead><tr><th>Verifier \\ commit</th>${round.commits.map(
    (c) => html`<th title="${c.trainer}">#${c.index}</th>`,
  )}</tr></thead><tbody>
${round.verdicts.map(
  (v) => html`<tr><th>${addressLink(v.verifier)}</th>${round.commits.map((c) =>
    v.accepts[c.index] ? html`<td class="acc" title="accepted">✓</td>` : html`<td class="rej" title="rejected">✗</td>`,
  )}</tr>`,
)}
<tr class="majority"><th>Majority (on chain)</th>${round.commits.map((c) =>
    c.accepted === null ? html`<td class="muted">·</td>` : c.accepted ? html`<td class="acc">✓</td>` : html`<td class="rej">✗</td>`,
  )}</tr>
</tbody></table>`;
}

/** Cumulative ε as the contract records it; "off" when the task runs without DP (then ε is 0 but means nothing). */
function epsilon(milli: number | null, dpEnabled: boolean | null): string {
  if (dpEnabled === false) return "off";
  return milli === null ? "—" : String(milli / 1000);
}

export function roundPage(status: ExplorerStatus, round: RoundDetail): string {
  const commits =
    round.commits.length === 0
      ? empty("No updates committed.")
      : html`<table class="list" id="commits"><thead><tr><th>#</th><th>Trainer</th><th>Update CID</th><th>Samples</th><th>Fate</th><th>Tx</th></tr></thead><tbody>${round.commits.map(
          (c) => html`<tr><td>${c.index}</td><td>${addressLink(c.trainer)}</td><td>${cidLink(c.cid)}</td><td>${int(c.numSamples)}</td><td>${
            c.accepted === null ? badge("pending", "muted") : c.accepted ? badge("accepted", "ok") : badge("rejected", "bad")
          }</td><td>${txLink(c.txHash)}</td></tr>`,
        )}</tbody></table>`;
  const aggregates =
    round.aggregates.length === 0
      ? empty("No aggregates submitted yet.")
      : html`<table class="list" id="aggregates"><thead><tr><th>Aggregator</th><th>CID</th><th>Accuracy</th><th>DP epsilon</th><th>Agreed with leader</th><th>Final?</th><th>Tx</th></tr></thead><tbody>${round.aggregates.map(
          (a) => html`<tr><td>${addressLink(a.aggregator)}</td><td>${cidLink(a.cid)}</td><td>${pct(a.accuracyBps)}</td><td>${epsilon(a.cumulativeEpsilonMilli, round.dpEnabled)}</td><td>${
            a.agreesWithLeader ? badge("agrees", "ok") : badge("disagrees", "bad")
          }</td><td>${a.matchesFinal === null ? "—" : a.matchesFinal ? badge("= final", "ok") : badge("≠ final", "bad")}</td><td>${txLink(a.txHash)}</td></tr>`,
        )}</tbody></table>`;
  const reputation =
    round.reputation.length === 0
      ? empty("No reputation changes in this round.")
      : html`<table class="list"><thead><tr><th>Peer</th><th>Update</th><th>Score</th></tr></thead><tbody>${round.reputation.map(
          (r) => html`<tr><td>${addressLink(r.peer)}</td><td>${r.accepted ? badge("accepted", "ok") : badge("rejected", "bad")}</td><td>${r.oldScore} → <strong>${r.newScore}</strong></td></tr>`,
        )}</tbody></table>`;
  const canAudit = round.phase === "Finalized";
  const body = html`<div class="titlebar"><h1>Round ${round.round} ${phaseBadge(round.phase)}</h1>
<div class="pager">${round.round > 1 ? html`<a href="/round/${round.round - 1}">← round ${round.round - 1}</a>` : ""} ${round.round < round.lastRound ? html`<a href="/round/${round.round + 1}">round ${round.round + 1} →</a>` : ""}</div></div>
<div class="tiles">
  <div class="tile"><div class="label">Accuracy (reported)</div><div class="value">${pct(round.accuracyBps)}</div></div>
  <div class="tile"><div class="label">Accepted</div><div class="value">${round.acceptedMask === null ? "—" : `${round.acceptedIndices.length} / ${round.commits.length}`}</div><div class="sub">mask ${round.acceptedMask ?? "—"}</div></div>
  <div class="tile"><div class="label">Gas (${round.txCount} txs)</div><div class="value">${int(round.gasUsed)}</div>${round.failedTxCount ? html`<div class="sub">${round.failedTxCount} failed</div>` : ""}</div>
  <div class="tile"><div class="label">DP epsilon (cumulative)</div><div class="value">${epsilon(round.cumulativeEpsilonMilli, round.dpEnabled)}</div></div>
</div>
<section class="card"><h2>Models</h2><table class="kv">
<tr><th>Started from</th><td>${cidLink(round.startGlobalCid, true)}</td></tr>
<tr><th>Finalized global model</th><td id="final-cid">${round.finalCid ? cidLink(round.finalCid, true) : html`<span class="muted">${round.failedReason ? `round failed: ${round.failedReason}` : "not finalized yet"}</span>`}</td></tr>
${round.phaseDeadline ? html`<tr><th>Current window ends</th><td>${time(round.phaseDeadline)}</td></tr>` : ""}
</table></section>
<section class="card audit"><h2>Audit</h2>
<p>Recompute this round from the chain and IPFS alone: the robust rule's verdict on every committed update, and the aggregate of the on-chain accepted set, down to its CID.</p>
<button id="audit-button" data-round="${round.round}" ${canAudit ? "" : "disabled"}>Audit round ${round.round}</button>${canAudit ? "" : html` <span class="muted">only finalized rounds can be audited</span>`}
<div id="audit-result" aria-live="polite"></div>
</section>
<section class="card"><h2>Timeline</h2>${timeline(round)}</section>
<section class="card"><h2>Commits (${round.commits.length})</h2>${commits}</section>
<section class="card"><h2>Verdicts (${round.verdicts.length})</h2>${verdictMatrix(round)}</section>
<section class="card"><h2>Aggregates (${round.aggregates.length})</h2>${aggregates}</section>
<section class="card"><h2>Reputation</h2>${reputation}</section>`;
  return page({ title: `Round ${round.round}`, status, body, active: "/rounds" });
}

export function roundsPage(status: ExplorerStatus, rounds: RoundSummary[]): string {
  return page({ title: "Rounds", status, body: html`<h1>Rounds</h1><section class="card">${roundsTable(rounds)}</section>`, active: "/rounds" });
}

export function peersPage(status: ExplorerStatus, peers: PeerView[]): string {
  const body = html`<h1>Peers</h1><section class="card">${
    peers.length === 0
      ? empty("No peers registered yet.")
      : html`<table class="list"><thead><tr><th>#</th><th>Address</th><th>Roles</th><th>Reputation</th><th>Updates</th><th>Verdicts</th><th>Aggregates</th><th>Multiaddr</th></tr></thead><tbody>${peers.map(
          (p) => html`<tr><td>${p.peerIndex ?? "—"}</td><td>${addressLink(p.address)}</td><td>${p.roles.map((r) => badge(r, "info"))}${
            p.active ? "" : badge("left", "muted")
          }${p.excludedInRound !== null ? badge("excluded", "bad") : ""}</td><td>${p.reputation ?? "—"}</td><td>${
            p.updates.filter((u) => u.fate === "accepted").length
          } ✓ / ${p.updates.filter((u) => u.fate === "rejected").length} ✗</td><td>${p.verdictsSubmitted}</td><td>${p.aggregatesSubmitted}</td><td class="mono small multiaddr">${p.multiaddr}</td></tr>`,
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
    peerSection = html`<section class="card"><h2>Peer #${p.peerIndex ?? "?"}</h2><table class="kv">
<tr><th>Roles</th><td>${p.roles.map((r) => badge(r, "info"))}</td></tr>
<tr><th>Status</th><td>${(p.onChain?.active ?? p.active) ? badge("active", "ok") : badge("left", "muted")}${p.excludedInRound !== null ? html` ${badge(`excluded in round ${p.excludedInRound}`, "bad")}` : ""}</td></tr>
<tr><th>Reputation</th><td><strong>${p.onChain?.reputation ?? p.reputation ?? "—"}</strong></td></tr>
<tr><th>Multiaddr</th><td class="mono wrap">${p.multiaddr}</td></tr>
<tr><th>Public key</th><td class="mono wrap">${p.publicKey}</td></tr>
<tr><th>Registered in</th><td>${blockLink(p.registeredBlock)}</td></tr>
</table></section>
<section class="card"><h2>Reputation history</h2>${
      p.reputationHistory.length === 0
        ? empty("No reputation changes yet.")
        : html`<table class="list" id="reputation"><thead><tr><th>Round</th><th>Update</th><th>Score</th><th>Tx</th></tr></thead><tbody>${p.reputationHistory.map(
            (r) => html`<tr><td>${roundLink(r.round)}</td><td>${r.accepted ? badge("accepted", "ok") : badge("rejected", "bad")}</td><td>${r.oldScore} → <strong>${r.newScore}</strong></td><td>${txLink(r.txHash)}</td></tr>`,
          )}</tbody></table>`
    }</section>
<section class="card"><h2>Updates</h2>${
      p.updates.length === 0
        ? empty("This peer has committed no updates.")
        : html`<table class="list" id="updates"><thead><tr><th>Round</th><th>Commit</th><th>CID</th><th>Samples</th><th>Fate</th></tr></thead><tbody>${p.updates.map(
            (u) => html`<tr><td>${roundLink(u.round)}</td><td>#${u.commitIndex}</td><td>${cidLink(u.cid)}</td><td>${int(u.numSamples)}</td><td>${
              u.fate === "accepted" ? badge(u.fate, "ok") : u.fate === "pending" ? badge(u.fate, "muted") : badge(u.fate, "bad")
            }</td></tr>`,
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
${linkStats !== null ? html`<section class="card"><h2>Link statistics</h2>${valueHtml(linkStats)}</section>` : ""}`;
  return page({ title: "Live", status, body, active: "/live", scripts: ["/assets/chart.umd.js", "/assets/live.js"] });
}
