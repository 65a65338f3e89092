/**
 * The trainer's side of the privacy ledger on an in-process chain (Hardhat EDR, the real
 * FederatedTask and PrivacyLedger) with an in-memory store: reports after each commit, the budget
 * stop before a round that would exceed it, the report a restarted agent still owes, and what the
 * audit says about a peer that reports less than the task's parameters give.
 */
import { expect } from "chai";
import type { BrowserProvider, Contract } from "ethers";
import { CID } from "multiformats/cid";
import { MemoryModelStore } from "../../ipfs/memory-store.ts";
import { deployPrivacyLedger, privacyLedger, type PrivacyLedgerWriter } from "../../node/chain/privacy-ledger.ts";
import { type TaskChain } from "../../node/chain/task-chain.ts";
import { TxRevertedError } from "../../node/chain/tx.ts";
import { createLogger } from "../../node/lib/log.ts";
import type { Learner } from "../../node/ml/learner.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { deriveSeed, mulberry32 } from "../../node/ml/random.ts";
import { auditPeerEpsilon, epsilonToMilli, exampleEpsilon, type LedgerParams } from "../../node/privacy/ledger.ts";
import type { RoleContext, TrainerState } from "../../node/roles/context.ts";
import { reportExampleEpsilon } from "../../node/roles/example-privacy.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { runTrainer } from "../../node/roles/trainer.ts";
import { deployInProcessTask } from "./in-process-task.ts";

const spec = modelSpecFor("mlp");
const D = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
const N = 100;
const PARAMS: LedgerParams = { unit: "example", clipNorm: 1, noiseMultiplier: 1.1, expectedBatchSize: 20, localEpochs: 1, delta: 1e-5, epsilonBudget: Infinity };
const eps1 = exampleEpsilon(PARAMS, [N]);
const eps2 = exampleEpsilon(PARAMS, [N, N]);
const BUDGET = Math.round(((eps1 + eps2) / 2) * 1000) / 1000;

/** A learner without tfjs: the global model plus a small peer-specific step, on N samples. */
function fakeLearner(peer: number): Learner {
  return {
    backend: "none", trainSamples: N, validationSamples: 10,
    async train(global, opts) {
      const rng = mulberry32(deriveSeed(peer, opts.round));
      const w = new Float32Array(D);
      for (let k = 0; k < D; k++) w[k] = global[k] + (rng() - 0.5) * 0.01;
      return { weights: w, samples: N, seconds: 0, loss: 0 };
    },
    async evaluate() { return { accuracy: 0.5, loss: 1 }; },
    dispose() {},
  };
}

