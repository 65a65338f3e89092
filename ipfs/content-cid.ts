/**
 * The CID `ipfs add` (and every peerfl store) gives some bytes, computed without storing them:
 * the same Kubo-compatible importer options the stores use (ipfs/unixfs-format.ts), with a
 * blockstore that discards the blocks.
 */
import { importBytes, type WritableStorage } from "ipfs-unixfs-importer";
import type { CID } from "multiformats/cid";
import { kuboImporterOptions } from "./unixfs-format.ts";

const discard: WritableStorage = {
  put: async (cid: CID) => cid,
};

export async function contentCid(bytes: Uint8Array, cidVersion: 0 | 1 = 1): Promise<string> {
  const entry = await importBytes(bytes, discard, kuboImporterOptions(cidVersion));
  return entry.cid.toString();
}
