/**
 * Small seeded PRNGs and samplers. Everything random in peerfl's learning code goes through
 * here so that a (seed, inputs) pair always gives the same result on every machine.
 */

/** A generator of uniform floats in [0, 1). */
export type Rng = () => number;

/** Thrown when a sampler gets a parameter it cannot use. */
export class RandomParameterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RandomParameterError";
  }
}

/** mulberry32 (Tommy Ettinger, 2017): 32-bit state, fast, good enough for shuffling and init. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One splitmix32 mixing step: a well-spread 32-bit hash of a 32-bit input. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Derives an independent 32-bit seed from a base seed and salts (e.g. peer index, round),
 * so that streams for different purposes never overlap by accident.
 */
export function deriveSeed(seed: number, ...salts: number[]): number {
  if (!Number.isFinite(seed)) throw new RandomParameterError(`seed must be a finite number, got ${seed}`);
  let h = mix32(Math.floor(seed) >>> 0 ^ Math.floor(seed / 4294967296));
  for (const s of salts) {
    if (!Number.isFinite(s)) throw new RandomParameterError(`salt must be a finite number, got ${s}`);
    h = mix32(h ^ mix32(Math.floor(s) >>> 0));
  }
  return h;
}

/** Uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Fisher-Yates shuffle, in place. */
export function shuffleInPlace<T>(items: T[] | Int32Array | Uint32Array, rng: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(out, rng);
  return out;
}

/** Standard normal sample (Box-Muller). */
export function randomNormal(rng: Rng): number {
  let u = 0;
  while (u === 0) u = rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, 1) sample. Marsaglia & Tsang, "A simple method for generating gamma variables" (2000). */
export function randomGamma(shape: number, rng: Rng): number {
  if (!(shape > 0) || !Number.isFinite(shape)) {
    throw new RandomParameterError(`gamma shape must be a positive finite number, got ${shape}`);
  }
  if (shape < 1) {
    // Boost: Gamma(a) = Gamma(a + 1) * U^(1/a).
    let u = 0;
    while (u === 0) u = rng();
    return randomGamma(shape + 1, rng) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = randomNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A sample of the symmetric Dirichlet(alpha, ..., alpha) distribution over k categories. */
export function randomDirichlet(alpha: number, k: number, rng: Rng): number[] {
  if (!Number.isInteger(k) || k < 1) throw new RandomParameterError(`dirichlet needs k >= 1 categories, got ${k}`);
  const g = Array.from({ length: k }, () => randomGamma(alpha, rng));
  let sum = g.reduce((a, b) => a + b, 0);
  if (sum === 0) {
    // Possible for tiny alpha in float arithmetic: put all mass on one category.
    g[randomInt(rng, k)] = 1;
    sum = 1;
  }
  return g.map((x) => x / sum);
}