describe("roles: the trainer and the privacy ledger (in-process chain)", function () {
  this.timeout(120_000);
  let provider: BrowserProvider;
  let contract: Contract;
  let chains: TaskChain[];
  let ledgers: PrivacyLedgerWriter[];
  const store = new MemoryModelStore();
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const log = createLogger({ name: "privacy-test", format: "json", level: "info", write: (line) => { const j = JSON.parse(line); events.push({ event: j.event, fields: j }); } });

  const ctxFor = async (i: number): Promise<RoleContext> => {
    const learner = fakeLearner(i);
    return {
      chain: chains[i], store, log, task: await chains[i].taskConfig(), spec, dataIndex: i, numPeers: 4,
      models: modelFetcher({ store, spec, log }), learner: async () => learner, now: () => Date.now() / 1000,
      privacy: { ledger: ledgers[i], params: { ...PARAMS, epsilonBudget: BUDGET } },
    };
  };
  const state = (): TrainerState => ({ dpRoundsSpent: 0, budgetExhaustedLogged: false });

  before(async () => {
    const t = await deployInProcessTask(store, spec, 4, { rounds: 3 });
    provider = t.provider;
    contract = t.contract;
    const ledger = await deployPrivacyLedger(String(t.contract.target), { ...PARAMS, epsilonBudget: BUDGET }, t.deployer, log);
    chains = await t.registerPeers(4, log, { roles: ["trainer", "verifier"] });
    ledgers = [];
    for (let i = 0; i < 4; i++) ledgers.push(privacyLedger(ledger.address, (await t.connFor(i + 1)).signer, log));
    await t.start();
  });

  after(() => { for (const c of chains ?? []) c.close(); });

  it("commits round 1 and reports the epsilon the task's parameters give", async () => {
    for (const i of [0, 1]) expect(await runTrainer(await ctxFor(i), await chains[i].round(1), state())).to.equal(true);
    for (const i of [0, 1]) expect(await ledgers[0].epsilonOf(1, chains[i].account)).to.equal(epsilonToMilli(eps1));
    expect(events.filter((e) => e.event === "epsilon-reported")).to.have.length(2);
  });

  it("reports for a round committed before a restart, once", async () => {
    // Peer 2 committed (say, then crashed) without reporting; its restarted agent reports from chain.
    const ctx = await ctxFor(2);
    const update = await fakeLearner(2).train(await ctx.models.get((await chains[2].round(1)).globalModelCid!, { timeoutMs: 1000 }), { round: 1 });
    await chains[2].commitUpdate(1, CID.parse(await ctx.models.put(update.weights)), N);
    expect(await ledgers[2].epsilonOf(1, chains[2].account)).to.equal(null);
    expect(await reportExampleEpsilon(ctx, 1, {})).to.equal(true);
    expect(await ledgers[2].epsilonOf(1, chains[2].account)).to.equal(epsilonToMilli(eps1));
    expect(await reportExampleEpsilon(ctx, 1, {})).to.equal(false); // nothing owed any more
  });

  it("lets a cheater report less than it spent, and the audit catches it; the ledger refuses over-budget claims", async () => {
    const ctx = await ctxFor(3);
    const update = await fakeLearner(3).train(await ctx.models.get((await chains[3].round(1)).globalModelCid!, { timeoutMs: 1000 }), { round: 1 });
    await chains[3].commitUpdate(1, CID.parse(await ctx.models.put(update.weights)), N);
    const over = epsilonToMilli(BUDGET) + 1;
    await ledgers[3].report(1, over).then(() => expect.fail("over budget accepted"), (err: unknown) => {
      expect(err).to.be.instanceOf(TxRevertedError);
      expect((err as TxRevertedError).errorName).to.equal("EpsilonOverBudget");
    });
    await ledgers[3].report(1, 10); // "I spent epsilon 0.01"
    const audit = auditPeerEpsilon({ ...PARAMS, epsilonBudget: BUDGET }, [{ round: 1, numSamples: N, reportedMilli: 10 }]);
    expect(audit[0]).to.include({ status: "under-reported", expectedMilli: epsilonToMilli(eps1) });
  });

  it("stops a trainer before a round that would exceed the budget, saying why", async () => {
    // Round 1 ends without verdicts (nobody verifies here): it fails and round 2 opens.
    while (Number(await contract.getFunction("currentRound")()) === 1) {
      await provider.send("evm_increaseTime", [700]);
      await provider.send("evm_mine", []);
      await chains[0].advancePhase(1);
    }
    const round2 = await chains[0].round(2);
    const s = state();
    expect(await runTrainer(await ctxFor(0), round2, s)).to.equal(false);
    expect(await chains[0].commitIndexOf(2, chains[0].account)).to.equal(null);
    const stop = events.find((e) => e.event === "privacy-budget-exhausted");
    expect(stop?.fields).to.include({ unit: "example", round: 2, committedRounds: 1 });
    // (plain comparison: the toolbox's chai plugin makes closeTo integer-only in this group)
    expect(Math.abs(Number(stop?.fields.nextEpsilon) - eps2) < 1e-3, `next epsilon ${String(stop?.fields.nextEpsilon)} vs ${eps2}`).to.equal(true);
    expect(String(stop?.fields.reason)).to.match(/stops committing/);
    // Said once, not every time the agent looks at the round again.
    expect(await runTrainer(await ctxFor(0), round2, s)).to.equal(false);
    expect(events.filter((e) => e.event === "privacy-budget-exhausted")).to.have.length(1);
  });
});
