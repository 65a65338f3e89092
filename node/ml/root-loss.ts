/**
 * The loss of a model on a root-validation task's public root set (node/ml/root-set.ts), overall and per
 * class: root-validation's per-class gate (node/aggregation/rules/root-validation.ts) asks which classes an
 * update helps and which it hurts. One definition for the simulator, the verifiers and the audit, so all
 * of them compute the same numbers from the same bytes.
 */
import * as tf from "@tensorflow/tfjs";
import type { LabelledData } from "./train.ts";

/** Mean cross-entropy over the root set (`loss`) and over each class's own samples (`byClass`, NaN for a class with none). */
export interface RootLossDetail {
  loss: number;
  byClass: number[];
}

/**
 * Per-sample softmax cross-entropy of `model` on `data`, summed in float64 per class in sample order (so
 * the result depends only on the weights and the bytes, not on batching); `loss` is the mean over all samples.
 */
export function rootLossDetail(model: tf.LayersModel, data: LabelledData, numClasses: number, batchSize = 1000): RootLossDetail {
  const shape = model.inputs[0].shape.slice(1) as number[];
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.images.length !== data.count * size || data.labels.length !== data.count) {
    throw new Error(`root loss: ${data.count} samples but ${data.images.length / size} images and ${data.labels.length} labels`);
  }
  const sums = new Float64Array(numClasses);
  const counts = new Float64Array(numClasses);
  let total = 0;
  for (let from = 0; from < data.count; from += batchSize) {
    const n = Math.min(batchSize, data.count - from);
    const labels = data.labels.subarray(from, from + n);
    const losses = tf.tidy(() => {
      const xs = tf.tensor(data.images.subarray(from * size, (from + n) * size), [n, ...shape]);
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(labels), "int32"), numClasses);
      return tf.losses.softmaxCrossEntropy(y, model.predict(xs) as tf.Tensor, undefined, 0, tf.Reduction.NONE).dataSync() as Float32Array;
    });
    for (let k = 0; k < n; k++) {
      const c = labels[k];
      if (c >= numClasses) throw new Error(`root loss: label ${c} out of range 0..${numClasses - 1}`);
      sums[c] += losses[k];
      counts[c] += 1;
      total += losses[k];
    }
  }
  return { loss: data.count > 0 ? total / data.count : 0, byClass: Array.from(sums, (s, c) => (counts[c] > 0 ? s / counts[c] : Number.NaN)) };
}
