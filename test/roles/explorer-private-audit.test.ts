/**
 * The explorer's web audit of a PRIVATE round (secure aggregation), browser-free: a private round
 * with six peers (one drops after setup, one commits and never reveals) is driven through the real
 * role code on Hardhat's in-process EDR chain with the real FederatedTask and SecureAggregation
 * contracts; the explorer server (`--secagg`) reads that chain through a loopback JSON-RPC bridge
 * and the round's content from the same in-memory store. POST /api/rounds/1/audit must recompute
 * the sum from masked updates + revealed shares (explorer/audit-private.ts) and match the final CID
 * bit for bit, returning only the transcript's summary, never an update. The same audit against a
 * content store that serves one masked update with one word changed must fail and say why.
 */
import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { BrowserProvider, Contract } from "ethers";
import { x25519 } from "@noble/curves/ed25519.js";
import { MemoryModelStore } from "../../ipfs/memory-store.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";
import { type TaskChain } from "../../node/chain/task-chain.ts";
import { createLogger } from "../../node/lib/log.ts";
import type { Learner } from "../../node/ml/learner.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { Phase } from "../../node/protocol/index.ts";
import { revealAggregator, runAggregator } from "../../node/roles/aggregator.ts";
import type { RoleContext } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { RevealStore } from "../../node/roles/reveals.ts";
import { revealVerifier, runVerifier } from "../../node/roles/verifier.ts";
import { deploySecureAggregation, secAggWriter } from "../../node/secagg/chain.ts";
import type { SecAggConfig } from "../../node/secagg/index.ts";
import { revealPrivateShares, runPrivateTrainer, type SecAggRoleContext } from "../../node/secagg/roles.ts";
import { federatedTaskInterface } from "../../explorer/abi.ts";
import { ChainClient } from "../../explorer/chain-client.ts";
import { ExplorerContent } from "../../explorer/content.ts";
import { startExplorerServer, type RunningExplorer } from "../../explorer/server.ts";
import { ExplorerService } from "../../explorer/service.ts";
import { deployInProcessTask, driftLearner } from "./in-process-task.ts";

const spec = modelSpecFor("mlp");
const log = createLogger({ name: "explorer-private-test", level: process.env.PRIVATE_AUDIT_DEBUG ? "info" : "error", write: (l: string) => { if (process.env.PRIVATE_AUDIT_DEBUG) process.stderr.write(l + "\n"); } });
const D = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
const PEERS = 6;
const DROPS_AFTER_SETUP = 4;
const NEVER_REVEALS = 5;
const config: SecAggConfig = { range: 500, scaleBits: 14, neighbours: 6, threshold: 3, noiseStd: 0 };

const fakeLearner = (peer: number, fail: boolean): Learner => driftLearner(peer, D, { samples: 400 + 31 * peer, fail });

