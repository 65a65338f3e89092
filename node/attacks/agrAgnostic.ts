// The optimisation shared by min-max and min-sum (Shejwalkar & Houmansadr 2021, NDSS, "Manipulating the
// Byzantine"): malicious delta = mean(benign) + gamma * perturbation, with the largest gamma (binary
// search) that keeps the malicious delta as close to the benign ones as they are to each other.
import { AttackParameterError } from "./errors.ts";

/** The perturbation direction: -std (the paper's default), -unit(mean) or -sign(mean). */
export type PerturbationKind = "std" | "unit-vec" | "sign";

export const DEFAULT_GAMMA_INIT = 10;
export const DEFAULT_GAMMA_TOLERANCE = 1e-5;

export interface AgrAgnosticOptions {
  perturbation?: PerturbationKind;
  /** Starting gamma and first step of the binary search (the reference code's lambda = 10). */
  gammaInit?: number;
  /** The search stops when the step between the last feasible gamma and the probe is at most this. */
  tolerance?: number;
}

export interface AgrAgnosticResult {
  /** mean + gamma * perturbation, rounded once to float32. */
  delta: Float32Array;
  /** The largest feasible gamma found (0 when none was). */
  gamma: number;
  /** The benign bound the malicious delta had to stay within. */
  bound: number;
  /** The malicious delta's own value of the constrained quantity (max or sum of squared distances). */
  value: number;
}

export function checkSearchOptions(o: AgrAgnosticOptions): Required<AgrAgnosticOptions> {
  const gammaInit = o.gammaInit ?? DEFAULT_GAMMA_INIT;
  const tolerance = o.tolerance ?? DEFAULT_GAMMA_TOLERANCE;
  const perturbation = o.perturbation ?? "std";
  if (!Number.isFinite(gammaInit) || gammaInit <= 0) throw new AttackParameterError(`min-max/min-sum: gammaInit must be a finite number > 0, got ${gammaInit}`);
  if (!Number.isFinite(tolerance) || tolerance <= 0 || tolerance >= gammaInit) {
    throw new AttackParameterError(`min-max/min-sum: tolerance must be a finite number in (0, gammaInit = ${gammaInit}), got ${tolerance}`);
  }
  if (!["std", "unit-vec", "sign"].includes(perturbation)) throw new AttackParameterError(`min-max/min-sum: unknown perturbation "${perturbation}"; known: std, unit-vec, sign`);
  return { gammaInit, tolerance, perturbation };
}

/** Per-coordinate mean and the perturbation p (the malicious delta is mean + gamma * p), in float64. */
function meanAndPerturbation(benign: readonly Float32Array[], kind: PerturbationKind): { mean: Float64Array; p: Float64Array } {
  const n = benign.length;
  const d = benign[0].length;
  const mean = new Float64Array(d);
  for (const v of benign) for (let k = 0; k < d; k++) mean[k] += v[k];
  for (let k = 0; k < d; k++) mean[k] /= n;
  const p = new Float64Array(d);
  if (kind === "std") {
    // torch.std's unbiased estimate, as the reference code; one benign delta has no spread (p = 0).
    if (n > 1) {
      for (const v of benign) for (let k = 0; k < d; k++) { const t = v[k] - mean[k]; p[k] += t * t; }
      for (let k = 0; k < d; k++) p[k] = -Math.sqrt(p[k] / (n - 1));
    }
  } else if (kind === "sign") {
    for (let k = 0; k < d; k++) p[k] = -Math.sign(mean[k]);
  } else {
    let s = 0;
    for (let k = 0; k < d; k++) s += mean[k] * mean[k];
    const norm = Math.sqrt(s);
    if (norm > 0) for (let k = 0; k < d; k++) p[k] = -mean[k] / norm;
  }
  return { mean, p };
}

/** Squared distances of every benign delta to every other (row-major n x n), float64 in index order. */
export function pairwiseSquaredDistances(benign: readonly Float32Array[]): Float64Array {
  const n = benign.length;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    const a = benign[i], b = benign[j];
    let s = 0;
    for (let k = 0; k < a.length; k++) { const t = a[k] - b[k]; s += t * t; }
    out[i * n + j] = s;
    out[j * n + i] = s;
  }
  return out;
}

/** Squared distance of `x` to each benign delta. */
export function squaredDistancesTo(x: ArrayLike<number>, benign: readonly Float32Array[]): number[] {
  return benign.map((b) => {
    let s = 0;
    for (let k = 0; k < b.length; k++) { const t = x[k] - b[k]; s += t * t; }
    return s;
  });
}

/**
 * The reference code's search: gamma starts at gammaInit with step gammaInit; each probe that meets
 * the constraint becomes the feasible gamma and moves up by step / 2, a failing probe moves down by
 * step / 2; the step halves every probe, until |feasible - probe| <= tolerance.
 * `objective(a, b, c)` turns the expansion ||mean - x_j + gamma p||² = a_j + 2 gamma b_j + gamma² c
 * into the constrained value; `bound` is what it must not exceed.
 */
export function agrAgnosticSearch(
  benign: readonly Float32Array[],
  o: AgrAgnosticOptions,
  objective: (a: Float64Array, b: Float64Array, c: number, gamma: number) => number,
  bound: number,
): AgrAgnosticResult {
  const { gammaInit, tolerance, perturbation } = checkSearchOptions(o);
  const d = benign[0].length;
  const { mean, p } = meanAndPerturbation(benign, perturbation);
  const a = new Float64Array(benign.length);
  const b = new Float64Array(benign.length);
  let c = 0;
  for (let k = 0; k < d; k++) c += p[k] * p[k];
  benign.forEach((x, j) => {
    let aj = 0, bj = 0;
    for (let k = 0; k < d; k++) { const t = mean[k] - x[k]; aj += t * t; bj += t * p[k]; }
    a[j] = aj; b[j] = bj;
  });
  let gamma = gammaInit, step = gammaInit, feasible = 0;
  while (Math.abs(feasible - gamma) > tolerance) {
    if (objective(a, b, c, gamma) <= bound) { feasible = gamma; gamma += step / 2; }
    else gamma -= step / 2;
    step /= 2;
  }
  const delta = new Float32Array(d);
  for (let k = 0; k < d; k++) delta[k] = mean[k] + feasible * p[k];
  return { delta, gamma: feasible, bound, value: objective(a, b, c, feasible) };
}
