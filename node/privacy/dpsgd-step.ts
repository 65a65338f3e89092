// The per-example part of DP-SGD in tfjs: the SUM over a batch of per-example gradients, each clipped
// to L2 norm C (Abadi et al. 2016, Alg. 1, lines "compute gradient" and "clip gradient").
//
// Dense stacks (the MLP) use the outer-product identity behind "ghost clipping" (Goodfellow 2015,
// "Efficient Per-Example Gradient Computations"; Li, Tramèr, Liang & Hashimoto 2022): for z = a W + b
// the per-example gradients are g_i(W) = a_i^T delta_i and g_i(b) = delta_i, where delta_i is the
// gradient of the per-example loss w.r.t. z_i, so ||g_i(W)||^2 = ||a_i||^2 ||delta_i||^2 and the
// clipped sum is a^T diag(c) delta — one backward pass to the pre-activations plus one matmul per
// layer, never materialising a per-example gradient. delta comes from tf.grads w.r.t. zero "probe"
// tensors added to every pre-activation of a hand-written forward pass over the model's own variables.
//
// Other models (the CNN) take the slow exact path: one tf.grads call per example (a microbatch of 1,
// which is per-example clipping, not the "microbatch" variant that clips averages of several examples).
//
// This file loads tfjs; the rest of node/privacy does not.
import * as tf from "@tensorflow/tfjs";
import { PrivacyParameterError } from "./errors.ts";

/** The model has a layer the fast (ghost) per-example norm path does not handle. */
export class UnsupportedLayerError extends Error {
  override name = "UnsupportedLayerError";
  constructor(readonly layerName: string, readonly className: string) {
    super(`per-example gradient norms via the outer-product trick need Flatten/Dense layers only; layer "${layerName}" is a ${className}`);
  }
}

/** One dense layer of a model as the ghost path sees it. */
interface DenseLayer {
  kernel: tf.Variable;
  bias: tf.Variable | null;
  activation: (z: tf.Tensor2D) => tf.Tensor2D;
}

const ACTIVATIONS: Record<string, (z: tf.Tensor2D) => tf.Tensor2D> = {
  linear: (z) => z,
  relu: (z) => tf.relu(z),
  tanh: (z) => tf.tanh(z),
  sigmoid: (z) => tf.sigmoid(z),
  elu: (z) => tf.elu(z),
};

/**
 * The model's dense layers in order, if it is a Flatten/Dense stack (optionally with an input
 * layer); otherwise throws UnsupportedLayerError. Uses the model's own weight variables.
 */
export function denseStackOf(model: tf.LayersModel): DenseLayer[] {
  const out: DenseLayer[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === "Flatten" || cls === "InputLayer") continue;
    if (cls !== "Dense") throw new UnsupportedLayerError(layer.name, cls);
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    const activation = ACTIVATIONS[config.activation ?? "linear"];
    if (!activation) throw new UnsupportedLayerError(layer.name, `Dense with activation ${JSON.stringify(config.activation)}`);
    const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    if (vars.length < 1 || vars[0].shape.length !== 2) throw new UnsupportedLayerError(layer.name, "Dense without a 2-d kernel");
    out.push({ kernel: vars[0], bias: vars.length > 1 ? vars[1] : null, activation });
  }
  if (out.length === 0) throw new UnsupportedLayerError(model.name, "model without dense layers");
  return out;
}

/** True when the fast ghost-clipping path applies to `model`. */
export function supportsGhostClipping(model: tf.LayersModel): boolean {
  try {
    denseStackOf(model);
    return true;
  } catch (e) {
    if (e instanceof UnsupportedLayerError) return false;
    throw e;
  }
}

/** What one clipped step computes. Tensors are owned by the caller (dispose them). */
export interface ClippedGradientSum {
  /** Sum over the batch of the clipped per-example gradients, one tensor per trainable variable, in `model.trainableWeights` order. */
  sums: tf.Tensor[];
  /** Per-example gradient norms before clipping, [n]. */
  norms: tf.Tensor1D;
  /** Sum of the per-example cross-entropy losses (scalar). */
  lossSum: tf.Scalar;
}

function checkBatch(xs: tf.Tensor, ys: tf.Tensor2D, clipNorm: number): void {
  if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw new PrivacyParameterError(`clipNorm must be a finite number > 0, got ${clipNorm}`);
  if (xs.shape[0] !== ys.shape[0]) throw new PrivacyParameterError(`${xs.shape[0]} inputs but ${ys.shape[0]} labels`);
}

/**
 * Ghost clipping for a Flatten/Dense model: the clipped per-example gradient sum in one forward,
 * one backward (to the pre-activations) and one matmul per layer. `ys` is one-hot [n, classes].
 */
