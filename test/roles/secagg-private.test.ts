/**
 * Private mode (secure aggregation) through the real role code, on an in-process chain (Hardhat's
 * EDR: the real FederatedTask and SecureAggregation contracts) and an in-memory content store.
 * Six peers with real X25519 long-term keys: peer 4 posts setup and drops before committing, peer 5
 * commits and vanishes before revealing. The survivors reveal, the verifiers unmask the candidate
 * aggregate and accept it, the aggregators commit its CID, the round finalizes — and both the audit
 * (explorer/audit-private.ts) and a direct recomputation from the plain quantized updates give the
 * same CID bit for bit.
 */
import { expect } from "chai";
import type { BrowserProvider, Contract } from "ethers";
import { x25519 } from "@noble/curves/ed25519.js";
import { MemoryModelStore } from "../../ipfs/memory-store.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";
import { type TaskChain } from "../../node/chain/task-chain.ts";
import { createLogger } from "../../node/lib/log.ts";
import type { Learner } from "../../node/ml/learner.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { encodeUpdate, Phase, updateCid } from "../../node/protocol/index.ts";
import { revealAggregator, runAggregator } from "../../node/roles/aggregator.ts";
import type { RoleContext } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { RevealStore } from "../../node/roles/reveals.ts";
import { revealVerifier, runVerifier } from "../../node/roles/verifier.ts";
import { deploySecureAggregation, secAggWriter } from "../../node/secagg/chain.ts";
import { applySum, quantize, weightedDelta, type SecAggConfig } from "../../node/secagg/index.ts";
import { revealPrivateShares, runPrivateTrainer, type SecAggRoleContext } from "../../node/secagg/roles.ts";
import { auditRound } from "../../explorer/audit.ts";
import { auditIO, contractAuditChain } from "../../explorer/audit-io.ts";
import { contractPrivateAudit, type PrivateAuditResult } from "../../explorer/audit-private.ts";
import { deployInProcessTask, driftLearner } from "./in-process-task.ts";

const spec = modelSpecFor("mlp");
const log = createLogger({ name: "secagg-roles-test", level: "error", write: () => {} });
const D = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
const PEERS = 6;
const DROPS_BEFORE_COMMIT = 4;
const VANISHES_AFTER_COMMIT = 5;
const config: SecAggConfig = { range: 500, scaleBits: 14, neighbours: 6, threshold: 3, noiseStd: 0 };

const fakeLearner = (peer: number, failTraining = false): Learner => driftLearner(peer, D, { samples: 500 + 37 * peer, fail: failTraining });

