/**
 * Distributed DP for private rounds: the Skellam mechanism (Agarwal, Kairouz, Liu 2021, "The Skellam
 * Mechanism for Differentially Private Federated Learning", NeurIPS).
 *
 * Sk(λ) = Poisson(λ) − Poisson(λ) is an integer, symmetric, variance 2λ. Poissons add up, so when
 * each of n peers adds Sk(λ/n) to its quantized update, the secure sum carries exactly Sk(λ): the
 * full noise, while each single (masked, never revealed) update carries only a 1/n share of the
 * variance. That is the √n saving over local DP, where every update carries the full noise.
 *
 * Pieces:
 * - `securePoisson` / `addSkellamNoise`: an EXACT Poisson sampler driven by node:crypto's CSPRNG.
 *   Hand-written, and why: the one maintained npm Poisson sampler that takes a custom uniform
 *   source (@stdlib/random-base-poisson, whose default generator is the predictable, seedable
 *   MT19937) evaluates its rejection test's log-density as (k+½)·ln(λ/k) − λ + k − …, which loses
 *   about (k+½)·2^-53 in absolute accuracy: ~1e-4 per draw at the λ ≈ 10^11–10^12 this mechanism
 *   needs, a distortion of the noise's law that the accounting would have to absorb on each of the
 *   ~10^5 coordinates. Here: inversion by products (Knuth) for λ < 10, exact; Hörmann 1993's
 *   transformed rejection (PTRS) above, a rejection sampler whose acceptance test evaluates log P(k)
 *   in Loader's saddle-point form (bd0 + stirlerr, as R's dpois), accurate to ~1e-15 relative for λ
 *   up to 2^50. So the output has the Poisson law up to floating point; no normal approximation.
 * - `skellamRdp`: the mechanism's RDP for integer orders α (the paper's Theorem 3.5 bound for
 *   the multi-dimensional Skellam: Sk_μ per coordinate, i.e. variance 2μ, L2 sensitivity Δ2, L1
 *   sensitivity Δ1):  ε(α) ≤ α·Δ2²/(4μ) + min(((2α−1)·Δ2² + 6·Δ1)/(16μ²), 3·Δ1/(4μ)).
 * - `distributedRoundRdp` / `distributedEpsilon`: a peer's (ε, δ) over the rounds it committed in,
 *   RDP composed per order and converted with the accountant's conversion (Balle et al. 2020).
 *
 * Units: everything here is in the integer (quantized) domain of node/secagg/quantize.ts, where
 * one unit is 2^-scaleBits of a coordinate of the sample-weighted delta.
 */
import { randomFillSync } from "node:crypto";
import { rdpToEpsilon } from "./accountant.ts";
import { PrivacyParameterError } from "./errors.ts";

/** Integer RDP orders 2..256: the Skellam bound is proven for integer α (the accountant's DEFAULT_ORDERS' integer part). */
export const SKELLAM_ORDERS: readonly number[] = Object.freeze(Array.from({ length: 255 }, (_, i) => i + 2));

/** Largest λ the sampler accepts: k stays an exact double and the acceptance test stays accurate. */
export const MAX_POISSON_LAMBDA = 2 ** 50;

const TWO_POW_53 = 2 ** 53;
const BATCH = 8192;

/** Uniforms in [0, 1) with 53 random bits each, from node:crypto's CSPRNG (randomFillSync), buffered. */
export class SecureUniform {
  readonly name = "secure (node:crypto)";
  private readonly words = new Uint32Array(BATCH * 2);
  private pos = BATCH;
  next(): number {
    if (this.pos >= BATCH) {
      randomFillSync(this.words);
      this.pos = 0;
    }
    const i = 2 * this.pos++;
    return ((this.words[i] >>> 5) * 67108864 + (this.words[i + 1] >>> 6)) / TWO_POW_53;
  }
}

// ---------------------------------------------------------------- log P(k) for a Poisson(λ), Loader 2000

