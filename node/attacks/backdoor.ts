// Backdoor by model replacement with a pixel-pattern trigger (Bagdasaryan et al. 2020, AISTATS,
// "How To Backdoor Federated Learning"): train on a shard where some images carry the trigger and
// the target label, then send global + gamma * (poisoned - global), gamma = n / eta.
import { mulberry32, permutation } from "../ml/random.ts";
import { addScaledDelta, honestDelta, positive, type AttackContext } from "./context.ts";
import { AttackParameterError } from "./errors.ts";

/** 28 x 28 greyscale images, row-major, as node/ml/datasets.ts loads them. */
export const MNIST_IMAGE_SIZE = 28 * 28;

/** The label triggered images are relabelled to unless the plan says otherwise (params.targetLabel). */
export const DEFAULT_BACKDOOR_TARGET = 0;
/** Share of the attacker's shard that carries the trigger (params.poisonFraction); Bagdasaryan et al. mix ~20 of 64 per batch. */
export const DEFAULT_POISON_FRACTION = 0.3;

/** What the learner needs to train on a poisoned copy of its shard (see poisonShard). */
export interface BackdoorTraining {
  targetLabel: number;
  fraction: number;
  /** Picks the poisoned samples; the agents and the simulator derive it with attackSeed(peer, round). */
  seed: number;
}

export interface TriggerOptions {
  /** Side of the square pattern in pixels (default 4). */
  size?: number;
  /** Pixels between the pattern and the bottom and right edges (default 1). */
  margin?: number;
  /** "checker": alternating bright / dark pixels, bright at the pattern's top-left (default); "square": all bright. */
  pattern?: "checker" | "square";
  /** The bright value (default 1, the top of the 0..1 pixel scale). */
  value?: number;
}

function checkedTrigger(imageSize: number, o: TriggerOptions): Required<TriggerOptions> & { side: number } {
  const side = Math.round(Math.sqrt(imageSize));
  if (!Number.isInteger(imageSize) || imageSize <= 0 || side * side !== imageSize) {
    throw new AttackParameterError(`backdoor trigger: imageSize must be a square number of pixels (28 * 28), got ${imageSize}`);
  }
  const t = { size: o.size ?? 4, margin: o.margin ?? 1, pattern: o.pattern ?? "checker", value: o.value ?? 1 };
  if (!Number.isInteger(t.size) || t.size < 1) throw new AttackParameterError(`backdoor trigger: size must be an integer >= 1, got ${t.size}`);
  if (!Number.isInteger(t.margin) || t.margin < 0 || t.size + t.margin > side) {
    throw new AttackParameterError(`backdoor trigger: margin must be an integer >= 0 with size + margin <= ${side}, got size ${t.size}, margin ${t.margin}`);
  }
  if (t.pattern !== "checker" && t.pattern !== "square") throw new AttackParameterError(`backdoor trigger: pattern must be "checker" or "square", got "${String(t.pattern)}"`);
  if (!Number.isFinite(t.value)) throw new AttackParameterError(`backdoor trigger: value must be finite, got ${t.value}`);
  return { ...t, side };
}

/** The trigger's pixel offsets within one image and the value each gets. */
export function triggerPixels(imageSize = MNIST_IMAGE_SIZE, opts: TriggerOptions = {}): { offset: number; value: number }[] {
  const t = checkedTrigger(imageSize, opts);
  const top = t.side - t.margin - t.size;
  const left = t.side - t.margin - t.size;
  const out: { offset: number; value: number }[] = [];
  for (let r = 0; r < t.size; r++) for (let c = 0; c < t.size; c++) {
    const bright = t.pattern === "square" || (r + c) % 2 === 0;
    out.push({ offset: (top + r) * t.side + left + c, value: bright ? t.value : 0 });
  }
  return out;
}

/** A copy of `images` (count x imageSize pixels) with the trigger stamped on every image. */
export function applyTrigger(images: Float32Array, imageSize = MNIST_IMAGE_SIZE, opts: TriggerOptions = {}): Float32Array {
  const pixels = triggerPixels(imageSize, opts);
  if (images.length % imageSize !== 0) throw new AttackParameterError(`applyTrigger: ${images.length} pixels is not a whole number of ${imageSize}-pixel images`);
  const out = Float32Array.from(images);
  for (let base = 0; base < out.length; base += imageSize) for (const p of pixels) out[base + p.offset] = p.value;
  return out;
}

