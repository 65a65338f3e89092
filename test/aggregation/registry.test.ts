import { expect } from "chai";
import {
  AggregationInputError, AggregationParameterError, createRule, judgeUpdates, validateUpdate, type RuleUnitName,
} from "../../node/aggregation/index.ts";
import { parseRuleName, ruleIdOf, ruleNameOf, ruleParamFromChain, UnknownNameError } from "../../node/protocol/index.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";

const v = (...xs: number[]) => Float32Array.from(xs);

/** A round: global weights, 8 honest updates around a common direction, and room for attackers. */
function round(seed: number, d = 3000) {
  const rng = mulberry32(seed);
  const global = Float32Array.from({ length: d }, () => randomNormal(rng) * 0.1);
  const direction = Float32Array.from({ length: d }, () => randomNormal(rng) * 0.01);
  const honest = Array.from({ length: 8 }, () => Float32Array.from(global, (g, k) => g + direction[k] + 0.01 * randomNormal(rng)));
  return { global, direction, honest };
}

describe("rule registry", () => {
  it("maps the chain's ids and names both ways", () => {
    expect(createRule("multi-krum").name).to.equal("multi-krum");
    expect(ruleNameOf(2)).to.equal("multi-krum");
    expect(ruleIdOf(parseRuleName("Multi-Krum"))).to.equal(2);
    expect(parseRuleName("cc")).to.equal("centered-clipping");
    expect(() => parseRuleName("bulyan")).to.throw(UnknownNameError, /unknown robust rule "bulyan"/);
    expect(() => createRule("bulyan" as RuleUnitName)).to.throw(AggregationParameterError, /unknown robust rule "bulyan"/);
    expect(ruleNameOf(7)).to.equal("validation-vote");
    expect(ruleNameOf(8)).to.equal("root-validation");
    expect(() => ruleNameOf(9)).to.throw(UnknownNameError, /robust rule id 9/);
  });

  it("validates parameters with messages naming the value", () => {
    expect(() => createRule("krum").validateParam(1.5)).to.throw(AggregationParameterError, /Krum f.*got 1.5/);
    expect(() => createRule("trimmed-mean").validateParam(-1)).to.throw(AggregationParameterError, /trim count beta.*got -1/);
    expect(() => createRule("centered-clipping").validateParam(-0.1)).to.throw(AggregationParameterError, /radius tau.*got -0.1/);
    expect(() => createRule("median", { distanceFactor: 0.5 })).to.throw(AggregationParameterError, /distanceFactor.*got 0.5/);
    expect(ruleParamFromChain("centered-clipping", 2500)).to.equal(2.5);
    expect(ruleParamFromChain("multi-krum", 3)).to.equal(3);
  });

  it("verdicts on a hand-made 1-D round", () => {
    const deltas = [v(1), v(1.1), v(0.9), v(1.05), v(-5)];
    const ctx = { numSamples: [1, 1, 1, 1, 1], param: 1 };
    expect(createRule("fedavg").verdict(deltas, ctx)).to.deep.equal([true, true, true, true, true]);
    expect(createRule("krum").verdict(deltas, ctx)).to.deep.equal([false, false, false, true, false]); // 1.05 scores 0.0025 + 0.0025
    expect(createRule("multi-krum").verdict(deltas, ctx)).to.deep.equal([true, true, true, true, false]);
    // median 1, distances [0, .1, .1, .05, 6] -> limit 1.5 * 0.1
    expect(createRule("median").verdict(deltas, ctx)).to.deep.equal([true, true, true, true, false]);
    expect(createRule("trimmed-mean").verdict(deltas, ctx)).to.deep.equal([true, true, true, true, false]);
    expect(createRule("centered-clipping").verdict(deltas, { ...ctx, param: 0.2 })).to.deep.equal([true, true, true, true, false]);
  });

  it("lowers Krum's f when too few updates arrived, and accepts all below 3", () => {
    const ctx = { numSamples: [1, 1, 1, 1, 1], param: 3 }; // n = 5 allows f = 1 only
    expect(createRule("multi-krum").verdict([v(0), v(0.1), v(0.2), v(0.15), v(9)], ctx)).to.deep.equal([true, true, true, true, false]);
    expect(createRule("multi-krum").verdict([v(0), v(9)], { numSamples: [1, 1], param: 3 })).to.deep.equal([true, true]);
  });

  it("aggregates: FedAvg for 0-2, own rule for 3-5 (centered clipping needs the global weights)", () => {
    const w = [v(1), v(2), v(30)];
    const ctx = { numSamples: [1, 1, 2], param: 1 };
    expect(Array.from(createRule("multi-krum").aggregate(w, ctx.numSamples, ctx))).to.deep.equal([15.75]);
    expect(Array.from(createRule("median").aggregate(w, ctx.numSamples, ctx))).to.deep.equal([2]);
    expect(Array.from(createRule("trimmed-mean").aggregate(w, ctx.numSamples, ctx))).to.deep.equal([2]);
    expect(() => createRule("centered-clipping").aggregate(w, ctx.numSamples, ctx)).to.throw(AggregationInputError, /globalWeights/);
    const cc = createRule("centered-clipping", { ccIterations: 1 }).aggregate(w, ctx.numSamples, { ...ctx, param: 1, globalWeights: v(0) });
    expect(cc[0]).to.be.closeTo(1 + (1 + 1 + 1) / 3 - 1, 1e-6); // deltas 1,2,30 clipped to 1 each -> mean 1
  });

  it("every robust rule rejects sign-flipped and far outliers and keeps honest updates in a synthetic round", () => {
    const { global, direction, honest } = round(11);
    const flipped = Float32Array.from(global, (g, k) => g - 3 * direction[k]);
    const updates = [...honest.slice(0, 4), flipped, ...honest.slice(4)];
    for (const id of ["multi-krum", "median", "trimmed-mean", "centered-clipping"] as const) {
      const j = judgeUpdates(createRule(id), updates, global, { numSamples: updates.map(() => 100), param: id === "centered-clipping" ? 0 : 1 });
      expect(j.accepted, `rule ${id}`).to.deep.equal([true, true, true, true, false, true, true, true, true]);
    }
  });
});

