/**
 * The roles on an in-process chain (Hardhat's EDR, the real FederatedTask contract) and an
 * in-memory content store: no separate process. Trainers commit through protocol localUpdate,
 * verifiers judge with protocol roundVerdict, aggregators aggregate with protocol aggregateAccepted,
 * and the contract finalizes the round on the CID that the protocol recomputes.
 */
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { MemoryModelStore } from "../../ipfs/memory-store.ts";
import type { TaskChain } from "../../node/chain/task-chain.ts";
import { createLogger } from "../../node/lib/log.ts";
import type { Learner } from "../../node/ml/learner.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { deriveSeed, mulberry32 } from "../../node/ml/random.ts";
import { aggregateAccepted, attackPlan, encodeUpdate, maskHas, Phase, roundRulesOf, updateCid } from "../../node/protocol/index.ts";
import { AcceptedUpdateUnavailableError, computeAggregate, revealAggregator, runAggregator } from "../../node/roles/aggregator.ts";
import { RevealStore } from "../../node/roles/reveals.ts";
import type { RoleContext, TrainerState } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { runTrainer } from "../../node/roles/trainer.ts";
import { revealVerifier, runVerifier } from "../../node/roles/verifier.ts";
import { deployInProcessTask } from "./in-process-task.ts";

const spec = modelSpecFor("mlp");
const log = createLogger({ name: "roles-test", level: "error", write: () => {} });
const D = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);

/** A deterministic learner without tfjs: a shared descent direction plus the peer's own noise. */
function fakeLearner(peer: number): Learner {
  const direction = new Float32Array(D);
  const rng = mulberry32(99);
  for (let k = 0; k < D; k++) direction[k] = (rng() - 0.5) * 0.02;
  return {
    backend: "none", trainSamples: 100 + peer, validationSamples: 10,
    async train(global, opts) {
      const noise = mulberry32(deriveSeed(peer, opts.round));
      const w = new Float32Array(D);
      for (let k = 0; k < D; k++) w[k] = global[k] + direction[k] + (noise() - 0.5) * 0.004;
      return { weights: w, samples: 100 + peer, seconds: 0, loss: 0 };
    },
    async evaluate() { return { accuracy: 0.5, loss: 1 }; },
    dispose() {},
  };
}

