// Rényi DP accountant for the (Poisson-subsampled) Gaussian mechanism composed over rounds.
// RDP of the Gaussian mechanism: alpha / (2 sigma^2) (Mironov 2017, "Rényi Differential Privacy").
// Subsampled: log A_alpha of Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the Sampled
// Gaussian Mechanism", integer orders by the binomial sum (Sec. 3.3), fractional orders by the
// two-sided erfc series — the same computation as TF Privacy `_compute_log_a_int/_frac` and
// Opacus `_compute_log_a_for_int_alpha/_frac_alpha`, in log space.
// RDP -> (eps, delta): Balle, Barthe, Gaboardi, Hsu & Sato 2020, "Hypothesis Testing Interpretations
// and Rényi DP", Thm. 21 (as in Opacus `get_privacy_spent`), or Mironov 2017 Prop. 3 (classic).
import { BudgetUnreachableError, PrivacyParameterError } from "./errors.ts";
import { logAdd, logErfc, logSub } from "./special.ts";

/** How RDP is converted to (epsilon, delta). */
export type RdpConversion = "balle2020" | "mironov2017";

/**
 * Default orders: 1.1, 1.2, ..., 10.9 (fractional method) and every integer 11..256 (integer
 * method). The first block plus 12..63 is Opacus' DEFAULT_ALPHAS, so results are never worse than
 * Opacus'; the large integer orders tighten epsilon for small budgets.
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 246 }, (_, i) => 11 + i),
]);

function assertSampleRate(q: number): void {
  if (typeof q !== "number" || !Number.isFinite(q) || q < 0 || q > 1) {
    throw new PrivacyParameterError(`sampleRate must be a number in [0, 1], got ${q}`);
  }
}

function assertNoiseMultiplier(sigma: number): void {
  if (typeof sigma !== "number" || Number.isNaN(sigma) || sigma < 0) {
    throw new PrivacyParameterError(`noiseMultiplier must be a number >= 0, got ${sigma}`);
  }
}

function assertDelta(delta: number): void {
  if (typeof delta !== "number" || !Number.isFinite(delta) || !(delta > 0) || !(delta < 1)) {
    throw new PrivacyParameterError(`delta must be a number in (0, 1), got ${delta}`);
  }
}

function assertSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 0) {
    throw new PrivacyParameterError(`steps must be an integer >= 0, got ${steps}`);
  }
}

function assertOrders(orders: readonly number[]): void {
  if (!Array.isArray(orders) || orders.length === 0) {
    throw new PrivacyParameterError(`orders must be a non-empty array, got ${JSON.stringify(orders)}`);
  }
  for (const a of orders) {
    if (typeof a !== "number" || !(a > 1) || Number.isNaN(a)) {
      throw new PrivacyParameterError(`every RDP order must be a number > 1, got ${a}`);
    }
  }
}

/** log A_alpha for integer alpha >= 2 and 0 < q < 1: log sum_i C(alpha,i) q^i (1-q)^(alpha-i) e^{(i^2-i)/(2 sigma^2)}. */
function logAInt(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoSigma2 = 2 * sigma * sigma;
  let logA = -Infinity;
  let logBinom = 0; // log C(alpha, 0)
  for (let i = 0; i <= alpha; i++) {
    const s = logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / twoSigma2;
    logA = logAdd(logA, s);
    logBinom += Math.log(alpha - i) - Math.log(i + 1);
  }
  return logA;
}

/** log A_alpha for fractional alpha > 1 and 0 < q < 1, by splitting the integral at z0. */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoSigma2 = 2 * sigma * sigma;
  const sqrt2Sigma = Math.SQRT2 * sigma;
  let logAbsBinom = 0; // log |C(alpha, 0)|
  let binomSign = 1;
  for (let i = 0; i < 100000; i++) {
    const j = alpha - i;
    const logT0 = logAbsBinom + i * logQ + j * log1mQ;
    const logT1 = logAbsBinom + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
    const logS0 = logT0 + (i * i - i) / twoSigma2 + logE0;
    const logS1 = logT1 + (j * j - j) / twoSigma2 + logE1;
    if (binomSign > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
    // C(alpha, i+1) = C(alpha, i) (alpha - i) / (i + 1); its sign flips once i exceeds alpha.
    logAbsBinom += Math.log(Math.abs(alpha - i)) - Math.log(i + 1);
    if (alpha - i < 0) binomSign = -binomSign;
  }
  return logAdd(logA0, logA1);
}