/** JSON-RPC over HTTP on 127.0.0.1 for the in-process chain (single and batched requests), so the explorer reads it like any node. */
async function rpcBridge(provider: BrowserProvider): Promise<{ url: string; close(): Promise<void> }> {
  const answer = async (req: { id: unknown; method: string; params?: unknown[] }) => {
    try {
      return { jsonrpc: "2.0", id: req.id, result: await provider.send(req.method, req.params ?? []) };
    } catch (e) {
      const err = e as { error?: { code?: number; message?: string; data?: unknown }; message?: string };
      return { jsonrpc: "2.0", id: req.id, error: { code: err.error?.code ?? -32000, message: err.error?.message ?? err.message ?? String(e), data: err.error?.data } };
    }
  };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", async () => {
      const parsed = JSON.parse(body);
      const out = Array.isArray(parsed) ? await Promise.all(parsed.map(answer)) : await answer(parsed);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe("explorer: web audit of a private round (secure aggregation)", function () {
  this.timeout(300_000);
  let provider: BrowserProvider;
  let contract: Contract;
  let secaggAddress: string;
  let chains: TaskChain[] = [];
  let store: MemoryModelStore;
  let bridge: Awaited<ReturnType<typeof rpcBridge>>;
  const running: { explorer: RunningExplorer; service: ExplorerService }[] = [];
  let finalCid = "";
  let maskedCid = "";

  /** An explorer server over the bridge whose content comes from `content`. */
  async function explorerOver(content: ModelStore): Promise<RunningExplorer> {
    const service = new ExplorerService(new ChainClient(bridge.url), federatedTaskInterface(), await contract.getAddress(), new ExplorerContent("memory", async () => content), { secagg: secaggAddress, cidTimeoutMs: 2000 });
    await service.refresh();
    const explorer = await startExplorerServer(service, { port: 0, pollMs: 60_000 });
    running.push({ explorer, service });
    return explorer;
  }

  before(async () => {
    store = new MemoryModelStore();
    const t = await deployInProcessTask(store, spec, PEERS, { rounds: 2 });
    provider = t.provider;
    contract = t.contract;
    const secrets = Array.from({ length: PEERS }, () => x25519.utils.randomSecretKey());
    chains = await t.registerPeers(PEERS, log, { publicKeyOf: (i: number) => "0x" + Buffer.from(x25519.getPublicKey(secrets[i])).toString("hex") });
    secaggAddress = await deploySecureAggregation(await contract.getAddress(), config, 5000, t.deployer, log);
    const sa: SecAggRoleContext[] = [];
    for (let i = 0; i < PEERS; i++) sa.push({ chain: secAggWriter(secaggAddress, (await t.connFor(i + 1)).signer, log), config, secretKey: secrets[i] });
    await t.start();
    const task = await chains[0].taskConfig();
    const ctx = (i: number): RoleContext => {
      const learner = fakeLearner(i, i === DROPS_AFTER_SETUP);
      return { chain: chains[i], store, log, task, spec, dataIndex: i, numPeers: PEERS, secagg: sa[i], models: modelFetcher({ store, spec, log }), learner: async () => learner, now: () => Date.now() / 1000 };
    };
    let round = await chains[0].round(1);
    await Promise.allSettled(Array.from({ length: PEERS }, (_, i) => runPrivateTrainer(ctx(i), round, { dpRoundsSpent: 0, budgetExhaustedLogged: false })));
    await provider.send("evm_increaseTime", [601]);
    await chains[0].advancePhase(1);
    round = await chains[0].round(1);
    const survivors = [0, 1, 2, 3];
    for (const i of survivors) await revealPrivateShares(ctx(i), round, 5000);
    await chains[0].selectCommittees(1);
    const pending = new RevealStore();
    const close = async (phase: number) => {
      round = await chains[0].round(1);
      if (round.phase === phase) { await provider.send("evm_increaseTime", [601]); await chains[0].advancePhase(1); round = await chains[0].round(1); }
    };
    for (const i of survivors) await runVerifier(ctx(i), round, 5000, pending);
    await close(Phase.VerifyCommit);
    for (const i of survivors) await revealVerifier(ctx(i), round, 5000, pending);
    await close(Phase.VerifyReveal);
    for (const i of survivors) await runAggregator(ctx(i), round, 5000, pending);
    await close(Phase.AggregateCommit);
    for (const i of survivors) await revealAggregator(ctx(i), round, 5000, pending);
    await close(Phase.AggregateReveal);
    expect(round.phase).to.equal(Phase.Finalized);
    finalCid = round.finalCid!.toString();
    maskedCid = (await chains[0].commits(1, 1))[0].cid.toString();
    bridge = await rpcBridge(provider);
  });

  after(async () => {
    for (const r of running) { await r.explorer.close(); await r.service.client.close(); }
    await bridge?.close();
    for (const c of chains) c.close();
  });

  it("recomputes the sum from masked updates + revealed shares and matches the final CID, showing no update", async () => {
    const explorer = await explorerOver(store);
    const res = await fetch(`${explorer.url}/api/rounds/1/audit`, { method: "POST" });
    expect(res.status).to.equal(200);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.differences).to.deep.equal([]);
    expect(body.ok).to.equal(true);
    expect(body.globalCidOnChain).to.equal(finalCid);
    expect(body.globalCidRecomputed).to.equal(finalCid);
    expect(body.private.secagg.toLowerCase()).to.equal(secaggAddress.toLowerCase());
    expect(body.private.inSum).to.have.length(PEERS - 1);
    expect(body.private.secrets.find((s: { owner: number }) => s.owner === DROPS_AFTER_SETUP).secret).to.equal("ephemeral");
    expect(body.private.secrets.find((s: { owner: number }) => s.owner === NEVER_REVEALS).secret).to.equal("self");
    // Only a summary: an update of this model is ~400 kB (101,770 words); the whole answer is a few kB.
    expect(text.length).to.be.below(20_000);
    // The round page offers the audit (the browser script renders the private section from this JSON).
    const page = await (await fetch(`${explorer.url}/round/1`)).text();
    expect(page).to.contain('id="audit-button"');
    const script = await (await fetch(`${explorer.url}/assets/app.js`)).text();
    expect(script).to.contain("privateSum(r.private)");
  });

  it("fails, saying why, when a masked update served to it differs by one word", async () => {
    const tampered = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "get") return async (cid: string, o?: unknown) => {
          const bytes = await target.get(cid, o as never);
          if (cid !== maskedCid) return bytes;
          const out = Uint8Array.from(bytes);
          out[out.length - 1] ^= 1; // one bit of the last word: still a canonical masked update
          return out;
        };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    }) as unknown as ModelStore;
    const explorer = await explorerOver(tampered);
    const body = await (await fetch(`${explorer.url}/api/rounds/1/audit`, { method: "POST" })).json();
    expect(body.ok).to.equal(false);
    expect(body.globalCidRecomputed).to.not.equal(finalCid);
    expect(body.differences.join("\n")).to.match(/final global model: on chain .* recomputed from the unmasked sum/);
  });
});
