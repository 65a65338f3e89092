import { expect } from "chai";
import {
  AttackParameterError, alieZ, applyAttack, attackKinds, inverseNormalCdf, labelFlip, parseAttack, type AttackContext,
} from "../../node/attacks/index.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";

const D = 2000;
function setup(seed = 1) {
  const rng = mulberry32(seed);
  const global = Float32Array.from({ length: D }, () => randomNormal(rng) * 0.1);
  const direction = Float32Array.from({ length: D }, () => randomNormal(rng) * 0.01);
  const honestDeltas = Array.from({ length: 3 }, () => Float32Array.from(direction, (x) => x + 0.005 * randomNormal(rng)));
  const honestWeights = Float32Array.from(global, (g, k) => g + honestDeltas[0][k]);
  const ctx: AttackContext = { globalWeights: global, honestWeights, colluderHonestDeltas: honestDeltas, numPeers: 10, numAttackers: 3, seed: 42 };
  return { ctx, global, honestDeltas };
}
const delta = (w: Float32Array, g: Float32Array) => Float64Array.from(w, (x, k) => x - g[k]);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let k = 0; k < a.length; k++) s += a[k] * b[k]; return s; };
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));

describe("attacks", () => {
  it("sign-flip negates the delta", () => {
    const { ctx, global } = setup();
    const sent = delta(applyAttack("sign-flip", ctx), global);
    const honest = delta(ctx.honestWeights, global);
    for (let k = 0; k < D; k++) expect(sent[k]).to.be.closeTo(-honest[k], 1e-7);
  });

  it("scale multiplies the delta by the peer count by default, or by params.scale", () => {
    const { ctx, global } = setup();
    const honest = delta(ctx.honestWeights, global);
    const boosted = delta(applyAttack("scale", ctx), global);
    const custom = delta(applyAttack("scale", { ...ctx, params: { scale: 3 } }), global);
    for (let k = 0; k < D; k++) {
      expect(boosted[k]).to.be.closeTo(10 * honest[k], 1e-6);
      expect(custom[k]).to.be.closeTo(3 * honest[k], 1e-6);
    }
    expect(() => applyAttack("scale", { ...ctx, params: { scale: -1 } })).to.throw(AttackParameterError, /scale.*got -1/);
  });

  it("free-rider sends the global model (exactly with sigma 0, within tiny noise by default)", () => {
    const { ctx, global } = setup();
    expect(Array.from(applyAttack("free-rider", { ...ctx, params: { sigma: 0 } }))).to.deep.equal(Array.from(global));
    const noisy = delta(applyAttack("free-rider", ctx), global);
    expect(norm(noisy)).to.be.greaterThan(0);
    expect(norm(noisy)).to.be.lessThan(0.1 * norm(delta(ctx.honestWeights, global)));
  });

  it("gaussian replaces the delta by N(0, sigma^2), deterministic in the seed", () => {
    const { ctx, global } = setup();
    const a = applyAttack("gaussian", ctx);
    const b = applyAttack("gaussian", ctx);
    const c = applyAttack("gaussian", { ...ctx, seed: 43 });
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).to.equal(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).to.equal(false);
    const std = norm(delta(a, global)) / Math.sqrt(D);
    expect(std).to.be.closeTo(0.1, 0.01);
  });

  it("ALIE stays inside the honest per-coordinate std band, shifted against the mean by z std", () => {
    const { ctx, global, honestDeltas } = setup();
    const z = alieZ(10, 3);
    expect(z).to.be.closeTo(inverseNormalCdf(0.7), 1e-12); // s = floor(10/2 + 1) - 3 = 3
    expect(z).to.be.closeTo(0.5244, 1e-3);
    const sent = delta(applyAttack("alie", ctx), global);
    for (let k = 0; k < D; k++) {
      const xs = honestDeltas.map((h) => h[k]);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
      expect(sent[k]).to.be.within(mean - std - 1e-7, mean + std + 1e-7);
      expect(sent[k]).to.be.closeTo(mean - z * std, 1e-6);
    }
  });

  it("IPM is anti-aligned with the honest mean", () => {
    const { ctx, global, honestDeltas } = setup();
    const mean = Float64Array.from({ length: D }, (_, k) => honestDeltas.reduce((s, h) => s + h[k], 0) / honestDeltas.length);
    const sent = delta(applyAttack("ipm", ctx), global);
    expect(dot(sent, mean) / (norm(sent) * norm(mean))).to.be.closeTo(-1, 1e-6);
    expect(norm(sent)).to.be.closeTo(0.5 * norm(mean), 1e-5);
  });

  it("label-flip maps y to 9 - y and leaves the trained update as is", () => {
    expect(Array.from(labelFlip(Uint8Array.from([0, 1, 2, 9, 5])))).to.deep.equal([9, 8, 7, 0, 4]);
    expect(() => labelFlip([3, 10])).to.throw(AttackParameterError, /label 1 is 10/);
    const { ctx } = setup();
    expect(Array.from(applyAttack("label-flip", ctx))).to.deep.equal(Array.from(ctx.honestWeights));
  });

  it("parses names and aliases, rejects unknown ones with the list", () => {
    expect(parseAttack("Sign-Flip")).to.equal("sign-flip");
    expect(parseAttack("noise")).to.equal("gaussian");
    expect(parseAttack("freerider")).to.equal("free-rider");
    expect(parseAttack("minmax")).to.equal("min-max");
    expect(parseAttack("MIN-SUM")).to.equal("min-sum");
    expect(parseAttack("model-replacement")).to.equal("backdoor");
    expect(() => parseAttack("trojan")).to.throw(AttackParameterError, /unknown attack "trojan"; known: sign-flip/);
    expect(attackKinds).to.have.length(10);
  });
});
