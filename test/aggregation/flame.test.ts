import { expect } from "chai";
import {
  AggregationInputError, AggregationParameterError, DEFAULT_NORM_SCREEN, createRule, judgeUpdates, majorityCluster,
} from "../../node/aggregation/index.ts";
import { aggregateAccepted, parseRuleName, roundVerdict, ruleIdOf, ruleNameOf, updateCid, type RoundUpdate } from "../../node/protocol/index.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";

const D = 3000;
const flame = () => createRule("flame");
const ctxOf = (n: number, extra: object = {}) => ({ numSamples: Array.from({ length: n }, () => 100), param: 0, ...extra });
const norm = (a: ArrayLike<number>) => { let s = 0; for (let k = 0; k < a.length; k++) s += a[k] * a[k]; return Math.sqrt(s); };
const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** 7 honest deltas around a common direction (pairwise cosine about 0.5) and three outliers. */
function syntheticRound(seed = 11) {
  const rng = mulberry32(seed);
  const gauss = (s: number) => Float32Array.from({ length: D }, () => s * randomNormal(rng));
  const global = gauss(0.1);
  const direction = gauss(0.01);
  const honest = Array.from({ length: 7 }, () => { const e = gauss(0.01); return Float32Array.from(direction, (x, k) => x + e[k]); });
  const backdoorDirection = gauss(0.02);
  const outliers = {
    signFlip: Float32Array.from(honest[0], (x) => -x),
    // a backdoored model: part honest task, mostly its own (trigger) direction
    backdoor: Float32Array.from(honest[1], (x, k) => 0.3 * x + backdoorDirection[k]),
    gaussian: gauss(0.014),
  };
  return { global, honest, outliers };
}