/** Exact values of stirlerr(n) = lgamma(n+1) − (n+½)·log n + n − ½·log(2π) for n = 0..15 (Loader 2000, halves omitted). */
const SFERR = [
  0.0, 0.0810614667953272582196702, 0.0413406959554092940938221, 0.02767792568499833914878929,
  0.02079067210376509311152277, 0.01664469118982119216319487, 0.01387612882307074799874573, 0.01189670994589177009505572,
  0.010411265261972096497478567, 0.009255462182712732917728637, 0.008330563433362871256469318, 0.007573675487951840794972024,
  0.006942840107209529865664152, 0.006408994188004207068439631, 0.005951370112758847735624416, 0.005554733551962801371038690,
];

/** stirlerr(n) for integer n >= 0 (Loader's series for n > 15). */
function stirlerr(n: number): number {
  if (n <= 15) return SFERR[n];
  const nn = n * n;
  const S0 = 1 / 12, S1 = 1 / 360, S2 = 1 / 1260, S3 = 1 / 1680, S4 = 1 / 1188;
  if (n > 500) return (S0 - S1 / nn) / n;
  if (n > 80) return (S0 - (S1 - S2 / nn) / nn) / n;
  if (n > 35) return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n;
  return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n;
}

/** bd0(x, np) = x·log(x/np) + np − x, computed without cancellation (Loader 2000). */
function bd0(x: number, np: number): number {
  if (Math.abs(x - np) < 0.1 * (x + np)) {
    const v = (x - np) / (x + np);
    let s = (x - np) * v;
    let ej = 2 * x * v;
    const v2 = v * v;
    for (let j = 1; j < 1000; j++) {
      ej *= v2;
      const s1 = s + ej / (2 * j + 1);
      if (s1 === s) return s1;
      s = s1;
    }
    return s;
  }
  return x * Math.log(x / np) + np - x;
}

/** log P(X = k) for X ~ Poisson(λ), k a non-negative integer. */
export function logPoissonPmf(k: number, lambda: number): number {
  if (k < 0 || !Number.isInteger(k)) return -Infinity;
  if (k === 0) return -lambda;
  return -stirlerr(k) - bd0(k, lambda) - 0.5 * Math.log(2 * Math.PI * k);
}

// ---------------------------------------------------------------- sampling

function checkLambda(lambda: number): void {
  if (!(Number.isFinite(lambda) && lambda >= 0 && lambda <= MAX_POISSON_LAMBDA)) {
    throw new PrivacyParameterError(`Poisson mean must be in [0, 2^50], got ${lambda}`);
  }
}

/** One Poisson(λ) draw from the CSPRNG. Exact: inversion by products for λ < 10, PTRS rejection above. */
export function securePoisson(lambda: number, u: SecureUniform = new SecureUniform()): number {
  checkLambda(lambda);
  if (lambda === 0) return 0;
  if (lambda < 10) {
    // Knuth: the number of uniforms whose running product stays above e^-λ.
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = u.next();
    while (p > limit) {
      k++;
      p *= u.next();
    }
    return k;
  }
  // PTRS (Hörmann 1993), constants from the paper.
  const slam = Math.sqrt(lambda);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const U = u.next() - 0.5;
    const V = u.next();
    const us = 0.5 - Math.abs(U);
    const k = Math.floor(((2 * a) / us + b) * U + lambda + 0.43);
    if (us >= 0.07 && V <= vr) return k;
    if (k < 0 || (us < 0.013 && V > us)) continue;
    if (Math.log(V) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= logPoissonPmf(k, lambda)) return k;
  }
}

/** One Sk(λ) = Poisson(λ) − Poisson(λ) draw (variance 2λ). */
export function secureSkellam(lambda: number, u: SecureUniform = new SecureUniform()): number {
  return securePoisson(lambda, u) - securePoisson(lambda, u);
}

/**
 * Adds independent Sk(λ) noise to every word of a quantized update, in Z_(2^32) (in place).
 * A fresh CSPRNG stream per call; the noise is never returned or logged.
 */