/** RDP at order `alpha` of one step of the Gaussian mechanism with noise multiplier sigma, subsampled at rate q. */
export function rdpOfSampledGaussian(q: number, sigma: number, alpha: number): number {
  assertSampleRate(q);
  assertNoiseMultiplier(sigma);
  if (!(alpha > 1)) throw new PrivacyParameterError(`RDP order must be > 1, got ${alpha}`);
  if (q === 0) return 0;
  if (sigma === 0) return Infinity;
  if (sigma === Infinity) return 0;
  if (q === 1) return alpha / (2 * sigma * sigma);
  if (alpha === Infinity) return Infinity;
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  return logA / (alpha - 1);
}

/** RDP at every order of `steps` compositions of the sampled Gaussian mechanism (TF Privacy / Opacus `compute_rdp`). */
export function computeRdp(q: number, sigma: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  assertSteps(steps);
  assertOrders(orders);
  return orders.map((a) => (steps === 0 ? 0 : rdpOfSampledGaussian(q, sigma, a) * steps));
}

/** Epsilon at `delta` for an (alpha, rdp) pair; never negative, Infinity when rdp is. */
export function epsilonFromRdp(alpha: number, rdp: number, delta: number, conversion: RdpConversion = "balle2020"): number {
  if (rdp === Infinity) return Infinity;
  if (rdp === 0) return 0;
  // delta >= sqrt(1 - e^{-rdp}) bounds total variation through KL <= rdp (Bretagnolle-Huber): then (0, delta)-DP,
  // the same shortcut as TF Privacy / dp_accounting `compute_epsilon`.
  if (conversion === "balle2020" && delta * delta + Math.expm1(-rdp) >= 0) return 0;
  const eps =
    conversion === "mironov2017"
      ? rdp + Math.log(1 / delta) / (alpha - 1)
      : rdp + Math.log((alpha - 1) / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
  return Math.max(0, eps);
}

/** Best (smallest) epsilon at `delta` over all orders, and the order that gives it. */
export function rdpToEpsilon(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
  conversion: RdpConversion = "balle2020",
): { epsilon: number; bestOrder: number } {
  assertOrders(orders);
  assertDelta(delta);
  if (rdp.length !== orders.length) {
    throw new PrivacyParameterError(`orders and rdp must have the same length, got ${orders.length} and ${rdp.length}`);
  }
  if (conversion !== "balle2020" && conversion !== "mironov2017") {
    throw new PrivacyParameterError(`conversion must be "balle2020" or "mironov2017", got ${String(conversion)}`);
  }
  let epsilon = Infinity;
  let bestOrder = NaN;
  for (let k = 0; k < orders.length; k++) {
    const e = epsilonFromRdp(orders[k], rdp[k], delta, conversion);
    if (e < epsilon) {
      epsilon = e;
      bestOrder = orders[k];
    }
  }
  return { epsilon, bestOrder };
}

export interface RdpAccountantOptions {
  /** Noise standard deviation divided by the clip norm (sigma). 0 means no privacy. */
  noiseMultiplier: number;
  /** Probability that this peer trains in a round (Poisson sampling). 1 = every round. */
  sampleRate?: number;
  /** RDP orders to evaluate; default `DEFAULT_ORDERS`. */
  orders?: readonly number[];
}

/**
 * Tracks one peer's privacy loss: call `step()` once per round in which it publishes a noised
 * update, then `epsilon(delta)` for the (epsilon, delta) guarantee of everything published so far.
 */
export class RdpAccountant {
  readonly noiseMultiplier: number;
  readonly sampleRate: number;
  readonly orders: readonly number[];
  /** RDP of a single step at each order (RDP composes additively over steps). */
  private readonly rdpPerStep: readonly number[];
  private stepCount = 0;

  constructor({ noiseMultiplier, sampleRate = 1, orders = DEFAULT_ORDERS }: RdpAccountantOptions) {
    assertNoiseMultiplier(noiseMultiplier);
    assertSampleRate(sampleRate);
    assertOrders(orders);
    this.noiseMultiplier = noiseMultiplier;
    this.sampleRate = sampleRate;
    this.orders = Object.freeze([...orders]);
    this.rdpPerStep = Object.freeze(this.orders.map((a) => rdpOfSampledGaussian(sampleRate, noiseMultiplier, a)));
  }

  /** Number of steps (rounds) composed so far. */
  get steps(): number {
    return this.stepCount;
  }

  /** Composes `n` more steps of the mechanism. */
  step(n = 1): void {
    assertSteps(n);
    this.stepCount += n;
  }

  /** RDP of everything composed so far, one value per order. */
  rdp(): number[] {
    return this.rdpPerStep.map((r) => (this.stepCount === 0 ? 0 : r * this.stepCount));
  }

  /** (epsilon, delta) guarantee of the steps so far, minimised over orders. */
  epsilon(delta: number, conversion: RdpConversion = "balle2020"): { epsilon: number; bestOrder: number } {
    return rdpToEpsilon(this.orders, this.rdp(), delta, conversion);
  }

  /** Epsilon after `steps` steps at (noiseMultiplier, sampleRate), at `delta`. */
  static epsilonAfter(
    steps: number,
    noiseMultiplier: number,
    sampleRate: number,
    delta: number,
    options: { orders?: readonly number[]; conversion?: RdpConversion } = {},
  ): number {
    const acc = new RdpAccountant({ noiseMultiplier, sampleRate, orders: options.orders });
    acc.step(steps);
    return acc.epsilon(delta, options.conversion).epsilon;
  }
}

export interface NoiseSearchOptions {
  orders?: readonly number[];
  conversion?: RdpConversion;
  /** Give up above this noise multiplier (default 1e4). */
  maxNoiseMultiplier?: number;
  /** Stop when the bracket is narrower than this fraction of sigma (default 1e-6). */
  relativeTolerance?: number;
}

/**
 * Smallest noise multiplier (within `relativeTolerance`, rounded up) whose epsilon after `steps`
 * steps at `sampleRate` is at most `targetEpsilon` at `delta`. Binary search; epsilon is
 * decreasing in sigma. Returns 0 for an infinite target or when there is nothing to protect.
 */
export function noiseMultiplierFor(
  targetEpsilon: number,
  delta: number,
  steps: number,
  sampleRate: number,
  options: NoiseSearchOptions = {},
): number {
  if (typeof targetEpsilon !== "number" || Number.isNaN(targetEpsilon) || !(targetEpsilon > 0)) {
    throw new PrivacyParameterError(`targetEpsilon must be a number > 0, got ${targetEpsilon}`);
  }
  assertDelta(delta);
  assertSteps(steps);
  assertSampleRate(sampleRate);
  const maxSigma = options.maxNoiseMultiplier ?? 1e4;
  const tol = options.relativeTolerance ?? 1e-6;
  if (targetEpsilon === Infinity || steps === 0 || sampleRate === 0) return 0;
  const eps = (sigma: number): number =>
    RdpAccountant.epsilonAfter(steps, sigma, sampleRate, delta, { orders: options.orders, conversion: options.conversion });
  let lo = 0;
  let hi = 1;
  while (eps(hi) > targetEpsilon) {
    lo = hi;
    hi *= 2;
    if (hi > maxSigma) {
      if (eps(maxSigma) > targetEpsilon) {
        throw new BudgetUnreachableError(targetEpsilon, delta, steps, sampleRate, maxSigma);
      }
      hi = maxSigma;
      break;
    }
  }
  while (hi - lo > tol * hi) {
    const mid = (lo + hi) / 2;
    if (eps(mid) <= targetEpsilon) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * How many rounds a peer can publish at noise multiplier `sigma` and sample rate `q` before its
 * epsilon at `delta` would exceed `budgetEpsilon`. A trainer stops committing after this many.
 * Infinity when the budget is infinite or the mechanism leaks nothing (q = 0).
 */
export function roundsWithinBudget(
  budgetEpsilon: number,
  delta: number,
  sigma: number,
  q: number,
  options: { orders?: readonly number[]; conversion?: RdpConversion } = {},
): number {
  if (typeof budgetEpsilon !== "number" || Number.isNaN(budgetEpsilon) || budgetEpsilon < 0) {
    throw new PrivacyParameterError(`budgetEpsilon must be a number >= 0, got ${budgetEpsilon}`);
  }
  assertDelta(delta);
  assertNoiseMultiplier(sigma);
  assertSampleRate(q);
  if (budgetEpsilon === Infinity || q === 0 || sigma === Infinity) return Infinity;
  if (sigma === 0) return 0;
  const orders = options.orders ?? DEFAULT_ORDERS;
  const perStep = computeRdp(q, sigma, 1, orders);
  const epsAfter = (t: number): number =>
    rdpToEpsilon(orders, perStep.map((r) => r * t), delta, options.conversion).epsilon;
  if (epsAfter(1) > budgetEpsilon) return 0;
  // Exponential search for an upper bound, then bisection on the largest T within budget.
  let lo = 1;
  let hi = 2;
  while (epsAfter(hi) <= budgetEpsilon) {
    lo = hi;
    hi *= 2;
    if (hi > Number.MAX_SAFE_INTEGER / 2) return lo;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (epsAfter(mid) <= budgetEpsilon) lo = mid;
    else hi = mid;
  }
  return lo;
}
