/**
 * The explorer against a real `hardhat node`, the real FederatedTask contract and real IPFS content
 * (two commit–reveal rounds driven by hand, see fixture.ts): API and pages — committees, verdict
 * commits and reveals (with a non-revealer), aggregate reveals, accepted/rejected masks, reputation
 * reasons, bans, a challenge — the audit (passing and failing), the decoded revert, not-found pages,
 * and the "chain unreachable" banner once the node is gone.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { banReasonText, INTERFACE_ABI_PATH, PHASE_ORDER, REPO_ROOT, reputationReasonText } from "../../explorer/abi.ts";
import { mainAudit } from "../../explorer/cli.ts";
import { startExplorerServer, type RunningExplorer } from "../../explorer/server.ts";
import { createExplorerService, type ExplorerSetup } from "../../explorer/setup.ts";
import { decodeWeights, weightsL2Norm } from "../../node/ml/codec.ts";
import { escapeHtml, html } from "../../explorer/html.ts";
import { createFixture, freePort, type Fixture } from "./fixture.ts";

interface Json {
  [key: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe("explorer: html escaping", () => {
  it("escapes interpolated text but keeps nested fragments", () => {
    const evil = `<script>alert("x")</script>`;
    expect(html`<p>${evil}</p>`.value).to.equal(`<p>${escapeHtml(evil)}</p>`);
    expect(html`<div>${html`<b>${"a&b"}</b>`}</div>`.value).to.equal("<div><b>a&amp;b</b></div>");
  });
});

describe("explorer: ABI", () => {
  it("the stored interface ABI still matches contracts/interfaces/IFederatedTask.sol", async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(path.join(os.tmpdir(), "peerfl-abi-"));
    try {
      const script = `const solc=require(${JSON.stringify(path.join(REPO_ROOT, "node_modules/solc"))});
const fs=require("fs");
const src=fs.readFileSync(${JSON.stringify(path.join(REPO_ROOT, "contracts/interfaces/IFederatedTask.sol"))},"utf8");
const out=JSON.parse(solc.compile(JSON.stringify({language:"Solidity",sources:{"I.sol":{content:src}},settings:{outputSelection:{"*":{"*":["abi"]}}}})));
process.stdout.write(JSON.stringify(out.contracts["I.sol"].IFederatedTask.abi));`;
      const file = path.join(dir, "gen.cjs");
      (await import("node:fs")).writeFileSync(file, script);
      const compiled = JSON.parse(execFileSync(process.execPath, [file], { maxBuffer: 1 << 24 }).toString());
      expect(JSON.parse(readFileSync(INTERFACE_ABI_PATH, "utf8"))).to.deep.equal(compiled);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("explorer: server on a real chain + IPFS", function () {
  this.timeout(120_000);
  let fx: Fixture;
  let setup: ExplorerSetup;
  let explorer: RunningExplorer;

  const get = async (p: string) => {
    const res = await fetch(explorer.url + p, { redirect: "manual" });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  const getJson = async (p: string, init?: RequestInit): Promise<{ status: number; body: Json }> => {
    const res = await fetch(explorer.url + p, init);
    return { status: res.status, body: (await res.json()) as Json };
  };

  before(async () => {
    fx = await createFixture();
    setup = createExplorerService({ rpcUrl: fx.chain.rpcUrl, contractAddress: fx.contractAddress, cidTimeoutMs: 3000 });
    explorer = await startExplorerServer(setup.service, { port: 0, pollMs: 500 });
  });

  after(async () => {
    await explorer?.close();
    await setup?.close();
    await fx?.stop();
  });

  it("reports the chain, the deployed contract and the task", async () => {
    const { body: status } = await getJson("/api/status");
    expect(status.chain.reachable).to.equal(true);
    expect(status.index.contractDeployed).to.equal(true);
    const { body: task } = await getJson("/api/task");
    expect(task.completed).to.equal(true);
    expect(task.config.modelSpecCid).to.equal(fx.specCid);
    expect(task.config.aggregatorQuorumBps).to.equal(6000);
    expect(task.admission).to.equal("allow-list");
    expect(task.peerCount).to.equal(4);
    expect(task.admittedCount).to.equal(5);
    expect(task.bannedCount).to.equal(3);
    expect(task.challenges.map((c: Json) => [c.id, c.round, c.status])).to.deep.equal([[0, 2, "upheld"]]);
    expect(task.bondTotals).to.deep.equal({ posted: "0", held: "0", refunded: "0", slashed: "0", claimableTotal: "0" });
    const page = await get("/");
    expect(page.status).to.equal(200);
    expect(page.text).to.contain("multi-krum");
    expect(page.text).to.contain("allow-list");
    expect(page.text).to.contain('id="challenges"');
  });

  it("lists both rounds with commits, verdict and aggregate commits/reveals, challenges and gas", async () => {
    const { body: rounds } = await getJson("/api/rounds");
    expect(rounds.map((r: Json) => [r.round, r.phase, r.commits, r.accepted, r.rejected, r.verdicts, r.verdictCommits, r.aggregates, r.aggregateCommits, r.challenges])).to.deep.equal([
      [2, "Finalized", 3, 2, 1, 3, 3, 3, 3, 1],
      [1, "Finalized", 3, 3, 0, 2, 3, 2, 2, 0],
    ]);
    const { body: r1 } = await getJson("/api/rounds/1");
    expect(r1.commits.map((c: Json) => c.cid)).to.deep.equal(fx.rounds[0].commitCids);
    expect(r1.commits.map((c: Json) => c.trainer)).to.deep.equal(fx.peers.map((p) => p.address));
    expect(r1.commits.map((c: Json) => c.numSamples)).to.deep.equal([100, 200, 300]);
    // Every phase of the protocol, in order, once; milestones between them.
    expect(r1.timeline.filter((t: Json) => t.kind === "phase").map((t: Json) => t.phase)).to.deep.equal([...PHASE_ORDER]);
    expect(PHASE_ORDER).to.include.members(["VerifyCommit", "VerifyReveal", "AggregateCommit", "AggregateReveal"]);
    expect(r1.timeline.filter((t: Json) => t.kind === "milestone").map((t: Json) => t.event)).to.deep.equal([
      "CommitteeSeedFixed", "CommitteesSelected", "AcceptedMaskComputed",
    ]);
    const finalized = r1.timeline.find((t: Json) => t.phase === "Finalized");
    expect(finalized.deadline - finalized.timestamp).to.equal(3600); // the challenge window
    expect(r1.finalCid).to.equal(fx.rounds[0].finalCid);
    expect(r1.acceptedMask).to.equal("0x7");
    expect(r1.rejectedMask).to.equal("0x0");
    expect(r1.revealCount).to.equal(2);
    expect(r1.accuracyBps).to.equal(9100); // integer mean of the two agreeing reveals 9100 and 9101
    expect(Number(r1.gasUsed)).to.be.greaterThan(0);
    expect(r1.txCount).to.be.greaterThanOrEqual(14);
    const { body: r2 } = await getJson("/api/rounds/2");
    expect(r2.verdicts[0].accepts).to.deep.equal([false, true, true]);
    expect(r2.acceptedIndices).to.deep.equal([1, 2]);
    expect(r2.rejectedIndices).to.deep.equal([0]);
    expect(r2.rejectedMask).to.equal("0x1");
    expect(r2.commits.map((c: Json) => [c.accepted, c.fate])).to.deep.equal([[false, "rejected"], [true, "accepted"], [true, "accepted"]]);
  });

  it("shows the committees: pools, seed block, who drew them and the members", async () => {
    const { body: r1 } = await getJson("/api/rounds/1");
    const c1 = r1.committees;
    const members = fx.peers.map((p, i) => ({ index: i, address: p.address }));
    expect(c1.seedBlock).to.equal(fx.rounds[0].seedBlock);
    expect(c1.seedFixedTx).to.equal(fx.rounds[0].txs.commit[2]); // the last commit closed training
    expect(c1.selected).to.equal(true);
    expect(c1.selectedTx).to.equal(fx.rounds[0].txs.select);
    expect(c1.selectedBy).to.deep.equal({ method: "selectCommittees", from: fx.deployer.address });
    expect(c1.seed).to.match(/^0x[0-9a-f]{64}$/);
    expect(c1.verifiers).to.deep.equal(members);
    expect(c1.aggregators).to.deep.equal(members);
    // The outcast (index 3) lost the aggregator role and was banned before the task started: in no pool.
    expect(c1.verifierPool).to.deep.equal(members);
    expect(c1.aggregatorPool).to.deep.equal(members);
    const { body: r2 } = await getJson("/api/rounds/2");
    expect(r2.committees.seedBlock).to.equal(fx.rounds[1].seedBlock);
    expect(r2.committees.selectedBy).to.deep.equal({ method: "commitVerdict", from: fx.peers[0].address });
    expect(r2.committees.selectedTx).to.equal(fx.rounds[1].txs.verdictCommit[0]);
    const page = await get("/round/1");
    expect(page.text).to.contain('id="committees"');
    expect(page.text).to.contain(`<a href="/block/${fx.rounds[0].seedBlock}">#${fx.rounds[0].seedBlock}</a>`);
    expect(page.text).to.contain("<code>selectCommittees</code>");
    const committee = page.text.slice(page.text.indexOf('id="verifier-committee"'), page.text.indexOf('id="aggregator-committee"'));
    for (const p of fx.peers) expect(committee).to.contain(`/address/${p.address}`);
    expect(committee).not.to.contain(fx.outcast.address);
  });

  it("shows verdict commits and reveals per verifier, with the revealed masks and the non-revealer", async () => {
    const { body: r1 } = await getJson("/api/rounds/1");
    expect(r1.verdicts.map((v: Json) => [v.verifier, v.committed, v.revealed, v.status, v.mask, v.agreesWithAccepted])).to.deep.equal([
      [fx.peers[0].address, true, true, "revealed", "0x7", true],
      [fx.peers[1].address, true, true, "revealed", "0x7", true],
      [fx.peers[2].address, true, false, "not revealed", null, null],
    ]);
    expect(fx.rounds[0].nonRevealer).to.equal(2);
    expect(r1.verdicts.map((v: Json) => v.commitTx)).to.deep.equal(fx.rounds[0].txs.verdictCommit);
    expect(r1.verdicts.slice(0, 2).map((v: Json) => v.revealTx)).to.deep.equal(fx.rounds[0].txs.verdictReveal);
    expect(r1.verdicts[2].accepts).to.equal(null);
    expect(r1.verdicts[2].commitment).to.match(/^0x[0-9a-f]{64}$/);
    const { body: r2 } = await getJson("/api/rounds/2");
    expect(r2.verdicts.map((v: Json) => [v.mask, v.agreesWithAccepted])).to.deep.equal([["0x6", true], ["0x6", true], ["0x7", false]]);
    const page = await get("/round/1");
    expect(page.text).to.contain('id="verdicts"');
    expect(page.text).to.contain('class="verdict-not-revealed"');
    expect(page.text).to.contain('title="committed, never revealed">?</td>');
  });

  it("shows aggregate commits and reveals: CID, agreement with the leader, = final", async () => {
    const { body: r1 } = await getJson("/api/rounds/1");
    expect(r1.aggregates.map((a: Json) => [a.aggregator, a.status, a.cid, a.agreesWithLeader, a.matchesFinal])).to.deep.equal([
      [fx.peers[0].address, "revealed", fx.rounds[0].finalCid, true, true],
      [fx.peers[1].address, "revealed", fx.rounds[0].finalCid, true, true],
      [fx.peers[2].address, "no commit", null, null, null],
    ]);
    const { body: r2 } = await getJson("/api/rounds/2");
    expect(r2.aggregates.map((a: Json) => [a.aggregator, a.cid, a.agreesWithLeader, a.matchesFinal])).to.deep.equal([
      [fx.peers[0].address, fx.rounds[1].finalCid, true, true],
      [fx.peers[1].address, fx.rounds[1].finalCid, true, true],
      [fx.peers[2].address, fx.rounds[1].honestCid, false, false],
    ]);
    expect(r2.aggregates.map((a: Json) => a.commitTx)).to.deep.equal(fx.rounds[1].txs.aggregateCommit);
    expect(r2.aggregates.map((a: Json) => a.revealTx)).to.deep.equal(fx.rounds[1].txs.aggregateReveal);
    const page = await get("/round/2");
    expect(page.text).to.contain('id="aggregates"');
    expect(page.text).to.contain("≠ final");
  });

  it("shows reputation changes with their reason names, the challenge, the bans it caused", async () => {
    const { body: r1 } = await getJson("/api/rounds/1");
    const byPeer = (r: Json, i: number) => r.reputation.filter((x: Json) => x.peer === fx.peers[i].address).map((x: Json) => [x.reason, x.reasonName, x.newScore]);
    expect(byPeer(r1, 2)).to.deep.equal([
      [0, reputationReasonText(0), 11],
      [4, reputationReasonText(4), 8], // committed a verdict, never revealed it
      [7, reputationReasonText(7), 5], // in the aggregator committee, never committed
    ]);
    const { body: r2 } = await getJson("/api/rounds/2");
    expect(byPeer(r2, 0).map((x: Json[]) => x[0])).to.deep.equal([1, 2, 5, 8]);
    expect(byPeer(r2, 2).map((x: Json[]) => x[0])).to.deep.equal([0, 3, 6]);
    expect(r2.challenges).to.have.length(1);
    const c = r2.challenges[0];
    expect([c.id, c.round, c.challenger, c.status, c.bond, c.slashed]).to.deep.equal([0, 2, fx.peers[2].address, "upheld", "0", "0"]);
    expect(c.raisedTx).to.equal(fx.challenge.raiseTx);
    expect(c.settledTx).to.equal(fx.challenge.settleTx);
    expect(c.banned).to.deep.equal([fx.peers[0].address, fx.peers[1].address]);
    expect(r2.bans.map((b: Json) => [b.peer, b.reason, b.reasonName])).to.deep.equal([
      [fx.peers[0].address, 2, banReasonText(2)],
      [fx.peers[1].address, 2, banReasonText(2)],
    ]);
    expect(r2.slashes).to.deep.equal([]); // allow-list mode: no bonds to slash
    expect(r2.timeline.filter((t: Json) => t.kind === "milestone").map((t: Json) => t.event)).to.include.members(["ChallengeRaised", "ChallengeSettled"]);
    const page = await get("/round/2");
    expect(page.text).to.contain('id="round-reputation"');
    expect(page.text).to.contain(reputationReasonText(8));
    expect(page.text).to.contain('id="challenges"');
    expect(page.text).to.contain(`banned: ${banReasonText(2)}`);
    expect((await get("/round/1")).text).to.contain(reputationReasonText(4));
  });

  it("renders the round page with the timeline, commit list, verdict matrix and audit button", async () => {
    const page = await get("/round/2");
    expect(page.status).to.equal(200);
    for (const cid of fx.rounds[1].commitCids) expect(page.text).to.contain(cid);
    expect(page.text).to.contain('id="verdict-matrix"');
    expect(page.text).to.contain('id="audit-button"');
    expect(page.text).to.contain("RoundFinalized");
    for (const phase of PHASE_ORDER) expect(page.text).to.match(new RegExp(`>${phase}</span> <code>(RoundStarted|PhaseAdvanced|RoundFinalized)</code>`));
    expect(page.text).to.contain("accepted 0x6 · rejected 0x1");
  });

  it("shows DP epsilon as \"off\" when the task runs without DP (dpClipNorm 0), not as 0", async () => {
    const { body } = await getJson("/api/rounds/1");
    expect(body.dpEnabled).to.equal(false);
    const page = await get("/round/1");
    expect(page.text).to.contain('DP epsilon (cumulative)</div><div class="value">off</div>');
    expect(page.text).not.to.match(/<td>0<\/td><td>(<span[^>]*>)?agrees/);
  });

  it("audits the honest round: same accepted mask, same final CID", async () => {
    const { status, body } = await getJson("/api/rounds/1/audit", { method: "POST" });
    expect(status).to.equal(200);
    expect(body.differences).to.deep.equal([]);
    expect(body.ok).to.equal(true);
    expect(body.acceptedMaskOnChain).to.equal("0x7");
    expect(body.acceptedMaskRecomputed).to.equal("0x7");
    expect(body.globalCidRecomputed).to.equal(fx.rounds[0].finalCid);
    // Only revealed masks are compared: the non-revealer has none.
    expect(body.verifiers.map((v: Json) => [v.verifier, v.acceptedMask, v.matchesRecomputed])).to.deep.equal([
      [fx.peers[0].address, "0x7", true],
      [fx.peers[1].address, "0x7", true],
    ]);
  });

  it("audits the corrupted round: reports the lying verdict majority and the wrong final CID", async () => {
    const { body } = await getJson("/api/rounds/2/audit", { method: "POST" });
    expect(body.ok).to.equal(false);
    expect(body.acceptedMaskOnChain).to.equal("0x6");
    expect(body.acceptedMaskRecomputed).to.equal("0x7");
    expect(body.globalCidOnChain).to.equal(fx.rounds[1].finalCid);
    // Over the on-chain accepted set {1, 2} the honest aggregate is what the fixture computed.
    expect(body.globalCidRecomputed).to.equal(fx.rounds[1].honestCid);
    expect(body.differences.join("\n")).to.match(/commit 0 .*rejected on chain, accepted by the recomputed/);
    expect(body.differences.join("\n")).to.contain(`on chain ${fx.rounds[1].finalCid}, recomputed ${fx.rounds[1].honestCid}`);
    // The lying majority's revealed masks differ from the recomputed verdict; the honest verifier's does not.
    expect(body.verifiers.map((v: Json) => [v.acceptedMask, v.matchesRecomputed])).to.deep.equal([["0x6", false], ["0x6", false], ["0x7", true]]);
  });

  it("peerfl audit exits 0 for a reproducing round, 1 for a corrupted one, 2 on usage errors", async () => {
    let out = "";
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (out += s) };
    expect(await mainAudit(["--round", "1", "--rpc", fx.chain.rpcUrl, "--contract", fx.contractAddress, "--json"], io)).to.equal(0);
    expect(JSON.parse(out).ok).to.equal(true);
    out = "";
    expect(await mainAudit(["--round", "2", "--rpc", fx.chain.rpcUrl, "--contract", fx.contractAddress], io)).to.equal(1);
    expect(out).to.contain("does NOT reproduce");
    expect(await mainAudit(["--rpc", fx.chain.rpcUrl], io)).to.equal(2);
    expect(await mainAudit(["--round", "zero"], io)).to.equal(2);
  });

  it("decodes a call with its events, and a mined revert with the contract's custom error", async () => {
    const { body: commit } = await getJson(`/api/txs/${fx.rounds[0].txs.commit[1]}`);
    expect(commit.method).to.equal("commitUpdate");
    expect(commit.args).to.deep.equal({ round: 1, cid: fx.rounds[0].commitCids[1], numSamples: 200 });
    expect(commit.events.map((e: Json) => e.name)).to.deep.equal(["UpdateCommitted"]);
    // The last commit closed training: it also fixed the committee seed and advanced the phase.
    const { body: closing } = await getJson(`/api/txs/${fx.rounds[0].txs.commit[2]}`);
    expect(closing.events.map((e: Json) => e.name)).to.deep.equal(["UpdateCommitted", "CommitteeSeedFixed", "PhaseAdvanced"]);
    const { body: reveal } = await getJson(`/api/txs/${fx.rounds[1].txs.aggregateReveal[2]}`);
    expect(reveal.method).to.equal("revealAggregate");
    expect(reveal.args.cid).to.equal(fx.rounds[1].honestCid);
    expect(reveal.events[0].name).to.equal("AggregateRevealed");
    const { body: failed } = await getJson(`/api/txs/${fx.failedTxHash}`);
    expect(failed.status).to.equal("failed");
    expect(failed.method).to.equal("commitAggregate");
    expect(failed.revert.name).to.equal("WrongRound");
    expect(failed.revert.args).to.deep.equal({ given: 1, current: 2 });
    const page = await get(`/tx/${fx.failedTxHash}`);
    expect(page.text).to.contain("WrongRound");
  });

  it("fetches a committed update from the peers' IPFS node and decodes layers, shapes and norms", async () => {
    const cid = fx.rounds[0].commitCids[2];
    const { status, body } = await getJson(`/api/cids/${cid}`);
    expect(status).to.equal(200);
    expect(body.kind).to.equal("weights");
    expect(body.matchesTaskSpec).to.equal(true);
    expect(body.layers.map((l: Json) => [l.name, l.shape])).to.deep.equal([
      ["dense/kernel", [4, 3]],
      ["dense/bias", [3]],
    ]);
    const raw = await fetch(`${explorer.url}/cid/${cid}/raw`);
    expect(raw.headers.get("content-type")).to.contain("application/octet-stream");
    const bytes = new Uint8Array(await raw.arrayBuffer());
    expect(body.size).to.equal(bytes.length);
    const weights = decodeWeights(bytes);
    expect(body.l2Norm).to.be.closeTo(weightsL2Norm(weights), 1e-9);
    expect(body.layers[1].l2Norm).to.be.closeTo(weightsL2Norm(weights.tensors[1].values), 1e-9);
    const { body: spec } = await getJson(`/api/cids/${fx.specCid}`);
    expect(spec.kind).to.equal("model-spec");
    expect(spec.uses.map((u: Json) => u.kind)).to.deep.equal(["model spec"]);
  });

  it("shows peers with admission, bans, revoked roles, bonds, reputation history and the fate of their updates", async () => {
    const { body: peers } = await getJson("/api/peers");
    expect(peers.map((p: Json) => [p.address, p.peerIndex, p.admitted, p.registered, p.roles, p.revokedRoles, p.banned?.reason ?? null])).to.deep.equal([
      [fx.peers[0].address, 0, true, true, ["trainer", "verifier", "aggregator"], [], 2],
      [fx.peers[1].address, 1, true, true, ["trainer", "verifier", "aggregator"], [], 2],
      [fx.peers[2].address, 2, true, true, ["trainer", "verifier", "aggregator"], [], null],
      [fx.outcast.address, 3, true, true, ["verifier"], ["aggregator"], 0],
      [fx.admittedOnly, null, true, false, [], [], null],
    ]);
    expect(peers[3].banned.reasonName).to.equal(banReasonText(0));
    expect(peers.map((p: Json) => p.active)).to.deep.equal([false, false, true, false, false]);
    expect(peers[2].verdictsNotRevealed).to.deep.equal([1]);
    expect(peers[2].aggregatesCommitted).to.equal(1);
    expect(peers[2].challengesRaised).to.deep.equal([0]);
    expect(peers[0].verifierCommittees).to.deep.equal([1, 2]);
    expect(peers[0].bond).to.deep.equal({ posted: "0", refunded: "0", slashed: "0", held: "0", claimed: "0", slashes: [] });
    const { body: peer0 } = await getJson(`/api/addresses/${fx.peers[0].address}`);
    expect(peer0.kind).to.equal("peer");
    expect(peer0.peer.updates.map((u: Json) => [u.round, u.fate])).to.deep.equal([
      [1, "accepted"],
      [2, "rejected"],
    ]);
    expect(peer0.peer.reputationHistory.map((r: Json) => [r.round, r.reason, r.newScore])).to.deep.equal([
      [1, 0, 11], [1, 2, 12], [1, 5, 13], [2, 1, 10], [2, 2, 11], [2, 5, 12], [2, 8, 9],
    ]);
    expect(peer0.peer.onChain.reputation).to.equal(9);
    expect(peer0.peer.onChain.active).to.equal(false);
    expect(peer0.peer.status).to.deep.equal({ admitted: true, registered: true, banned: true, revokedRoles: 0, bond: "0", claimable: "0" });
    const page = await get(`/address/${fx.peers[0].address}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('id="reputation"');
    expect(page.text).to.contain(`banned: ${banReasonText(2)}`);
    expect(page.text).to.contain(reputationReasonText(8));
    const outcast = await getJson(`/api/addresses/${fx.outcast.address}`);
    expect(outcast.body.peer.status).to.include({ banned: true, revokedRoles: 4 });
    const admitted = await getJson(`/api/addresses/${fx.admittedOnly}`);
    expect(admitted.status).to.equal(200);
    expect(admitted.body.kind).to.equal("peer");
    expect(admitted.body.peer.status).to.include({ admitted: true, registered: false, banned: false });
    const list = await get("/peers");
    expect(list.text).to.contain('id="peers"');
    expect(list.text).to.contain(`banned: ${banReasonText(0)}`);
    expect(list.text).to.contain("<s>aggregator</s>");
    expect(list.text).to.contain("not registered");
    expect(list.text).to.contain("1 not revealed");
  });

  it("search leads to blocks, transactions, addresses, rounds and CIDs", async () => {
    const loc = async (q: string) => (await get(`/search?q=${encodeURIComponent(q)}`)).headers.get("location");
    expect(await loc("round 2")).to.equal("/round/2");
    expect(await loc("3")).to.equal("/block/3");
    expect(await loc(fx.failedTxHash)).to.equal(`/tx/${fx.failedTxHash}`);
    expect(await loc(fx.peers[1].address.toLowerCase())).to.equal(`/address/${fx.peers[1].address}`);
    expect(await loc(fx.rounds[0].finalCid)).to.equal(`/cid/${fx.rounds[0].finalCid}`);
    expect((await get("/search?q=nonsense")).status).to.equal(404);
  });

  it("answers unknown blocks, txs, rounds, addresses and CIDs with a clear 404 page", async () => {
    const unknownCid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    const cases: [string, RegExp][] = [
      ["/block/999999", /block not found/],
      [`/tx/0x${"ab".repeat(32)}`, /transaction not found/],
      ["/round/99", /round not found/],
      ["/round/abc", /round not found/],
      [`/address/${Wallet.createRandom().address}`, /address not found/],
      [`/cid/${unknownCid}`, /CID not found/],
      ["/cid/not-a-cid", /CID not found/],
      ["/no/such/page", /page not found/],
    ];
    for (const [p, pattern] of cases) {
      const res = await get(p);
      expect(res.status, p).to.equal(404);
      expect(res.text, p).to.match(pattern);
      expect(res.text, p).to.contain("<!doctype html>");
    }
    const api = await getJson("/api/rounds/42");
    expect(api.status).to.equal(404);
    expect(api.body.error).to.equal("not-found");
  });

  it("serves the live view: Chart.js from node_modules, stats per round, server-sent block events", async () => {
    const live = await get("/live");
    expect(live.status).to.equal(200);
    expect(live.text).to.contain("/assets/chart.umd.js");
    const chartJs = await get("/assets/chart.umd.js");
    expect(chartJs.status).to.equal(200);
    expect(chartJs.text.length).to.be.greaterThan(100_000);
    const { body: stats } = await getJson("/api/stats");
    expect(stats.rounds.map((r: Json) => [r.round, r.accepted, r.rejected, r.undecided, r.verdictReveals, r.verdictsNotRevealed, r.challenges])).to.deep.equal([
      [1, 3, 0, 0, 2, 1, 0],
      [2, 2, 1, 0, 3, 0, 1],
    ]);
    expect(stats.rounds[0].accuracy).to.be.greaterThan(90);
    // A new block reaches SSE subscribers.
    const controller = new AbortController();
    const res = await fetch(`${explorer.url}/api/events`, { signal: controller.signal });
    const reader = res.body!.getReader();
    const receipt = await fx.deployer.sendTransaction({ to: fx.deployer.address, value: 1n }).then((t) => t.wait());
    const wanted = `"number":${receipt!.blockNumber},`;
    let received = "";
    while (!received.includes(wanted)) {
      const { value, done } = await reader.read();
      if (done) break;
      received += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(received).to.contain(`event: block\ndata: {${wanted}`);
  });

  it("shows an empty state for an address without a contract", async () => {
    const other = createExplorerService({ rpcUrl: fx.chain.rpcUrl, contractAddress: Wallet.createRandom().address });
    const running = await startExplorerServer(other.service, { port: 0 });
    try {
      const res = await fetch(running.url + "/");
      const text = await res.text();
      expect(res.status).to.equal(200);
      expect(text).to.contain("No contract deployed");
      expect(text).to.contain("No rounds yet");
    } finally {
      await running.close();
      await other.close();
    }
  });

  it("keeps serving with an 'IPFS unreachable' banner when the peers' IPFS node goes away", async () => {
    // Round 2's (wrong) final model is referenced on chain but the explorer never fetched it.
    await fx.store.stop();
    const missing = await get(`/cid/${fx.rounds[1].finalCid}`);
    expect(missing.status).to.equal(404);
    expect(missing.text).to.contain("referenced on chain");
    const page = await get("/rounds");
    expect(page.status).to.equal(200);
    expect(page.text).to.contain("IPFS unreachable");
    expect((await getJson("/api/status")).body.ipfs.reachable).to.equal(false);
  });

  it("keeps serving with a 'chain unreachable' banner when the RPC node goes away", async () => {
    const deadPort = await freePort();
    const other = createExplorerService({ rpcUrl: `http://127.0.0.1:${deadPort}`, contractAddress: fx.contractAddress });
    const running = await startExplorerServer(other.service, { port: 0 });
    try {
      const res = await fetch(running.url + "/rounds");
      expect(res.status).to.equal(200);
      expect(await res.text()).to.contain("chain unreachable");
    } finally {
      await running.close();
      await other.close();
    }
    // Now the fixture's node itself goes away: the explorer keeps its index and says so.
    await fx.chain.stop();
    const page = await get("/round/1");
    expect(page.status).to.equal(200);
    expect(page.text).to.contain("chain unreachable");
    expect(page.text).to.contain(fx.rounds[0].finalCid);
  });
});
