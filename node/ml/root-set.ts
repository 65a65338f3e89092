/**
 * The public root set of a root-validation task (node/aggregation/rules/root-validation.ts): a small,
 * class-balanced sample of the TRAINING split that no peer holds (never the test split), which the
 * task initiator publishes on IPFS. Verifiers and the audit score updates on it.
 *
 * Here: which samples it holds (seeded, from the samples outside every peer's capped shard), and its
 * bytes. The format is a hand-written 12-byte header plus raw labels and 8-bit pixels, because the
 * pixels are 8-bit in the IDX files anyway (lossless) and a generic container would add a dependency
 * for 4 fields:
 *   "PFRS" | u8 version = 1 | u8 classes | u16 reserved = 0 | u32 count (LE) | labels[count] | pixels[count × 784]
 */
import { loadDataset, loadLabels, type Dataset } from "./datasets.ts";
import { partition, type PartitionScheme } from "./partition.ts";
import { deriveSeed, mulberry32, permutation } from "./random.ts";

const MAGIC = [0x50, 0x46, 0x52, 0x53]; // "PFRS"
const VERSION = 1;
const HEADER = 12;
const IMAGE_SIZE = 28 * 28;
const NUM_CLASSES = 10;
/** The root set's size per class unless the task says otherwise (FLTrust used 100 in all; 50 x 10 here). */
export const DEFAULT_ROOT_PER_CLASS = 50;
/** A root set larger than this is refused on load (a verifier evaluates every update on it). */
export const MAX_ROOT_SAMPLES = 10_000;

/** A root set that cannot be built or read, with the reason. */
export class RootSetError extends Error {
  override name = "RootSetError";
}

export interface RootSetSelection {
  peers: number;
  partition: PartitionScheme;
  partitionSeed: number;
  /** The peers' shard cap (their first samples), as the agents' --max-samples. */
  maxSamples?: number;
  perClass?: number;
  seed: number;
  /**
   * When too few samples of a class lie outside every peer's shard (peers hold the whole training split),
   * fill up with samples some peer holds instead of failing. FLTrust draws its root set from the clients'
   * training data in this way; the count of such samples is returned as `held`.
   */
  allowHeld?: boolean;
}

/**
 * The root set's sample indices into the training split: `perClass` of each class, drawn (seeded) from the
 * samples no peer's capped shard holds, sorted; `held` counts samples a peer also holds (only with allowHeld).
 * Throws RootSetError when a class has too few.
 */
export function rootSetIndices(labels: Uint8Array, o: RootSetSelection): number[] {
  return rootSetSelection(labels, o).indices;
}

export function rootSetSelection(labels: Uint8Array, o: RootSetSelection): { indices: number[]; held: number } {
  const perClass = o.perClass ?? DEFAULT_ROOT_PER_CLASS;
  if (!Number.isInteger(perClass) || perClass < 1 || perClass * NUM_CLASSES > MAX_ROOT_SAMPLES) {
    throw new RootSetError(`root set: perClass must be an integer in 1..${MAX_ROOT_SAMPLES / NUM_CLASSES}, got ${perClass}`);
  }
  const held = new Uint8Array(labels.length);
  for (const shard of partition(labels, o.peers, o.partition, o.partitionSeed)) {
    for (const i of o.maxSamples && shard.length > o.maxSamples ? shard.slice(0, o.maxSamples) : shard) held[i] = 1;
  }
  const order = permutation(labels.length, mulberry32(deriveSeed(o.seed, 0x7007)));
  const picked: number[][] = Array.from({ length: NUM_CLASSES }, () => []);
  for (const i of order) {
    if (!held[i] && picked[labels[i]].length < perClass) picked[labels[i]].push(i);
  }
  let heldCount = 0;
  if (o.allowHeld) {
    for (const i of order) {
      if (held[i] && picked[labels[i]].length < perClass) { picked[labels[i]].push(i); heldCount++; }
    }
  }
  const short = picked.map((p, c) => [c, p.length]).filter(([, n]) => n < perClass);
  if (short.length > 0) {
    throw new RootSetError(`root set: only ${short.map(([c, n]) => `${n} of class ${c}`).join(", ")} ${o.allowHeld ? "in the training split" : "outside the peers' shards"} (need ${perClass} each)${o.allowHeld ? "" : "; cap the shards (--max-samples) so the initiator keeps data no peer holds"}`);
  }
  return { indices: picked.flat().sort((a, b) => a - b), held: heldCount };
}

