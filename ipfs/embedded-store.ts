/**
 * The default ModelStore: a Helia node in this process, built from parts (no bootstrap, DHT,
 * mDNS or HTTP gateways, so it never reaches the public IPFS network). Blocks and pins live in
 * `repoDir` and survive restarts; libp2p TCP listens on loopback only; peers are dialled by
 * multiaddr and exchange blocks with bitswap, and every fetched block is served onward.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { withBitswap } from "@helia/bitswap";
import { withLibp2pLight, type HeliaWithLibp2p } from "@helia/libp2p";
import { unixfs, type UnixFS } from "@helia/unixfs";
import { identify, type Identify } from "@libp2p/identify";
import { KEEP_ALIVE } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import { FsBlockstore } from "blockstore-fs";
import { FsDatastore } from "datastore-fs";
import { createHeliaLight } from "helia";
import { mkdir, open, readFile, rm } from "node:fs/promises";
import path from "node:path";
import type { CID } from "multiformats/cid";
import type { Logger } from "../node/lib/log.ts";
import {
  ContentTooLargeError, GetAbortedError, GetTimeoutError, NonLoopbackAddressError,
} from "./errors.ts";
import { ipOfMultiaddr, isLoopbackMultiaddr, loopbackConnectionGater } from "./loopback-gater.ts";
import type { GetOptions, ModelStore, PutOptions } from "./model-store.ts";
import {
  concatChunks, cumulativeDagSize, declaredFileSize, kuboImporterOptions, limitBytes, parseCid,
} from "./unixfs-format.ts";

export const DEFAULT_GET_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export interface EmbeddedStoreOptions {
  /** Directory for blocks, datastore (pins, peer key) and the repo lock. Created if missing. */
  repoDir: string;
  /** libp2p TCP port on 127.0.0.1; 0 (default) picks a free one. */
  listenPort?: number;
  /** Permit dialling and accepting non-loopback addresses (off by default). */
  allowNonLoopback?: boolean;
  /** Extra outbound policy (e.g. only through the emulated 5G links' proxies). */
  allowDial?: (multiaddr: string) => boolean;
  /**
   * Listen on this IPv4 address instead of 127.0.0.1 (a network namespace's own address, node/netns);
   * with `allowIp`, addresses it accepts are allowed besides loopback.
   */
  listenHost?: string;
  allowIp?: (ip: string) => boolean;
  logger?: Logger;
}

/** Thrown when another live process already holds `repoDir`. */
export class RepoLockedError extends Error {
  constructor(readonly repoDir: string, readonly pid: number) {
    super(`IPFS repo ${repoDir} is in use by process ${pid}`);
    this.name = "RepoLockedError";
  }
}

export interface AddResult { cid: string; /** Kubo's cumulative DAG size (the `Size` of `ipfs add`). */ size: number }

export interface CatOptions extends GetOptions { offset?: number; length?: number }

/** An opened file: its declared size is known and checked; `content` streams the bytes. */
export interface OpenedFile { cid: string; size: number; content: AsyncIterable<Uint8Array> }

type HeliaNode = HeliaWithLibp2p<{ identify: Identify }>;
/** A blockstore that fetches only from chosen providers (Helia's session). */
type SessionBlockstore = ReturnType<HeliaNode["blockstore"]["createSession"]>;

/** Share of a get's timeout spent asking only the content's owners before the whole swarm is asked. */
const OWNER_SHARE = 0.6;
/** Shortest swarm attempt after the owners missed. */
const MIN_SWARM_MS = 1_000;
/** CIDs whose owners are remembered (hintProviders), newest kept. A round has at most 255 updates. */
const MAX_PROVIDER_HINTS = 1_024;

export class EmbeddedStore implements ModelStore {
  private readonly fs: UnixFS;
  private readonly providerHints = new Map<string, string[]>();
  private ownerHits = 0;
  private ownerMisses = 0;
  private stopped = false;
  /** addresses allowed besides loopback (EmbeddedStoreOptions.allowIp) */
  private allowIp?: (ip: string) => boolean;

