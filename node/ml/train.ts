/** Local training, evaluation and weight transfer between tfjs models and plain ModelWeights. */
import * as tf from "@tensorflow/tfjs";
import { deriveSeed, mulberry32, shuffleInPlace } from "./random.ts";
import { shapeSize, WeightsSpecMismatchError } from "./codec.ts";
import type { ModelWeights } from "./types.ts";
import type { GaussianSource } from "../privacy/gaussian.ts";
import { assertExampleDpOptions, dpSgdSampleRate, dpSgdStepsPerEpoch, noiseClippedSum, poissonSample, type ExampleDpOptions, type UniformSource } from "../privacy/dpsgd.ts";
import { clippedGradientSum, type ClippedGradientSum } from "../privacy/dpsgd-step.ts";

/** Samples as stored by datasets.ts: count × H × W × C floats and one class label each. */
export interface LabelledData {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export type OptimizerName = "sgd" | "adagrad" | "adam";

export interface BatchInfo {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  loss: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: OptimizerName;
  /** Seeds the per-epoch shuffle: same seed, data and weights → same result on one backend. */
  seed: number;
  /** Replaces each label before training (e.g. a label-flipping attack). */
  labelTransform?: (label: number) => number;
  onBatch?: (info: BatchInfo) => void;
  /** Called after each epoch with its mean loss and the seconds it took (time spent in this callback is excluded). */
  onEpoch?: (info: { epoch: number; loss: number; seconds: number }) => void;
  /**
   * Example-level DP-SGD instead of shuffled mini-batches: each step Poisson-samples every example
   * with q = expectedBatchSize / count, clips each example's gradient to clipNorm, adds
   * N(0, (noiseMultiplier clipNorm)^2) to the sum and divides by expectedBatchSize; round(1/q) steps
   * per epoch. `batchSize` is then unused.
   */
  dp?: DpSgdTrainOptions;
}

/** DP-SGD settings plus the randomness it draws on (secure sources in deployments, seeded in simulations). */
export interface DpSgdTrainOptions extends ExampleDpOptions {
  /** Noise source: secureGaussianSource() for anything published. */
  noise: GaussianSource;
  /** Uniforms for Poisson sampling: secureUniformSource() for anything published (the sample must stay secret). */
  sampler: UniformSource;
}

export interface TrainResult {
  /** Mean training loss over the last epoch. */
  loss: number;
  /** Samples processed over all epochs. */
  samples: number;
  seconds: number;
  /** With DP-SGD: the steps taken (each one subsampled Gaussian mechanism) and their sample rate q. */
  dp?: { steps: number; sampleRate: number; clippedFraction: number };
}

/** Training parameters or data that cannot be used. */
export class TrainingInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingInputError";
  }
}

function sampleSize(model: tf.LayersModel): number {
  const shape = model.inputs[0].shape.slice(1);
  return shape.reduce((a: number, b) => a * (b ?? 1), 1);
}

function numClassesOf(model: tf.LayersModel): number {
  const last = model.outputs[0].shape[model.outputs[0].shape.length - 1];
  if (last === null) throw new TrainingInputError("model output has an unknown class dimension");
  return last;
}

function checkData(model: tf.LayersModel, data: LabelledData): number {
  const size = sampleSize(model);
  if (!Number.isInteger(data.count) || data.count < 1) throw new TrainingInputError(`data.count must be a positive integer, got ${data.count}`);
  if (data.images.length !== data.count * size) {
    throw new TrainingInputError(`images hold ${data.images.length} values, ${data.count} samples of ${size} need ${data.count * size}`);
  }
  if (data.labels.length !== data.count) throw new TrainingInputError(`${data.labels.length} labels for ${data.count} samples`);
  return size;
}

function makeOptimizer(name: OptimizerName, lr: number): tf.Optimizer {
  if (!(lr > 0) || !Number.isFinite(lr)) throw new TrainingInputError(`learningRate must be a positive finite number, got ${lr}`);
  switch (name) {
    case "sgd":
      return tf.train.sgd(lr);
    case "adagrad":
      return tf.train.adagrad(lr);
    case "adam":
      return tf.train.adam(lr);
    default:
      throw new TrainingInputError(`unknown optimizer ${JSON.stringify(name)}, expected "sgd", "adagrad" or "adam"`);
  }
}

/**
 * Trains `model` in place on `data` with a fresh optimizer (optimizer state does not carry over
 * between calls, as in FedAvg's local update). Mini-batches in a seeded random order per epoch.
 */
