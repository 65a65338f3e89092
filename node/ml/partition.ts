/**
 * Seeded, deterministic splits of a labelled dataset across peers. Every sample lands in at most
 * one shard and no shard is empty (PartitionError otherwise). Shards are returned sorted ascending.
 */
import { deriveSeed, mulberry32, permutation, randomDirichlet, shuffleInPlace, type Rng } from "./random.ts";

export type PartitionScheme =
  /** Uniformly random, equal sizes (±1). */
  | { kind: "iid" }
  /** Label skew: per class, proportions over peers ~ Dir(alpha). Hsu et al., arXiv:1909.06335 (2019). */
  | { kind: "dirichlet"; alpha: number; minSamplesPerPeer?: number }
  /** Pathological non-IID: each peer holds exactly `classesPerPeer` classes. McMahan et al., AISTATS 2017. */
  | { kind: "shards"; classesPerPeer: number }
  /** Quantity skew: IID labels, shard sizes ~ Dir(alpha). Li et al., "FL on Non-IID Data Silos", ICDE 2022. */
  | { kind: "quantity"; alpha: number };

/** A partition that cannot be made, with the parameters that make it impossible. */
export class PartitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PartitionError";
  }
}

const DIRICHLET_ATTEMPTS = 100;

export function partition(labels: Uint8Array, numPeers: number, scheme: PartitionScheme, seed: number): number[][] {
  if (!Number.isInteger(numPeers) || numPeers < 1) throw new PartitionError(`numPeers must be a positive integer, got ${numPeers}`);
  if (labels.length < numPeers) throw new PartitionError(`cannot give ${numPeers} peers a non-empty shard each from ${labels.length} samples`);
  const rng = mulberry32(deriveSeed(seed, 0x9a27));
  let shards: number[][];
  switch (scheme.kind) {
    case "iid":
      shards = iid(labels.length, numPeers, rng);
      break;
    case "dirichlet":
      shards = dirichlet(labels, numPeers, scheme.alpha, scheme.minSamplesPerPeer ?? 1, seed);
      break;
    case "shards":
      shards = classShards(labels, numPeers, scheme.classesPerPeer, rng);
      break;
    case "quantity":
      shards = quantity(labels.length, numPeers, scheme.alpha, rng);
      break;
    default:
      throw new PartitionError(`unknown partition scheme ${JSON.stringify(scheme)}`);
  }
  const empty = shards.findIndex((s) => s.length === 0);
  if (empty >= 0) throw new PartitionError(`peer ${empty} would get an empty shard with scheme ${JSON.stringify(scheme)}`);
  return shards.map((s) => s.sort((a, b) => a - b));
}

function splitEvenly<T>(items: T[], parts: number): T[][] {
  const out: T[][] = [];
  for (let p = 0; p < parts; p++) {
    out.push(items.slice(Math.floor((p * items.length) / parts), Math.floor(((p + 1) * items.length) / parts)));
  }
  return out;
}

function iid(n: number, numPeers: number, rng: Rng): number[][] {
  return splitEvenly(permutation(n, rng), numPeers);
}

function indicesByClass(labels: Uint8Array): Map<number, number[]> {
  const byClass = new Map<number, number[]>();
  labels.forEach((y, i) => {
    const list = byClass.get(y);
    if (list) list.push(i);
    else byClass.set(y, [i]);
  });
  return new Map([...byClass.entries()].sort((a, b) => a[0] - b[0]));
}

/** Cuts `items` into consecutive pieces with sizes proportional to `proportions` (largest-remainder rounding). */
function splitByProportions(items: number[], proportions: number[]): number[][] {
  const exact = proportions.map((p) => p * items.length);
  const sizes = exact.map(Math.floor);
  let left = items.length - sizes.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k++, left--) sizes[order[k % order.length].i]++;
  const out: number[][] = [];
  let offset = 0;
  for (const s of sizes) {
    out.push(items.slice(offset, offset + s));
    offset += s;
  }
  return out;
}

function dirichlet(labels: Uint8Array, numPeers: number, alpha: number, minSamples: number, seed: number): number[][] {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new PartitionError(`dirichlet alpha must be a positive finite number, got ${alpha}`);
  if (!Number.isInteger(minSamples) || minSamples < 1) throw new PartitionError(`minSamplesPerPeer must be a positive integer, got ${minSamples}`);
  if (minSamples * numPeers > labels.length) {
    throw new PartitionError(`${numPeers} peers × ${minSamples} samples minimum exceeds the ${labels.length} samples`);
  }
  const byClass = indicesByClass(labels);
  // As in the reference implementations, redraw until every peer has enough samples.
  for (let attempt = 0; attempt < DIRICHLET_ATTEMPTS; attempt++) {
    const rng = mulberry32(deriveSeed(seed, 0xd1c1, attempt));
    const shards: number[][] = Array.from({ length: numPeers }, () => []);
    for (const idx of byClass.values()) {
      const items = [...idx];
      shuffleInPlace(items, rng);
      const pieces = splitByProportions(items, randomDirichlet(alpha, numPeers, rng));
      pieces.forEach((piece, p) => shards[p].push(...piece));
    }
    if (shards.every((s) => s.length >= minSamples)) return shards;
  }
  throw new PartitionError(
    `dirichlet alpha=${alpha}: no draw in ${DIRICHLET_ATTEMPTS} attempts gave all ${numPeers} peers >= ${minSamples} samples (${labels.length} samples); raise alpha or lower the peer count`,
  );
}

