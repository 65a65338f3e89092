/**
 * The explorer against a real `hardhat node`, the real FederatedTask contract and real IPFS content
 * (two rounds driven by hand, see fixture.ts): API and pages, the audit (passing and failing), the
 * decoded revert, not-found pages, and the "chain unreachable" banner once the node is gone.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { INTERFACE_ABI_PATH, REPO_ROOT } from "../../explorer/abi.ts";
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
    expect(task.peerCount).to.equal(3);
    const page = await get("/");
    expect(page.status).to.equal(200);
    expect(page.text).to.contain("multi-krum");
  });

  it("lists both rounds with commits, verdicts, aggregates and gas", async () => {
    const { body: rounds } = await getJson("/api/rounds");
    expect(rounds.map((r: Json) => [r.round, r.phase, r.commits, r.accepted])).to.deep.equal([
      [2, "Finalized", 3, 2],
      [1, "Finalized", 3, 3],
    ]);
    const { body: r1 } = await getJson("/api/rounds/1");
    expect(r1.commits.map((c: Json) => c.cid)).to.deep.equal(fx.rounds[0].commitCids);
    expect(r1.commits.map((c: Json) => c.trainer)).to.deep.equal(fx.peers.map((p) => p.address));
    expect(r1.commits.map((c: Json) => c.numSamples)).to.deep.equal([100, 200, 300]);
    expect(r1.timeline.map((t: Json) => t.phase)).to.deep.equal(["Training", "Verification", "Aggregation", "Finalized"]);
    expect(r1.verdicts).to.have.length(3);
    expect(r1.finalCid).to.equal(fx.rounds[0].finalCid);
    expect(r1.aggregates.map((a: Json) => a.agreesWithLeader)).to.deep.equal([true, true]);
    expect(r1.accuracyBps).to.equal(9100); // integer mean of the two agreeing submissions 9100 and 9101
    expect(Number(r1.gasUsed)).to.be.greaterThan(0);
    expect(r1.txCount).to.be.greaterThanOrEqual(8);
    const { body: r2 } = await getJson("/api/rounds/2");
    expect(r2.verdicts[0].accepts).to.deep.equal([false, true, true]);
    expect(r2.acceptedIndices).to.deep.equal([1, 2]);
    expect(r2.commits[0].accepted).to.equal(false);
  });

  it("renders the round page with the timeline, commit list, verdict matrix and audit button", async () => {
    const page = await get("/round/2");
    expect(page.status).to.equal(200);
    for (const cid of fx.rounds[1].commitCids) expect(page.text).to.contain(cid);
    expect(page.text).to.contain('id="verdict-matrix"');
    expect(page.text).to.contain('id="audit-button"');
    expect(page.text).to.contain("RoundFinalized");
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
    const { body: failed } = await getJson(`/api/txs/${fx.failedTxHash}`);
    expect(failed.status).to.equal("failed");
    expect(failed.method).to.equal("submitAggregate");
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

  it("shows peers with roles, reputation history and the fate of their updates", async () => {
    const { body: peers } = await getJson("/api/peers");
    expect(peers.map((p: Json) => p.roles)).to.deep.equal([
      ["trainer", "verifier", "aggregator"],
      ["trainer", "verifier", "aggregator"],
      ["trainer", "verifier", "aggregator"],
    ]);
    const { body: peer0 } = await getJson(`/api/addresses/${fx.peers[0].address}`);
    expect(peer0.kind).to.equal("peer");
    expect(peer0.peer.updates.map((u: Json) => [u.round, u.fate])).to.deep.equal([
      [1, "accepted"],
      [2, "rejected"],
    ]);
    expect(peer0.peer.reputationHistory.map((r: Json) => r.newScore)).to.deep.equal([11, 8]);
    expect(peer0.peer.onChain.reputation).to.equal(8);
    const page = await get(`/address/${fx.peers[0].address}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('id="reputation"');
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
    expect(stats.rounds.map((r: Json) => [r.round, r.accepted, r.rejected])).to.deep.equal([
      [1, 3, 0],
      [2, 2, 1],
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
