/**
 * Example-level DP on real parts: `hardhat node`, 3 agent processes training MNIST shards with
 * DP-SGD, embedded IPFS, and the task's PrivacyLedger deployed by the demo (`--dp example`). The
 * budget is set between a peer's epsilon after 2 and after 3 rounds, so every trainer reports its
 * epsilon on chain in rounds 1 and 2, each report equals what the task's parameters and the peer's
 * commits give (node/privacy/ledger.ts, as the audit recomputes it), and in round 3 every trainer
 * stops committing and says why, while its agent keeps following the task.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { runDemo, type DemoHandle } from "../../node/demo/demo.ts";
import { connectTask } from "../../node/chain/connect.ts";
import { privacyLedgerReader } from "../../node/chain/privacy-ledger.ts";
import { auditPeerEpsilon, epsilonToMilli, exampleEpsilon, type LedgerParams } from "../../node/privacy/ledger.ts";
import { createExplorerService } from "../../explorer/setup.ts";
import { mainAudit } from "../../explorer/cli.ts";

const PEERS = 3;
const MAX_SAMPLES = 400; // 360 trained (10 % held out), q = 64 / 360
const PARAMS: LedgerParams = { unit: "example", clipNorm: 1, noiseMultiplier: 1.1, expectedBatchSize: 64, localEpochs: 1, delta: 1e-5, epsilonBudget: Infinity };
const eps2 = exampleEpsilon(PARAMS, [360, 360]);
const eps3 = exampleEpsilon(PARAMS, [360, 360, 360]);
const BUDGET = Math.round(((eps2 + eps3) / 2) * 1000) / 1000;

describe("integration: example-level DP with the privacy ledger (real agents)", function () {
  this.timeout(600_000);
  let demo: DemoHandle;

  before(async () => {
    demo = await runDemo({
      peers: PEERS, rounds: 3, attackers: 0, maxSamples: MAX_SAMPLES, quiet: true, keepRunning: true, evaluate: false, json: undefined,
      port: 18645, trainingWindow: 60, rule: "fedavg", ruleParam: 0,
      dp: "example", dpClip: 1, dpSigma: 1.1, dpBatch: 64, dpBudget: BUDGET,
    });
  });

  after(async () => { await demo?.stop(); });

  it("records the unit and the parameters on chain", async () => {
    expect(demo.result.privacy?.unit).to.equal("example");
    const conn = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
    const ledger = privacyLedgerReader(demo.result.privacy!.ledger, conn.provider);
    expect((await ledger.taskAddress()).toLowerCase()).to.equal(demo.contractAddress.toLowerCase());
    expect(await ledger.params()).to.deep.equal({ ...PARAMS, epsilonBudget: BUDGET });
  });

  it("has every trainer's epsilon on chain for rounds 1 and 2, as the audit recomputes it", async () => {
    const conn = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
    const ledger = privacyLedgerReader(demo.result.privacy!.ledger, conn.provider);
    const reports = await ledger.reports();
    const trainers = [...new Set(reports.map((r) => r.peer))];
    expect(trainers).to.have.length(PEERS);
    for (const peer of trainers) {
      const mine = reports.filter((r) => r.peer === peer);
      expect(mine.map((r) => r.round), peer).to.deep.equal([1, 2]);
      expect(mine.map((r) => r.numSamples)).to.deep.equal([360, 360]);
      expect(mine.map((r) => r.epsilonMilli)).to.deep.equal([epsilonToMilli(exampleEpsilon(PARAMS, [360])), epsilonToMilli(eps2)]);
      const audit = auditPeerEpsilon({ ...PARAMS, epsilonBudget: BUDGET }, mine.map((r) => ({ round: r.round, numSamples: r.numSamples, reportedMilli: r.epsilonMilli })));
      expect(audit.map((a) => a.status)).to.deep.equal(["ok", "ok"]);
      for (const r of [1, 2]) expect(await ledger.epsilonOf(r, peer)).to.equal(mine[r - 1].epsilonMilli);
    }
    expect(demo.result.rounds.slice(0, 2).map((r) => r.status)).to.deep.equal(["finalized", "finalized"]);
  });

  it("stops every trainer before round 3 (it would exceed the budget), says why, and keeps the agent running", () => {
    expect(demo.result.rounds[2].status).to.equal("failed");
    for (let i = 0; i < PEERS; i++) {
      const events = readFileSync(path.join(demo.workDir, `peer${i}.log`), "utf8").split("\n").filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { event: string; round?: number; nextEpsilon?: string; budget?: number; reason?: string });
      const stop = events.find((e) => e.event === "privacy-budget-exhausted");
      expect(stop, `peer${i}`).to.not.equal(undefined);
      expect(stop!.round).to.equal(3);
      expect(Math.abs(Number(stop!.nextEpsilon) - eps3) < 1e-3, `next epsilon ${stop!.nextEpsilon} vs ${eps3}`).to.equal(true);
      expect(stop!.reason).to.match(/stops committing/);
      expect(events.filter((e) => e.event === "committed").map((e) => e.round)).to.deep.equal([1, 2]);
      expect(events.filter((e) => e.event === "epsilon-reported").map((e) => e.round)).to.deep.equal([1, 2]);
      expect(events.some((e) => e.event === "task-completed"), `peer${i} followed the task to its end`).to.equal(true);
    }
  });

  it("shows every trainer's epsilon per round in the explorer, and `peerfl audit` checks them", async () => {
    const ledger = demo.result.privacy!.ledger;
    const setup = createExplorerService({ rpcUrl: demo.rpcUrl, contractAddress: demo.contractAddress, privacyLedger: ledger });
    try {
      const report = await setup.service.privacy.report();
      expect(report!.peers).to.have.length(PEERS);
      expect(report!.problems).to.deep.equal([]);
      expect(report!.peers.map((p) => p.latestEpsilon)).to.deep.equal(Array(PEERS).fill(epsilonToMilli(eps2) / 1000));
      expect((await setup.service.privacy.forRound(2)).size).to.equal(PEERS);
    } finally {
      await setup.close();
    }
    let out = "";
    const code = await mainAudit(["--round", "2", "--rpc", demo.rpcUrl, "--contract", demo.contractAddress, "--privacy-ledger", ledger], { out: (x) => { out += x; }, err: (x) => { out += x; } });
    expect(out).to.include(`✓ example-level epsilon of ${PEERS} trainers`);
    expect(code, out).to.equal(0);
  });
});
