// node/privacy/ledger.ts: the example-level accounting behind PrivacyLedger reports, budgets and audits.
import { expect } from "chai";
import { dpSgdEpsilon, dpSgdSampleRate, dpSgdStepsPerEpoch } from "../../node/privacy/dpsgd.ts";
import {
  auditPeerEpsilon, decodeLedgerParams, encodeLedgerParams, epsilonToMilli, exampleEpsilon, exampleStepsPerRound, planNextRound,
  type LedgerParams,
} from "../../node/privacy/ledger.ts";
import { PrivacyParameterError } from "../../node/privacy/errors.ts";

const P: LedgerParams = { unit: "example", clipNorm: 1, noiseMultiplier: 1.1, expectedBatchSize: 64, localEpochs: 2, delta: 1e-5, epsilonBudget: 3 };

describe("privacy ledger: parameters", () => {
  it("round-trips natural units through the contract's milli-units", () => {
    const raw = encodeLedgerParams(P);
    expect(raw).to.deep.equal({ unit: 2, clipNormMilli: 1000, noiseMultiplierMilli: 1100, expectedBatchSize: 64, localEpochs: 2, deltaExponent: 5, epsilonBudgetMilli: 3000, noisePeers: 0, scaleBits: 0 });
    expect(decodeLedgerParams({ ...raw, unit: 2n, epsilonBudgetMilli: 3000n })).to.deep.equal(P);
    expect(decodeLedgerParams({ ...raw, epsilonBudgetMilli: 0, clipNormMilli: 0 })).to.include({ epsilonBudget: Infinity, clipNorm: null });
    expect(decodeLedgerParams({ ...raw, unit: 0 })).to.equal(null);
  });

  it("refuses what the contract would refuse", () => {
    expect(() => encodeLedgerParams({ ...P, noiseMultiplier: 0 })).to.throw(PrivacyParameterError);
    expect(() => encodeLedgerParams({ ...P, delta: 2e-5 })).to.throw(PrivacyParameterError, /10\^-k/);
    expect(() => encodeLedgerParams({ ...P, expectedBatchSize: 0 })).to.throw(PrivacyParameterError);
    expect(() => encodeLedgerParams({ ...P, epsilonBudget: 0.0001 })).to.throw(PrivacyParameterError, /rounds to 0/);
    expect(() => decodeLedgerParams({ ...encodeLedgerParams(P), unit: 7 })).to.throw(PrivacyParameterError, /unit 7/);
  });
});

describe("privacy ledger: a peer's epsilon from its commits", () => {
  it("equals the DP-SGD accountant's epsilon over rounds x epochs x round(N / B) steps at q = B / N", () => {
    const n = 900;
    const steps = 3 * P.localEpochs * dpSgdStepsPerEpoch(64, n);
    expect(exampleStepsPerRound(P, n)).to.equal(2 * 14);
    const want = dpSgdEpsilon({ noiseMultiplier: 1.1, sampleRate: dpSgdSampleRate(64, n), steps, delta: 1e-5 });
    expect(exampleEpsilon(P, [n, n, n])).to.be.closeTo(want, 1e-12);
    expect(exampleEpsilon(P, [])).to.equal(0);
  });

  it("composes rounds with different shard sizes, in any order, between the two constant-N bounds", () => {
    const mixed = exampleEpsilon(P, [600, 1200]);
    expect(exampleEpsilon(P, [1200, 600])).to.equal(mixed);
    expect(mixed).to.be.above(exampleEpsilon(P, [1200, 1200]));
    expect(mixed).to.be.below(exampleEpsilon(P, [600, 600]));
  });

  it("grows with every committed round and refuses a shard smaller than the batch", () => {
    expect(exampleEpsilon(P, [900, 900])).to.be.above(exampleEpsilon(P, [900]));
    expect(() => exampleEpsilon(P, [63])).to.throw(PrivacyParameterError);
    expect(() => exampleEpsilon({ ...P, unit: "peer" }, [900])).to.throw(PrivacyParameterError);
  });

  it("rounds up to milli-units", () => {
    expect(epsilonToMilli(1.2341)).to.equal(1235);
    expect(epsilonToMilli(1.234)).to.equal(1234);
    expect(epsilonToMilli(0)).to.equal(1);
  });
});

describe("privacy ledger: the budget test before a round", () => {
  it("lets a peer train while its next round fits the budget, and stops it at the first that would not", () => {
    const n = 900;
    const per = [1, 2, 3, 4, 5, 6].map((r) => exampleEpsilon(P, Array(r).fill(n)));
    const lastOk = per.filter((e) => epsilonToMilli(e) <= 3000).length;
    expect(lastOk).to.be.within(1, 5); // the setting has a real stop inside six rounds
    for (let r = 0; r < 6; r++) {
      const plan = planNextRound(P, Array(r).fill(n), n);
      expect(plan.epsilonAfter).to.be.closeTo(per[r], 1e-12);
      expect(plan.withinBudget, `round ${r + 1}`).to.equal(r + 1 <= lastOk);
    }
    expect(planNextRound({ ...P, epsilonBudget: Infinity }, Array(50).fill(n), n).withinBudget).to.equal(true);
  });
});

describe("privacy ledger: audit of reported epsilons", () => {
  const n = 900;
  const e1 = epsilonToMilli(exampleEpsilon(P, [n]));
  const e2 = epsilonToMilli(exampleEpsilon(P, [n, n]));

  it("accepts exact and conservative reports", () => {
    const rows = auditPeerEpsilon({ ...P, epsilonBudget: Infinity }, [{ round: 2, numSamples: n, reportedMilli: e2 + 50 }, { round: 1, numSamples: n, reportedMilli: e1 }]);
    expect(rows.map((r) => [r.round, r.expectedMilli, r.status])).to.deep.equal([[1, e1, "ok"], [2, e2, "ok"]]);
  });

  it("flags a cheater that reports less than the task's sigma allows, a missing report, and a commit past the budget", () => {
    // A peer that ran (or claims) a smaller sigma reports less loss than the task's parameters give.
    const rows = auditPeerEpsilon({ ...P, epsilonBudget: Infinity }, [
      { round: 1, numSamples: n, reportedMilli: e1 - 1 },
      { round: 3, numSamples: n, reportedMilli: null },
    ]);
    expect(rows.map((r) => r.status)).to.deep.equal(["under-reported", "missing"]);
    const budget = { ...P, epsilonBudget: e1 / 1000 };
    expect(auditPeerEpsilon(budget, [{ round: 1, numSamples: n, reportedMilli: e1 }, { round: 2, numSamples: n, reportedMilli: e2 }]).map((r) => r.status))
      .to.deep.equal(["ok", "over-budget"]);
  });

  it("flags a claimed shard smaller than the batch (no DP-SGD run matches it)", () => {
    const rows = auditPeerEpsilon(P, [{ round: 1, numSamples: 10, reportedMilli: 100 }]);
    expect(rows[0]).to.include({ status: "invalid-samples", expectedMilli: null });
  });
});
