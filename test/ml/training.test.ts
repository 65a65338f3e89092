import { expect } from "chai";
import * as tf from "@tensorflow/tfjs";
import { initBackend, registerWasmConv2DBackpropFilter } from "../../node/ml/backend.ts";
import { decodeWeights, encodeWeights, WeightsSpecMismatchError } from "../../node/ml/codec.ts";
import { loadDataset, loadLabels } from "../../node/ml/datasets.ts";
import { createModel, initialWeights, modelSpecFor, ModelSpecError } from "../../node/ml/models.ts";
import { partition } from "../../node/ml/partition.ts";
import { mulberry32 } from "../../node/ml/random.ts";
import { evaluate, getWeights, setWeights, trainLocal, TrainingInputError } from "../../node/ml/train.ts";

type Conv = { x: [number, number, number, number]; f: [number, number, number, number]; stride: number | [number, number]; pad: "same" | "valid" | number };

/** dL/dW of L = Σ conv2d(x, W) ⊙ R on the active backend (R random, so dy = R). */
function filterGrad(c: Conv, x: Float32Array, w: Float32Array, r: Float32Array): Float32Array {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x);
    const out = tf.conv2d(xt, tf.tensor4d(w, c.f), c.stride, c.pad);
    const rt = tf.tensor(r.subarray(0, out.size), out.shape);
    const g = tf.grad((ww) => tf.conv2d(xt, ww as tf.Tensor4D, c.stride, c.pad).mul(rt).sum())(tf.tensor4d(w, c.f));
    return g.dataSync() as Float32Array;
  }).slice();
}