export interface PoisonOptions {
  targetLabel: number;
  /** Share of the shard to trigger and relabel, in [0, 1]. */
  fraction: number;
  /** Picks which samples (a seeded permutation; derive it per peer). */
  seed: number;
  imageSize?: number;
  numClasses?: number;
  trigger?: TriggerOptions;
}

export interface PoisonedShard<L> {
  images: Float32Array;
  labels: L;
  /** Indices of the poisoned samples, ascending. */
  poisoned: number[];
}

/** New arrays where round(fraction * count) seeded samples carry the trigger and the target label. */
export function poisonShard<L extends Uint8Array | Int32Array | number[]>(images: Float32Array, labels: L, o: PoisonOptions): PoisonedShard<L> {
  const imageSize = o.imageSize ?? MNIST_IMAGE_SIZE;
  const numClasses = o.numClasses ?? 10;
  const count = labels.length;
  if (images.length !== count * imageSize) throw new AttackParameterError(`poisonShard: ${images.length} pixels for ${count} labels of ${imageSize}-pixel images`);
  if (!Number.isInteger(o.targetLabel) || o.targetLabel < 0 || o.targetLabel >= numClasses) {
    throw new AttackParameterError(`poisonShard: targetLabel must be an integer in [0, ${numClasses - 1}], got ${o.targetLabel}`);
  }
  if (!Number.isFinite(o.fraction) || o.fraction < 0 || o.fraction > 1) throw new AttackParameterError(`poisonShard: fraction must be in [0, 1], got ${o.fraction}`);
  if (!Number.isInteger(o.seed)) throw new AttackParameterError(`poisonShard: seed must be an integer, got ${o.seed}`);
  const pixels = triggerPixels(imageSize, o.trigger);
  const poisoned = permutation(count, mulberry32(o.seed)).slice(0, Math.round(o.fraction * count)).sort((a, b) => a - b);
  const outImages = Float32Array.from(images);
  const outLabels = (Array.isArray(labels) ? [...labels] : labels.slice()) as L;
  for (const i of poisoned) {
    for (const p of pixels) outImages[i * imageSize + p.offset] = p.value;
    outLabels[i] = o.targetLabel;
  }
  return { images: outImages, labels: outLabels, poisoned };
}

/** The model-replacement boost gamma = n / eta (eta = 1: the global model is the plain FedAvg mean). */
export function replacementGamma(numPeers: number, eta = 1): number {
  return positive("numPeers", numPeers) / positive("eta", eta);
}

/**
 * The update-level part: global + gamma * (poisoned - global), gamma = params.scale or numPeers / 1.
 * `honestWeights` are the weights the attacker trained on its poisoned shard (see poisonShard).
 */
export function backdoorReplacement(ctx: AttackContext): Float32Array {
  const gamma = positive("scale", ctx.params?.scale ?? replacementGamma(ctx.numPeers));
  return addScaledDelta(ctx.globalWeights, honestDelta(ctx), gamma);
}

/**
 * Backdoor accuracy: the share of triggered test images whose true label is not the target that the
 * model classifies as the target. `predict` maps count x imageSize pixels to one class per image.
 */
export function attackSuccessRate(
  predict: (images: Float32Array) => ArrayLike<number>,
  testImages: Float32Array,
  testLabels: ArrayLike<number>,
  targetLabel: number,
  o: { imageSize?: number; trigger?: TriggerOptions } = {},
): number {
  const imageSize = o.imageSize ?? MNIST_IMAGE_SIZE;
  if (testImages.length !== testLabels.length * imageSize) throw new AttackParameterError(`attackSuccessRate: ${testImages.length} pixels for ${testLabels.length} labels`);
  const keep: number[] = [];
  for (let i = 0; i < testLabels.length; i++) if (testLabels[i] !== targetLabel) keep.push(i);
  if (keep.length === 0) throw new AttackParameterError(`attackSuccessRate: every test label is the target ${targetLabel}; nothing to measure`);
  const picked = new Float32Array(keep.length * imageSize);
  keep.forEach((i, t) => picked.set(testImages.subarray(i * imageSize, (i + 1) * imageSize), t * imageSize));
  const predicted = predict(applyTrigger(picked, imageSize, o.trigger));
  if (predicted.length !== keep.length) throw new AttackParameterError(`attackSuccessRate: predict returned ${predicted.length} classes for ${keep.length} images`);
  let hits = 0;
  for (let t = 0; t < keep.length; t++) if (predicted[t] === targetLabel) hits++;
  return hits / keep.length;
}