export function ghostClippedGradientSum(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor2D, clipNorm: number): ClippedGradientSum {
  checkBatch(xs, ys, clipNorm);
  const stack = denseStackOf(model);
  const n = xs.shape[0];
  const acts: tf.Tensor2D[] = [];
  try {
    return tf.tidy(() => {
      const x2 = xs.reshape([n, -1]) as tf.Tensor2D;
      const probes = stack.map((l) => tf.zeros([n, l.kernel.shape[1] as number]) as tf.Tensor2D);
      // Loss SUMMED over examples: its gradient w.r.t. z_i is exactly example i's delta_i.
      const forward = (...ps: tf.Tensor[]): tf.Scalar => {
        let h = x2;
        stack.forEach((l, k) => {
          acts.push(tf.keep(h));
          let z = tf.matMul(h, l.kernel as tf.Tensor2D);
          if (l.bias) z = tf.add(z, l.bias);
          h = l.activation(tf.add(z, ps[k]) as tf.Tensor2D);
        });
        return tf.losses.softmaxCrossEntropy(ys, h, undefined, 0, tf.Reduction.SUM) as tf.Scalar;
      };
      const { value, grads: deltas } = tf.valueAndGrads(forward)(probes);
      let sq: tf.Tensor1D = tf.zeros([n]);
      stack.forEach((l, k) => {
        const dSq = tf.sum(tf.square(deltas[k]), 1) as tf.Tensor1D;
        const aSq = tf.sum(tf.square(acts[k]), 1) as tf.Tensor1D;
        sq = tf.add(sq, tf.mul(aSq, dSq)) as tf.Tensor1D;
        if (l.bias) sq = tf.add(sq, dSq) as tf.Tensor1D;
      });
      const norms = tf.sqrt(sq) as tf.Tensor1D;
      const factors = tf.minimum(1, tf.div(clipNorm, tf.maximum(norms, 1e-12))).reshape([n, 1]);
      const byVar = new Map<tf.Variable, tf.Tensor>();
      stack.forEach((l, k) => {
        const cd = tf.mul(deltas[k], factors) as tf.Tensor2D;
        byVar.set(l.kernel, tf.matMul(acts[k], cd, true, false));
        if (l.bias) byVar.set(l.bias, tf.sum(cd, 0));
      });
      const sums = model.trainableWeights.map((w) => {
        const g = byVar.get(w.read() as tf.Variable);
        if (!g) throw new UnsupportedLayerError(w.name, "trainable weight outside the dense stack");
        return g;
      });
      return { sums, norms, lossSum: value };
    });
  } finally {
    for (const a of acts) if (a !== xs) a.dispose();
  }
}

/**
 * Exact per-example gradients one example at a time (tf.grads on a batch of 1), for any model:
 * calls `each(i, grads, lossValue)` with example i's gradient per trainable variable (disposed after).
 */
function forEachExampleGradient(
  model: tf.LayersModel,
  xs: tf.Tensor,
  ys: tf.Tensor2D,
  each: (i: number, grads: tf.Tensor[], loss: tf.Scalar) => void,
): void {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const n = xs.shape[0];
  for (let i = 0; i < n; i++) {
    tf.tidy(() => {
      const xi = tf.slice(xs, i, 1);
      const yi = tf.slice(ys, i, 1);
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(yi, model.apply(xi, { training: true }) as tf.Tensor, undefined, 0, tf.Reduction.SUM) as tf.Scalar,
        vars,
      );
      each(i, vars.map((v) => grads[v.name]), value);
    });
  }
}

/** Per-example gradient norms by brute force (one tf.grads call per example): the reference for tests. */
export function bruteForceGradientNorms(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor2D): Float64Array {
  const out = new Float64Array(xs.shape[0]);
  forEachExampleGradient(model, xs, ys, (i, grads) => {
    let s = 0;
    for (const g of grads) for (const v of g.dataSync()) s += v * v;
    out[i] = Math.sqrt(s);
  });
  return out;
}

/**
 * The clipped per-example gradient sum for ANY model, one example at a time (slow: no batching).
 * The CNN uses this; it is exact, and its throughput is in docs/privacy.md.
 */
export function perExampleClippedGradientSum(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor2D, clipNorm: number): ClippedGradientSum {
  checkBatch(xs, ys, clipNorm);
  const n = xs.shape[0];
  let sums = model.trainableWeights.map((w) => tf.zeros(w.shape as number[]));
  const norms = new Float32Array(n);
  let loss = 0;
  try {
    forEachExampleGradient(model, xs, ys, (i, grads, value) => {
      const sq = tf.addN(grads.map((g) => tf.sum(tf.square(g)))).dataSync()[0];
      norms[i] = Math.sqrt(sq);
      const c = norms[i] > clipNorm ? clipNorm / norms[i] : 1;
      const next = sums.map((s, k) => tf.keep(tf.add(s, tf.mul(grads[k], c))));
      for (const s of sums) s.dispose();
      sums = next;
      loss += value.dataSync()[0];
    });
  } catch (e) {
    for (const s of sums) s.dispose();
    throw e;
  }
  return { sums, norms: tf.tensor1d(norms), lossSum: tf.scalar(loss) };
}

/** The clipped per-example gradient sum by the fastest exact method that fits `model`. */
export function clippedGradientSum(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor2D, clipNorm: number): ClippedGradientSum {
  return supportsGhostClipping(model) ? ghostClippedGradientSum(model, xs, ys, clipNorm) : perExampleClippedGradientSum(model, xs, ys, clipNorm);
}
