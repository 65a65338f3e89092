// Structural checks a verifier runs on every update before any robust scoring.
import { AggregationParameterError } from "./errors.ts";
import { l2Norm, medianOf } from "./vectors.ts";

export type UpdateProblemCode = "wrong-length" | "non-finite" | "norm-too-large" | "norm-too-small" | "rejected-by-rule";

export interface UpdateProblem {
  code: UpdateProblemCode;
  message: string;
}

/**
 * Reasons to reject `flat` outright: wrong length, a NaN/Infinity entry, or (when bounds are given
 * and `flat` is a delta) an L2 norm above `maxNorm` or below `minNorm`. Empty list = passes.
 */
export function validateUpdate(
  flat: Float32Array,
  expectedLength: number,
  maxNorm?: number,
  minNorm?: number,
): UpdateProblem[] {
  if (flat.length !== expectedLength) {
    return [{ code: "wrong-length", message: `length ${flat.length}, expected ${expectedLength}` }];
  }
  for (let k = 0; k < flat.length; k++) {
    if (!Number.isFinite(flat[k])) {
      return [{ code: "non-finite", message: `entry ${k} is ${flat[k]}` }];
    }
  }
  const problems: UpdateProblem[] = [];
  if (maxNorm !== undefined || minNorm !== undefined) {
    const norm = l2Norm(flat);
    if (maxNorm !== undefined && norm > maxNorm) {
      problems.push({ code: "norm-too-large", message: `L2 norm ${norm.toPrecision(4)} > bound ${maxNorm.toPrecision(4)}` });
    }
    if (minNorm !== undefined && norm < minNorm) {
      problems.push({ code: "norm-too-small", message: `L2 norm ${norm.toPrecision(4)} < bound ${minNorm.toPrecision(4)}` });
    }
  }
  return problems;
}

export interface NormScreenOptions {
  /** Reject deltas whose norm exceeds this multiple of the median delta norm (scaling, noise). */
  maxNormRatio: number;
  /** Reject deltas whose norm is below this fraction of the median delta norm (free-riding). 0 = off. */
  minNormRatio: number;
}

export const DEFAULT_NORM_SCREEN: NormScreenOptions = { maxNormRatio: 3, minNormRatio: 0.1 };

/** Throws unless the ratios are finite, maxNormRatio > 1 and 0 <= minNormRatio < 1. */
export function assertNormScreen(o: NormScreenOptions): void {
  if (!Number.isFinite(o.maxNormRatio) || o.maxNormRatio <= 1) {
    throw new AggregationParameterError(`norm screen: maxNormRatio must be a finite number > 1, got ${o.maxNormRatio}`);
  }
  if (!Number.isFinite(o.minNormRatio) || o.minNormRatio < 0 || o.minNormRatio >= 1) {
    throw new AggregationParameterError(`norm screen: minNormRatio must be in [0, 1), got ${o.minNormRatio}`);
  }
}

/** Norm bounds relative to the median norm of `deltas` (which must all be finite, same length). */
export function normBounds(deltas: readonly Float32Array[], o: NormScreenOptions): { maxNorm: number; minNorm: number; medianNorm: number } {
  assertNormScreen(o);
  const medianNorm = medianOf(deltas.map(l2Norm));
  return { maxNorm: medianNorm * o.maxNormRatio, minNorm: medianNorm * o.minNormRatio, medianNorm };
}
