import { CID } from "multiformats/cid";
import { getBytes, hexlify } from "ethers";

/** Thrown for a CID string or byte string that is not a valid CID. */
export class InvalidCidStringError extends Error {
  constructor(readonly input: string, reason: string) {
    super(`invalid CID "${input}": ${reason}`);
    this.name = "InvalidCidStringError";
  }
}

/** CID string (Qm… or bafy…/bafk…) -> the binary CID bytes the contract stores. */
export function cidToBytes(cid: string): Uint8Array {
  try {
    return CID.parse(cid.trim()).bytes;
  } catch (err) {
    throw new InvalidCidStringError(cid, err instanceof Error ? err.message : String(err));
  }
}

/** cidToBytes as a 0x-hex string (for ABI arguments and Ignition parameters). */
export function cidToHex(cid: string): string {
  return hexlify(cidToBytes(cid));
}

/** Binary CID (Uint8Array or 0x-hex from the chain) -> canonical CID string; "" for empty bytes. */
export function bytesToCid(bytes: Uint8Array | string): string {
  const raw = typeof bytes === "string" ? getBytes(bytes) : bytes;
  if (raw.length === 0) return "";
  try {
    return CID.decode(raw).toString();
  } catch (err) {
    throw new InvalidCidStringError(hexlify(raw), err instanceof Error ? err.message : String(err));
  }
}
