import { expect } from "chai";
import {
  AttackParameterError, MNIST_IMAGE_SIZE, applyAttack, applyTrigger, attackSuccessRate, poisonShard, replacementGamma, triggerPixels,
  type AttackContext,
} from "../../node/attacks/index.ts";

const S = MNIST_IMAGE_SIZE;
const at = (r: number, c: number) => r * 28 + c;

describe("backdoor (Bagdasaryan et al. 2020)", () => {
  it("applyTrigger stamps a 4x4 checker one pixel from the bottom-right corner of every image, on a copy", () => {
    const images = new Float32Array(2 * S).fill(0.5);
    const out = applyTrigger(images);
    expect(images.every((x) => x === 0.5)).to.equal(true);
    for (const base of [0, S]) {
      expect(out[base + at(23, 23)]).to.equal(1); // top-left of the pattern: bright
      expect(out[base + at(23, 24)]).to.equal(0);
      expect(out[base + at(26, 26)]).to.equal(1); // bottom-right of the pattern
      expect(out[base + at(27, 27)]).to.equal(0.5); // the margin is untouched
      expect(out[base + at(22, 23)]).to.equal(0.5);
    }
    expect(Array.from(out).filter((x, k) => x !== images[k]).length).to.equal(2 * 16);
    const square = applyTrigger(new Float32Array(S), S, { pattern: "square", size: 3, margin: 0 });
    expect(triggerPixels(S, { pattern: "square", size: 3, margin: 0 }).map((p) => p.offset)).to.include(at(27, 27));
    expect(Array.from(square).filter((x) => x === 1).length).to.equal(9);
    expect(() => applyTrigger(new Float32Array(S + 1))).to.throw(AttackParameterError, /whole number/);
    expect(() => applyTrigger(new Float32Array(S), 700)).to.throw(AttackParameterError, /square number/);
    expect(() => applyTrigger(new Float32Array(S), S, { size: 28, margin: 1 })).to.throw(AttackParameterError, /margin/);
  });

  it("poisonShard triggers and relabels a seeded fraction, reproducibly, leaving the inputs alone", () => {
    const count = 200;
    const images = new Float32Array(count * S).fill(0.25);
    const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
    const a = poisonShard(images, labels, { targetLabel: 7, fraction: 0.1, seed: 42 });
    const b = poisonShard(images, labels, { targetLabel: 7, fraction: 0.1, seed: 42 });
    const c = poisonShard(images, labels, { targetLabel: 7, fraction: 0.1, seed: 43 });
    expect(a.poisoned).to.have.length(20);
    expect(a.poisoned).to.deep.equal(b.poisoned);
    expect(a.poisoned).to.not.deep.equal(c.poisoned);
    expect(a.poisoned).to.deep.equal([...a.poisoned].sort((x, y) => x - y));
    for (let i = 0; i < count; i++) {
      const hit = a.poisoned.includes(i);
      expect(a.labels[i]).to.equal(hit ? 7 : labels[i]);
      expect(a.images[i * S + at(23, 23)]).to.equal(hit ? 1 : 0.25);
    }
    expect(labels.every((y, i) => y === i % 10)).to.equal(true);
    expect(images.every((x) => x === 0.25)).to.equal(true);
    expect(poisonShard(images, labels, { targetLabel: 7, fraction: 0, seed: 1 }).poisoned).to.deep.equal([]);
    expect(() => poisonShard(images, labels, { targetLabel: 10, fraction: 0.1, seed: 1 })).to.throw(AttackParameterError, /targetLabel/);
    expect(() => poisonShard(images, labels, { targetLabel: 1, fraction: 1.5, seed: 1 })).to.throw(AttackParameterError, /fraction/);
    expect(() => poisonShard(images.subarray(0, S), labels, { targetLabel: 1, fraction: 0.5, seed: 1 })).to.throw(AttackParameterError, /pixels for 200 labels/);
  });

  it("model replacement sends global + (n / eta) x (poisoned - global); gamma is a parameter", () => {
    const g = Float32Array.of(1, 2, 3);
    const ctx: AttackContext = { globalWeights: g, honestWeights: Float32Array.of(1.5, 2, 2), numPeers: 10, numAttackers: 1, seed: 1 };
    expect(Array.from(applyAttack("backdoor", ctx))).to.deep.equal([6, 2, -7]);
    expect(Array.from(applyAttack("backdoor", { ...ctx, params: { scale: 2 } }))).to.deep.equal([2, 2, 1]);
    expect(replacementGamma(10)).to.equal(10);
    expect(replacementGamma(10, 0.5)).to.equal(20);
    expect(() => replacementGamma(10, 0)).to.throw(AttackParameterError, /eta/);
    expect(() => applyAttack("backdoor", { ...ctx, params: { scale: -3 } })).to.throw(AttackParameterError, /scale/);
  });

  it("attackSuccessRate counts triggered non-target test images classified as the target", () => {
    const labels = Uint8Array.from([0, 1, 7, 3, 7, 5]);
    const images = new Float32Array(labels.length * S);
    // a model that answers 7 when the trigger's top-left pixel is bright, for the first three images it sees
    let calls = 0;
    const predict = (xs: Float32Array) => {
      calls++;
      const n = xs.length / S;
      return Array.from({ length: n }, (_, i) => (xs[i * S + at(23, 23)] === 1 && i < 3 ? 7 : 0));
    };
    // four non-target images (labels 0, 1, 3, 5); three are flipped to 7
    expect(attackSuccessRate(predict, images, labels, 7)).to.equal(0.75);
    expect(calls).to.equal(1);
    const clean = () => Array.from({ length: 4 }, () => 0);
    expect(attackSuccessRate(clean, images, labels, 7)).to.equal(0);
    expect(() => attackSuccessRate(predict, new Float32Array(2 * S), Uint8Array.of(7, 7), 7)).to.throw(AttackParameterError, /nothing to measure/);
    expect(() => attackSuccessRate(() => [7], images, labels, 7)).to.throw(AttackParameterError, /returned 1 classes for 4/);
  });
});