  private constructor(
    readonly helia: HeliaNode,
    readonly repoDir: string,
    private readonly lockPath: string,
    private readonly log: Logger | undefined,
    private readonly allowNonLoopback: boolean,
  ) {
    this.fs = unixfs(helia);
  }

  static async create(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    const repoDir = path.resolve(opts.repoDir);
    await mkdir(repoDir, { recursive: true });
    const lockPath = await acquireRepoLock(repoDir);
    try {
      const blockstore = new FsBlockstore(path.join(repoDir, "blocks"));
      const datastore = new FsDatastore(path.join(repoDir, "datastore"));
      await blockstore.open();
      await datastore.open();
      const log = opts.logger;
      const port = opts.listenPort ?? 0;
      const host = opts.listenHost ?? (opts.allowNonLoopback === true ? "0.0.0.0" : "127.0.0.1");
      const helia = withBitswap(withLibp2pLight(createHeliaLight({ blockstore, datastore }), {
        addresses: { listen: [`/ip4/${host}/tcp/${port}`] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify() },
        peerDiscovery: [],
        // No ping stream every 10 s on every connection: nothing here reads the RTT it measures, and
        // a late ping under CPU starvation must not drop a peer we can never rediscover. At 50 peers on
        // one host the pings alone cost about half a core (2,450 connection ends, ~2 ms of CPU per
        // ping under load; docs/scale.md). Yamux's keep-alive still notices dead connections.
        connectionMonitor: { enabled: false },
        connectionManager: inboundLimits(opts.allowNonLoopback === true),
        connectionGater: loopbackConnectionGater({
          allowNonLoopback: opts.allowNonLoopback,
          allowDial: opts.allowDial,
          allowIp: opts.allowIp,
          onDenied: (direction, ma) => log?.warn("ipfs.gater.denied", { direction, multiaddr: ma }),
        }),
      }), {
        // Wants issued in the same tick still go out in one message; the default 10 ms wait
        // adds a full debounce to every round trip of a DAG walk (root, then leaves).
        sendWantlistDebounce: 1,
      });
      await helia.start();
      const store = new EmbeddedStore(helia, repoDir, lockPath, log, opts.allowNonLoopback === true);
      store.allowIp = opts.allowIp;
      log?.info("ipfs.started", { peerId: helia.libp2p.peerId.toString(), addrs: (await store.multiaddrs()).join(",") });
      return store;
    } catch (err) {
      await rm(lockPath, { force: true });
      throw err;
    }
  }

  async put(bytes: Uint8Array, options: PutOptions = {}): Promise<string> {
    return (await this.add(bytes, options)).cid;
  }

  /** `ipfs add`: store bytes as a Kubo-compatible UnixFS file; pins by default. */
  async add(bytes: Uint8Array | AsyncIterable<Uint8Array>, options: PutOptions & { onlyHash?: boolean } = {}): Promise<AddResult> {
    const cidVersion = options.cidVersion ?? 1;
    if (cidVersion !== 0 && cidVersion !== 1) throw new RangeError(`cidVersion must be 0 or 1, got ${String(cidVersion)}`);
    const importOpts = kuboImporterOptions(cidVersion);
    const cid = bytes instanceof Uint8Array
      ? await this.fs.addBytes(bytes, importOpts)
      : await this.fs.addByteStream(bytes, importOpts);
    if (options.pin ?? true) await this.pinCid(cid);
    const root = await this.readBlock(cid, { offline: true });
    return { cid: cid.toString(), size: cumulativeDagSize(cid, root) };
  }

