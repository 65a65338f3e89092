/**
 * Update compression and device profiles through the real roles on an in-process chain (Hardhat
 * EDR, the real FederatedTask) with an in-memory store: trainers commit q8 and (per device-tier
 * override) q4 updates; a peer low on battery skips the round without committing; verifiers decode
 * the compressed updates and accept them; cheaters who send a delta against another model, a format
 * the task does not allow, or garbage PFLC bytes are rejected with the reason.
 */
import { expect } from "chai";
import type { BrowserProvider, Contract } from "ethers";
import { CID } from "multiformats/cid";
import { auditRound } from "../../explorer/audit.ts";
import { auditIO, contractAuditChain } from "../../explorer/audit-io.ts";
import { MemoryModelStore } from "../../ipfs/memory-store.ts";
import { type TaskChain } from "../../node/chain/task-chain.ts";
import { compressUpdate, isCompressedUpdate } from "../../node/compression/codec.ts";
import { roundingSeed } from "../../node/compression/rounding.ts";
import { parseCompressionSpec } from "../../node/compression/spec.ts";
import { DeviceSession } from "../../node/devices/session.ts";
import { createLogger } from "../../node/lib/log.ts";
import type { Learner } from "../../node/ml/learner.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { deriveSeed, mulberry32 } from "../../node/ml/random.ts";
import type { ModelSpec } from "../../node/ml/types.ts";
import { encodeUpdate } from "../../node/protocol/index.ts";
import type { RoleContext, TrainerState } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { runTrainer } from "../../node/roles/trainer.ts";
import { computeVerdict, revealVerifier, runVerifier } from "../../node/roles/verifier.ts";
import { revealAggregator, runAggregator } from "../../node/roles/aggregator.ts";
import { RevealStore } from "../../node/roles/reveals.ts";
import { Phase } from "../../node/protocol/ids.ts";
import { deployInProcessTask } from "./in-process-task.ts";

const spec: ModelSpec = { ...modelSpecFor("mlp"), compression: parseCompressionSpec({ format: "q8", tiers: { "iot-board": "q4" } }) };
const D = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
const N = 100;

function fakeLearner(peer: number): Learner {
  return {
    backend: "none", trainSamples: N, validationSamples: 10,
    async train(global, opts) {
      const rng = mulberry32(deriveSeed(peer, opts.round));
      return { weights: Float32Array.from(global, (g) => g + (rng() - 0.5) * 0.01), samples: N, seconds: 0, loss: 0 };
    },
    async evaluate() { return { accuracy: 0.5, loss: 1 }; },
    dispose() {},
  };
}

