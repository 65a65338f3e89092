/**
 * The data plane's contract: everything the rest of peerfl may ask of an IPFS node.
 * Implemented by the embedded Helia store (default) and the Kubo RPC store.
 */
export interface GetOptions {
  /** Give up after this many milliseconds (error names the CID). Default 30 000. */
  timeoutMs?: number;
  /** Refuse content larger than this many bytes, before buffering it all. Default 64 MiB. */
  maxBytes?: number;
  signal?: AbortSignal;
  /**
   * Peers known to hold the content (libp2p multiaddrs ending in /p2p/<peer id>, e.g. the committer
   * of an update): asked first and alone, before the request goes to every connected peer.
   */
  providers?: string[];
}

export interface PutOptions {
  /** 1 (default): CIDv1, raw leaves. 0: CIDv0, dag-pb leaves. Both Kubo-compatible. */
  cidVersion?: 0 | 1;
  /** Pin what was added (default true). */
  pin?: boolean;
}

export interface ModelStore {
  /** Add bytes; returns the CID string (same as `ipfs add` with the same CID version). */
  put(bytes: Uint8Array, options?: PutOptions): Promise<string>;
  /** Fetch the bytes behind a CID (locally or from connected peers). */
  get(cid: string, options?: GetOptions): Promise<Uint8Array>;
  has(cid: string): Promise<boolean>;
  pin(cid: string): Promise<void>;
  unpin(cid: string): Promise<void>;
  listPins(): Promise<string[]>;
  /** This node's peer id (base58btc string). */
  peerId(): Promise<string>;
  /** This node's dialable libp2p multiaddrs, each ending in /p2p/<peerId>. */
  multiaddrs(): Promise<string[]>;
  /** Connect to another peer by multiaddr (no-op for stores that cannot dial). */
  dial(multiaddr: string, options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Remember who holds a CID (its committer's multiaddr), so later gets of it ask that peer first
   * (as GetOptions.providers). Optional: stores that cannot choose their providers ignore it.
   */
  hintProviders?(cid: string, providers: string[]): void;
  /** Gets served by the named owners alone, and those that fell back to the swarm (owner-first fetching). */
  ownerFetchStats?(): { ownerHits: number; ownerMisses: number };
  stop(): Promise<void>;
}
