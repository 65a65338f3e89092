/**
 * Model bytes as the round moves them: canonical codec bytes (ml/codec.ts) and their CID, computed
 * exactly as `ipfs add` and every peerfl store compute it (CIDv1, raw leaves, 256 KiB chunks).
 * Same weights -> same bytes -> same CID, which is what makes recomputation an audit.
 */
import { CID } from "multiformats/cid";
import { contentCid } from "../../ipfs/content-cid.ts";
import { decodeFlatWeights, encodeFlatWeights, WeightsFormatError } from "../ml/codec.ts";
import type { ModelSpec } from "../ml/types.ts";
import { decompressUpdate, isCompressedUpdate, readCompressedHeader, type UpdateBase } from "../compression/codec.ts";
import { allowedFormats } from "../compression/spec.ts";

export type { UpdateBase } from "../compression/codec.ts";

export function encodeUpdate(weights: Float32Array, spec: ModelSpec): Uint8Array {
  return encodeFlatWeights(weights, spec);
}

/**
 * Throws the codec's errors (bad format, wrong spec, non-finite value) with the reason.
 * Without `base`: plain PFLW weights only (global models, aggregates). With `base` (a trainer's
 * update in a round whose global model is `base`): the formats the spec's compression allows —
 * PFLW ("none") or a compressed delta against exactly `base` (compression/codec.ts), decoded to
 * base + delta, the float32 update the rules and the aggregate use.
 */
export function decodeUpdate(bytes: Uint8Array, spec: ModelSpec, base?: UpdateBase): Float32Array {
  const compressed = isCompressedUpdate(bytes);
  if (base) {
    const allowed = allowedFormats(spec.compression);
    const format = compressed ? readCompressedHeader(bytes, spec).header.format : "none";
    if (!allowed.has(format)) {
      throw new WeightsFormatError(`update format ${format} is not one the task allows (${[...allowed].join(", ")})`);
    }
    if (compressed) return decompressUpdate(bytes, spec, base);
  } else if (compressed) {
    throw new WeightsFormatError("a compressed update (PFLC) is not a model: it needs the round's global model as its base");
  }
  return decodeFlatWeights(bytes, spec);
}

/** The CID an update's bytes get on IPFS (CIDv1 by default, as the stores add them). */
export async function updateCid(bytes: Uint8Array, version: 0 | 1 = 1): Promise<CID> {
  return CID.parse(await contentCid(bytes, version));
}
