/**
 * The masks' pseudo-random generator: the ChaCha20 keystream (@noble/ciphers) under a 32-byte key,
 * read as little-endian uint32 words. Cryptographic by construction; never a seeded Math.random-like
 * generator. Nonce zero is safe because every key is derived for one purpose and one round only.
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { SecAggConfigError } from "./errors.ts";

const NONCE = new Uint8Array(12);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `count` uint32 words of the ChaCha20 keystream of `key`. */
export function prgWords(key: Uint8Array, count: number): Uint32Array {
  if (key.length !== 32) throw new SecAggConfigError(`PRG key must be 32 bytes, got ${key.length}`);
  const bytes = chacha20(key, NONCE, new Uint8Array(count * 4));
  if (littleEndian) return new Uint32Array(bytes.buffer, bytes.byteOffset, count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: count }, (_, i) => view.getUint32(4 * i, true));
}

/** acc += sign × PRG(key), element-wise mod 2^32. */
export function addPrg(acc: Uint32Array, key: Uint8Array, sign: 1 | -1): void {
  const words = prgWords(key, acc.length);
  if (sign === 1) for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] + words[i]) >>> 0;
  else for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] - words[i]) >>> 0;
}
