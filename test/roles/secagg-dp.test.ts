/**
 * Distributed DP in private mode, through the real role code on an in-process chain (EDR: the real
 * FederatedTask, SecureAggregation and PrivacyLedger contracts) and an in-memory content store.
 * The SecureAggregation config sets noise (σ on the sum, an L2 clip C, n_min = 5); the task's
 * PrivacyLedger records the distributed unit with the same parameters. Five peers each clip,
 * quantize and add their Skellam share, mask and commit; after training closes each reveals its
 * shares and reports its epsilon; the round finalizes; the ledger's reports equal the accountant's
 * value and the explorer's audit of them; the unmasked sum differs from the noise-free sum by noise
 * of exactly the planned variance (so the noise is really there); the CID audit reproduces.
 * Attacker: a trainer that reports a smaller epsilon than its rounds give is flagged under-reported.
 */
import { expect } from "chai";
import type { BrowserProvider, Contract } from "ethers";
import { x25519 } from "@noble/curves/ed25519.js";
import { MemoryModelStore } from "../../ipfs/memory-store.ts";
import { deployPrivacyLedger, type PrivacyLedgerWriter } from "../../node/chain/privacy-ledger.ts";
import { type TaskChain } from "../../node/chain/task-chain.ts";
import { createLogger } from "../../node/lib/log.ts";
import type { Learner } from "../../node/ml/learner.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { Phase } from "../../node/protocol/index.ts";
import { epsilonToMilli, type LedgerParams } from "../../node/privacy/ledger.ts";
import { distributedEpsilon } from "../../node/privacy/skellam.ts";
import { revealAggregator, runAggregator } from "../../node/roles/aggregator.ts";
import type { RoleContext } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { RevealStore } from "../../node/roles/reveals.ts";
import { revealVerifier, runVerifier } from "../../node/roles/verifier.ts";
import { deploySecureAggregation, secAggWriter } from "../../node/secagg/chain.ts";
import { clipL2InPlace } from "../../node/secagg/distributed-dp.ts";
import { quantize, toSigned, weightedDelta, type SecAggConfig } from "../../node/secagg/index.ts";
import { revealPrivateShares, runPrivateTrainer, transcriptSource, type SecAggRoleContext } from "../../node/secagg/roles.ts";
import { collectTranscript, unmaskTranscript } from "../../node/secagg/transcript.ts";
import { preRoundingClip } from "../../node/privacy/skellam.ts";
import { auditRound } from "../../explorer/audit.ts";
import { auditIO, contractAuditChain } from "../../explorer/audit-io.ts";
import { contractPrivateAudit } from "../../explorer/audit-private.ts";
import { buildPrivacyReport } from "../../explorer/services/privacy.ts";
import { deployInProcessTask, driftLearner } from "./in-process-task.ts";

const spec = modelSpecFor("mlp");
const log = createLogger({ name: "secagg-dp-test", level: "error", write: () => {} });
const D = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
const PEERS = 5;
/** Total noise std 600 on the sum of weighted deltas, each clipped to L2 600 (z = 1), n_min = 5. */
const config: SecAggConfig = { range: 500, scaleBits: 12, neighbours: 4, threshold: 3, noiseStd: 600, clipL2: 600, noisePeers: PEERS };
const ledgerParams: LedgerParams = {
  unit: "distributed", clipNorm: 600, noiseMultiplier: 1, expectedBatchSize: 0, localEpochs: 0, delta: 1e-5, epsilonBudget: 20, noisePeers: PEERS, scaleBits: 12,
};
/** Cheating reporter: it reports one milli-unit below what its round gives. */
const CHEAT = 3;

const fakeLearner = (peer: number): Learner => driftLearner(peer, D, { samples: 500 + 37 * peer });

