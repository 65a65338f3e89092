// Pieces several rule units share: input checks, the distance + direction verdict, Krum's feasible f.
import { AggregationInputError, AggregationParameterError } from "../errors.ts";
import { leaveOneOutMedianDots } from "../median.ts";
import { commonLength, l2Distance, medianOf } from "../vectors.ts";
import { DEFAULT_RULE_OPTIONS, type RuleContext, type RuleOptions } from "./types.ts";

export function resolveOptions(options: RuleOptions): Required<RuleOptions> {
  const o = { ...DEFAULT_RULE_OPTIONS, ...options };
  if (!Number.isFinite(o.distanceFactor) || o.distanceFactor < 1) {
    throw new AggregationParameterError(`distanceFactor must be a finite number >= 1, got ${o.distanceFactor}`);
  }
  if (!Number.isInteger(o.ccIterations) || o.ccIterations < 1) {
    throw new AggregationParameterError(`centered clipping: iterations must be an integer >= 1, got ${o.ccIterations}`);
  }
  return o;
}

/** Validates the context against `n` inputs and the rule's own parameter check; returns the common length. */
export function checkInputs(name: string, validateParam: (p: number) => void, inputs: readonly Float32Array[], numSamples: readonly number[], ctx: RuleContext, what: string): void {
  validateParam(ctx.param);
  if (numSamples.length !== inputs.length) {
    throw new AggregationInputError(`${name}: ${inputs.length} updates but ${numSamples.length} sample counts`);
  }
  if (inputs.length > 0) commonLength(inputs, `${name} ${what}`);
}

export function integerParam(name: string, meaning: string): (p: number) => void {
  return (p) => {
    if (!Number.isInteger(p) || p < 0) throw new AggregationParameterError(`${name}: param (${meaning}) must be an integer >= 0, got ${p}`);
  };
}

export function finiteParam(name: string): (p: number) => void {
  return (p) => {
    if (!Number.isFinite(p)) throw new AggregationParameterError(`${name}: param must be finite, got ${p}`);
  };
}

/**
 * Accept updates within `factor` x the median distance to the robust `center` that also point the
 * same way as the coordinate-wise median of the other updates (positive dot product; a direction test
 * in the spirit of FLTrust, Cao et al. 2021, NDSS). In high dimension honest deltas agree with the
 * others' median by a wide margin even when their own noise dominates distances, while sign-flipped
 * and IPM updates point away from it. Leaving the update out keeps its own noise from voting for it.
 */
export function closeAndAligned(deltas: readonly Float32Array[], center: ArrayLike<number>, factor: number): boolean[] {
  const dist = deltas.map((x) => l2Distance(x, center));
  const limit = medianOf(dist) * factor;
  const dots = leaveOneOutMedianDots(deltas);
  return deltas.map((_, i) => dist[i] <= limit && dots[i] > 0);
}

/** Largest Krum f usable with n updates (n > 2f + 2), or -1 when n < 3. */
export function feasibleKrumF(n: number, f: number): number {
  return Math.min(f, Math.floor((n - 3) / 2));
}

/** The trim count usable with n updates. */
export function feasibleTrim(n: number, beta: number): number {
  return Math.min(beta, Math.floor((n - 1) / 2));
}