export function trainLocal(model: tf.LayersModel, data: LabelledData, opts: TrainOptions): TrainResult {
  const steps = trainSteps(model, data, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * trainLocal that yields to the event loop every `yieldEveryBatches` mini-batches, so a peer's
 * IPFS node keeps serving blocks and answering dials while it trains. Same results as trainLocal.
 */
export async function trainLocalAsync(model: tf.LayersModel, data: LabelledData, opts: TrainOptions, yieldEveryBatches = 4): Promise<TrainResult> {
  const steps = trainSteps(model, data, opts);
  for (let i = 1; ; i++) {
    const r = steps.next();
    if (r.done) return r.value;
    if (i % yieldEveryBatches === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The training loop as a generator: one step per mini-batch. */
function* trainSteps(model: tf.LayersModel, data: LabelledData, opts: TrainOptions): Generator<void, TrainResult, void> {
  if (opts.dp) return yield* dpSgdSteps(model, data, opts, opts.dp);
  const size = checkData(model, data);
  const numClasses = numClassesOf(model);
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new TrainingInputError(`epochs must be a positive integer, got ${opts.epochs}`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new TrainingInputError(`batchSize must be a positive integer, got ${opts.batchSize}`);
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  const optimizer = makeOptimizer(opts.optimizer, opts.learningRate);
  const varList = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const batchImages = new Float32Array(opts.batchSize * size);
  const batchLabels = new Int32Array(opts.batchSize);
  const order = Array.from({ length: data.count }, (_, i) => i);
  const batchesPerEpoch = Math.ceil(data.count / opts.batchSize);
  const start = performance.now();
  let samples = 0;
  let lastEpochLoss = 0;
  let callbackMs = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const epochStart = performance.now();
      shuffleInPlace(order, mulberry32(deriveSeed(opts.seed, 0x7a1e, epoch)));
      let lossSum = 0;
      for (let b = 0; b < batchesPerEpoch; b++) {
        const from = b * opts.batchSize;
        const n = Math.min(opts.batchSize, data.count - from);
        for (let i = 0; i < n; i++) {
          const src = order[from + i];
          batchImages.set(data.images.subarray(src * size, (src + 1) * size), i * size);
          const y = opts.labelTransform ? opts.labelTransform(data.labels[src]) : data.labels[src];
          if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new TrainingInputError(`label ${y} of sample ${src} is not a class in 0..${numClasses - 1}`);
          batchLabels[i] = y;
        }
        let loss = 0;
        tf.tidy(() => {
          const xs = tf.tensor(batchImages.subarray(0, n * size), [n, ...inputShape]);
          const ys = tf.oneHot(tf.tensor1d(batchLabels.subarray(0, n), "int32"), numClasses);
          const cost = optimizer.minimize(
            () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar,
            true,
            varList,
          );
          loss = cost ? cost.dataSync()[0] : NaN;
        });
        lossSum += loss * n;
        samples += n;
        opts.onBatch?.({ epoch, batch: b, batchesPerEpoch, loss });
        yield;
      }
      lastEpochLoss = lossSum / data.count;
      callbackMs += reportEpoch(opts, epoch, lastEpochLoss, epochStart);
    }
  } finally {
    optimizer.dispose();
  }
  return { loss: lastEpochLoss, samples, seconds: (performance.now() - start - callbackMs) / 1000 };
}

/** Calls onEpoch (if any) and returns the milliseconds it took, which training time leaves out. */
function reportEpoch(opts: TrainOptions, epoch: number, loss: number, epochStart: number): number {
  if (!opts.onEpoch) return 0;
  const seconds = (performance.now() - epochStart) / 1000;
  const before = performance.now();
  opts.onEpoch({ epoch, loss, seconds });
  return performance.now() - before;
}

/**
 * DP-SGD (Abadi et al. 2016) as a generator, one step per Poisson-sampled batch. The noise is added
 * on the host to the downloaded clipped sum, so it can come from the CSPRNG-backed GaussianSource.
 */
function* dpSgdSteps(model: tf.LayersModel, data: LabelledData, opts: TrainOptions, dp: DpSgdTrainOptions): Generator<void, TrainResult, void> {
  const size = checkData(model, data);
  const numClasses = numClassesOf(model);
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new TrainingInputError(`epochs must be a positive integer, got ${opts.epochs}`);
  assertExampleDpOptions(dp);
  const q = dpSgdSampleRate(dp.expectedBatchSize, data.count);
  const stepsPerEpoch = dpSgdStepsPerEpoch(dp.expectedBatchSize, data.count);
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  const optimizer = makeOptimizer(opts.optimizer, opts.learningRate);
  const varNames = model.trainableWeights.map((v) => (v.read() as tf.Variable).name);
  const varShapes = model.trainableWeights.map((v) => v.shape as number[]);
  const scratch = new Float64Array(Math.max(...varShapes.map((s) => s.reduce((a, b) => a * b, 1))));
  // Room for the largest batch Poisson sampling is likely to draw; grown on demand.
  let batchImages = new Float32Array(Math.ceil(dp.expectedBatchSize * 1.5 + 16) * size);
  let batchLabels = new Int32Array(batchImages.length / size);
  const start = performance.now();
  let samples = 0;
  let steps = 0;
  let clipped = 0;
  let lastEpochLoss = 0;
  let callbackMs = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const epochStart = performance.now();
      let lossSum = 0;
      let epochSamples = 0;

      for (let b = 0; b < stepsPerEpoch; b++) {
        const idx = poissonSample(data.count, q, dp.sampler);
        const n = idx.length;
        if (n * size > batchImages.length) {
          batchImages = new Float32Array(n * size);
          batchLabels = new Int32Array(n);
        }
        for (let i = 0; i < n; i++) {
          const src = idx[i];
          batchImages.set(data.images.subarray(src * size, (src + 1) * size), i * size);
          const y = opts.labelTransform ? opts.labelTransform(data.labels[src]) : data.labels[src];
          if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new TrainingInputError(`label ${y} of sample ${src} is not a class in 0..${numClasses - 1}`);
          batchLabels[i] = y;
        }
        // The clipped sum (zero for an empty batch: the step is still taken and noised).
        let sums: Float32Array[];
        let loss = 0;
        if (n > 0) {
          const xs = tf.tensor(batchImages.subarray(0, n * size), [n, ...inputShape]);
          const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(batchLabels.subarray(0, n), "int32"), numClasses) as tf.Tensor2D);
          let r: ClippedGradientSum;
          try {
            r = clippedGradientSum(model, xs, ys, dp.clipNorm);
          } finally {
            tf.dispose([xs, ys]);
          }
          sums = r.sums.map((t) => t.dataSync() as Float32Array);
          const norms = r.norms.dataSync();
          for (let i = 0; i < n; i++) if (norms[i] > dp.clipNorm) clipped++;
          loss = r.lossSum.dataSync()[0] / n;
          tf.dispose([...r.sums, r.norms, r.lossSum]);
        } else {
          sums = varShapes.map((s) => new Float32Array(s.reduce((a, c) => a * c, 1)));
        }
        for (const s of sums) noiseClippedSum(s, dp, dp.noise, scratch);
        const grads: tf.NamedTensorMap = {};
        varNames.forEach((name, k) => { grads[name] = tf.tensor(sums[k], varShapes[k], "float32"); });
        optimizer.applyGradients(grads);
        tf.dispose(Object.values(grads));
        lossSum += loss * n;
        epochSamples += n;
        samples += n;
        steps++;
        opts.onBatch?.({ epoch, batch: b, batchesPerEpoch: stepsPerEpoch, loss });
        yield;
      }
      lastEpochLoss = epochSamples > 0 ? lossSum / epochSamples : NaN;
      callbackMs += reportEpoch(opts, epoch, lastEpochLoss, epochStart);
    }
  } finally {
    optimizer.dispose();
  }
  return {
    loss: lastEpochLoss, samples, seconds: (performance.now() - start - callbackMs) / 1000,
    dp: { steps, sampleRate: q, clippedFraction: samples > 0 ? clipped / samples : 0 },
  };
}

