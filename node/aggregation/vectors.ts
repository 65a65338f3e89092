// Shared input checks and float64 helpers for the pure aggregation rules.
import { AggregationInputError } from "./errors.ts";

/** Throws unless `updates` is non-empty and every vector has the same length; returns that length. */
export function commonLength(updates: readonly Float32Array[], what = "updates"): number {
  if (updates.length === 0) throw new AggregationInputError(`${what}: need at least one vector, got 0`);
  const d = updates[0].length;
  for (let i = 1; i < updates.length; i++) {
    if (updates[i].length !== d) {
      throw new AggregationInputError(`${what}: vector ${i} has length ${updates[i].length}, vector 0 has ${d}`);
    }
  }
  return d;
}

/** Float64 squared L2 norm of a float32 vector. */
export function squaredNorm(v: Float32Array): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const d = v.length;
  const d4 = d - (d % 4);
  let k = 0;
  for (; k < d4; k += 4) {
    const a = v[k], b = v[k + 1], c = v[k + 2], e = v[k + 3];
    s0 += a * a; s1 += b * b; s2 += c * c; s3 += e * e;
  }
  for (; k < d; k++) s0 += v[k] * v[k];
  return s0 + s1 + s2 + s3;
}

/** Float64 L2 norm of a float32 vector. */
export function l2Norm(v: Float32Array): number {
  return Math.sqrt(squaredNorm(v));
}

/** Float64 L2 distance between two vectors of equal length. */
export function l2Distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) {
    const t = a[k] - b[k];
    s += t * t;
  }
  return Math.sqrt(s);
}

/** Median of plain numbers (mean of the two middle ones for an even count); NaN for an empty list. */
export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** `a - b` element-wise, rounded once to float32. */
export function subtract(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length !== b.length) {
    throw new AggregationInputError(`subtract: lengths differ (${a.length} vs ${b.length})`);
  }
  const out = new Float32Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = a[k] - b[k];
  return out;
}

/** `base + delta` element-wise with float64 inputs, rounded once to float32. */
export function addDelta(base: Float32Array, delta: ArrayLike<number>): Float32Array {
  if (base.length !== delta.length) {
    throw new AggregationInputError(`addDelta: lengths differ (${base.length} vs ${delta.length})`);
  }
  const out = new Float32Array(base.length);
  for (let k = 0; k < base.length; k++) out[k] = base[k] + delta[k];
  return out;
}
