/** Shared fixtures for the IPFS tests: temp repos and deterministic byte patterns. */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { EmbeddedStore } from "../../ipfs/embedded-store.ts";

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `peerfl-ipfs-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic, non-repeating-per-chunk bytes (a 32-bit LCG), so every 256 KiB leaf differs. */
export function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/** Block bytes (and senders) this node's bitswap received, duplicates included. Test-only: reaches Helia's broker. */
export function countBitswapBytes(store: EmbeddedStore): { bytes: number; senders: Set<string> } {
  const count = { bytes: 0, senders: new Set<string>() };
  const brokers = (store.helia as unknown as { blockBrokers: { name: string; bitswap?: { network: EventTarget } }[] }).blockBrokers;
  const network = brokers.find((b) => b.name === "bitswap")?.bitswap?.network;
  if (!network) throw new Error("no bitswap network on this Helia node (Helia internals changed?)");
  network.addEventListener("bitswap:message", (evt) => {
    const { peer, message } = (evt as CustomEvent<{ peer: { toString(): string }; message: { blocks: { data?: Uint8Array }[] } }>).detail;
    for (const b of message.blocks) {
      if (!b.data) continue;
      count.bytes += b.data.length;
      count.senders.add(peer.toString());
    }
  });
  return count;
}