/** The root set's bytes (see the format at the top). */
export function encodeRootSet(data: Pick<Dataset, "images" | "labels" | "count">): Uint8Array {
  if (data.labels.length !== data.count || data.images.length !== data.count * IMAGE_SIZE) {
    throw new RootSetError(`root set: ${data.count} samples but ${data.labels.length} labels and ${data.images.length / IMAGE_SIZE} images`);
  }
  const out = new Uint8Array(HEADER + data.count * (1 + IMAGE_SIZE));
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out[5] = NUM_CLASSES;
  new DataView(out.buffer).setUint32(8, data.count, true);
  out.set(data.labels, HEADER);
  const px = HEADER + data.count;
  for (let k = 0; k < data.images.length; k++) {
    const v = data.images[k];
    if (!(v >= 0 && v <= 1)) throw new RootSetError(`root set: pixel ${k} is ${v}, outside 0..1`);
    out[px + k] = Math.round(v * 255);
  }
  return out;
}

/**
 * A root set from its bytes, checked: magic, version, size, labels in range, and every class present at
 * least `minPerClass` times (a root set missing a class would make that class's honest owners look harmful).
 */
export function decodeRootSet(bytes: Uint8Array, o: { minPerClass?: number } = {}): Dataset {
  if (bytes.length < HEADER || MAGIC.some((b, i) => bytes[i] !== b)) throw new RootSetError("root set: not a peerfl root set (bad magic)");
  if (bytes[4] !== VERSION) throw new RootSetError(`root set: unsupported version ${bytes[4]} (this build reads ${VERSION})`);
  if (bytes[5] !== NUM_CLASSES) throw new RootSetError(`root set: ${bytes[5]} classes, expected ${NUM_CLASSES}`);
  const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (count < 1 || count > MAX_ROOT_SAMPLES) throw new RootSetError(`root set: ${count} samples, expected 1..${MAX_ROOT_SAMPLES}`);
  if (bytes.length !== HEADER + count * (1 + IMAGE_SIZE)) {
    throw new RootSetError(`root set: ${bytes.length} bytes, expected ${HEADER + count * (1 + IMAGE_SIZE)} for ${count} samples`);
  }
  const labels = bytes.slice(HEADER, HEADER + count);
  const histogram = new Array<number>(NUM_CLASSES).fill(0);
  for (const l of labels) {
    if (l >= NUM_CLASSES) throw new RootSetError(`root set: label ${l} out of range 0..${NUM_CLASSES - 1}`);
    histogram[l]++;
  }
  const minPerClass = o.minPerClass ?? 1;
  const thin = histogram.map((n, c) => [c, n]).filter(([, n]) => n < minPerClass);
  if (thin.length > 0) throw new RootSetError(`root set: class ${thin.map(([c, n]) => `${c} has ${n}`).join(", ")} (need at least ${minPerClass} each)`);
  const images = new Float32Array(count * IMAGE_SIZE);
  const px = HEADER + count;
  for (let k = 0; k < images.length; k++) images[k] = bytes[px + k] / 255;
  return { images, labels, count, imageShape: [28, 28, 1], numClasses: 10 };
}

/** The initiator's side: select, load and encode the root set of `dataset`'s training split. */
export function buildRootSet(dataset: string, o: RootSetSelection): { bytes: Uint8Array; count: number; held: number } {
  const { indices, held } = rootSetSelection(loadLabels(dataset, "train"), o);
  return { bytes: encodeRootSet(loadDataset(dataset, "train", indices)), count: indices.length, held };
}
