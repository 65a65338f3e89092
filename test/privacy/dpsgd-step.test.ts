import { expect } from "chai";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../node/ml/backend.ts";
import { loadDataset } from "../../node/ml/datasets.ts";
import { createLearner } from "../../node/ml/learner.ts";
import { createModel, modelSpecFor } from "../../node/ml/models.ts";
import { mulberry32 } from "../../node/ml/random.ts";
import { evaluate, getWeights, trainLocal } from "../../node/ml/train.ts";
import { createLogger } from "../../node/lib/log.ts";
import { dpSgdEpsilon, dpSgdSampleRate, dpSgdStepsPerEpoch } from "../../node/privacy/dpsgd.ts";
import {
  bruteForceGradientNorms,
  clippedGradientSum,
  ghostClippedGradientSum,
  perExampleClippedGradientSum,
  supportsGhostClipping,
} from "../../node/privacy/dpsgd-step.ts";
import { seededGaussianSource } from "../../node/privacy/gaussian.ts";
import { flattenWeights } from "../../node/ml/codec.ts";

function norm(ts: tf.Tensor[]): number {
  let s = 0;
  for (const t of ts) for (const v of t.dataSync()) s += v * v;
  return Math.sqrt(s);
}

describe("privacy: DP-SGD per-example clipping in tfjs", function () {
  this.timeout(120_000);
  let mnist: ReturnType<typeof loadDataset>;
  let test: ReturnType<typeof loadDataset>;

  before(async () => {
    await initBackend("wasm");
    mnist = loadDataset("mnist", "train", Array.from({ length: 2000 }, (_, i) => i));
    test = loadDataset("mnist", "test", Array.from({ length: 1000 }, (_, i) => i));
  });

  function batch(from: number, n: number): { xs: tf.Tensor; ys: tf.Tensor2D } {
    return {
      xs: tf.tensor(mnist.images.subarray(from * 784, (from + n) * 784), [n, 28, 28, 1]),
      ys: tf.oneHot(tf.tensor1d(Array.from(mnist.labels.subarray(from, from + n)), "int32"), 10) as tf.Tensor2D,
    };
  }

  it("ghost-clipping norms equal brute-force per-example gradient norms (tf.grads one example at a time) to 1e-4 relative", () => {
    const model = createModel(modelSpecFor("mlp"), 11);
    const { xs, ys } = batch(0, 12);
    const g = ghostClippedGradientSum(model, xs, ys, 1);
    const fast = g.norms.dataSync();
    const slow = bruteForceGradientNorms(model, xs, ys);
    for (let i = 0; i < slow.length; i++) expect(Math.abs(fast[i] - slow[i]) / slow[i], `example ${i}`).to.be.below(1e-4);
    tf.dispose([xs, ys, ...g.sums, g.norms, g.lossSum]);
    model.dispose();
  });

  it("the ghost clipped sum a^T diag(c) delta equals the sum of one-at-a-time clipped gradients", () => {
    const model = createModel(modelSpecFor("mlp"), 12);
    const { xs, ys } = batch(20, 16);
    const clip = 0.3 * Math.min(...bruteForceGradientNorms(model, xs, ys)) + 0.7 * Math.max(...bruteForceGradientNorms(model, xs, ys));
    const fast = ghostClippedGradientSum(model, xs, ys, clip); // some examples clipped, some not
    const slow = perExampleClippedGradientSum(model, xs, ys, clip);
    const factors = Array.from(slow.norms.dataSync()).map((n) => Math.min(1, clip / n));
    expect(factors.some((c) => c < 1) && factors.some((c) => c === 1)).to.equal(true);
    fast.sums.forEach((f, k) => {
      const a = f.dataSync();
      const b = slow.sums[k].dataSync();
      let err = 0, scale = 0;
      for (let i = 0; i < a.length; i++) { err = Math.max(err, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(b[i])); }
      expect(err / scale, `tensor ${k}`).to.be.below(1e-4);
    });
    expect(fast.lossSum.dataSync()[0]).to.be.closeTo(slow.lossSum.dataSync()[0], 1e-3);
    tf.dispose([xs, ys, ...fast.sums, fast.norms, fast.lossSum, ...slow.sums, slow.norms, slow.lossSum]);
    model.dispose();
  });

  it("clipping bounds each example's contribution: adding any one example moves the clipped sum by at most C", () => {
    const model = createModel(modelSpecFor("mlp"), 13);
    const C = 0.5;
    const { xs, ys } = batch(40, 9);
    const without = ghostClippedGradientSum(model, tf.slice(xs, 0, 8), tf.slice(ys, 0, 8), C);
    const withAll = ghostClippedGradientSum(model, xs, ys, C);
    const diff = withAll.sums.map((s, k) => tf.sub(s, without.sums[k]));
    expect(norm(diff)).to.be.at.most(C * (1 + 1e-4));
    expect(Math.max(...withAll.norms.dataSync())).to.be.above(C); // the bound came from clipping, not from small gradients
    for (let i = 0; i < 8; i++) {
      const one = ghostClippedGradientSum(model, tf.slice(xs, i, 1), tf.slice(ys, i, 1), C);
      expect(norm(one.sums)).to.be.at.most(C * (1 + 1e-4));
      tf.dispose([...one.sums, one.norms, one.lossSum]);
    }
    tf.dispose([xs, ys, ...diff, ...without.sums, without.norms, without.lossSum, ...withAll.sums, withAll.norms, withAll.lossSum]);
    model.dispose();
  });

  it("the CNN takes the exact one-example-at-a-time path, with the same clipping bound", () => {
    const model = createModel(modelSpecFor("cnn"), 14);
    expect(supportsGhostClipping(model)).to.equal(false);
    expect(supportsGhostClipping(createModel(modelSpecFor("mlp"), 1))).to.equal(true);
    const { xs, ys } = batch(60, 3);
    const r = clippedGradientSum(model, xs, ys, 0.1);
    for (let i = 0; i < 3; i++) {
      const one = clippedGradientSum(model, tf.slice(xs, i, 1), tf.slice(ys, i, 1), 0.1);
      expect(norm(one.sums)).to.be.at.most(0.1 * (1 + 1e-4));
      tf.dispose([...one.sums, one.norms, one.lossSum]);
    }
    expect(norm(r.sums)).to.be.at.most(0.3 * (1 + 1e-4));
    tf.dispose([xs, ys, ...r.sums, r.norms, r.lossSum]);
    model.dispose();
  });

  it("on empty (zero-gradient) batches each step is pure noise with std sigma C / expectedBatchSize", () => {
    const model = createModel(modelSpecFor("mlp"), 15);
    const before = flattenWeights(getWeights(model));
    const dp = { clipNorm: 2, noiseMultiplier: 1.5, expectedBatchSize: 50, noise: seededGaussianSource(5), sampler: () => 0.999999 };
    // 100 examples at expected batch 50: q = 1/2, two steps per epoch; the sampler never includes an example.
    const r = trainLocal(model, { images: mnist.images.subarray(0, 100 * 784), labels: mnist.labels.subarray(0, 100), count: 100 }, {
      epochs: 1, batchSize: 1, learningRate: 1, optimizer: "sgd", seed: 1, dp,
    });
    expect(r.samples).to.equal(0);
    expect(r.dp?.steps).to.equal(2);
    const after = flattenWeights(getWeights(model));
    let s = 0, s2 = 0;
    for (let k = 0; k < after.length; k++) { const d = after[k] - before[k]; s += d; s2 += d * d; }
    const mean = s / after.length;
    const std = Math.sqrt(s2 / after.length - mean * mean);
    // Two SGD steps at learning rate 1: the sum of two draws, std sqrt(2) sigma C / B. Over 101 770
    // coordinates the sample std is within 1 % of it with overwhelming probability.
    const expected = (Math.SQRT2 * 1.5 * 2) / 50;
    expect(std).to.be.closeTo(expected, 0.01 * expected);
    expect(Math.abs(mean)).to.be.below((5 * expected) / Math.sqrt(after.length));
    model.dispose();
  });

  it("a tiny DP-SGD run (2000 MNIST examples, sigma 1, 4 epochs) learns far above chance, with the accountant's step count", () => {
    const model = createModel(modelSpecFor("mlp"), 16);
    const chance = evaluate(model, test).accuracy;
    const dp = { clipNorm: 1, noiseMultiplier: 1, expectedBatchSize: 100, noise: seededGaussianSource(6), sampler: mulberry32(6) };
    const r = trainLocal(model, mnist, { epochs: 4, batchSize: 1, learningRate: 2, optimizer: "sgd", seed: 1, dp });
    const acc = evaluate(model, test).accuracy;
    expect(r.dp?.steps).to.equal(4 * dpSgdStepsPerEpoch(100, 2000));
    expect(r.dp?.sampleRate).to.equal(0.05);
    expect(acc).to.be.above(0.7);
    expect(acc).to.be.above(chance + 0.5);
    const eps = dpSgdEpsilon({ noiseMultiplier: 1, sampleRate: 0.05, steps: r.dp!.steps, delta: 1e-5 });
    expect(eps).to.be.within(1, 10);
    model.dispose();
  });

  it("a learner with exampleDp trains with DP-SGD and reports the epsilon of all its steps so far", async () => {
    const silent = createLogger({ name: "t", level: "error", write: () => {} });
    const spec = modelSpecFor("mlp");
    const learner = await createLearner({
      dataset: "mnist", partition: { kind: "iid" }, partitionSeed: 1, peers: 10, peerIndex: 0, maxSamples: 500,
      epochs: 1, batchSize: 32, learningRate: 1, optimizer: "sgd", backend: "wasm", spec, seed: 1000, log: silent,
      exampleDp: { clipNorm: 1, noiseMultiplier: 1.1, expectedBatchSize: 50, noise: seededGaussianSource(1), sampler: mulberry32(1) },
    });
    try {
      expect(learner.exampleEpsilon?.(1e-5)).to.equal(0);
      const global = flattenWeights(getWeights(createModel(spec, 3)));
      await learner.train(global, { round: 1 });
      await learner.train(global, { round: 2 });
      const n = learner.trainSamples;
      const steps = 2 * dpSgdStepsPerEpoch(50, n);
      expect(learner.exampleEpsilon?.(1e-5)).to.equal(dpSgdEpsilon({ noiseMultiplier: 1.1, sampleRate: dpSgdSampleRate(50, n), steps, delta: 1e-5 }));
    } finally {
      learner.dispose();
    }
  });

  it("a learner without exampleDp reports no example-level epsilon", async () => {
    const silent = createLogger({ name: "t", level: "error", write: () => {} });
    const learner = await createLearner({
      dataset: "mnist", partition: { kind: "iid" }, partitionSeed: 1, peers: 10, peerIndex: 0, maxSamples: 100,
      epochs: 1, batchSize: 32, learningRate: 0.1, optimizer: "sgd", backend: "wasm", spec: modelSpecFor("mlp"), seed: 1000, log: silent,
    });
    expect(learner.exampleEpsilon?.(1e-5)).to.equal(null);
    learner.dispose();
  });
});
