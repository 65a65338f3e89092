/**
 * What an owner u sends a holder v in its setup bundle: v's Shamir shares of u's self-mask seed b_u
 * and of u's ephemeral secret key c_u, encrypted with ChaCha20-Poly1305 (@noble/ciphers) under the
 * key derived from u's and v's long-term X25519 keys (keys.ts shareKey), with (task, round, u, v, x)
 * as associated data: a ciphertext moved to another holder, round or task does not authenticate.
 *
 * Each share also gets a public hash commitment, published in the bundle next to the ciphertext,
 * so that a share revealed later on IPFS can be checked by anyone (the audit) without the keys.
 * Shares are uniform 256-bit field elements, so the commitment needs no extra salt to hide them.
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";
import { ShareDecryptionError } from "./errors.ts";
import type { RoundContext } from "./keys.ts";
import { SECRET_BYTES } from "./shamir.ts";

export type SecretKind = "self" | "ephemeral";
export const NONCE_BYTES = 12;
export const CIPHERTEXT_BYTES = 2 * SECRET_BYTES + 16;

const enc = new TextEncoder();
const tag = (...parts: (string | number)[]): Uint8Array => enc.encode(parts.map(String).join("|").toLowerCase());

export interface EncryptedShares { nonce: Uint8Array; ciphertext: Uint8Array }
export interface HolderShares { self: Uint8Array; ephemeral: Uint8Array }

const aad = (ctx: RoundContext, owner: string, holder: string, x: number) => tag("peerfl-secagg-shares-v1", ctx.task, ctx.round, owner, holder, x);

export function encryptShares(key: Uint8Array, ctx: RoundContext, owner: string, holder: string, x: number, shares: HolderShares): EncryptedShares {
  const nonce = randomBytes(NONCE_BYTES);
  const plain = new Uint8Array(2 * SECRET_BYTES);
  plain.set(shares.self, 0);
  plain.set(shares.ephemeral, SECRET_BYTES);
  return { nonce, ciphertext: chacha20poly1305(key, nonce, aad(ctx, owner, holder, x)).encrypt(plain) };
}

/** Throws ShareDecryptionError when the ciphertext, nonce, key or context was altered. */
export function decryptShares(key: Uint8Array, ctx: RoundContext, owner: string, holder: string, x: number, e: EncryptedShares): HolderShares {
  let plain: Uint8Array;
  try {
    plain = chacha20poly1305(key, e.nonce, aad(ctx, owner, holder, x)).decrypt(e.ciphertext);
  } catch (err) {
    throw new ShareDecryptionError(`shares of ${owner} for ${holder} in round ${ctx.round} do not authenticate (tampered or wrong key): ${(err as Error).message}`);
  }
  if (plain.length !== 2 * SECRET_BYTES) throw new ShareDecryptionError(`decrypted shares are ${plain.length} bytes, expected ${2 * SECRET_BYTES}`);
  return { self: plain.slice(0, SECRET_BYTES), ephemeral: plain.slice(SECRET_BYTES) };
}

/** sha256 commitment to one share: 0x-hex. */
export function shareCommitment(ctx: RoundContext, owner: string, kind: SecretKind, x: number, y: Uint8Array): string {
  const head = tag("peerfl-secagg-share-commit-v1", ctx.task, ctx.round, owner, kind, x, "");
  const buf = new Uint8Array(head.length + y.length);
  buf.set(head, 0);
  buf.set(y, head.length);
  return "0x" + bytesToHex(sha256(buf));
}