describe("private mode with distributed DP (Skellam shares): the roles on an in-process chain", function () {
  this.timeout(300_000);
  let provider: BrowserProvider;
  let contract: Contract;
  let secaggAddress: string;
  let chains: TaskChain[] = [];
  let store: MemoryModelStore;
  const saCtx: SecAggRoleContext[] = [];
  const ledgers: PrivacyLedgerWriter[] = [];

  const ctxFor = (i: number, task: Awaited<ReturnType<TaskChain["taskConfig"]>>): RoleContext => {
    const learner = fakeLearner(i);
    return {
      chain: chains[i], store, log, task, spec, dataIndex: i, numPeers: PEERS, secagg: saCtx[i], privacy: { ledger: ledgers[i], params: ledgerParams },
      models: modelFetcher({ store, spec, log }), learner: async () => learner, now: () => Date.now() / 1000,
    };
  };

  before(async () => {
    store = new MemoryModelStore();
    const t = await deployInProcessTask(store, spec, PEERS, { rounds: 2 });
    provider = t.provider;
    contract = t.contract;
    const secrets = Array.from({ length: PEERS }, () => x25519.utils.randomSecretKey());
    chains = await t.registerPeers(PEERS, log, { publicKeyOf: (i: number) => "0x" + Buffer.from(x25519.getPublicKey(secrets[i])).toString("hex") });
    secaggAddress = await deploySecureAggregation(await contract.getAddress(), config, 5000, t.deployer, log);
    const ledger = await deployPrivacyLedger(await contract.getAddress(), ledgerParams, t.deployer, log);
    const { privacyLedger } = await import("../../node/chain/privacy-ledger.ts");
    for (let i = 0; i < PEERS; i++) {
      const conn = await t.connFor(i + 1);
      saCtx.push({ chain: secAggWriter(secaggAddress, conn.signer, log), config, secretKey: secrets[i] });
      ledgers.push(privacyLedger(ledger.address, conn.signer, log));
    }
    // The config read back from chain equals the one deployed (clip and n_min survive the encoding).
    const onChain = (await saCtx[0].chain.config())!;
    expect([onChain.noiseStd, onChain.clipL2, onChain.noisePeers]).to.deep.equal([600, 600, PEERS]);
    expect((await ledger.params())!.unit).to.equal("distributed");
    await t.start();
  });

  after(() => { for (const c of chains) c.close(); });

  it("finalizes a noised private round; every trainer's epsilon is on the ledger and audits; the sum carries exactly the planned noise", async () => {
    const task = await chains[0].taskConfig();
    let round = await chains[0].round(1);
    const outcomes = await Promise.allSettled(Array.from({ length: PEERS }, (_, i) => runPrivateTrainer(ctxFor(i, task), round, { dpRoundsSpent: 0, budgetExhaustedLogged: false })));
    for (const o of outcomes) expect(o.status).to.equal("fulfilled", o.status === "rejected" ? String(o.reason) : "");
    round = await chains[0].round(1);
    expect(round.commitCount).to.equal(PEERS);
    expect(round.phase, "every trainer committed: training closed early").to.equal(Phase.VerifyCommit);

    // The cheater reports first, one milli-unit low; the others report while revealing.
    const expectedMilli = epsilonToMilli(distributedEpsilon({ clipNorm: 600, noiseMultiplier: 1, noisePeers: PEERS, scaleBits: 12, delta: 1e-5 }, [PEERS]));
    await ledgers[CHEAT].report(1, expectedMilli - 1);
    for (let i = 0; i < PEERS; i++) expect(await revealPrivateShares(ctxFor(i, task), round, 5000)).to.equal(true);
    for (let i = 0; i < PEERS; i++) {
      expect(await ledgers[0].epsilonOf(1, chains[i].account), `peer ${i}`).to.equal(i === CHEAT ? expectedMilli - 1 : expectedMilli);
    }
    // z = 1, one round: the Gaussian-like ε at δ = 1e-5 is about 4.7 (hand check: α/(2z²) + log terms).
    expect(expectedMilli / 1000).to.be.within(4.5, 5.0);

    await chains[0].selectCommittees(1);
    const pending = new RevealStore();
    for (let i = 0; i < PEERS; i++) await runVerifier(ctxFor(i, task), round, 5000, pending);
    round = await chains[0].round(1);
    for (let i = 0; i < PEERS; i++) await revealVerifier(ctxFor(i, task), round, 5000, pending);
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.AggregateCommit);
    const cids = [];
    for (let i = 0; i < PEERS; i++) cids.push(await runAggregator(ctxFor(i, task), round, 5000, pending));
    expect(new Set(cids).size).to.equal(1);
    round = await chains[0].round(1);
    for (let i = 0; i < PEERS; i++) await revealAggregator(ctxFor(i, task), round, 5000, pending);
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.Finalized);
    expect(round.finalCid?.toString()).to.equal(cids[0]);

    // The audit of the CID, from chain + store alone (the noise is part of the sum it recomputes).
    const io = auditIO(contractAuditChain(await contract.getAddress(), contract.interface, provider), (cid) => store.get(cid));
    const audit = await auditRound(1, { ...io, secagg: contractPrivateAudit(secaggAddress, await contract.getAddress(), contract.interface, provider) });
    expect(audit.differences).to.deep.equal([]);
    expect(audit.ok).to.equal(true);

    // The explorer's epsilon audit: everyone ok except the cheater.
    const commits = (await chains[0].commits(1, PEERS)).map((c) => ({ round: 1, trainer: c.trainer, numSamples: c.numSamples }));
    const reports = await ledgers[0].reports();
    const report = buildPrivacyReport(ledgers[0].address, ledgerParams, commits, reports);
    expect(report.problems.map((p) => [p.trainer, p.status])).to.deep.equal([[chains[CHEAT].account, "under-reported"]]);
    expect(report.peers.find((p) => p.trainer === chains[0].account)?.rows[0].expectedMilli).to.equal(expectedMilli);

    // The noise is really in the sum: unmasked sum − Σ(clipped, quantized, noise-free updates) has
    // mean ~0 and variance Σ_peers 2λ = 5 × (σ·2^s)²/5 per coordinate (σ = 600, s = 12).
    const global = await modelFetcher({ store, spec, log }).get(round.globalModelCid!, { timeoutMs: 1000 });
    const t = await collectTranscript(transcriptSource(ctxFor(0, task), 2000), 1);
    const noisy = toSigned(unmaskTranscript(t, config).sum);
    const clean = new Int32Array(D);
    for (let i = 0; i < PEERS; i++) {
      const u = await fakeLearner(i).train(global, { round: 1 } as never);
      const wd = weightedDelta(u.weights, global, u.samples);
      clipL2InPlace(wd, preRoundingClip({ clipNorm: 600, scaleBits: 12 }, D));
      const q = toSigned(quantize(wd, config).values);
      for (let k = 0; k < D; k++) clean[k] += q[k];
    }
    let mean = 0, sq = 0;
    for (let k = 0; k < D; k++) { const e = noisy[k] - clean[k]; mean += e; sq += e * e; }
    mean /= D;
    const variance = sq / D - mean * mean;
    const planned = (600 * 2 ** 12) ** 2;
    // D ≈ 101,770 draws: the variance estimate's relative std is √(2/D) ≈ 0.44 %, so ±3 % fails on a real mistake only.
    expect(variance / planned).to.be.within(0.97, 1.03);
    expect(Math.abs(mean)).to.be.below(5 * Math.sqrt(planned / D));
  });
});
