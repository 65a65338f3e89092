/**
 * Model bytes as the round moves them: canonical codec bytes (ml/codec.ts) and their CID, computed
 * exactly as `ipfs add` and every peerfl store compute it (CIDv1, raw leaves, 256 KiB chunks).
 * Same weights -> same bytes -> same CID, which is what makes recomputation an audit.
 */
import { CID } from "multiformats/cid";
import { contentCid } from "../../ipfs/content-cid.ts";
import { decodeFlatWeights, encodeFlatWeights } from "../ml/codec.ts";
import type { ModelSpec } from "../ml/types.ts";

export function encodeUpdate(weights: Float32Array, spec: ModelSpec): Uint8Array {
  return encodeFlatWeights(weights, spec);
}

/** Throws the codec's errors (bad format, wrong spec, non-finite value) with the reason. */
export function decodeUpdate(bytes: Uint8Array, spec: ModelSpec): Float32Array {
  return decodeFlatWeights(bytes, spec);
}

/** The CID an update's bytes get on IPFS (CIDv1 by default, as the stores add them). */
export async function updateCid(bytes: Uint8Array, version: 0 | 1 = 1): Promise<CID> {
  return CID.parse(await contentCid(bytes, version));
}
