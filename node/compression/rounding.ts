/**
 * The public randomness of stochastic rounding. A trainer's rounding seed is derived from public
 * round data only — sha256("peerfl/compression/v1", task address, round, trainer address) — so the
 * same update always gives the same bytes and CID, and anyone holding the trainer's uncompressed
 * update can reproduce its compressed bytes. The uniforms come from the ChaCha20 keystream keyed by
 * the seed (@noble/ciphers): a well-studied stream cipher instead of a hand-written PRNG.
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { sha256 } from "@noble/hashes/sha2.js";

const utf8 = new TextEncoder();

/** 32-byte seed of the stochastic rounding of `trainer`'s update in `round` of the task at `task`. */
export function roundingSeed(task: string, round: number, trainer: string): Uint8Array {
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError(`round must be a non-negative integer, got ${round}`);
  return sha256(utf8.encode(`peerfl/compression/v1|${task.toLowerCase()}|${round}|${trainer.toLowerCase()}`));
}

export const seedHex = (seed: Uint8Array): string => Buffer.from(seed).toString("hex");

export function seedFromHex(hex: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new RangeError(`rounding seed must be 64 lowercase hex digits, got ${JSON.stringify(hex)}`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** `n` uniforms in [0, 1) from the seed's ChaCha20 keystream (32 bits each). */
export function uniforms(seed: Uint8Array, n: number): Float64Array {
  if (seed.length !== 32) throw new RangeError(`rounding seed must be 32 bytes, got ${seed.length}`);
  const stream = chacha20(seed, new Uint8Array(12), new Uint8Array(n * 4));
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getUint32(4 * i, true) / 4294967296;
  return out;
}