describe("FLAME rule (Nguyen et al. 2022)", () => {
  it("is registered as rule 6 and validates its noise parameter", () => {
    expect(ruleIdOf(parseRuleName("FLAME"))).to.equal(6);
    expect(ruleNameOf(6)).to.equal("flame");
    expect(flame().name).to.equal("flame");
    expect(() => flame().validateParam(-1)).to.throw(AggregationParameterError, /noise lambda.*got -1/);
    expect(() => flame().validateParam(0.5)).to.throw(AggregationParameterError, /got 0.5/);
    expect(() => flame().validateParam(70000)).to.throw(AggregationParameterError, /got 70000/);
    expect(() => flame().aggregate([Float32Array.of(1)], [1], { numSamples: [1], param: 0 })).to.throw(AggregationInputError, /globalWeights/);
  });

  it("rejects sign-flipped, backdoor-like and random outlier directions and keeps a majority of honest deltas only", () => {
    const { honest, outliers } = syntheticRound();
    // attackers spread over the order, so index tie-breaks favour nobody
    const deltas = [honest[0], outliers.signFlip, honest[1], honest[2], outliers.backdoor, honest[3], honest[4], outliers.gaussian, honest[5], honest[6]];
    const isHonest = deltas.map((d) => honest.includes(d));
    const accepted = flame().verdict(deltas, ctxOf(deltas.length));
    deltas.forEach((_, i) => { if (!isHonest[i]) expect(accepted[i], `outlier at ${i}`).to.equal(false); });
    const keptHonest = accepted.filter((a, i) => a && isHonest[i]).length;
    expect(keptHonest).to.be.at.least(6); // the minimum cluster size n/2 + 1
  });

  it("a scaled (boosted) delta points the honest way, so the norm screen rejects it and the clip bounds it", () => {
    const { global, honest } = syntheticRound();
    const boosted = Float32Array.from(honest[0], (x) => 10 * x);
    const deltas = [...honest, boosted];
    const updates = deltas.map((d) => Float32Array.from(global, (g, k) => g + d[k]));
    const judged = judgeUpdates(flame(), updates, global, ctxOf(updates.length, { globalWeights: global }), DEFAULT_NORM_SCREEN);
    expect(judged.accepted.slice(0, 7).filter(Boolean).length).to.be.at.least(4); // n/2 + 1 of the 7 left after the screen
    expect(judged.accepted[7]).to.equal(false);
    expect(judged.problems[7].map((p) => p.code)).to.include("norm-too-large");
    // even if it got through, its contribution is clipped to the median norm
    const agg = flame().aggregate(updates, updates.map(() => 100), ctxOf(updates.length, { globalWeights: global }));
    const aggDelta = Float64Array.from(agg, (x, k) => x - global[k]);
    const median = [...deltas.map(norm)].sort((a, b) => a - b)[4];
    expect(norm(aggDelta)).to.be.at.most(median * (1 + 1e-6));
  });

  it("clips every delta to the median norm of the accepted deltas before averaging", () => {
    const g = new Float32Array(4);
    const w = [Float32Array.of(1, 0, 0, 0), Float32Array.of(0, 2, 0, 0), Float32Array.of(0, 0, 3, 0), Float32Array.of(0, 0, 0, 100)];
    const out = flame().aggregate(w, [1, 1, 1, 1], { numSamples: [1, 1, 1, 1], param: 0, globalWeights: g });
    // median norm 2.5: the 3 and the 100 are cut to 2.5, then the mean
    expect(Array.from(out)).to.deep.equal([0.25, 0.5, 0.625, 0.625]);
    expect(norm(out)).to.be.at.most(2.5);
    // sample counts weight the clipped deltas (FedAvg-style)
    const weighted = flame().aggregate(w.slice(0, 2), [3, 1], { numSamples: [3, 1], param: 0, globalWeights: g });
    expect(Array.from(weighted)).to.deep.equal([0.75, 0.375, 0, 0]); // median 1.5 clips the 2 to 1.5
  });

  it("single-linkage majority cluster: first component of n/2 + 1, ties by index", () => {
    // points on a line: 0, 1, 2, 3 close together, 10 and 20 far away; n = 6 needs 4
    const xs = [0, 1, 2, 3, 10, 20];
    const n = xs.length;
    const dist = Float64Array.from({ length: n * n }, (_, t) => Math.abs(xs[Math.floor(t / n)] - xs[t % n]));
    expect(majorityCluster(dist, n)).to.deep.equal([true, true, true, true, false, false]);
    // equal distances: every join at the completing distance is absorbed, so all six join at once
    const flat = Float64Array.from({ length: n * n }, (_, t) => (Math.floor(t / n) === t % n ? 0 : 1));
    expect(majorityCluster(flat, n)).to.deep.equal([true, true, true, true, true, true]);
    expect(majorityCluster(new Float64Array(1), 1)).to.deep.equal([true]);
  });

  it("gives the same verdict and aggregate bits whatever the commit order (canonical order by CID)", async () => {
    const { global, honest, outliers } = syntheticRound(5);
    const deltas = [...honest, outliers.signFlip, outliers.backdoor, outliers.gaussian];
    const updates: RoundUpdate[] = [];
    for (const [i, d] of deltas.entries()) {
      const w = Float32Array.from(global, (g, k) => g + d[k]);
      updates.push({ cid: await updateCid(new Uint8Array(w.buffer)), numSamples: 100 + i, weights: w });
    }
    const setting = { rule: "flame" as const, ruleParam: 0 };
    const models = { global, previousGlobal: null };
    const run = (order: number[]) => {
      const us = order.map((i) => updates[i]);
      const v = roundVerdict(setting, models, us);
      const acceptedCids = us.filter((_, t) => v.accepted[t]).map((u) => u.cid.toString()).sort();
      return { acceptedCids, aggregate: bytes(aggregateAccepted(setting, models, us.filter((_, t) => v.accepted[t]))) };
    };
    const base = run(deltas.map((_, i) => i));
    const rng = mulberry32(99);
    for (let trial = 0; trial < 5; trial++) {
      const order = deltas.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
      const r = run(order);
      expect(r.acceptedCids).to.deep.equal(base.acceptedCids);
      expect(r.aggregate.equals(base.aggregate)).to.equal(true);
    }
    expect(base.acceptedCids.length).to.be.at.least(6);
  });

  it("optional noise (param = lambda in thousandths) is seeded by the content: reproducible bit for bit", () => {
    const { global, honest } = syntheticRound();
    const updates = honest.map((d) => Float32Array.from(global, (g, k) => g + d[k]));
    const ctx = (param: number) => ({ numSamples: updates.map(() => 1), param, globalWeights: global });
    const plain = flame().aggregate(updates, ctx(0).numSamples, ctx(0));
    const a = flame().aggregate(updates, ctx(1).numSamples, ctx(1));
    const b = flame().aggregate(updates, ctx(1).numSamples, ctx(1));
    expect(bytes(a).equals(bytes(b))).to.equal(true);
    expect(bytes(a).equals(bytes(plain))).to.equal(false);
    const noise = Float64Array.from(a, (x, k) => x - plain[k]);
    const median = [...honest.map(norm)].sort((x, y) => x - y)[3];
    expect(norm(noise) / Math.sqrt(D)).to.be.closeTo(0.001 * median, 0.0002 * median);
  });
});