describe("roles on an in-process chain and an in-memory store", function () {
  this.timeout(120_000);
  let chains: TaskChain[];
  let store: MemoryModelStore;
  const PEERS = 4; // peer 3 is a sign-flip attacker

  const ctxFor = (i: number, chain: TaskChain, task: Awaited<ReturnType<TaskChain["taskConfig"]>>): RoleContext => {
    const learner = fakeLearner(i);
    return {
      chain, store, log, task, spec, dataIndex: i, numPeers: PEERS,
      models: modelFetcher({ store, spec, log }), learner: async () => learner, now: () => Date.now() / 1000,
    };
  };

  before(async () => {
    store = new MemoryModelStore();
    const t = await deployInProcessTask(store, spec, PEERS, { rounds: 2 });
    chains = await t.registerPeers(PEERS, log);
    await t.start();
  });

  after(() => { for (const c of chains ?? []) c.close(); });

  const pending = new RevealStore();

  it("runs a whole round with commit-reveal: the attacker is rejected and the round finalizes on the protocol's aggregate", async () => {
    const task = await chains[0].taskConfig();
    expect(task.rule).to.equal("centered-clipping");
    let round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.Training);
    for (let i = 0; i < PEERS; i++) {
      const state: TrainerState = { dpRoundsSpent: 0, budgetExhaustedLogged: false, attack: i === 3 ? attackPlan("sign-flip") : undefined };
      expect(await runTrainer(ctxFor(i, chains[i], task), round, state)).to.equal(true);
    }
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.VerifyCommit);
    expect(round.commitCount).to.equal(PEERS);
    const masks = [];
    // The committee is drawn from the hash of the block that closed training: readable from the next block.
    await chains[0].selectCommittees(1);
    for (let i = 0; i < PEERS; i++) {
      expect(await chains[i].isVerifier(1, chains[i].account), `peer ${i} in the committee (size 0 = all)`).to.equal(true);
      masks.push(await runVerifier(ctxFor(i, chains[i], task), round, 5000, pending));
    }
    // Committed, not yet revealed: nobody can read another verifier's mask.
    expect((await chains[1].verdictOf(1, chains[0].account))).to.deep.equal({ committed: true, revealed: false, acceptedMask: 0n });
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.VerifyReveal);
    for (let i = 0; i < PEERS; i++) expect(await revealVerifier(ctxFor(i, chains[i], task), round, 5000, pending)).to.equal(masks[i]);
    const commits = await chains[0].commits(1, PEERS);
    const attackerCommit = commits.find((c) => c.trainer === chains[3].account)!;
    for (const m of masks) {
      expect(maskHas(m, attackerCommit.index), "attacker rejected").to.equal(false);
      for (const c of commits) if (c.index !== attackerCommit.index) expect(maskHas(m, c.index), `honest commit ${c.index}`).to.equal(true);
    }
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.AggregateCommit);
    const cids = [];
    for (let i = 0; i < PEERS; i++) cids.push(await runAggregator(ctxFor(i, chains[i], task), round, 5000, pending));
    expect(new Set(cids).size).to.equal(1);
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.AggregateReveal);
    // A restarted aggregator (empty reveal store) recomputes the same aggregate and reveals it.
    expect(await revealAggregator(ctxFor(0, chains[0], task), round, 5000, new RevealStore())).to.equal(cids[0]);
    for (let i = 1; i < PEERS; i++) await revealAggregator(ctxFor(i, chains[i], task), round, 5000, pending);
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.Finalized);
    expect(round.finalCid?.toString()).to.equal(cids[0]);

    // The same aggregate recomputed from the store with the protocol alone.
    const fetch = modelFetcher({ store, spec, log });
    const global = await fetch.get(round.globalModelCid!, { timeoutMs: 1000 });
    const accepted = [];
    for (const c of commits.filter((c) => maskHas(round.acceptedMask, c.index))) {
      accepted.push({ cid: c.cid, numSamples: c.numSamples, weights: await fetch.get(c.cid, { timeoutMs: 1000 }) });
    }
    const again = aggregateAccepted(roundRulesOf(task), { global, previousGlobal: null }, accepted);
    expect((await updateCid(encodeUpdate(again, spec))).toString()).to.equal(cids[0]);
  });

  it("rejects garbage and oversized commits, and an aggregator refuses to aggregate a withheld accepted update", async () => {
    const task = await chains[0].taskConfig();
    let round = await chains[0].round(2);
    expect(round.phase).to.equal(Phase.Training);
    // peer 0 and 1 train honestly; peer 2 commits bytes that are not a model; peer 3 commits a
    // CID whose bytes exceed the model's size; all four are committed on chain.
    for (let i = 0; i < 2; i++) await runTrainer(ctxFor(i, chains[i], task), round, { dpRoundsSpent: 0, budgetExhaustedLogged: false });
    const garbage = await store.put(new TextEncoder().encode("not a model"));
    await chains[2].commitUpdate(2, CID.parse(garbage), 100);
    const huge = await store.put(new Uint8Array(encodeUpdate(new Float32Array(D), spec).length + 1));
    await chains[3].commitUpdate(2, CID.parse(huge), 100);
    round = await chains[0].round(2);
    expect(round.phase).to.equal(Phase.VerifyCommit);
    const mask = await runVerifier(ctxFor(0, chains[0], task), round, 5000, pending);
    const commits = await chains[0].commits(2, 4);
    for (const c of commits) {
      const honest = c.trainer === chains[0].account || c.trainer === chains[1].account;
      expect(maskHas(mask, c.index), `commit ${c.index}`).to.equal(honest);
    }
    for (let i = 1; i < PEERS; i++) await runVerifier(ctxFor(i, chains[i], task), round, 5000, pending);
    round = await chains[0].round(2);
    for (let i = 0; i < PEERS; i++) await revealVerifier(ctxFor(i, chains[i], task), round, 5000, pending);
    round = await chains[0].round(2);
    expect(round.phase).to.equal(Phase.AggregateCommit);
    // An aggregator whose store cannot serve an accepted update submits nothing.
    const empty = new MemoryModelStore();
    for (const r of [1, 2]) {
      const g = (await chains[0].round(r)).globalModelCid!.toString();
      empty.putRaw(g, await store.get(g));
    }
    const ctx = { ...ctxFor(0, chains[0], task), store: empty, models: modelFetcher({ store: empty, spec, log }) };
    const short = { ...round, phaseDeadline: Math.floor(Date.now() / 1000) + 7 };
    let err: unknown;
    try { await runAggregator(ctx, short, 500, pending); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(AcceptedUpdateUnavailableError);
    expect((await chains[0].aggregateOf(2, chains[0].account)).committed).to.equal(false);
    void computeAggregate;
  });
});
