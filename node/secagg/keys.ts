/**
 * Key agreement and key derivation. X25519 (@noble/curves) for every Diffie–Hellman, HKDF-SHA256
 * (@noble/hashes) to turn a shared point into a key bound to its purpose and context:
 *   - share keys: long-term X25519 keys (registered on chain at registerPeer) of owner u and
 *     holder v, bound to (task, round, u, v) — one key per direction, round and task;
 *   - pairwise mask seeds s_uv: the round's ephemeral keys c_u, c_v, bound to (task, round, {u, v});
 *   - PRG keys for self masks: the self-mask seed b_u bound to (task, round, u).
 */
import { createPrivateKey } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomSecret } from "./shamir.ts";

const enc = new TextEncoder();
const SALT = enc.encode("peerfl-secagg-v1");

/** Who and when: every derived key and every share commitment is bound to this. */
export interface RoundContext {
  /** Task contract address (0x…, any case). */
  task: string;
  round: number;
}

export interface KeyPair { secretKey: Uint8Array; publicKey: Uint8Array }

const info = (...parts: (string | number)[]): Uint8Array => enc.encode(parts.map(String).join("|").toLowerCase());

/**
 * A fresh ephemeral X25519 key pair whose secret key is a field element (shamir.ts), so the
 * secret key itself can be Shamir-shared and its reconstruction checked against the public key.
 */
export function ephemeralKeyPair(): KeyPair {
  const secretKey = randomSecret();
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secretKey);
}

/** The raw 32-byte X25519 secret key of a PKCS#8 PEM (the agents' x25519.pem). */
export function secretKeyFromPem(pem: string): Uint8Array {
  const jwk = createPrivateKey(pem).export({ format: "jwk" }) as { crv?: string; d?: string };
  if (jwk.crv !== "X25519" || !jwk.d) throw new Error("the key file is not an X25519 private key");
  return Uint8Array.from(Buffer.from(jwk.d, "base64url"));
}

function agree(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  // noble refuses low-order points (an all-zero shared secret), so a peer cannot register or post a
  // public key that forces a known shared secret.
  return x25519.getSharedSecret(secretKey, publicKey);
}

/** Key encrypting owner u's shares for holder v (long-term keys; u -> v direction). */
export function shareKey(ctx: RoundContext, mySecret: Uint8Array, theirPublic: Uint8Array, owner: string, holder: string): Uint8Array {
  return hkdf(sha256, agree(mySecret, theirPublic), SALT, info("share-key", ctx.task, ctx.round, owner, holder), 32);
}

/** Pairwise mask seed s_uv from the ephemeral keys; the same for (u, v) and (v, u). */
export function pairwiseSeed(ctx: RoundContext, mySecret: Uint8Array, theirPublic: Uint8Array, a: string, b: string): Uint8Array {
  const [lo, hi] = a.toLowerCase() < b.toLowerCase() ? [a, b] : [b, a];
  return hkdf(sha256, agree(mySecret, theirPublic), SALT, info("pairwise-mask", ctx.task, ctx.round, lo, hi), 32);
}

/** PRG key of the self mask of `owner` from its seed b_u. */
export function selfMaskKey(ctx: RoundContext, seed: Uint8Array, owner: string): Uint8Array {
  return hkdf(sha256, seed, SALT, info("self-mask", ctx.task, ctx.round, owner), 32);
}