  async get(cid: string, options: GetOptions = {}): Promise<Uint8Array> {
    const owners = options.providers ?? this.providerHints.get(cid);
    if (owners && owners.length > 0 && !this.stopped) {
      const fromOwners = await this.getFromOwners(cid, owners, options);
      if (fromOwners.bytes) return fromOwners.bytes;
      // Blocks that did come are local now: the swarm is asked only for the rest, in the time left.
      options = { ...options, timeoutMs: Math.max(MIN_SWARM_MS, (options.timeoutMs ?? DEFAULT_GET_TIMEOUT_MS) - fromOwners.spentMs) };
    }
    return this.withDeadline(cid, options, async (signal, parsed) => {
      const file = await this.openParsed(parsed, options.maxBytes ?? DEFAULT_MAX_BYTES, signal);
      const chunks: Uint8Array[] = [];
      for await (const chunk of file.content) chunks.push(chunk);
      return concatChunks(chunks);
    });
  }

  ownerFetchStats(): { ownerHits: number; ownerMisses: number } {
    return { ownerHits: this.ownerHits, ownerMisses: this.ownerMisses };
  }

  /** Remember who holds `cid` (its committer): later gets ask them first (GetOptions.providers). */
  hintProviders(cid: string, providers: string[]): void {
    this.providerHints.delete(cid);
    this.providerHints.set(cid, providers);
    // Bounded: a long task must not grow this map; the oldest hints go first.
    while (this.providerHints.size > MAX_PROVIDER_HINTS) this.providerHints.delete(this.providerHints.keys().next().value!);
  }

  /**
   * Owner-first fetching. Plain bitswap sends each want to every connected peer, and every peer that
   * already holds the block sends it: at 50 peers a verifier received the same update from many
   * peers at once, and fetches timed out. A Helia session whose only providers are `owners` asks
   * them alone (want-block to that peer). Bounded by OWNER_SHARE of the caller's timeout; on a miss
   * (the owner is gone, slow, or does not have it) returns how long it spent, and the caller falls
   * back to the whole swarm. Errors that are final (too large, bad CID, the caller aborted) throw.
   */
  private async getFromOwners(cid: string, owners: string[], options: GetOptions): Promise<{ bytes: Uint8Array } | { bytes?: undefined; spentMs: number }> {
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? DEFAULT_GET_TIMEOUT_MS;
    const providers = owners.flatMap((a) => {
      try { return [this.providerOf(a)]; } catch { return []; }
    });
    if (providers.length === 0) return { spentMs: 0 };
    try {
      const bytes = await this.withDeadline(cid, { ...options, timeoutMs: Math.max(1, Math.floor(timeoutMs * OWNER_SHARE)) }, async (signal, parsed) => {
        const session = this.helia.blockstore.createSession(parsed, { providers, signal });
        try {
          const file = await this.openParsed(parsed, options.maxBytes ?? DEFAULT_MAX_BYTES, signal, signal, undefined, undefined, session);
          const chunks: Uint8Array[] = [];
          for await (const chunk of file.content) chunks.push(chunk);
          return concatChunks(chunks);
        } finally {
          session.close();
        }
      });
      this.ownerHits++;
      return { bytes };
    } catch (err) {
      if (err instanceof ContentTooLargeError || err instanceof GetAbortedError || (err as Error).name === "InvalidCidError") throw err;
      this.ownerMisses++;
      this.log?.debug("ipfs.owner-miss", { cid, owners: owners.length, reason: (err as Error).message });
      return { spentMs: Date.now() - started };
    }
  }

  /** A session provider for a multiaddr: the connected peer itself when its /p2p/ id is connected, else the address (dialled). */
  private providerOf(address: string): CID | Multiaddr {
    const ma = multiaddr(address);
    const id = ma.getComponents().findLast((c) => c.name === "p2p")?.value;
    const peer = id ? this.helia.libp2p.getPeers().find((p) => p.toString() === id) : undefined;
    if (peer) return peer.toCID();
    const ip = ipOfMultiaddr(ma);
    if (!this.allowNonLoopback && !isLoopbackMultiaddr(ma) && !(ip !== null && this.allowIp?.(ip) === true)) throw new NonLoopbackAddressError(address);
    return ma;
  }