export function addSkellamNoise(words: Uint32Array, lambda: number): void {
  checkLambda(lambda);
  if (lambda === 0) return;
  const u = new SecureUniform();
  for (let i = 0; i < words.length; i++) words[i] = (words[i] + secureSkellam(lambda, u)) >>> 0;
}

// ---------------------------------------------------------------- accounting

/**
 * RDP of the multi-dimensional Skellam mechanism at integer order α (Agarwal et al. 2021): noise
 * Sk_μ (= Poisson(μ) − Poisson(μ), variance 2μ) per coordinate, sensitivities Δ2 (L2) and Δ1 (L1).
 */
export function skellamRdp(alpha: number, mu: number, l2Sensitivity: number, l1Sensitivity: number): number {
  if (!(Number.isInteger(alpha) && alpha >= 2)) throw new PrivacyParameterError(`the Skellam RDP bound needs an integer order >= 2, got ${alpha}`);
  if (!(mu > 0) || !Number.isFinite(mu)) throw new PrivacyParameterError(`Skellam mu must be > 0, got ${mu}`);
  if (!(l2Sensitivity >= 0 && l1Sensitivity >= 0)) throw new PrivacyParameterError(`sensitivities must be >= 0`);
  const d2 = l2Sensitivity * l2Sensitivity;
  return (alpha * d2) / (4 * mu) + Math.min(((2 * alpha - 1) * d2 + 6 * l1Sensitivity) / (16 * mu * mu), (3 * l1Sensitivity) / (4 * mu));
}

/** The distributed-DP parameters of a private task (node/secagg config + the privacy ledger's unit 3). */
export interface DistributedDpParams {
  /** L2 clip C of each peer's sample-weighted delta (weighted-delta units). */
  clipNorm: number;
  /** z: the sum's total noise std is z·C when at least `noisePeers` peers committed. */
  noiseMultiplier: number;
  /** n_min: each peer adds 1/n_min of the total variance, so n_min committed peers make the full noise. */
  noisePeers: number;
  /** Fixed point: one integer unit is 2^-scaleBits. */
  scaleBits: number;
  delta: number;
}

export function assertDistributedDpParams(p: DistributedDpParams): void {
  if (!(p.clipNorm > 0) || !Number.isFinite(p.clipNorm)) throw new PrivacyParameterError(`distributed DP clip norm must be > 0, got ${p.clipNorm}`);
  if (!(p.noiseMultiplier > 0) || !Number.isFinite(p.noiseMultiplier)) throw new PrivacyParameterError(`distributed DP noise multiplier must be > 0, got ${p.noiseMultiplier}`);
  if (!(Number.isInteger(p.noisePeers) && p.noisePeers >= 1 && p.noisePeers <= 256)) throw new PrivacyParameterError(`noisePeers must be an integer in 1..256, got ${p.noisePeers}`);
  if (!(Number.isInteger(p.scaleBits) && p.scaleBits >= 0 && p.scaleBits <= 24)) throw new PrivacyParameterError(`scaleBits must be an integer in 0..24, got ${p.scaleBits}`);
  if (!(p.delta > 0 && p.delta < 1)) throw new PrivacyParameterError(`delta must be in (0, 1), got ${p.delta}`);
}

/** L2 sensitivity of one peer's quantized contribution, in integer units: C · 2^scaleBits (the trainer clips so rounding stays inside it). */
export function integerSensitivity(p: Pick<DistributedDpParams, "clipNorm" | "scaleBits">): number {
  return p.clipNorm * 2 ** p.scaleBits;
}

/** λ of the Sk(λ) each peer adds per coordinate: its 1/n_min share of the total variance (z·C·2^s)², halved (Sk(λ) has variance 2λ). */
export function skellamShareLambda(p: Pick<DistributedDpParams, "clipNorm" | "noiseMultiplier" | "noisePeers" | "scaleBits">): number {
  const sigma = p.noiseMultiplier * integerSensitivity(p);
  return (sigma * sigma) / (2 * p.noisePeers);
}

