/**
 * The two model architectures peers train, with stable tensor names and seeded initialisation.
 * Both take [N, 28, 28, 1] images and output logits (no softmax; losses apply it).
 *   mlp: flatten → dense1 128 relu → dense2 (logits)                        101,770 parameters
 *   cnn: conv1 5×5×8 /2 relu → conv2 3×3×16 /2 relu → flatten → dense1 64 relu → dense2 (logits)
 */
import * as tf from "@tensorflow/tfjs";
import { shapeSize, WeightsSpecMismatchError } from "./codec.ts";
import { deriveSeed, mulberry32 } from "./random.ts";
import { setWeights } from "./train.ts";
import type { ModelSpec, ModelWeights } from "./types.ts";

export type ModelName = ModelSpec["model"];

/** A model name or shape the code cannot build. */
export class ModelSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelSpecError";
  }
}

const MLP_HIDDEN = 128;
const CNN_FILTERS: [number, number] = [8, 16];
const CNN_KERNELS: [number, number] = [5, 3];
const CNN_HIDDEN = 64;

/** The spec (tensor names and shapes in order) of a named architecture. Pure: builds no model. */
export function modelSpecFor(name: ModelName, inputShape: number[] = [28, 28, 1], numClasses = 10): ModelSpec {
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new ModelSpecError(`numClasses must be an integer >= 2, got ${numClasses}`);
  if (inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ModelSpecError(`inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  const [h, w, c] = inputShape;
  let tensors: { name: string; shape: number[] }[];
  if (name === "mlp") {
    tensors = [
      { name: "dense1/kernel", shape: [h * w * c, MLP_HIDDEN] },
      { name: "dense1/bias", shape: [MLP_HIDDEN] },
      { name: "dense2/kernel", shape: [MLP_HIDDEN, numClasses] },
      { name: "dense2/bias", shape: [numClasses] },
    ];
  } else if (name === "cnn") {
    const [f1, f2] = CNN_FILTERS;
    const [k1, k2] = CNN_KERNELS;
    // Two "same" convolutions with stride 2: each halves the spatial size (rounding up).
    const flat = Math.ceil(Math.ceil(h / 2) / 2) * Math.ceil(Math.ceil(w / 2) / 2) * f2;
    tensors = [
      { name: "conv1/kernel", shape: [k1, k1, c, f1] },
      { name: "conv1/bias", shape: [f1] },
      { name: "conv2/kernel", shape: [k2, k2, f1, f2] },
      { name: "conv2/bias", shape: [f2] },
      { name: "dense1/kernel", shape: [flat, CNN_HIDDEN] },
      { name: "dense1/bias", shape: [CNN_HIDDEN] },
      { name: "dense2/kernel", shape: [CNN_HIDDEN, numClasses] },
      { name: "dense2/bias", shape: [numClasses] },
    ];
  } else {
    throw new ModelSpecError(`unknown model ${JSON.stringify(name)}, expected "mlp" or "cnn"`);
  }
  return { model: name, inputShape: [...inputShape], numClasses, tensors };
}

function buildLayers(spec: ModelSpec): tf.Sequential {
  const init = { kernelInitializer: "zeros", biasInitializer: "zeros" } as const;
  const model = tf.sequential({ name: spec.model });
  if (spec.model === "mlp") {
    model.add(tf.layers.flatten({ name: "flatten", inputShape: spec.inputShape }));
    model.add(tf.layers.dense({ name: "dense1", units: MLP_HIDDEN, activation: "relu", ...init }));
    model.add(tf.layers.dense({ name: "dense2", units: spec.numClasses, ...init }));
  } else {
    const [f1, f2] = CNN_FILTERS;
    const [k1, k2] = CNN_KERNELS;
    // Strided convolutions instead of conv + max-pool: on the wasm backend MaxPoolGrad and
    // stride-1 Conv2DBackpropInput dominated the step time (measured 3× slower per batch).
    model.add(tf.layers.conv2d({ name: "conv1", inputShape: spec.inputShape, filters: f1, kernelSize: k1, strides: 2, padding: "same", activation: "relu", ...init }));
    model.add(tf.layers.conv2d({ name: "conv2", filters: f2, kernelSize: k2, strides: 2, padding: "same", activation: "relu", ...init }));
    model.add(tf.layers.flatten({ name: "flatten" }));
    model.add(tf.layers.dense({ name: "dense1", units: CNN_HIDDEN, activation: "relu", ...init }));
    model.add(tf.layers.dense({ name: "dense2", units: spec.numClasses, ...init }));
  }
  return model;
}

/**
 * Seeded initial weights for a spec: Glorot-uniform kernels (Glorot & Bengio, AISTATS 2010),
 * zero biases. Pure: the same (spec, seed) gives the same values on every backend.
 */
export function initialWeights(spec: ModelSpec, seed: number): ModelWeights {
  return {
    tensors: spec.tensors.map((t, i) => {
      const values = new Float32Array(shapeSize(t.shape));
      if (t.shape.length >= 2) {
        const receptive = t.shape.slice(0, -2).reduce((a, b) => a * b, 1);
        const fanIn = receptive * t.shape[t.shape.length - 2];
        const fanOut = receptive * t.shape[t.shape.length - 1];
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        const rng = mulberry32(deriveSeed(seed, 0x1417, i));
        for (let k = 0; k < values.length; k++) values[k] = (rng() * 2 - 1) * limit;
      }
      return { name: t.name, shape: [...t.shape], values };
    }),
  };
}

/** Builds the model for a spec with seeded initial weights. Needs an initialised backend (initBackend). */
export function createModel(spec: ModelSpec, seed: number): tf.LayersModel {
  const model = buildLayers(spec);
  const built = model.weights.map((v) => ({ name: v.originalName, shape: v.shape as number[] }));
  if (JSON.stringify(built) !== JSON.stringify(spec.tensors.map((t) => ({ name: t.name, shape: t.shape })))) {
    model.dispose();
    throw new WeightsSpecMismatchError(`spec tensors ${JSON.stringify(spec.tensors)} do not match the built "${spec.model}" model ${JSON.stringify(built)}`);
  }
  setWeights(model, initialWeights(spec, seed));
  return model;
}
