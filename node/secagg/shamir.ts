/**
 * Shamir secret sharing of 32-byte secrets over the prime field GF(p), p = 2^256 - 189 (the largest
 * prime below 2^256, checked by the unit tests). Secrets are sampled uniformly below p (rejection
 * sampling from the OS CSPRNG), so a secret, a share and a field element are all exactly 32 bytes
 * (big-endian) and the sharing is perfectly hiding: any t-1 shares are independent of the secret.
 *
 * Field arithmetic is @noble/curves' `Field` (audited, constant-time-ish inversion); only the
 * polynomial evaluation and Lagrange interpolation at 0, a few lines each, are written here because
 * no maintained npm package shares 32-byte values in a prime field with a caller-chosen x (we use
 * x = holder's registry index + 1, so a share names its holder).
 */
import { Field } from "@noble/curves/abstract/modular.js";
import { randomBytes } from "@noble/hashes/utils.js";
import { ReconstructionError, SecAggConfigError } from "./errors.ts";

export const FIELD_PRIME = 2n ** 256n - 189n;
export const Fp = Field(FIELD_PRIME);
export const SECRET_BYTES = 32;

export interface Share {
  /** Evaluation point, 1..65536 (holder index + 1); never 0. */
  x: number;
  /** f(x) as 32 big-endian bytes. */
  y: Uint8Array;
}

export function bytesToField(b: Uint8Array): bigint {
  if (b.length !== SECRET_BYTES) throw new SecAggConfigError(`field element must be ${SECRET_BYTES} bytes, got ${b.length}`);
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  if (v >= FIELD_PRIME) throw new ReconstructionError("value is not below the field prime");
  return v;
}

export function fieldToBytes(v: bigint): Uint8Array {
  const out = new Uint8Array(SECRET_BYTES);
  for (let i = SECRET_BYTES - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

/** A uniformly random field element (a fresh secret) as 32 bytes. */
export function randomSecret(): Uint8Array {
  for (;;) {
    const b = randomBytes(SECRET_BYTES);
    let v = 0n;
    for (const byte of b) v = (v << 8n) | BigInt(byte);
    if (v < FIELD_PRIME) return b;
  }
}

function randomElement(): bigint {
  return bytesToField(randomSecret());
}

/** Share `secret` at the given evaluation points with threshold t (polynomial of degree t-1). */
export function splitSecret(secret: Uint8Array, t: number, xs: readonly number[]): Share[] {
  if (!(Number.isInteger(t) && t >= 1)) throw new SecAggConfigError(`threshold must be >= 1, got ${t}`);
  if (xs.length < t) throw new SecAggConfigError(`cannot share with threshold ${t} among ${xs.length} holders`);
  if (new Set(xs).size !== xs.length || xs.some((x) => !Number.isInteger(x) || x < 1 || x > 65536)) {
    throw new SecAggConfigError(`evaluation points must be distinct integers in 1..65536, got ${xs.join(",")}`);
  }
  const coeffs = [bytesToField(secret), ...Array.from({ length: t - 1 }, randomElement)];
  return xs.map((x) => {
    const bx = BigInt(x);
    let acc = 0n;
    for (let i = coeffs.length - 1; i >= 0; i--) acc = Fp.add(Fp.mul(acc, bx), coeffs[i]);
    return { x, y: fieldToBytes(acc) };
  });
}

/**
 * Reconstruct from exactly the first `t` shares given (callers pass them in a canonical order, e.g.
 * by x, so every auditor uses the same subset). Fewer than t shares is an error, never a guess.
 */
export function combineShares(shares: readonly Share[], t: number): Uint8Array {
  return fieldToBytes(interpolateAt(shares, t, 0));
}

/**
 * Whether every share beyond the first t lies on the polynomial through the first t. An owner who
 * handed out shares of different polynomials could otherwise make two auditors reconstruct two
 * different secrets from two different subsets.
 */
export function sharesConsistent(shares: readonly Share[], t: number): boolean {
  return shares.slice(t).every((s) => interpolateAt(shares, t, s.x) === bytesToField(s.y));
}

/** Lagrange interpolation through the first t shares, evaluated at x. */
export function interpolateAt(shares: readonly Share[], t: number, x: number): bigint {
  if (shares.length < t) throw new ReconstructionError(`need ${t} shares, have ${shares.length}`);
  const use = shares.slice(0, t);
  if (new Set(use.map((s) => s.x)).size !== use.length) throw new ReconstructionError("two shares have the same evaluation point");
  const at = BigInt(x);
  let value = 0n;
  for (let i = 0; i < use.length; i++) {
    const xi = BigInt(use[i].x);
    let num = 1n, den = 1n;
    for (let j = 0; j < use.length; j++) {
      if (j === i) continue;
      const xj = BigInt(use[j].x);
      num = Fp.mul(num, Fp.sub(at, xj));
      den = Fp.mul(den, Fp.sub(xi, xj));
    }
    value = Fp.add(value, Fp.mul(bytesToField(use[i].y), Fp.div(num, den)));
  }
  return value;
}
