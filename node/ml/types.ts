/** One named weight tensor of a model, in the model's own layer order. */
export interface NamedTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** A model's weights, in canonical (model-defined) order. Pure data: no tfjs tensors. */
export interface ModelWeights {
  tensors: NamedTensor[];
}

import type { CompressionSpec } from "../compression/spec.ts";

/** What a model is, as recorded in the task's model-spec CID (JSON). */
export interface ModelSpec {
  /** Architecture name: "mlp" or "cnn". */
  model: "mlp" | "cnn";
  /** Input shape without batch, e.g. [28, 28, 1]. */
  inputShape: number[];
  numClasses: number;
  /** Layer names and shapes, in order: what a weights file for this spec must contain. */
  tensors: { name: string; shape: number[] }[];
  /** Update compression the task uses (node/compression); absent = plain float32 updates. */
  compression?: CompressionSpec;
  /**
   * CID of the task's public root set (node/ml/root-set.ts), which the root-validation rule scores updates
   * on; absent for other rules. Part of the spec so the task's on-chain modelSpecCid pins it.
   */
  rootSet?: string;
}
