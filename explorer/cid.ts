/** CIDs as the chain stores them (binary bytes) and as people read them (strings). */
import { CID } from "multiformats/cid";
import { getBytes, hexlify } from "ethers";

/** Binary CID bytes (hex or Uint8Array) -> canonical string (CIDv0 base58btc, CIDv1 base32). */
export function cidToString(bytes: string | Uint8Array): string {
  const raw = typeof bytes === "string" ? getBytes(bytes) : bytes;
  if (raw.length === 0) return "";
  try {
    return CID.decode(raw).toString();
  } catch {
    return `invalid-cid:${hexlify(raw)}`;
  }
}

/** CID string -> binary bytes for a contract call. Throws on an unparsable CID. */
export function cidToBytes(cid: string): Uint8Array {
  return CID.parse(cid).bytes;
}

/** Parse a CID string; null when it is not a CID. */
export function parseCid(text: string): CID | null {
  try {
    return CID.parse(text.trim());
  } catch {
    return null;
  }
}

export function looksLikeCid(text: string): boolean {
  return parseCid(text) !== null;
}