describe("direction test of the distance-based verdicts", () => {
  it("rejects sign-flipped deltas even when per-peer noise dominates distances", () => {
    const rng = mulberry32(21);
    const d = 5000;
    const mu = Float32Array.from({ length: d }, () => randomNormal(rng) * 0.005);
    const noisy = (sign: number) => Float32Array.from(mu, (m) => sign * (m + 0.01 * randomNormal(rng)));
    const deltas = [noisy(1), noisy(-1), noisy(1), noisy(1), noisy(-1), noisy(1), noisy(1), noisy(-1), noisy(1), noisy(1)];
    const expected = [true, false, true, true, false, true, true, false, true, true];
    const ctx = { numSamples: deltas.map(() => 1), param: 0 };
    for (const id of ["median", "centered-clipping"] as const) expect(createRule(id).verdict(deltas, ctx), `rule ${id}`).to.deep.equal(expected);
    expect(createRule("trimmed-mean").verdict(deltas, { ...ctx, param: 3 })).to.deep.equal(expected);
    // distance alone cannot tell: the flipped deltas are about as far from the median as honest ones
    const wide = createRule("median", { distanceFactor: 1e9 }).verdict(deltas, ctx);
    expect(wide).to.deep.equal(expected);
  });
});

describe("update validation", () => {
  it("reports wrong length, non-finite entries and norm bounds", () => {
    expect(validateUpdate(v(1, 2), 3)[0].code).to.equal("wrong-length");
    expect(validateUpdate(v(1, NaN), 2)[0].message).to.match(/entry 1 is NaN/);
    expect(validateUpdate(v(3, 4), 2, 4)[0].code).to.equal("norm-too-large");
    expect(validateUpdate(v(0.3, 0.4), 2, 4, 1)[0].code).to.equal("norm-too-small");
    expect(validateUpdate(v(3, 4), 2, 6, 1)).to.deep.equal([]);
  });

  it("judgeUpdates screens malformed, scaled and free-riding updates before the rule", () => {
    const { global, honest } = round(12);
    const scaled = Float32Array.from(global, (g, k) => g + 10 * (honest[0][k] - g));
    const free = Float32Array.from(global);
    const nan = Float32Array.from(honest[1]); nan[5] = NaN;
    const short = honest[2].subarray(1);
    const updates = [scaled, ...honest, free, nan, short];
    const j = judgeUpdates(createRule("median"), updates, global, { numSamples: updates.map(() => 50), param: 0 });
    expect(j.accepted).to.deep.equal([false, true, true, true, true, true, true, true, true, false, false, false]);
    expect(j.problems[0][0].code).to.equal("norm-too-large");
    expect(j.problems[9][0].code).to.equal("norm-too-small");
    expect(j.problems[10][0].code).to.equal("non-finite");
    expect(j.problems[11][0].code).to.equal("wrong-length");
    // rule 0 (undefended FedAvg) keeps structural checks only
    const j0 = judgeUpdates(createRule("fedavg"), updates, global, { numSamples: updates.map(() => 50), param: 0 });
    expect(j0.accepted).to.deep.equal([true, true, true, true, true, true, true, true, true, true, false, false]);
  });
});
