import { expect } from "chai";
import { AttackParameterError, applyAttack, minMaxDelta, minSumDelta, type AttackContext } from "../../node/attacks/index.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";

const D = 3000;
const N = 8;
function round(seed = 3) {
  const rng = mulberry32(seed);
  const global = Float32Array.from({ length: D }, () => randomNormal(rng) * 0.1);
  const direction = Float32Array.from({ length: D }, () => randomNormal(rng) * 0.01);
  const benign = Array.from({ length: N }, () => Float32Array.from(direction, (x) => x + 0.01 * randomNormal(rng)));
  const ctx: AttackContext = {
    globalWeights: global, honestWeights: Float32Array.from(global, (g, k) => g + benign[0][k]),
    colluderHonestDeltas: benign, numPeers: 10, numAttackers: N, seed: 5,
  };
  return { global, benign, ctx };
}
const sq = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let k = 0; k < a.length; k++) s += (a[k] - b[k]) ** 2; return s; };
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let k = 0; k < a.length; k++) s += a[k] * b[k]; return s; };
const meanOf = (vs: readonly Float32Array[]) => Float64Array.from({ length: vs[0].length }, (_, k) => vs.reduce((s, v) => s + v[k], 0) / vs.length);
const deltaOf = (w: Float32Array, g: Float32Array) => Float64Array.from(w, (x, k) => x - g[k]);
const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

describe("min-max and min-sum (Shejwalkar & Houmansadr 2021)", () => {
  it("min-max: the crafted delta's largest distance to a benign delta stays within the largest benign pairwise distance", () => {
    const { benign, ctx, global } = round();
    const sent = deltaOf(applyAttack("min-max", ctx), global);
    let maxBenign = 0;
    for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) maxBenign = Math.max(maxBenign, sq(benign[i], benign[j]));
    const maxMalicious = Math.max(...benign.map((b) => sq(sent, b)));
    expect(maxMalicious).to.be.at.most(maxBenign * (1 + 1e-5));
    // ... and the search pushed it to the edge of that constraint (within the tolerance)
    expect(maxMalicious).to.be.greaterThan(maxBenign * 0.999);
  });

  it("min-sum: the crafted delta's sum of squared distances stays within the largest benign sum", () => {
    const { benign, ctx, global } = round();
    const sent = deltaOf(applyAttack("min-sum", ctx), global);
    const sums = benign.map((a) => benign.reduce((s, b) => s + sq(a, b), 0));
    const malicious = benign.reduce((s, b) => s + sq(sent, b), 0);
    expect(malicious).to.be.at.most(Math.max(...sums) * (1 + 1e-5));
    expect(malicious).to.be.greaterThan(Math.max(...sums) * 0.999);
    // the reference code's stricter bound (min over the benign sums) gives a smaller gamma
    const strict = minSumDelta(benign, { bound: "min" });
    expect(strict.value).to.be.at.most(Math.min(...sums) * (1 + 1e-9));
    expect(strict.gamma).to.be.lessThan(minSumDelta(benign).gamma);
  });

  it("moves the delta away from the benign mean along -std, at least as far from it as the farthest benign delta", () => {
    const { benign, ctx, global } = round();
    const mean = meanOf(benign);
    const farthestBenign = Math.max(...benign.map((b) => sq(b, mean)));
    for (const kind of ["min-max", "min-sum"] as const) {
      const sent = deltaOf(applyAttack(kind, ctx), global);
      // min-sum's bound works out to exactly the farthest benign delta's distance to the mean (the
      // cross terms cancel in the sum), min-max's reaches beyond it
      expect(sq(sent, mean), kind).to.be.greaterThan(farthestBenign * (kind === "min-sum" ? 0.999 : 1));
      // every coordinate is pushed below the mean (perturbation -std)
      const shift = Float64Array.from(sent, (x, k) => x - mean[k]);
      expect(shift.every((x) => x <= 0), kind).to.equal(true);
    }
    expect(minMaxDelta(benign).gamma).to.be.greaterThan(1);
  });

  it("is reproducible: same inputs, same bytes; every colluder sends the same update", () => {
    const { ctx } = round();
    for (const kind of ["min-max", "min-sum"] as const) {
      const a = applyAttack(kind, ctx);
      const b = applyAttack(kind, { ...ctx, seed: 999, honestWeights: ctx.globalWeights });
      expect(bytes(a).equals(bytes(b)), kind).to.equal(true);
    }
  });

  it("the other perturbations (-unit mean, -sign mean) also satisfy the min-max constraint", () => {
    const { benign } = round();
    let maxBenign = 0;
    for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) maxBenign = Math.max(maxBenign, sq(benign[i], benign[j]));
    for (const perturbation of ["unit-vec", "sign"] as const) {
      const r = minMaxDelta(benign, { perturbation });
      expect(r.value, perturbation).to.be.at.most(maxBenign);
      expect(Math.max(...benign.map((b) => sq(r.delta, b))), perturbation).to.be.at.most(maxBenign * (1 + 1e-5));
      expect(dot(r.delta, meanOf(benign)), perturbation).to.be.lessThan(dot(meanOf(benign), meanOf(benign)));
    }
  });

  it("a lone attacker (no colluders) has no spread to hide in and sends its own delta", () => {
    const { ctx, global } = round();
    const lone = { ...ctx, colluderHonestDeltas: undefined, numAttackers: 1 };
    const sent = applyAttack("min-max", lone);
    for (let k = 0; k < D; k++) expect(sent[k]).to.be.closeTo(lone.honestWeights[k], 1e-7);
    expect(sent.length).to.equal(global.length);
  });

  it("validates gamma init, tolerance and perturbation", () => {
    const { ctx, benign } = round();
    expect(() => applyAttack("min-max", { ...ctx, params: { gammaInit: 0 } })).to.throw(AttackParameterError, /gammaInit must be a finite number > 0, got 0/);
    expect(() => applyAttack("min-sum", { ...ctx, params: { tolerance: -1 } })).to.throw(AttackParameterError, /tolerance must be .* got -1/);
    expect(() => applyAttack("min-sum", { ...ctx, params: { gammaInit: 1, tolerance: 2 } })).to.throw(AttackParameterError, /tolerance/);
    expect(() => minMaxDelta(benign, { perturbation: "bogus" as never })).to.throw(AttackParameterError, /unknown perturbation "bogus"/);
    expect(() => minMaxDelta([])).to.throw(AttackParameterError, /at least one benign delta/);
    // a coarser tolerance is honoured and still respects the constraint
    const coarse = minMaxDelta(benign, { gammaInit: 20, tolerance: 0.1 });
    expect(coarse.value).to.be.at.most(coarse.bound);
  });
});
