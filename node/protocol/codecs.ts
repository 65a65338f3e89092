/**
 * The two on-chain encodings a round uses: the accepted mask (bit i = commit i accepted, at most 256
 * commits) and binary CIDs (what the contract stores). Converted once at the chain edge.
 */
import { CID } from "multiformats/cid";

export class InvalidCidError extends Error {
  override name = "InvalidCidError";
  constructor(readonly input: string, reason: string) {
    super(`invalid CID "${input}": ${reason}`);
  }
}

export const MAX_COMMITS = 256;

export function maskHas(mask: bigint, index: number): boolean {
  return ((mask >> BigInt(index)) & 1n) === 1n;
}

export function maskFrom(accepted: readonly boolean[]): bigint {
  if (accepted.length > MAX_COMMITS) throw new RangeError(`a mask holds at most ${MAX_COMMITS} commits, got ${accepted.length}`);
  return accepted.reduce((m, a, i) => (a ? m | (1n << BigInt(i)) : m), 0n);
}

/** The mask as flags for `count` commits. */
export function maskToFlags(mask: bigint, count: number): boolean[] {
  return Array.from({ length: count }, (_, i) => maskHas(mask, i));
}

export function maskHex(mask: bigint): string {
  return "0x" + mask.toString(16);
}

/** A CID from its string form (Qm…, bafy…, bafk…). */
export function parseCid(input: string): CID {
  try {
    return CID.parse(input.trim());
  } catch (err) {
    throw new InvalidCidError(input, err instanceof Error ? err.message : String(err));
  }
}

/** A CID from the binary form the contract stores; null for empty bytes (no CID yet). */
export function cidFromBytes(bytes: Uint8Array): CID | null {
  if (bytes.length === 0) return null;
  try {
    return CID.decode(bytes);
  } catch (err) {
    throw new InvalidCidError(Buffer.from(bytes).toString("hex"), err instanceof Error ? err.message : String(err));
  }
}

/**
 * The canonical order of a round's updates for rules and aggregation: by the sha2-256 digest of
 * their content (the CID's multihash digest), so the aggregate is a function of the accepted *set*
 * and not of the order in which transactions happened to be mined. Any recomputation (agent,
 * simulator, audit) gets the same order from the same updates. Returns indices into `cids`.
 */
export function canonicalOrder(cids: readonly CID[]): number[] {
  const digests = cids.map((c) => c.multihash.digest);
  return cids.map((_, i) => i).sort((a, b) => compareBytes(digests[a], digests[b]) || a - b);
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** True when two CIDs name the same content hash (v0 and v1 of the same dag compare equal). */
export function sameDigest(a: CID, b: CID): boolean {
  return a.multihash.code === b.multihash.code && compareBytes(a.multihash.digest, b.multihash.digest) === 0;
}
