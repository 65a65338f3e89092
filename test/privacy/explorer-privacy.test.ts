// The explorer's and the audit's view of the privacy ledger: commits joined with reports, audited per trainer.
import { expect } from "chai";
import { buildPrivacyReport } from "../../explorer/services/privacy.ts";
import { privacyPage } from "../../explorer/views/privacy.ts";
import { formatEpsilons } from "../../explorer/cli.ts";
import { epsilonToMilli, exampleEpsilon, type LedgerParams } from "../../node/privacy/ledger.ts";
import type { ExplorerStatus } from "../../explorer/service.ts";

const P: LedgerParams = { unit: "example", clipNorm: 1, noiseMultiplier: 1.1, expectedBatchSize: 64, localEpochs: 1, delta: 1e-5, epsilonBudget: Infinity };
const A = "0x00000000000000000000000000000000000000aA";
const B = "0x00000000000000000000000000000000000000bB";
const e1 = epsilonToMilli(exampleEpsilon(P, [360]));
const e2 = epsilonToMilli(exampleEpsilon(P, [360, 360]));
const commits = [
  { round: 1, trainer: A, numSamples: 360 }, { round: 1, trainer: B, numSamples: 360 },
  { round: 2, trainer: A, numSamples: 360 }, { round: 2, trainer: B, numSamples: 360 },
];

describe("explorer: privacy report", () => {
  it("marks honest reports ok, and a cheater's under-report and a missing report", () => {
    const reports = [
      { round: 1, peer: A.toLowerCase(), epsilonMilli: e1 }, { round: 2, peer: A, epsilonMilli: e2 },
      { round: 1, peer: B, epsilonMilli: e1 - 200 }, // B claims a smaller loss than the task's sigma allows
    ];
    const r = buildPrivacyReport("0xledger", P, commits, reports);
    expect(r.rounds).to.deep.equal([1, 2]);
    const a = r.peers.find((p) => p.trainer === A)!;
    const b = r.peers.find((p) => p.trainer === B)!;
    expect(a.rows.map((x) => x.status)).to.deep.equal(["ok", "ok"]);
    expect(a.latestEpsilon).to.equal(e2 / 1000);
    expect(b.rows.map((x) => x.status)).to.deep.equal(["under-reported", "missing"]);
    expect(r.problems.map((p) => [p.trainer, p.round, p.status])).to.deep.equal([[B, 1, "under-reported"], [B, 2, "missing"]]);
    const out = formatEpsilons(b.rows.filter((x) => x.round === 1).map((x) => ({ ...x, trainer: B })), "example");
    expect(out).to.match(/^✗ example-level epsilon of 1 trainer/).and.to.include("under-reported");
  });

  it("has no per-peer rows in a peer-unit task", () => {
    const r = buildPrivacyReport("0xledger", { ...P, unit: "peer", expectedBatchSize: 0, localEpochs: 0 }, commits, []);
    expect(r.peers).to.deep.equal([]);
    expect(formatEpsilons([], "peer")).to.include("aggregate reveals");
  });

  it("renders the per-trainer, per-round table", () => {
    const status = {
      chain: { reachable: true, chainId: 31337, rpcUrl: "http://127.0.0.1:8545" }, index: { head: 10, contractDeployed: true },
      ipfs: { mode: "embedded node", peerId: null }, contractAddress: null,
    } as unknown as ExplorerStatus;
    const html = privacyPage(status, buildPrivacyReport("0xledger", P, commits, [{ round: 1, peer: A, epsilonMilli: e1 }]));
    expect(html).to.include('id="privacy-epsilon"').and.to.include((e1 / 1000).toFixed(3)).and.to.include("missing");
    expect(privacyPage(status, null)).to.include("--privacy-ledger");
  });

  it("distributed unit: audits each report against its rounds' commit counts, names the mechanism, and prints it in the audit", async () => {
    const { distributedEpsilon } = await import("../../node/privacy/skellam.ts");
    const D: LedgerParams = { unit: "distributed", clipNorm: 3000, noiseMultiplier: 0.5, expectedBatchSize: 0, localEpochs: 0, delta: 1e-5, epsilonBudget: Infinity, noisePeers: 2, scaleBits: 9 };
    const dp = { clipNorm: 3000, noiseMultiplier: 0.5, noisePeers: 2, scaleBits: 9, delta: 1e-5 };
    // Round 1: A and B commit (2 = n_min); round 2: only A (1 < n_min: half the noise, a larger step in ε).
    const cs = [{ round: 1, trainer: A, numSamples: 360 }, { round: 1, trainer: B, numSamples: 360 }, { round: 2, trainer: A, numSamples: 360 }];
    const ok1 = epsilonToMilli(distributedEpsilon(dp, [2]));
    const ok2 = epsilonToMilli(distributedEpsilon(dp, [2, 1]));
    expect(ok2 - ok1).to.be.above(epsilonToMilli(distributedEpsilon(dp, [2, 2])) - ok1);
    const r = buildPrivacyReport("0xledger", D, cs, [{ round: 1, peer: A, epsilonMilli: ok1 }, { round: 2, peer: A, epsilonMilli: ok2 }, { round: 1, peer: B, epsilonMilli: ok1 - 1 }]);
    expect(r.peers.find((p) => p.trainer === A)!.rows.map((x) => x.status)).to.deep.equal(["ok", "ok"]);
    expect(r.problems.map((p) => [p.trainer, p.round, p.status])).to.deep.equal([[B, 1, "under-reported"]]);
    const status = {
      chain: { reachable: true, chainId: 31337, rpcUrl: "http://127.0.0.1:8545" }, index: { head: 10, contractDeployed: true },
      ipfs: { mode: "embedded node", peerId: null }, contractAddress: null,
    } as unknown as ExplorerStatus;
    const html = privacyPage(status, r);
    expect(html).to.include("Skellam").and.to.include('id="privacy-epsilon"').and.to.include("under-reported").and.to.include("n_min");
    const out = formatEpsilons(r.peers.find((p) => p.trainer === B)!.rows.map((x) => ({ ...x, trainer: B })), "distributed");
    expect(out).to.match(/^✗ peer-level epsilon \(distributed Skellam noise on the secure sum\) of 1 trainer/);
  });
});
