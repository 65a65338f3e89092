// Gaussian mechanism with per-update L2 clipping, applied by each peer to its own model delta before
// it is published: DP-FedAvg's user-level clipping and noising (McMahan, Ramage, Talwar & Zhang 2018,
// "Learning Differentially Private Recurrent Language Models"), run locally by every trainer.
//
// Privacy unit: one peer's whole local dataset in one round. Two neighbouring inputs are the peer's
// dataset and the empty dataset; training on no data yields a zero delta, so clipping to norm C
// bounds the L2 sensitivity of the published update by C, and N(0, (sigma C)^2) per coordinate makes
// each round's release a Gaussian mechanism with noise multiplier sigma (see accountant.ts).
import { randomFillSync } from "node:crypto";
import { InsecureNoiseSourceError, NonFiniteUpdateError, PrivacyParameterError } from "./errors.ts";

/** A source of independent standard normal draws. */
export interface GaussianSource {
  /** Human-readable name, used in error messages and logs. */
  readonly name: string;
  /** True only when the draws come from the operating system's CSPRNG. */
  readonly secure: boolean;
  /** Overwrites every entry of `out` with an independent N(0, 1) draw. */
  fillStandardNormal(out: Float64Array): void;
}

/** What `privatizeUpdate` returns. */
export interface PrivatizedUpdate {
  /** The clipped, noised update: what the peer publishes. */
  noised: Float32Array;
  /** L2 norm of the input update (float64), before clipping. */
  preClipNorm: number;
  /** True when the update was scaled down to norm `clipNorm`. */
  clipped: boolean;
}

const TWO_POW_53 = 9007199254740992; // 2^53
const TWO_PI = 2 * Math.PI;
/** Normals produced per CSPRNG call: 8192 normals = 64 KiB of random bytes. */
const BATCH = 8192;

/** Throws unless clipNorm > 0 and noiseMultiplier >= 0, both finite. */
export function assertDpParameters(clipNorm: number, noiseMultiplier: number): void {
  if (typeof clipNorm !== "number" || !Number.isFinite(clipNorm) || !(clipNorm > 0)) {
    throw new PrivacyParameterError(`clipNorm must be a finite number > 0, got ${clipNorm}`);
  }
  if (typeof noiseMultiplier !== "number" || !Number.isFinite(noiseMultiplier) || !(noiseMultiplier >= 0)) {
    throw new PrivacyParameterError(`noiseMultiplier must be a finite number >= 0, got ${noiseMultiplier}`);
  }
}

/** L2 norm of `values`, accumulated in float64; throws on the first non-finite coordinate. */
export function l2Norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) throw new NonFiniteUpdateError(i, v);
    sum += v * v;
  }
  return Math.sqrt(sum);
}

/**
 * Clips `delta` to L2 norm at most `clipNorm` (scale by min(1, C / ||delta||)) and adds
 * N(0, (noiseMultiplier * clipNorm)^2) to every coordinate. The input is not modified.
 * Noise must come from the peer's own `secureGaussianSource()`; seeded sources are for tests only.
 */
export function privatizeUpdate(
  delta: Float32Array,
  clipNorm: number,
  noiseMultiplier: number,
  rng: GaussianSource,
): PrivatizedUpdate {
  assertDpParameters(clipNorm, noiseMultiplier);
  const preClipNorm = l2Norm(delta);
  const clipped = preClipNorm > clipNorm;
  const scale = clipped ? clipNorm / preClipNorm : 1;
  const noised = new Float32Array(delta.length);
  const std = noiseMultiplier * clipNorm;
  if (std === 0) {
    for (let i = 0; i < delta.length; i++) noised[i] = delta[i] * scale;
    return { noised, preClipNorm, clipped };
  }
  const z = new Float64Array(Math.min(BATCH, delta.length));
  for (let start = 0; start < delta.length; start += z.length) {
    const n = Math.min(z.length, delta.length - start);
    rng.fillStandardNormal(n === z.length ? z : z.subarray(0, n));
    for (let k = 0; k < n; k++) noised[start + k] = delta[start + k] * scale + std * z[k];
  }
  return { noised, preClipNorm, clipped };
}

/** Throws `InsecureNoiseSourceError` unless `rng` draws from the OS CSPRNG. Call before publishing. */
export function requireSecureSource(rng: GaussianSource): void {
  if (!rng.secure) throw new InsecureNoiseSourceError(rng.name);
}

/**
 * Box-Muller on pairs of 53-bit uniforms: u1 in (0, 1], u2 in [0, 1). `words` holds 4 uint32 per
 * pair of normals; fills out[0..count).
 */
function boxMullerFromWords(words: Uint32Array, out: Float64Array, count: number): void {
  for (let k = 0, w = 0; k < count; k += 2, w += 4) {
    // 27 high bits of one word and 26 of the next make one 53-bit integer.
    const a = (words[w] >>> 5) * 67108864 + (words[w + 1] >>> 6);
    const b = (words[w + 2] >>> 5) * 67108864 + (words[w + 3] >>> 6);
    const u1 = 1 - a / TWO_POW_53; // (0, 1]: log(u1) is finite
    const u2 = b / TWO_POW_53;
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = TWO_PI * u2;
    out[k] = r * Math.cos(theta);
    if (k + 1 < count) out[k + 1] = r * Math.sin(theta);
  }
}

/**
 * Standard normals from node:crypto's CSPRNG (randomFillSync), Box-Muller on 53-bit uniforms,
 * 64 KiB of random bytes per call. This is the only source a peer may use for published updates.
 */
export function secureGaussianSource(): GaussianSource {
  const words = new Uint32Array(BATCH * 2);
  return {
    name: "secure (node:crypto)",
    secure: true,
    fillStandardNormal(out: Float64Array): void {
      for (let start = 0; start < out.length; start += BATCH) {
        const count = Math.min(BATCH, out.length - start);
        const needed = Math.ceil(count / 2) * 4;
        const view = needed === words.length ? words : words.subarray(0, needed);
        randomFillSync(view);
        boxMullerFromWords(view, out.subarray(start, start + count), count);
      }
    },
  };
}

/**
 * NOT SECURE — reproducible standard normals for tests and benchmarks only (xoshiro128**,
 * Blackman & Vigna 2018, seeded through splitmix32). Its draws are predictable from the seed,
 * so noise made with it protects nothing; `requireSecureSource` rejects it.
 */
export function seededGaussianSource(seed: number): GaussianSource {
  if (!Number.isFinite(seed)) throw new PrivacyParameterError(`seed must be a finite number, got ${seed}`);
  let x = Math.floor(seed) >>> 0;
  const splitmix = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = splitmix();
  let s1 = splitmix();
  let s2 = splitmix();
  let s3 = splitmix();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is a fixed point
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const words = new Uint32Array(BATCH * 2);
  return {
    name: `seeded(${seed}) — NOT SECURE, tests only`,
    secure: false,
    fillStandardNormal(out: Float64Array): void {
      for (let start = 0; start < out.length; start += BATCH) {
        const count = Math.min(BATCH, out.length - start);
        const needed = Math.ceil(count / 2) * 4;
        for (let i = 0; i < needed; i++) words[i] = next();
        boxMullerFromWords(words, out.subarray(start, start + count), count);
      }
    },
  };
}

function rotl(v: number, k: number): number {
  return ((v << k) | (v >>> (32 - k))) >>> 0;
}
