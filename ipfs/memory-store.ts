/**
 * A ModelStore held in memory, for unit tests of the roles (no libp2p, no disk). CIDs are computed
 * exactly as the real stores compute them (ipfs/content-cid.ts), and the byte cap is enforced, so a
 * role behaves against it as against Helia. Integration tests use the real embedded store.
 */
import { ContentTooLargeError } from "./errors.ts";
import { contentCid } from "./content-cid.ts";
import type { GetOptions, ModelStore, PutOptions } from "./model-store.ts";

export class MemoryStoreMissError extends Error {
  override name = "MemoryStoreMissError";
  constructor(readonly cid: string) { super(`${cid} is not in this store`); }
}

export class MemoryModelStore implements ModelStore {
  private readonly blocks = new Map<string, Uint8Array>();
  private readonly pins = new Set<string>();
  /** Every get() call, for tests that count fetches. */
  readonly gets: string[] = [];

  constructor(private readonly id = "memory") {}

  async put(bytes: Uint8Array, options: PutOptions = {}): Promise<string> {
    const cid = await contentCid(bytes, options.cidVersion ?? 1);
    this.blocks.set(cid, bytes.slice());
    if (options.pin ?? true) this.pins.add(cid);
    return cid;
  }

  /** Store bytes under a CID of the caller's choosing (tests: content that lies about its CID). */
  putRaw(cid: string, bytes: Uint8Array): void {
    this.blocks.set(cid, bytes.slice());
  }

  async get(cid: string, options: GetOptions = {}): Promise<Uint8Array> {
    this.gets.push(cid);
    const bytes = this.blocks.get(cid);
    if (!bytes) throw new MemoryStoreMissError(cid);
    const max = options.maxBytes ?? 64 << 20;
    if (bytes.length > max) throw new ContentTooLargeError(cid, max, bytes.length, true);
    return bytes.slice();
  }

  async has(cid: string): Promise<boolean> { return this.blocks.has(cid); }
  async pin(cid: string): Promise<void> { if (this.blocks.has(cid)) this.pins.add(cid); }
  async unpin(cid: string): Promise<void> { this.pins.delete(cid); }
  async listPins(): Promise<string[]> { return [...this.pins]; }
  async peerId(): Promise<string> { return this.id; }
  async multiaddrs(): Promise<string[]> { return []; }
  async dial(): Promise<void> {}
  async stop(): Promise<void> {}
}