/**
 * The clip a trainer applies to its weighted delta before rounding, so that the ROUNDED integer
 * vector's L2 norm stays within C·2^s: rounding moves each of the d coordinates by at most ½ unit,
 * i.e. the norm by at most √d/2 units. Throws when C is too small for the model's dimension.
 */
export function preRoundingClip(p: Pick<DistributedDpParams, "clipNorm" | "scaleBits">, dimension: number): number {
  const clip = p.clipNorm - Math.sqrt(dimension) / 2 / 2 ** p.scaleBits;
  if (!(clip > 0)) throw new PrivacyParameterError(`clip norm ${p.clipNorm} is below the rounding slack √d/2^(s+1) = ${(Math.sqrt(dimension) / 2 ** (p.scaleBits + 1)).toFixed(4)} for d = ${dimension}: raise the clip or scaleBits`);
  return clip;
}

/**
 * RDP (per SKELLAM_ORDERS) of one private round in which `committed` peers' updates (each carrying
 * its noise share) are in the sum. The accountant counts min(committed, n_min) shares: every peer
 * sizes its share for n_min, so fewer committers mean less noise (ε goes up), and more committers
 * are not credited (a committer that skipped its noise would otherwise lower everyone's protection
 * unseen). Neighbouring inputs: a peer's clipped update vs. a zero update (its participation, like
 * its noise share, is public: the commit is on chain), so Δ2 = C·2^s and Δ1 <= Δ2² (integers).
 */
export function distributedRoundRdp(p: DistributedDpParams, committed: number): number[] {
  assertDistributedDpParams(p);
  if (!(Number.isInteger(committed) && committed >= 1)) throw new PrivacyParameterError(`a round needs >= 1 committed peer, got ${committed}`);
  const shares = Math.min(committed, p.noisePeers);
  const mu = shares * skellamShareLambda(p);
  const d2 = integerSensitivity(p);
  return SKELLAM_ORDERS.map((a) => skellamRdp(a, mu, d2, d2 * d2));
}

/** A peer's (ε at δ) after the private rounds it committed in, given each round's committed count. */
export function distributedEpsilon(p: DistributedDpParams, committedPerRound: readonly number[]): number {
  assertDistributedDpParams(p);
  if (committedPerRound.length === 0) return 0;
  const total = new Array<number>(SKELLAM_ORDERS.length).fill(0);
  const counts = new Map<number, number>();
  for (const c of committedPerRound) counts.set(c, (counts.get(c) ?? 0) + 1);
  for (const [c, rounds] of counts) {
    const rdp = distributedRoundRdp(p, c);
    for (let i = 0; i < total.length; i++) total[i] += rounds * rdp[i];
  }
  return rdpToEpsilon(SKELLAM_ORDERS, total, p.delta).epsilon;
}

/**
 * Smallest noise multiplier z (relative tolerance 1e-4, rounded up to 1e-3 as the chain stores it)
 * giving at most `targetEpsilon` after `rounds` rounds with >= n_min committers. Binary search.
 */
export function distributedNoiseMultiplierFor(p: Omit<DistributedDpParams, "noiseMultiplier">, rounds: number, targetEpsilon: number): number {
  if (!(targetEpsilon > 0)) throw new PrivacyParameterError(`target epsilon must be > 0, got ${targetEpsilon}`);
  const eps = (z: number) => distributedEpsilon({ ...p, noiseMultiplier: z }, new Array(rounds).fill(p.noisePeers));
  let lo = 1e-3, hi = 1;
  while (eps(hi) > targetEpsilon) { lo = hi; hi *= 2; if (hi > 1e6) throw new PrivacyParameterError(`no noise multiplier reaches epsilon ${targetEpsilon}`); }
  while ((hi - lo) / hi > 1e-4) { const mid = (lo + hi) / 2; if (eps(mid) > targetEpsilon) lo = mid; else hi = mid; }
  return Math.ceil(hi * 1000) / 1000;
}
