/**
 * ModelStore over a Kubo RPC endpoint (a real Kubo daemon, or `peerfl ipfs daemon`), for users
 * who run `--ipfs-api URL`. Adds use Kubo's default layouts so CIDs match the embedded store.
 */
import { create, type KuboRPCClient } from "kubo-rpc-client";
import { multiaddr as toMultiaddr } from "@multiformats/multiaddr";
import * as raw from "multiformats/codecs/raw";
import { ContentTooLargeError, GetAbortedError, GetTimeoutError, InvalidCidError, KuboRpcError } from "./errors.ts";
import { DEFAULT_GET_TIMEOUT_MS, DEFAULT_MAX_BYTES } from "./embedded-store.ts";
import type { GetOptions, ModelStore, PutOptions } from "./model-store.ts";
import { concatChunks, declaredFileSize, KUBO_CHUNK_SIZE, limitBytes, parseCid } from "./unixfs-format.ts";

export interface KuboStoreOptions {
  /** RPC base URL, e.g. http://127.0.0.1:5001 (the `/api/v0` suffix is optional). */
  apiUrl: string;
  /** Timeout for calls that are not fetches (add, pin, id); default 60 s. */
  requestTimeoutMs?: number;
}

/** Root blocks up to this size are fetched to read the declared file size. */
const MAX_ROOT_TO_INSPECT = 1024 * 1024;

export class KuboStore implements ModelStore {
  readonly client: KuboRPCClient;
  private readonly requestTimeoutMs: number;

  constructor(readonly apiUrl: string, opts: Omit<KuboStoreOptions, "apiUrl"> = {}) {
    this.client = create({ url: apiUrl.replace(/\/+$/, "").replace(/\/api\/v0$/, "") + "/api/v0" });
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
  }

  async put(bytes: Uint8Array, options: PutOptions = {}): Promise<string> {
    const cidVersion = options.cidVersion ?? 1;
    const result = await this.call("add", (signal) => this.client.add(bytes, {
      cidVersion, rawLeaves: cidVersion === 1, chunker: `size-${KUBO_CHUNK_SIZE}`, pin: options.pin ?? true, signal,
    }));
    return result.cid.toString();
  }

  async get(cid: string, options: GetOptions = {}): Promise<Uint8Array> {
    const parsed = parseCid(cid);
    const id = parsed.toString();
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    const timeoutMs = options.timeoutMs ?? DEFAULT_GET_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const stop = new AbortController();
    const signal = AbortSignal.any([timeout, stop.signal, ...(options.signal == null ? [] : [options.signal])]);
    try {
      // Check the root's declared size before streaming anything big.
      const stat = await this.client.block.stat(parsed, { signal, timeout: timeoutMs });
      let size: number | undefined = stat.size;
      if (parsed.code !== raw.code) {
        size = stat.size <= MAX_ROOT_TO_INSPECT
          ? declaredFileSize(parsed, await this.client.block.get(parsed, { signal, timeout: timeoutMs }))
          : undefined; // an unusually large root: rely on the streaming limit alone
      }
      if (size != null && size > maxBytes) throw new ContentTooLargeError(id, maxBytes, size, true);
      const chunks: Uint8Array[] = [];
      for await (const chunk of limitBytes(this.client.cat(parsed, { signal, timeout: timeoutMs }), maxBytes, id, () => stop.abort())) {
        chunks.push(chunk);
      }
      return concatChunks(chunks);
    } catch (err) {
      if (err instanceof ContentTooLargeError || err instanceof InvalidCidError) throw err;
      if (options.signal?.aborted === true) throw new GetAbortedError(id);
      if (timeout.aborted || (err instanceof Error && err.name === "TimeoutError")) throw new GetTimeoutError(id, timeoutMs);
      throw new KuboRpcError(this.apiUrl, `cat ${id}`, err instanceof Error ? err.message : String(err));
    }
  }

  async has(cid: string): Promise<boolean> {
    const parsed = parseCid(cid);
    try {
      await this.client.block.stat(parsed, { offline: true, timeout: this.requestTimeoutMs } as Parameters<KuboRPCClient["block"]["stat"]>[1]);
      return true;
    } catch {
      return false;
    }
  }

  async pin(cid: string): Promise<void> {
    const parsed = parseCid(cid);
    await this.call(`pin/add ${parsed}`, (signal) => this.client.pin.add(parsed, { signal }));
  }

  async unpin(cid: string): Promise<void> {
    const parsed = parseCid(cid);
    const pinned = await this.listPins();
    if (!pinned.includes(parsed.toString())) return;
    await this.call(`pin/rm ${parsed}`, (signal) => this.client.pin.rm(parsed, { signal }));
  }

  async listPins(): Promise<string[]> {
    return this.call("pin/ls", async (signal) => {
      const out: string[] = [];
      for await (const pin of this.client.pin.ls({ type: "recursive", signal })) out.push(pin.cid.toString());
      return out;
    });
  }

  async peerId(): Promise<string> {
    return (await this.call("id", (signal) => this.client.id({ signal }))).id.toString();
  }

  async multiaddrs(): Promise<string[]> {
    const info = await this.call("id", (signal) => this.client.id({ signal }));
    const id = info.id.toString();
    return (info.addresses ?? []).map((ma) => ma.toString()).map((ma) => (ma.includes("/p2p/") ? ma : `${ma}/p2p/${id}`));
  }

  async dial(multiaddr: string, options: { timeoutMs?: number } = {}): Promise<void> {
    await this.call(`swarm/connect ${multiaddr}`, (signal) => this.client.swarm.connect(toMultiaddr(multiaddr), { signal }),
      options.timeoutMs);
  }

  async stop(): Promise<void> {
    // The daemon belongs to the user; nothing to release on this side.
  }

  private async call<T>(command: string, fn: (signal: AbortSignal) => Promise<T>, timeoutMs = this.requestTimeoutMs): Promise<T> {
    try {
      return await fn(AbortSignal.timeout(timeoutMs));
    } catch (err) {
      throw new KuboRpcError(this.apiUrl, command, err instanceof Error ? err.message : String(err));
    }
  }
}

/** Connect to a Kubo RPC endpoint; fails early (KuboRpcError) if nothing answers there. */
export async function createKuboStore(opts: KuboStoreOptions): Promise<KuboStore> {
  const store = new KuboStore(opts.apiUrl, opts);
  await store.peerId();
  return store;
}