function classShards(labels: Uint8Array, numPeers: number, classesPerPeer: number, rng: Rng): number[][] {
  const byClass = indicesByClass(labels);
  const classes = [...byClass.keys()];
  if (!Number.isInteger(classesPerPeer) || classesPerPeer < 1 || classesPerPeer > classes.length) {
    throw new PartitionError(`classesPerPeer must be an integer in 1..${classes.length} (classes present), got ${classesPerPeer}`);
  }
  shuffleInPlace(classes, rng);
  // Peer p holds classes p·k .. p·k+k-1 (mod C) of a shuffled class order: k distinct classes each,
  // and every class is held by as equal a number of peers as possible.
  const holders = new Map<number, number[]>(classes.map((c) => [c, []]));
  for (let p = 0; p < numPeers; p++) {
    for (let j = 0; j < classesPerPeer; j++) holders.get(classes[(p * classesPerPeer + j) % classes.length])!.push(p);
  }
  const shards: number[][] = Array.from({ length: numPeers }, () => []);
  for (const [c, peers] of holders) {
    if (peers.length === 0) continue;
    const items = [...byClass.get(c)!];
    if (items.length < peers.length) {
      throw new PartitionError(`class ${c} has ${items.length} samples but ${peers.length} peers must share it (numPeers=${numPeers}, classesPerPeer=${classesPerPeer})`);
    }
    shuffleInPlace(items, rng);
    splitEvenly(items, peers.length).forEach((piece, i) => shards[peers[i]].push(...piece));
  }
  return shards;
}

function quantity(n: number, numPeers: number, alpha: number, rng: Rng): number[][] {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new PartitionError(`quantity alpha must be a positive finite number, got ${alpha}`);
  const order = permutation(n, rng);
  // One sample each first so no shard is empty, the rest by Dirichlet proportions.
  const rest = splitByProportions(order.slice(numPeers), randomDirichlet(alpha, numPeers, rng));
  return rest.map((piece, p) => [order[p], ...piece]);
}

/** Splits a peer's shard into local training and validation indices (seeded). */
export function holdout(indices: readonly number[], validationFraction: number, seed: number): { train: number[]; validation: number[] } {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new PartitionError(`validationFraction must be in [0, 1), got ${validationFraction}`);
  }
  const shuffled = [...indices];
  shuffleInPlace(shuffled, mulberry32(deriveSeed(seed, 0x401d)));
  let nVal = Math.round(shuffled.length * validationFraction);
  if (validationFraction > 0 && nVal === 0 && shuffled.length >= 2) nVal = 1;
  if (nVal >= shuffled.length && shuffled.length > 0) {
    throw new PartitionError(`validationFraction ${validationFraction} of ${shuffled.length} samples leaves nothing to train on`);
  }
  const byIndex = (a: number, b: number) => a - b;
  return { validation: shuffled.slice(0, nVal).sort(byIndex), train: shuffled.slice(nVal).sort(byIndex) };
}

/** Count of each class among the given samples. */
export function labelHistogram(labels: Uint8Array, indices: readonly number[], numClasses = 10): number[] {
  const h = new Array<number>(numClasses).fill(0);
  for (const i of indices) h[labels[i]]++;
  return h;
}

/**
 * One peer's shard as every peer computes it: the seeded partition of the labels, capped at
 * `maxSamples` (the first ones), with a fixed tail as the peer's validation split (never trained
 * on). The agents' learner and the simulator both call this, so their shards are the same samples.
 */
export function peerShard(
  labels: Uint8Array,
  o: { peers: number; peerIndex: number; partition: PartitionScheme; partitionSeed: number; maxSamples?: number; validationFraction?: number },
): { train: number[]; validation: number[] } {
  if (!Number.isInteger(o.peerIndex) || o.peerIndex < 0 || o.peerIndex >= o.peers) {
    throw new PartitionError(`peer index ${o.peerIndex} is not in 0..${o.peers - 1}`);
  }
  let mine = partition(labels, o.peers, o.partition, o.partitionSeed)[o.peerIndex];
  if (o.maxSamples && mine.length > o.maxSamples) mine = mine.slice(0, o.maxSamples);
  const nVal = Math.max(1, Math.floor(mine.length * (o.validationFraction ?? 0.1)));
  return { train: mine.slice(0, mine.length - nVal), validation: mine.slice(mine.length - nVal) };
}