describe("ml/backend + models + train", function () {
  this.timeout(60000);

  before(async () => {
    expect(await initBackend()).to.be.oneOf(["tensorflow", "wasm"]);
  });

  it("initBackend is idempotent and honours an explicit preference", async () => {
    const first = await initBackend();
    expect(await initBackend()).to.equal(first);
    expect(await initBackend("cpu")).to.equal("cpu");
    expect(tf.getBackend()).to.equal("cpu");
    expect(await initBackend("wasm")).to.equal("wasm");
    expect(tf.getBackend()).to.equal("wasm");
    registerWasmConv2DBackpropFilter(); // second registration is a no-op, not an error
  });

  it("wasm Conv2DBackpropFilter matches the cpu backend (stride 1/2/3, same/valid/explicit)", async () => {
    const cases: Conv[] = [
      { x: [4, 9, 9, 3], f: [3, 3, 3, 5], stride: 1, pad: "same" },
      { x: [4, 9, 9, 3], f: [3, 3, 3, 5], stride: 2, pad: "valid" },
      { x: [2, 10, 11, 2], f: [5, 4, 2, 3], stride: [2, 2], pad: "same" },
      { x: [2, 8, 8, 2], f: [3, 3, 2, 2], stride: 3, pad: "valid" },
      { x: [3, 7, 7, 2], f: [3, 3, 2, 4], stride: 2, pad: 1 },
      { x: [8, 28, 28, 1], f: [3, 3, 1, 8], stride: 1, pad: "same" },
    ];
    const rng = mulberry32(2024);
    const rand = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
    for (const c of cases) {
      const x = rand(c.x.reduce((a, b) => a * b));
      const w = rand(c.f.reduce((a, b) => a * b));
      const r = rand(c.x[0] * c.x[1] * c.x[2] * c.f[3]);
      await initBackend("cpu");
      const cpu = filterGrad(c, x, w, r);
      await initBackend("wasm");
      const before = tf.memory().numTensors;
      const wasm = filterGrad(c, x, w, r);
      expect(tf.memory().numTensors).to.equal(before);
      expect(wasm.length).to.equal(cpu.length);
      let maxDiff = 0;
      let maxAbs = 0;
      for (let i = 0; i < cpu.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(cpu[i] - wasm[i]));
        maxAbs = Math.max(maxAbs, Math.abs(cpu[i]));
      }
      expect(maxAbs, JSON.stringify(c)).to.be.greaterThan(1);
      expect(maxDiff / maxAbs, `relative error for ${JSON.stringify(c)}`).to.be.below(1e-4);
    }
  });

  it("modelSpecFor names tensors stably and createModel matches it with seeded weights", () => {
    const spec = modelSpecFor("cnn");
    expect(spec.tensors.map((t) => t.name)).to.deep.equal([
      "conv1/kernel", "conv1/bias", "conv2/kernel", "conv2/bias", "dense1/kernel", "dense1/bias", "dense2/kernel", "dense2/bias",
    ]);
    const a = createModel(spec, 3);
    const b = createModel(spec, 3); // a second model in the same process keeps the same names
    const c = createModel(spec, 4);
    const wa = encodeWeights(getWeights(a));
    expect(Buffer.from(encodeWeights(getWeights(b))).equals(Buffer.from(wa))).to.equal(true);
    expect(Buffer.from(encodeWeights(getWeights(c))).equals(Buffer.from(wa))).to.equal(false);
    expect(Buffer.from(encodeWeights(initialWeights(spec, 3))).equals(Buffer.from(wa))).to.equal(true);
    decodeWeights(wa, spec);
    [a, b, c].forEach((m) => m.dispose());
    expect(() => modelSpecFor("rnn" as "mlp")).to.throw(ModelSpecError, /unknown model "rnn"/);
  });

  it("weights round-trip through the model and the codec; wrong weights are rejected", () => {
    const spec = modelSpecFor("mlp");
    const model = createModel(spec, 1);
    const w = initialWeights(spec, 99);
    setWeights(model, decodeWeights(encodeWeights(w), spec));
    const back = getWeights(model);
    expect(Buffer.from(encodeWeights(back)).equals(Buffer.from(encodeWeights(w)))).to.equal(true);
    expect(() => setWeights(model, initialWeights(modelSpecFor("cnn"), 1))).to.throw(WeightsSpecMismatchError, /model has 4 weight tensors, got 8/);
    expect(() => setWeights(model, initialWeights(modelSpecFor("mlp", [28, 28, 1], 5), 1))).to.throw(WeightsSpecMismatchError, /"dense2\/kernel": model expects shape \[128,10\], got \[128,5\]/);
    model.dispose();
  });

  it("an MLP learns MNIST: 2k samples, 1 epoch → well above chance, deterministic, no tensor leak", () => {
    const shard = partition(loadLabels("mnist", "train"), 30, { kind: "iid" }, 5)[0]; // 2000 samples
    const train = loadDataset("mnist", "train", shard);
    const test = loadDataset("mnist", "test", Array.from({ length: 2000 }, (_, i) => i * 5));
    expect(train.count).to.equal(2000);
    const spec = modelSpecFor("mlp");
    const model = createModel(spec, 1);
    const before = evaluate(model, test);
    const tensorsBefore = tf.memory().numTensors;
    let batches = 0;
    const opts = { epochs: 1, batchSize: 32, learningRate: 1e-3, optimizer: "adam" as const, seed: 7, onBatch: () => batches++ };
    const result = trainLocal(model, train, opts);
    expect(tf.memory().numTensors).to.equal(tensorsBefore);
    const after = evaluate(model, test);
    expect(batches).to.equal(Math.ceil(2000 / 32));
    expect(result.samples).to.equal(2000);
    expect(result.loss).to.be.below(1.5);
    expect(after.accuracy).to.be.greaterThan(0.8);
    expect(after.accuracy).to.be.greaterThan(before.accuracy + 0.5);
    expect(after.loss).to.be.below(before.loss);
    // Same seed, data and start → bit-identical weights; another seed → different ones.
    const small = { images: train.images.subarray(0, 320 * 784), labels: train.labels.subarray(0, 320), count: 320 };
    const [a, b, c] = [1, 1, 2].map((shuffleSeed) => {
      const m = createModel(spec, 1);
      trainLocal(m, small, { ...opts, seed: shuffleSeed, onBatch: undefined });
      const bytes = Buffer.from(encodeWeights(getWeights(m)));
      m.dispose();
      return bytes;
    });
    expect(a.equals(b)).to.equal(true);
    expect(a.equals(c)).to.equal(false);
    model.dispose();
  });

  it("a CNN trains on wasm (the filter gradient kernel is in place) and labelTransform is applied", () => {
    const train = loadDataset("mnist", "train", Array.from({ length: 256 }, (_, i) => i));
    const model = createModel(modelSpecFor("cnn"), 2);
    const start = getWeights(model).tensors[0].values.slice();
    const r = trainLocal(model, train, { epochs: 1, batchSize: 32, learningRate: 1e-3, optimizer: "sgd", seed: 1 });
    expect(Number.isFinite(r.loss)).to.equal(true);
    expect(getWeights(model).tensors[0].values).to.not.deep.equal(start);
    // Every label flipped to class 3: the model learns to predict 3 for everything.
    trainLocal(model, train, { epochs: 3, batchSize: 32, learningRate: 1e-2, optimizer: "adam", seed: 1, labelTransform: () => 3 });
    const allThree = { ...train, labels: new Uint8Array(train.count).fill(3) };
    expect(evaluate(model, allThree).accuracy).to.be.greaterThan(0.95);
    expect(() => trainLocal(model, train, { epochs: 1, batchSize: 32, learningRate: 1e-3, optimizer: "adam", seed: 1, labelTransform: () => 12 })).to.throw(TrainingInputError, /label 12/);
    expect(() => trainLocal(model, { ...train, count: 3 }, { epochs: 1, batchSize: 32, learningRate: 1e-3, optimizer: "adam", seed: 1 })).to.throw(TrainingInputError, /images hold/);
    model.dispose();
  });
});