/** Accuracy and mean cross-entropy loss of `model` on `data`. */
export function evaluate(model: tf.LayersModel, data: LabelledData, batchSize = 1000): { accuracy: number; loss: number } {
  const size = checkData(model, data);
  const numClasses = numClassesOf(model);
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  let correct = 0;
  let lossSum = 0;
  for (let from = 0; from < data.count; from += batchSize) {
    const n = Math.min(batchSize, data.count - from);
    tf.tidy(() => {
      const xs = tf.tensor(data.images.subarray(from * size, (from + n) * size), [n, ...inputShape]);
      const labels = tf.tensor1d(Int32Array.from(data.labels.subarray(from, from + n)), "int32");
      const logits = model.predict(xs) as tf.Tensor;
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, numClasses), logits, undefined, 0, tf.Reduction.SUM);
      const hits = logits.argMax(-1).equal(labels).sum();
      lossSum += loss.dataSync()[0];
      correct += hits.dataSync()[0];
    });
  }
  return { accuracy: correct / data.count, loss: lossSum / data.count };
}

/** Copies the model's weights out as plain data, with stable names (layer/role, no tfjs uniquifying suffix). */
export function getWeights(model: tf.LayersModel): ModelWeights {
  return {
    tensors: model.weights.map((v) => ({
      name: v.originalName,
      shape: [...v.shape] as number[],
      values: Float32Array.from(v.read().dataSync() as Float32Array),
    })),
  };
}

/** Loads plain weights into the model; names, order and shapes must match the model's. */
export function setWeights(model: tf.LayersModel, w: ModelWeights): void {
  const vars = model.weights;
  if (vars.length !== w.tensors.length) {
    throw new WeightsSpecMismatchError(`model has ${vars.length} weight tensors, got ${w.tensors.length}`);
  }
  vars.forEach((v, i) => {
    const t = w.tensors[i];
    if (t.name !== v.originalName) throw new WeightsSpecMismatchError(`tensor ${i}: model expects "${v.originalName}", got "${t.name}"`);
    if (JSON.stringify(t.shape) !== JSON.stringify(v.shape)) {
      throw new WeightsSpecMismatchError(`tensor "${t.name}": model expects shape ${JSON.stringify(v.shape)}, got ${JSON.stringify(t.shape)}`);
    }
    if (t.values.length !== shapeSize(t.shape)) throw new WeightsSpecMismatchError(`tensor "${t.name}" has ${t.values.length} values for shape ${JSON.stringify(t.shape)}`);
  });
  const tensors = w.tensors.map((t) => tf.tensor(t.values, t.shape, "float32"));
  try {
    model.setWeights(tensors);
  } finally {
    for (const t of tensors) t.dispose();
  }
}
