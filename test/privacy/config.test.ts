import { expect } from "chai";
import { RdpAccountant, roundsWithinBudget } from "../../node/privacy/accountant.ts";
import { cumulativeEpsilonMilli, dpConfigFromTask, dpFieldsFromConfig, maxCommitsWithinBudget } from "../../node/privacy/config.ts";
import { PrivacyParameterError } from "../../node/privacy/errors.ts";

describe("privacy: on-chain DP configuration", () => {
  it("decodes TaskConfig's milli-unit fields (bigint, as ethers returns them)", () => {
    const cfg = dpConfigFromTask({
      dpClipNormMilli: 1500n,
      dpNoiseMultiplierMilli: 1100n,
      dpDeltaExponent: 5n,
      dpEpsilonBudgetMilli: 8000n,
    });
    expect(cfg).to.deep.equal({ clipNorm: 1.5, noiseMultiplier: 1.1, delta: 1e-5, epsilonBudget: 8 });
  });

  it("clip norm 0 means DP off; budget 0 means no budget", () => {
    expect(dpConfigFromTask({ dpClipNormMilli: 0, dpNoiseMultiplierMilli: 0, dpDeltaExponent: 0, dpEpsilonBudgetMilli: 0 })).to.equal(null);
    const cfg = dpConfigFromTask({ dpClipNormMilli: 1000, dpNoiseMultiplierMilli: 2000, dpDeltaExponent: 6, dpEpsilonBudgetMilli: 0 });
    expect(cfg?.epsilonBudget).to.equal(Infinity);
    expect(cfg?.delta).to.equal(1e-6);
  });

  it("round-trips through dpFieldsFromConfig", () => {
    const fields = dpFieldsFromConfig({ clipNorm: 0.75, noiseMultiplier: 3.492, delta: 1e-5, epsilonBudget: 8 });
    expect(fields).to.deep.equal({ dpClipNormMilli: 750, dpNoiseMultiplierMilli: 3492, dpDeltaExponent: 5, dpEpsilonBudgetMilli: 8000 });
    expect(dpConfigFromTask(fields)).to.deep.equal({ clipNorm: 0.75, noiseMultiplier: 3.492, delta: 1e-5, epsilonBudget: 8 });
  });

  it("rejects a DP-on config without a delta exponent, and a delta that is not a power of ten", () => {
    expect(() => dpConfigFromTask({ dpClipNormMilli: 1000, dpNoiseMultiplierMilli: 1000, dpDeltaExponent: 0, dpEpsilonBudgetMilli: 0 })).to.throw(
      PrivacyParameterError,
      /dpDeltaExponent .* got 0/,
    );
    expect(() => dpFieldsFromConfig({ clipNorm: 1, noiseMultiplier: 1, delta: 3e-5, epsilonBudget: 1 })).to.throw(PrivacyParameterError, /10\^-k/);
  });

  it("cumulativeEpsilonMilli is epsilon after r rounds at q = 1, rounded up, non-decreasing", () => {
    const cfg = { clipNorm: 1, noiseMultiplier: 3.5, delta: 1e-5, epsilonBudget: 8 };
    let prev = 0;
    for (let r = 1; r <= 30; r++) {
      const milli = cumulativeEpsilonMilli(r, cfg);
      const eps = RdpAccountant.epsilonAfter(r, 3.5, 1, 1e-5);
      expect(milli / 1000).to.be.at.least(eps - 1e-9);
      expect(milli / 1000).to.be.lessThan(eps + 0.001);
      expect(milli).to.be.at.least(prev);
      prev = milli;
    }
    expect(cumulativeEpsilonMilli(0, cfg)).to.equal(0);
    expect(cumulativeEpsilonMilli(3, { ...cfg, noiseMultiplier: 0 })).to.equal(4294967295);
  });

  it("maxCommitsWithinBudget is roundsWithinBudget at q = 1", () => {
    const cfg = { clipNorm: 1, noiseMultiplier: 3.5, delta: 1e-5, epsilonBudget: 8 };
    expect(maxCommitsWithinBudget(cfg)).to.equal(roundsWithinBudget(8, 1e-5, 3.5, 1));
    expect(maxCommitsWithinBudget({ ...cfg, epsilonBudget: Infinity })).to.equal(Infinity);
  });
});