  /**
   * Resolve a file's root (from peers if needed), check its declared size against maxBytes, and
   * return a stream of its bytes. The deadline covers the root; the caller bounds the stream.
   */
  async open(cid: string, options: CatOptions = {}): Promise<OpenedFile> {
    return this.withDeadline(cid, options, async (signal, parsed) =>
      this.openParsed(parsed, options.maxBytes ?? DEFAULT_MAX_BYTES, options.signal ?? new AbortController().signal,
        signal, options.offset, options.length));
  }

  async has(cid: string): Promise<boolean> {
    return await this.helia.blockstore.has(parseCid(cid));
  }

  /** Pin recursively, fetching missing blocks from peers within the deadline. */
  async pin(cid: string, options: Omit<GetOptions, "maxBytes"> = {}): Promise<void> {
    await this.withDeadline(cid, options, (signal, parsed) => this.pinCid(parsed, signal));
  }

  async unpin(cid: string): Promise<void> {
    const parsed = parseCid(cid);
    if (!(await this.isPinRoot(parsed))) return;
    for await (const _ of this.helia.pins.rm(parsed)) { /* drain */ }
  }

  /** Recursive pins, each CID in the version it was pinned with (Helia keys pins by CIDv1). */
  async listPins(): Promise<string[]> {
    const out: string[] = [];
    for await (const pin of this.helia.pins.ls()) {
      out.push((pin.metadata.cidVersion === 0 ? pin.cid.toV0() : pin.cid).toString());
    }
    return out;
  }

  /** True if this CID is the root of a recursive pin (not merely a block inside one). */
  async isPinned(cid: string): Promise<boolean> {
    return this.isPinRoot(parseCid(cid));
  }

  async peerId(): Promise<string> {
    return this.helia.libp2p.peerId.toString();
  }

  async multiaddrs(): Promise<string[]> {
    return this.helia.libp2p.getMultiaddrs().map((ma) => ma.toString());
  }

  /** Peer ids this node is connected to. */
  connectedPeers(): string[] {
    return this.helia.libp2p.getPeers().map((p) => p.toString());
  }

