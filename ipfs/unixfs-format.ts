/**
 * Kubo-compatible UnixFS import settings and the few DAG facts the stores need
 * (parsing CIDs, a root block's declared size, a byte limit enforced while streaming).
 */
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import type { ImporterOptions } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { identity } from "multiformats/hashes/identity";
import { ContentTooLargeError, InvalidCidError, NotAFileError } from "./errors.ts";

/** Kubo's fixed chunk size (`--chunker size-262144`, its default). */
export const KUBO_CHUNK_SIZE = 262_144;
/** Kubo's balanced-layout fan-out (go-unixfs `helpers.DefaultLinksPerBlock`). */
export const KUBO_MAX_CHILDREN = 174;

/**
 * Importer options that reproduce `ipfs add` (Kubo's default "unixfs-v0-2015" profile):
 * CIDv1 implies raw leaves, CIDv0 keeps dag-pb leaves; both 256 KiB fixed chunks, balanced 174-ary.
 * Helia's own defaults (1 MiB chunks, 1024 children) give different CIDs above 256 KiB.
 */
export function kuboImporterOptions(cidVersion: 0 | 1): Pick<ImporterOptions,
  "cidVersion" | "rawLeaves" | "chunker" | "layout" | "reduceSingleLeafToSelf"> {
  return {
    cidVersion,
    rawLeaves: cidVersion === 1,
    chunker: fixedSize({ chunkSize: KUBO_CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: KUBO_MAX_CHILDREN }),
    reduceSingleLeafToSelf: true,
  };
}

/** Parse a CID string (also accepts a `/ipfs/` prefix); throws InvalidCidError. */
export function parseCid(input: string): CID {
  if (typeof input !== "string") throw new InvalidCidError(String(input), "not a string");
  const text = input.trim().replace(/^\/ipfs\//, "");
  if (text === "") throw new InvalidCidError(input, "empty string");
  try {
    return CID.parse(text);
  } catch (err) {
    throw new InvalidCidError(input, err instanceof Error ? err.message : String(err));
  }
}

/**
 * The file size a root block declares: the block itself for raw (and identity) CIDs, the UnixFS
 * `filesize` for dag-pb files. Throws NotAFileError for directories and other node kinds.
 */
export function declaredFileSize(cid: CID, block: Uint8Array): number {
  if (cid.multihash.code === identity.code) return cid.multihash.digest.length;
  if (cid.code === raw.code) return block.length;
  if (cid.code !== dagPb.code) throw new NotAFileError(cid.toString(), `block with codec 0x${cid.code.toString(16)}`);
  const node = dagPb.decode(block);
  if (node.Data == null) throw new NotAFileError(cid.toString(), "dag-pb node without UnixFS data");
  const fs = UnixFS.unmarshal(node.Data);
  if (fs.type !== "file" && fs.type !== "raw") throw new NotAFileError(cid.toString(), `UnixFS ${fs.type}`);
  return Number(fs.fileSize());
}

/**
 * Kubo's cumulative DAG size of a root (the `Size` field of `ipfs add`): block length plus the
 * Tsize of every link.
 */
export function cumulativeDagSize(cid: CID, block: Uint8Array): number {
  if (cid.code !== dagPb.code) return block.length;
  const node = dagPb.decode(block);
  return node.Links.reduce((sum, link) => sum + (link.Tsize ?? 0), block.length);
}

/**
 * Pass chunks through, throwing ContentTooLargeError as soon as more than maxBytes went by
 * (before the rest is fetched); `onExceeded` lets the caller abort the underlying transfer.
 */
export async function* limitBytes(source: AsyncIterable<Uint8Array>, maxBytes: number, cid: string,
  onExceeded?: () => void): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.length;
    if (seen > maxBytes) {
      onExceeded?.();
      throw new ContentTooLargeError(cid, maxBytes, seen, false);
    }
    yield chunk;
  }
}

/** Join chunks into one buffer of exactly `total` bytes (or the sum of chunk lengths). */
export function concatChunks(chunks: Uint8Array[], total?: number): Uint8Array {
  const size = total ?? chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) { out.set(c, offset); offset += c.length; }
  return out;
}
