// FLAME (Nguyen et al. 2022, USENIX Security, "FLAME: Taming Backdoors in Federated Learning"): keep the
// majority cluster of cosine distances (HDBSCAN, min cluster size n/2 + 1), clip at the median norm, average.
//
// Clustering. The paper runs HDBSCAN(min_cluster_size = n/2 + 1, min_samples = 1, allow_single_cluster)
// on the pairwise cosine distances. With min_samples = 1 the mutual-reachability distance is the plain
// distance, so the hierarchy is single linkage; with a minimum cluster size above n/2 no split can
// leave two clusters, so the root is the only cluster, and allow_single_cluster labels as members the
// points still in it when it finally breaks up (lambda >= the root's largest child lambda). Bottom up
// that is: join the pairs in increasing distance (Kruskal, ties by index) and stop at the first
// component of at least n/2 + 1 points (absorbing further joins at exactly that distance); that
// component is the accepted set, everything else is an outlier. This is what the hdbscan library
// returns for this configuration, computed exactly and deterministically. By construction it can
// reject up to ceil(n/2) - 1 updates in a round, honest ones included (as Krum rejects n - 1).
//
// Aggregate. Deltas against the round's global model are clipped to the median L2 norm of the accepted
// deltas (the paper's adaptive bound S_t), averaged with the updates' sample counts as weights, and added
// to the global model. The paper's noise N(0, (lambda S_t)^2) is off by default (param 0). With a
// param > 0 (lambda in thousandths) the noise is drawn from a seed derived from the noise-free
// aggregate's bytes, so anyone re-running the aggregate gets the same bits: the CID stays verifiable.
import { gram } from "../gram.ts";
import { AggregationInputError, AggregationParameterError } from "../errors.ts";
import { medianOf } from "../vectors.ts";
import { mulberry32, randomNormal } from "../../ml/random.ts";
import { checkInputs } from "./shared.ts";
import type { RobustRule } from "./types.ts";

/** The rule's on-chain parameter is a uint16: lambda in thousandths. */
export const FLAME_MAX_PARAM = 0xffff;

/** HDBSCAN's minimum cluster size as FLAME sets it: a strict majority. */
export function flameMinClusterSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Pairwise cosine distances 1 - cos(x_i, x_j), row-major n x n (a zero vector is at distance 1 from all). */
export function cosineDistances(deltas: readonly Float32Array[]): Float64Array {
  const n = deltas.length;
  const { stride, dots } = gram(deltas);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    const nn = Math.sqrt(dots[i * stride + i]) * Math.sqrt(dots[j * stride + j]);
    const cos = nn > 0 ? Math.max(-1, Math.min(1, dots[i * stride + j] / nn)) : 0;
    out[i * n + j] = out[j * n + i] = 1 - cos;
  }
  return out;
}

/**
 * The majority cluster: members of the first single-linkage component (pairs joined by increasing
 * distance, ties by (i, j)) that reaches `minClusterSize` points, with every further join at exactly
 * the distance that completed it. Returns one flag per point.
 */
export function majorityCluster(dist: Float64Array, n: number, minClusterSize = flameMinClusterSize(n)): boolean[] {
  if (n === 0) return [];
  if (minClusterSize <= 1) return Array.from({ length: n }, () => true);
  const edges: [number, number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) edges.push([dist[i * n + j], i, j]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const parent = Array.from({ length: n }, (_, i) => i);
  const size = Array.from({ length: n }, () => 1);
  const find = (x: number): number => { while (parent[x] !== x) { parent[x] = parent[parent[x]]; x = parent[x]; } return x; };
  const union = (a: number, b: number): number => {
    let ra = find(a), rb = find(b);
    if (ra === rb) return ra;
    if (ra > rb) [ra, rb] = [rb, ra]; // the smaller index is the root: deterministic, order-free
    parent[rb] = ra;
    size[ra] += size[rb];
    return ra;
  };
  let root = -1, at = Infinity;
  for (const [w, i, j] of edges) {
    if (root >= 0 && w > at) break;
    const r = union(i, j);
    if (root < 0 && size[r] >= minClusterSize) { root = r; at = w; }
  }
  if (root < 0) return Array.from({ length: n }, () => true); // unreachable for n >= 2: one component holds all
  const top = find(root);
  return Array.from({ length: n }, (_, i) => find(i) === top);
}

/** 32-bit FNV-1a of a float32 vector's bytes: the noise seed, derived from content only. */
function contentSeed(v: Float32Array): number {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let h = 0x811c9dc5;
  for (let k = 0; k < bytes.length; k++) { h ^= bytes[k]; h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

export function flameRule(): RobustRule {
  const name = "flame";
  const validateParam = (p: number) => {
    if (!Number.isInteger(p) || p < 0 || p > FLAME_MAX_PARAM) {
      throw new AggregationParameterError(`${name}: param (noise lambda in thousandths, 0 = no noise) must be an integer in [0, ${FLAME_MAX_PARAM}], got ${p}`);
    }
  };
  return {
    name,
    validateParam,
    verdict(deltas, ctx) {
      checkInputs(name, validateParam, deltas, ctx.numSamples, ctx, "verdict");
      const n = deltas.length;
      return n === 0 ? [] : majorityCluster(cosineDistances(deltas), n);
    },
    aggregate(weights, numSamples, ctx) {
      checkInputs(name, validateParam, weights, numSamples, ctx, "aggregate");
      const g = ctx.globalWeights;
      if (!g) throw new AggregationInputError("flame aggregate needs ctx.globalWeights to form deltas");
      if (weights.length === 0) throw new AggregationInputError("flame aggregate: need at least one update, got 0");
      if (weights[0].length !== g.length) throw new AggregationInputError(`flame aggregate: updates have length ${weights[0].length}, global ${g.length}`);
      let total = 0;
      numSamples.forEach((s, i) => {
        if (!Number.isFinite(s) || s < 0) throw new AggregationInputError(`flame aggregate: sample count ${i} is ${s}; must be a finite number >= 0`);
        total += s;
      });
      if (!(total > 0)) throw new AggregationInputError(`flame aggregate: total sample count is ${total}; must be > 0`);
      const d = g.length;
      const norms = weights.map((w) => { let s = 0; for (let k = 0; k < d; k++) { const t = w[k] - g[k]; s += t * t; } return Math.sqrt(s); });
      const bound = medianOf(norms);
      const acc = new Float64Array(d);
      weights.forEach((w, i) => {
        if (numSamples[i] === 0) return;
        const c = (numSamples[i] / total) * (norms[i] > bound ? bound / norms[i] : 1);
        for (let k = 0; k < d; k++) acc[k] += c * (w[k] - g[k]);
      });
      const out = new Float32Array(d);
      for (let k = 0; k < d; k++) out[k] = g[k] + acc[k];
      const lambda = ctx.param / 1000;
      if (lambda > 0 && bound > 0) {
        const rng = mulberry32(contentSeed(out));
        const sigma = lambda * bound;
        for (let k = 0; k < d; k++) out[k] = out[k] + sigma * randomNormal(rng);
      }
      return out;
    },
  };
}
