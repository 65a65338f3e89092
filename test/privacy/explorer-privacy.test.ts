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
});