  async dial(address: string, options: { timeoutMs?: number } = {}): Promise<void> {
    const ma = multiaddr(address);
    const ip = ipOfMultiaddr(ma);
    if (!this.allowNonLoopback && !isLoopbackMultiaddr(ma) && !(ip !== null && this.allowIp?.(ip) === true)) {
      throw new NonLoopbackAddressError(address);
    }
    const conn = await this.helia.libp2p.dial(ma, { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    // Peers dialled explicitly are our only peers (no discovery): libp2p redials keep-alive peers.
    await this.helia.libp2p.peerStore.merge(conn.remotePeer, { tags: { [KEEP_ALIVE]: { value: 1 } } });
  }

  /** Close every connection to the peer behind this multiaddr or peer id. */
  async hangUp(peerOrAddress: string): Promise<void> {
    const target = peerOrAddress.startsWith("/") ? multiaddr(peerOrAddress) : peerOrAddress;
    const peer = typeof target === "string"
      ? this.helia.libp2p.getPeers().find((p) => p.toString() === target)
      : target;
    if (peer != null) await this.helia.libp2p.hangUp(peer);
  }

  /** Raw bytes of one block (fetched from peers if needed). */
  async getBlock(cid: string, options: GetOptions & { offline?: boolean } = {}): Promise<Uint8Array> {
    return this.withDeadline(cid, options, (signal, parsed) =>
      this.readBlock(parsed, { signal, offline: options.offline }));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.helia.stop();
    } finally {
      await rm(this.lockPath, { force: true });
      this.log?.info("ipfs.stopped", { repo: this.repoDir });
    }
  }

  private async pinCid(cid: CID, signal?: AbortSignal): Promise<void> {
    if (await this.isPinRoot(cid)) return;
    const metadata = { cidVersion: cid.version };
    for await (const _ of this.helia.pins.add(cid, { signal, metadata })) { /* drain: walks (and fetches) the DAG */ }
  }

  private async isPinRoot(cid: CID): Promise<boolean> {
    try {
      await this.helia.pins.get(cid);
      return true;
    } catch (err) {
      if ((err as Error).name === "NotFoundError") return false;
      throw err;
    }
  }

  /** One block, from the whole swarm, or through `session` (its providers only: owner-first). */
  private async readBlock(cid: CID, options: { signal?: AbortSignal; offline?: boolean }, session?: SessionBlockstore): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of (session ?? this.helia.blockstore).get(cid, options)) chunks.push(chunk);
    return concatChunks(chunks);
  }

  /** `session`: fetch through this session's providers only (owner-first), not the whole swarm. */
  private async openParsed(cid: CID, maxBytes: number, streamSignal: AbortSignal, rootSignal = streamSignal,
    offset?: number, length?: number, session?: SessionBlockstore): Promise<OpenedFile> {
    const id = cid.toString();
    const root = await this.readBlock(cid, { signal: rootSignal }, session);
    const size = declaredFileSize(cid, root);
    const start = Math.min(offset ?? 0, size);
    const wanted = Math.min(length ?? size - start, size - start);
    if (wanted > maxBytes) throw new ContentTooLargeError(id, maxBytes, wanted, true);
    const fs = session ? unixfs({ blockstore: session }) : this.fs;
    // The root may lie about its size: count the bytes actually streamed as well.
    const content = limitBytes(fs.cat(cid, { signal: streamSignal, offset: start, length: wanted }), maxBytes, id);
    return { cid: id, size: wanted, content };
  }

  /** Run `fn` under the caller's signal plus a timeout; map aborts to errors that name the CID. */
  private async withDeadline<T>(cid: string, options: GetOptions,
    fn: (signal: AbortSignal, parsed: CID) => Promise<T>): Promise<T> {
    const parsed = parseCid(cid);
    const timeoutMs = options.timeoutMs ?? DEFAULT_GET_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal == null ? timeout : AbortSignal.any([timeout, options.signal]);
    try {
      return await fn(signal, parsed);
    } catch (err) {
      if (options.signal?.aborted === true) throw new GetAbortedError(parsed.toString());
      if (timeout.aborted) throw new GetTimeoutError(parsed.toString(), timeoutMs);
      throw err;
    }
  }
}

/** Most peers a task can have (the contract's 256-bit masks): what one node may need to accept at once. */
const MAX_TASK_PEERS = 256;

/**
 * libp2p's inbound limits for this node. libp2p accepts at most 5 new connections per second from
 * one IP and 10 upgrading at once. Those limits assume one peer per IP; on loopback every peer
 * shares 127.0.0.1. When N peers load a task, each dials all the others at once, so most of those
 * dials were refused: 30 stores dialing each other at once kept 2 of 29 connections each
 * (docs/scale.md), and verifiers could not fetch updates from trainers they never got connected
 * to. A node that accepts only loopback (or the run's own namespaces) lets a whole task (at most
 * 256 peers) connect at once. A node open to other hosts keeps libp2p's defaults.
 */
function inboundLimits(openToOtherHosts: boolean): { inboundConnectionThreshold?: number; maxIncomingPendingConnections?: number } {
  if (openToOtherHosts) return {};
  return { inboundConnectionThreshold: MAX_TASK_PEERS * 4, maxIncomingPendingConnections: MAX_TASK_PEERS };
}

export async function createEmbeddedStore(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  return EmbeddedStore.create(opts);
}

/** One process per repo: a lock file holding the owner's pid; a dead owner's lock is taken over. */
async function acquireRepoLock(repoDir: string): Promise<string> {
  const lockPath = path.join(repoDir, "repo.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return lockPath;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number.parseInt(await readFile(lockPath, "utf8").catch(() => ""), 10);
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) throw new RepoLockedError(repoDir, pid);
      await rm(lockPath, { force: true });
    }
  }
  throw new RepoLockedError(repoDir, -1);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
