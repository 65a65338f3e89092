/**
 * The explorer's access to model bytes: its own embedded IPFS node (or a Kubo API), which dials the
 * peers' multiaddrs read from the chain, caches recent content, remembers sizes (for the "bytes
 * moved" chart) and tracks whether IPFS answers (for the "IPFS unreachable" banner).
 */
import { ContentTooLargeError } from "../ipfs/errors.ts";
import type { ModelStore } from "../ipfs/model-store.ts";
import { errorMessage } from "./chain-client.ts";

export interface ContentStatus {
  mode: string;
  reachable: boolean;
  started: boolean;
  lastError: string | null;
  peerId: string | null;
}

export class ContentNotFoundError extends Error {
  constructor(readonly cid: string, reason: string) {
    super(`content ${cid} not retrievable from IPFS: ${reason}`);
    this.name = "ContentNotFoundError";
  }
}

export interface GetContentOptions {
  timeoutMs: number;
  /** The CID is named on chain (its absence flips the "IPFS unreachable" banner). */
  referenced?: boolean;
  /** Refuse content larger than this (ContentTooLargeError). */
  maxBytes?: number;
}

export class ExplorerContent {
  private store: ModelStore | null = null;
  private starting: Promise<ModelStore> | null = null;
  private reachable = true;
  private lastError: string | null = null;
  private peerId: string | null = null;
  private readonly dialed = new Set<string>();
  private readonly cache = new Map<string, Uint8Array>();
  private cacheBytes = 0;
  /** CID -> byte size, for every CID ever fetched. */
  readonly sizes = new Map<string, number>();

  constructor(
    readonly mode: string,
    private readonly open: () => Promise<ModelStore>,
    private readonly options: { cacheBytes?: number; dialTimeoutMs?: number } = {},
  ) {}

  status(): ContentStatus {
    return { mode: this.mode, reachable: this.reachable, started: this.store !== null, lastError: this.lastError, peerId: this.peerId };
  }

  async getStore(): Promise<ModelStore> {
    if (this.store) return this.store;
    this.starting ??= this.open()
      .then(async (store) => {
        this.store = store;
        this.peerId = await store.peerId().catch(() => null);
        return store;
      })
      .catch((error) => {
        this.starting = null;
        this.markUnreachable(error);
        throw error;
      });
    return this.starting;
  }

  /** Dial peers we have not dialed yet (or all again with `force`). Failures are ignored. */
  async dialPeers(multiaddrs: readonly string[], force = false): Promise<number> {
    const store = await this.getStore();
    const todo = multiaddrs.filter((a) => a && (force || !this.dialed.has(a)));
    let ok = 0;
    await Promise.all(
      todo.map(async (addr) => {
        try {
          await store.dial(addr, { timeoutMs: this.options.dialTimeoutMs ?? 3000 });
          this.dialed.add(addr);
          ok++;
        } catch {
          // The peer may be down or not dialable from here; content may still come from others.
        }
      }),
    );
    return ok;
  }

  /**
   * Bytes behind `cid`. `referenced`: the CID is named on chain, so failing to get it means IPFS is
   * (at least partly) unreachable — that flips the banner; an unknown CID failing does not.
   * `maxBytes` caps the content (ContentTooLargeError, checked on the declared size before the
   * bytes are fetched); without it the store's default cap applies.
   */
  async get(cid: string, options: GetContentOptions): Promise<Uint8Array> {
    const { timeoutMs, referenced = false, maxBytes } = options;
    const cached = this.cache.get(cid);
    if (cached) {
      if (maxBytes !== undefined && cached.length > maxBytes) throw new ContentTooLargeError(cid, maxBytes, cached.length, true);
      return cached;
    }
    let store: ModelStore;
    try {
      store = await this.getStore();
    } catch (error) {
      throw new ContentNotFoundError(cid, `IPFS node unavailable: ${errorMessage(error)}`);
    }
    try {
      const bytes = await store.get(cid, maxBytes === undefined ? { timeoutMs } : { timeoutMs, maxBytes });
      this.remember(cid, bytes);
      this.reachable = true;
      this.lastError = null;
      return bytes;
    } catch (error) {
      // Too large is an answer, not an outage: IPFS delivered (at least) the root.
      if (error instanceof ContentTooLargeError) throw error;
      if (referenced) this.markUnreachable(error);
      throw new ContentNotFoundError(cid, errorMessage(error));
    }
  }

  private remember(cid: string, bytes: Uint8Array): void {
    this.sizes.set(cid, bytes.length);
    const limit = this.options.cacheBytes ?? 64 * 1024 * 1024;
    if (bytes.length > limit / 4) return;
    this.cache.set(cid, bytes);
    this.cacheBytes += bytes.length;
    for (const [key, value] of this.cache) {
      if (this.cacheBytes <= limit) break;
      this.cache.delete(key);
      this.cacheBytes -= value.length;
    }
  }

  private markUnreachable(error: unknown): void {
    this.reachable = false;
    this.lastError = errorMessage(error);
  }

  async stop(): Promise<void> {
    const store = this.store ?? (this.starting ? await this.starting.catch(() => null) : null);
    this.store = null;
    this.starting = null;
    await store?.stop();
  }
}