describe("roles: compressed updates and device profiles (in-process chain)", function () {
  this.timeout(120_000);
  let provider: BrowserProvider;
  let contract: Contract;
  let chains: TaskChain[] = [];
  const store = new MemoryModelStore();
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const log = createLogger({ name: "compression-test", format: "json", level: "info", write: (line) => { const j = JSON.parse(line); events.push({ event: j.event, fields: j }); } });
  const ctxFor = async (i: number): Promise<RoleContext> => {
    const learner = fakeLearner(i);
    return {
      chain: chains[i], store, log, task: await chains[i].taskConfig(), spec, dataIndex: i, numPeers: 6,
      models: modelFetcher({ store, spec, log }), learner: async () => learner, now: () => Date.now() / 1000,
    };
  };
  const stateFor = (tier?: string, battery = 100): TrainerState => ({
    dpRoundsSpent: 0, budgetExhaustedLogged: false,
    ...(tier ? { device: { session: new DeviceSession({ tier, batteryPercent: battery }), epochs: 1 }, compression: { tier } } : {}),
  });

  before(async () => {
    const t = await deployInProcessTask(store, spec, 6, { rounds: 2 });
    provider = t.provider;
    contract = t.contract;
    chains = await t.registerPeers(6, log, { firstPort: 4101 });
    await t.start();
  });

  after(() => { for (const c of chains) c.close(); });

  it("commits the task's q8, the iot tier's q4 override, and skips a peer whose battery is low", async () => {
    const round = await chains[0].round(1);
    expect(await runTrainer(await ctxFor(0), round, stateFor())).to.equal(true);
    expect(await runTrainer(await ctxFor(1), round, stateFor("iot-board"))).to.equal(true);
    expect(await runTrainer(await ctxFor(2), round, stateFor("mid-phone", 10))).to.equal(false);
    expect(await chains[2].commitIndexOf(1, chains[2].account)).to.equal(null);
    const skip = events.find((e) => e.event === "round-skipped");
    expect(skip?.fields).to.include({ round: 1, reason: "battery-low", tier: "mid-phone" });
    const commits = await chains[0].commits(1, 2);
    const bytes = await Promise.all(commits.map((c) => store.get(c.cid.toString(), { timeoutMs: 1000 })));
    expect(bytes.every(isCompressedUpdate)).to.equal(true);
    expect(JSON.stringify(new TextDecoder().decode(bytes[0].subarray(10, 60)))).to.include("q8");
    expect(JSON.stringify(new TextDecoder().decode(bytes[1].subarray(10, 60)))).to.include("q4");
    // ≥ 3.5x smaller than a float32 update of the model
    expect(encodeUpdate(new Float32Array(D), spec).length / bytes[0].length).to.be.greaterThan(3.5);
    const committed = events.filter((e) => e.event === "committed");
    expect(committed.map((e) => e.fields.compression)).to.deep.equal(["q8", "q4"]);
    expect(Number(committed[1].fields.energyJ)).to.be.greaterThan(0);
  });

  it("verifiers decode and accept the compressed updates and reject the cheaters' with their reasons", async () => {
    const round = await chains[0].round(1);
    const global = await (await ctxFor(3)).models.get(round.globalModelCid!, { timeoutMs: 1000 });
    const honest = await fakeLearner(3).train(global, { round: 1 });
    // cheater 3: a q8 delta against another model (e.g. replayed from another task or round)
    const stale = compressUpdate(honest.weights, {
      format: "q8", base: { cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", weights: global }, spec,
      seed: roundingSeed(chains[3].contractAddress, 1, chains[3].account), chunkSize: 256, topkFraction: 0.1,
    });
    await chains[3].commitUpdate(1, CID.parse(await store.put(stale.bytes)), N);
    // cheater 4: a float32 update although the task allows only q8 and q4
    await chains[4].commitUpdate(1, CID.parse(await store.put(encodeUpdate(honest.weights, spec))), N);
    // cheater 5: PFLC magic followed by garbage
    await chains[5].commitUpdate(1, CID.parse(await store.put(new Uint8Array([0x50, 0x46, 0x4c, 0x43, 1, 0, 200, 0, 0, 0, 1, 2, 3]))), N);
    const verdict = await computeVerdict(await ctxFor(0), await chains[0].round(1), 5000);
    expect(verdict.accepted).to.deep.equal([true, true, false, false, false]);
    const reasons = verdict.rejections.map((r) => `${r.index}:${r.code}:${r.message}`);
    expect(reasons[0]).to.match(/^2:bad-encoding:.*not against this round's global model/);
    expect(reasons[1]).to.match(/^3:bad-encoding:.*format none is not one the task allows/);
    expect(reasons[2]).to.match(/^4:bad-encoding:.*truncated/);
  });

  it("the round finalizes on the decoded updates, and the audit reproduces it from chain + content alone", async () => {
    // training stays open for the trainer that skipped: close it by its deadline
    await provider.send("evm_increaseTime", [700]);
    await provider.send("evm_mine", []);
    await chains[0].advancePhase(1);
    await chains[0].selectCommittees(1);
    const pending = new RevealStore();
    for (let i = 0; i < 6; i++) await runVerifier(await ctxFor(i), await chains[i].round(1), 5000, pending);
    for (let i = 0; i < 6; i++) await revealVerifier(await ctxFor(i), await chains[i].round(1), 5000, pending);
    expect((await chains[0].round(1)).phase).to.equal(Phase.AggregateCommit);
    const cids = [];
    for (let i = 0; i < 6; i++) cids.push(await runAggregator(await ctxFor(i), await chains[i].round(1), 5000, pending));
    expect(new Set(cids).size).to.equal(1);
    for (let i = 0; i < 6; i++) await revealAggregator(await ctxFor(i), await chains[i].round(1), 5000, pending);
    const round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.Finalized);
    const io = auditIO(contractAuditChain(String(contract.target), contract.interface, provider), (cid) => store.get(cid, { timeoutMs: 1000 }));
    const audit = await auditRound(1, io);
    expect(audit.differences).to.deep.equal([]);
    expect(audit.ok).to.equal(true);
    expect(audit.globalCidRecomputed).to.equal(round.finalCid?.toString());
    expect(audit.commits.map((c) => c.acceptedRecomputed)).to.deep.equal([true, true, false, false, false]);
    expect(audit.commits[2].problem).to.match(/not against this round's global model/);
  });
});