describe("private mode: the roles on an in-process chain", function () {
  this.timeout(300_000);
  let provider: BrowserProvider;
  let contract: Contract;
  let secaggAddress: string;
  let chains: TaskChain[] = [];
  const secrets: Uint8Array[] = [];
  let store: MemoryModelStore;
  const saCtx: SecAggRoleContext[] = [];

  const ctxFor = (i: number, task: Awaited<ReturnType<TaskChain["taskConfig"]>>, o: { drop?: boolean; peerStore?: ModelStore } = {}): RoleContext => {
    const learner = fakeLearner(i, o.drop ?? i === DROPS_BEFORE_COMMIT);
    const st = o.peerStore ?? store;
    return {
      chain: chains[i], store: st, log, task, spec, dataIndex: i, numPeers: PEERS, secagg: saCtx[i],
      models: modelFetcher({ store: st, spec, log }), learner: async () => learner, now: () => Date.now() / 1000,
    };
  };

  before(async () => {
    store = new MemoryModelStore();
    const t = await deployInProcessTask(store, spec, PEERS, { rounds: 2 });
    provider = t.provider;
    contract = t.contract;
    for (let i = 0; i < PEERS; i++) secrets.push(x25519.utils.randomSecretKey());
    chains = await t.registerPeers(PEERS, log, { publicKeyOf: (i: number) => "0x" + Buffer.from(x25519.getPublicKey(secrets[i])).toString("hex") });
    secaggAddress = await deploySecureAggregation(await contract.getAddress(), config, 5000, t.deployer, log);
    for (let i = 0; i < PEERS; i++) saCtx.push({ chain: secAggWriter(secaggAddress, (await t.connFor(i + 1)).signer, log), config, secretKey: secrets[i] });
    await t.start();
  });

  after(() => { for (const c of chains) c.close(); });

  it("finalizes a round with a dropout before commit and one after, and the audit reproduces the CID", async () => {
    const task = await chains[0].taskConfig();
    let round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.Training);
    // Every trainer at once: each posts setup, trains, waits for its neighbours' setups, masks, commits.
    const outcomes = await Promise.allSettled(Array.from({ length: PEERS }, (_, i) => runPrivateTrainer(ctxFor(i, task), round, { dpRoundsSpent: 0, budgetExhaustedLogged: false })));
    for (let i = 0; i < PEERS; i++) expect(outcomes[i].status, `peer ${i}`).to.equal(i === DROPS_BEFORE_COMMIT ? "rejected" : "fulfilled");
    const sa = saCtx[0].chain;
    expect((await sa.roundState(1)).setupMask).to.equal((1n << BigInt(PEERS)) - 1n);
    round = await chains[0].round(1);
    expect(round.commitCount).to.equal(PEERS - 1);
    // Masked updates on IPFS are not weights files.
    const commits = await chains[0].commits(1, round.commitCount);
    expect(new TextDecoder().decode((await store.get(commits[0].cid.toString())).subarray(0, 4))).to.equal("PFSM");

    // Training closes at its deadline (peer 4 never commits).
    await provider.send("evm_increaseTime", [601]);
    await chains[0].advancePhase(1);
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.VerifyCommit);
    const survivors = [0, 1, 2, 3];
    for (const i of survivors) expect(await revealPrivateShares(ctxFor(i, task), round, 5000)).to.equal(true);
    expect(await revealPrivateShares(ctxFor(0, task), round, 5000), "once per round").to.equal(false);

    await chains[0].selectCommittees(1);
    const pending = new RevealStore();
    const masks = [];
    for (const i of survivors) masks.push(await runVerifier(ctxFor(i, task), round, 5000, pending));
    const inSum = commits.reduce((m, c) => m | (1n << BigInt(c.index)), 0n);
    for (const m of masks) expect(m, "every commit of a setup poster accepted").to.equal(inSum);
    // Peers 4 and 5 are in the committee (size 0 = every eligible verifier) but gone: windows close at their deadlines.
    const closeWindow = async (phase: number) => {
      round = await chains[0].round(1);
      if (round.phase !== phase) return;
      await provider.send("evm_increaseTime", [601]);
      await chains[0].advancePhase(1);
      round = await chains[0].round(1);
    };
    await closeWindow(Phase.VerifyCommit);
    expect(round.phase).to.equal(Phase.VerifyReveal);
    for (const i of survivors) await revealVerifier(ctxFor(i, task), round, 5000, pending);
    await closeWindow(Phase.VerifyReveal);
    expect(round.phase).to.equal(Phase.AggregateCommit);
    expect(round.acceptedMask).to.equal(inSum);
    const cids = [];
    for (const i of survivors) cids.push(await runAggregator(ctxFor(i, task), round, 5000, pending));
    expect(new Set(cids).size).to.equal(1);
    await closeWindow(Phase.AggregateCommit);
    for (const i of survivors) await revealAggregator(ctxFor(i, task), round, 5000, pending);
    await closeWindow(Phase.AggregateReveal);
    expect(round.phase).to.equal(Phase.Finalized);
    expect(round.finalCid?.toString()).to.equal(cids[0]);

    // The sum is the sum of the plain quantized updates: recompute it without any mask.
    const fetcher = modelFetcher({ store, spec, log });
    const global = await fetcher.get(round.globalModelCid!, { timeoutMs: 1000 });
    const sum = new Uint32Array(D);
    let total = 0;
    for (let i = 0; i < PEERS; i++) {
      if (i === DROPS_BEFORE_COMMIT) continue;
      const u = await fakeLearner(i).train(global, { round: 1 } as never);
      const q = quantize(weightedDelta(u.weights, global, u.samples), config).values;
      for (let k = 0; k < D; k++) sum[k] = (sum[k] + q[k]) >>> 0;
      total += u.samples;
    }
    const plain = applySum(global, sum, total, config.scaleBits);
    expect((await updateCid(encodeUpdate(plain, spec))).toString()).to.equal(cids[0]);

    // The audit, from chain + store alone.
    const io = auditIO(contractAuditChain(await contract.getAddress(), contract.interface, provider), (cid) => store.get(cid));
    const audit = (await auditRound(1, { ...io, secagg: contractPrivateAudit(secaggAddress, await contract.getAddress(), contract.interface, provider) })) as PrivateAuditResult;
    expect(audit.differences).to.deep.equal([]);
    expect(audit.ok).to.equal(true);
    expect(audit.globalCidRecomputed).to.equal(cids[0]);
    expect(audit.private.secrets.find((s) => s.owner === DROPS_BEFORE_COMMIT)?.secret).to.equal("ephemeral");
    expect(audit.private.secrets.find((s) => s.owner === VANISHES_AFTER_COMMIT)?.secret).to.equal("self");
  });

  it("a peer that commits a malformed masked update makes the round fail, named, instead of unmasking a wrong sum", async () => {
    const task = await chains[0].taskConfig();
    let round = await chains[0].round(2);
    expect(round.phase).to.equal(Phase.Training);
    // Peer 5 masks honestly, then publishes its masked update with one header byte changed.
    const cheatStore = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "put") return async (b: Uint8Array, o?: unknown) => {
          const isMasked = new TextDecoder().decode(b.subarray(0, 4)) === "PFSM";
          const out = isMasked ? Uint8Array.from(b) : b;
          if (isMasked) out[5] = 1;
          return target.put(out, o as never);
        };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    }) as unknown as ModelStore;
    const outcomes = await Promise.allSettled(Array.from({ length: PEERS }, (_, i) =>
      runPrivateTrainer(ctxFor(i, task, { drop: false, peerStore: i === 5 ? cheatStore : undefined }), round, { dpRoundsSpent: 0, budgetExhaustedLogged: false })));
    expect(outcomes.every((o) => o.status === "fulfilled")).to.equal(true);
    round = await chains[0].round(2);
    expect(round.phase, "every trainer committed: training closed early").to.equal(Phase.VerifyCommit);
    for (let i = 0; i < PEERS; i++) await revealPrivateShares(ctxFor(i, task), round, 5000);
    await chains[0].selectCommittees(2);
    const pending = new RevealStore();
    // The verifiers cannot unmask (the budget ends quickly: a short verify window for this check).
    const short = { ...round, phaseDeadline: Math.floor(Date.now() / 1000) + 8 };
    for (let i = 0; i < PEERS; i++) expect(await runVerifier(ctxFor(i, task), short, 2000, pending)).to.equal(0n);
    const audit = await auditRound(2, { ...auditIO(contractAuditChain(await contract.getAddress(), contract.interface, provider), (cid) => store.get(cid)), secagg: contractPrivateAudit(secaggAddress, await contract.getAddress(), contract.interface, provider) });
    expect(audit.ok).to.equal(false); // not finalized, and nothing to reproduce
    round = await chains[0].round(2);
    for (let i = 0; i < PEERS; i++) await revealVerifier(ctxFor(i, task), round, 5000, pending);
    round = await chains[0].round(2);
    expect(round.phase, "nothing accepted: the round failed").to.equal(Phase.Failed);
    // The transcript names the culprit.
    const { collectTranscript, unmaskTranscript } = await import("../../node/secagg/transcript.ts");
    const { transcriptSource } = await import("../../node/secagg/roles.ts");
    const t = await collectTranscript(transcriptSource(ctxFor(0, task), 2000), 2);
    expect(() => unmaskTranscript(t, config)).to.throw(/by peer 5: masked update .*flags byte is 1/);
  });
});
