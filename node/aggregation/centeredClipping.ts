// Centered clipping (Karimireddy, He & Jaggi 2021, ICML: "Learning from History for Byzantine Robust Optimization").
import { AggregationInputError, AggregationParameterError } from "./errors.ts";
import { commonLength } from "./vectors.ts";

export interface CenteredClippingOptions {
  /** Clipping radius tau > 0 (same units as the deltas' L2 norm). */
  tau: number;
  /** Number of clipping iterations L >= 1 (the paper shows L = 1 suffices with momentum). */
  iterations?: number;
  /** Starting point v0, e.g. the previous global delta; zeros when omitted. */
  reference?: Float32Array;
}

/** Throws unless tau > 0 is finite and iterations is an integer >= 1. */
export function assertCenteredClippingParameters(tau: number, iterations: number): void {
  if (!Number.isFinite(tau) || tau <= 0) {
    throw new AggregationParameterError(`centered clipping: tau must be a finite number > 0, got ${tau}`);
  }
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new AggregationParameterError(`centered clipping: iterations must be an integer >= 1, got ${iterations}`);
  }
}

/**
 * v <- v + (1/n) sum_i (x_i - v) min(1, tau / ||x_i - v||), repeated L times from v0 = reference.
 * Runs in float64 and rounds once to float32. Inputs are deltas (update - global).
 */
export function centeredClipping(deltas: readonly Float32Array[], options: CenteredClippingOptions): Float32Array {
  return Float32Array.from(centeredClippingF64(deltas, options));
}

/** Same as `centeredClipping` but returns the float64 result, so callers can add it to a base and round once. */
export function centeredClippingF64(deltas: readonly Float32Array[], options: CenteredClippingOptions): Float64Array {
  const d = commonLength(deltas, "centeredClipping");
  const iterations = options.iterations ?? 3;
  assertCenteredClippingParameters(options.tau, iterations);
  const n = deltas.length;
  const v = new Float64Array(d);
  if (options.reference) {
    if (options.reference.length !== d) {
      throw new AggregationInputError(`centered clipping: reference has length ${options.reference.length}, deltas have ${d}`);
    }
    for (let k = 0; k < d; k++) v[k] = options.reference[k];
  }
  const step = new Float64Array(d);
  for (let it = 0; it < iterations; it++) {
    step.fill(0);
    for (let i = 0; i < n; i++) {
      const x = deltas[i];
      let sq = 0;
      for (let k = 0; k < d; k++) { const t = x[k] - v[k]; sq += t * t; }
      const norm = Math.sqrt(sq);
      const scale = norm > options.tau ? options.tau / norm : 1;
      for (let k = 0; k < d; k++) step[k] += (x[k] - v[k]) * scale;
    }
    for (let k = 0; k < d; k++) v[k] += step[k] / n;
  }
  return v;
}
