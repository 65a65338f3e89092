// The link layer of one peer: every byte this peer sends to another peer or to the chain node goes
// through a local shaping proxy configured from the scenario's radio model.
import { writeFile } from "node:fs/promises";
import { chainParams, chainRoute, linkParams, PeerIndexError, relayAccessParams, uuChainParams, type ChainRoute } from "./modes.ts";
import type { LinkMode, LinkParams } from "./radio.ts";
import { inCoverage, type Scenario } from "./scenario.ts";
import { LinkCounters, startShaper, type Shaper } from "./shaper.ts";

export type { LinkParams, LinkMode } from "./radio.ts";
export type { Scenario } from "./scenario.ts";

/** Counters of one emulated link as seen from this peer. */
export interface LinkStats {
  from: number;
  /** a peer index, or "chain" for the path to the chain node */
  to: number | "chain";
  /** "peer": libp2p traffic; "rpc": this peer's JSON-RPC; "relay-forwarder": RPC of other peers relayed by this one */
  role: "peer" | "rpc" | "relay-forwarder";
  mode: LinkMode;
  relay?: number;
  /** bytes from → to, delivered through the emulated link */
  bytesUp: number;
  /** bytes to → from */
  bytesDown: number;
  connections: number;
  /** time with bytes in flight, ms */
  busyMs: number;
  latencyMs: number;
  bandwidthBps: number;
}

export interface LinkLayer {
  /** multiaddr to dial instead of `remoteMultiaddr` (e.g. /ip4/127.0.0.1/tcp/P/p2p/ID) so every byte to/from that peer crosses the emulated link; keeps the /p2p/ID suffix */
  routeTo(remotePeerIndex: number, remoteMultiaddr: string): Promise<string>;
  /** JSON-RPC URL this peer must use to reach the chain (behind the base station): a local shaped proxy of its Uu link, or — when out of coverage — a sidelink hop to a relay peer's forwarder */
  rpcUrl(chainRpcUrl: string): Promise<string>;
  /** start this peer's UE-to-network relay forwarder (other out-of-coverage peers send their RPC through it); returns its URL.
   * Safe on every peer: an out-of-coverage peer's forwarder goes on through its own relay (nobody picks it as relay). */
  serveRelay(chainRpcUrl: string): Promise<string>;
  modeTo(remotePeerIndex: number): LinkParams;
  /** end-to-end parameters to the chain node (own Uu, or relay + the relay's Uu) */
  chainLink(direction?: "up" | "down"): LinkParams;
  /** how this peer reaches the chain right now */
  chainRoute(): ChainRoute;
  /** true when this peer is within the base station's coverage (it can serve as UE-to-network relay) */
  inCoverage(): boolean;
  stats(): LinkStats[];
  /** local ports of this layer's shapers (peer routes, RPC, relay forwarder): a connection gater can refuse any other dial */
  routedPorts(): number[];
  /** write { selfIndex, scenario, writtenAt, links: stats() } as JSON */
  writeStats(file: string): Promise<void>;
  close(): Promise<void>;
}

export interface LinkLayerOptions {
  scenario: Scenario;
  selfIndex: number;
  /** port of peer i's relay forwarder on 127.0.0.1 (fixed by the demo, so no discovery is needed) */
  relayPortFor: (peerIndex: number) => number;
  /** seconds since the scenario started, for mobility; default: since this layer was created */
  clock?: () => number;
  /** seed of the shapers' jitter/loss draws (default: derived from selfIndex) */
  seed?: number;
  /**
   * Hosts a peer's advertised multiaddr may name, besides loopback (127.0.0.0/8, ::1, localhost):
   * e.g. the addresses of network namespaces the run made itself. Whatever a peer registers on
   * chain, the proxy never opens TCP anywhere else.
   */
  allowedHosts?: readonly string[];
}

const isLoopback = (host: string): boolean => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "::1" || host === "localhost";

/** The address cannot be routed through the emulated link. */
export class LinkAddressError extends Error {
  override name = "LinkAddressError";
  constructor(readonly address: string, reason: string) {
    super(`cannot route ${JSON.stringify(address)}: ${reason}`);
  }
}

const MULTIADDR = /^\/(ip4|dns4|dns)\/([^/]+)\/tcp\/(\d+)(\/p2p\/[^/]+)?\/?$/;

function parseTcpMultiaddr(addr: string): { host: string; port: number; suffix: string } {
  const m = MULTIADDR.exec(addr);
  if (!m) throw new LinkAddressError(addr, "only /ip4|dns4/HOST/tcp/PORT[/p2p/ID] multiaddrs are supported");
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new LinkAddressError(addr, `port ${port} is out of range`);
  return { host: m[2], port, suffix: m[4] ?? "" };
}

function parseHttpUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new LinkAddressError(url, "not a URL");
  }
  if (u.protocol !== "http:") throw new LinkAddressError(url, "only http:// JSON-RPC URLs can be shaped");
  return u;
}

const defaultPort = (u: URL): number => (u.port ? Number(u.port) : 80);

interface Entry { shaper: Shaper; stats: () => Omit<LinkStats, "bytesUp" | "bytesDown" | "connections" | "busyMs"> }

/** Create the link layer of peer `selfIndex`. Nothing listens until routeTo/rpcUrl/serveRelay is called. */
export async function createLinkLayer(opts: LinkLayerOptions): Promise<LinkLayer> {
  const s = opts.scenario;
  const self = opts.selfIndex;
  if (!Number.isInteger(self) || self < 0 || self >= s.peers.length) throw new PeerIndexError(self, s.peers.length);
  const started = Date.now();
  const clock = opts.clock ?? ((): number => (Date.now() - started) / 1000);
  let seed = opts.seed ?? (0x1ee7 + 7919 * self);
  const nextSeed = (): number => (seed = (seed + 0x9e3779b9) >>> 0);

  const entries = new Map<string, Entry>();
  const pending = new Map<string, Promise<Entry>>();
  const peerCounters = new Map<number, LinkCounters>();
  let closed = false;

  const once = (key: string, make: () => Promise<Entry>): Promise<Entry> => {
    if (closed) return Promise.reject(new Error("link layer is closed"));
    const existing = pending.get(key);
    if (existing) return existing;
    const p = make().then((e) => { entries.set(key, e); return e; });
    p.catch(() => pending.delete(key));
    pending.set(key, p);
    return p;
  };

  const checkRemote = (remote: number): void => {
    if (!Number.isInteger(remote) || remote < 0 || remote >= s.peers.length) throw new PeerIndexError(remote, s.peers.length);
    if (remote === self) throw new PeerIndexError(remote, s.peers.length, "is this peer itself: no link to self");
  };

  const summary = (p: LinkParams): { mode: LinkMode; relay?: number; latencyMs: number; bandwidthBps: number } => {
    const out: { mode: LinkMode; relay?: number; latencyMs: number; bandwidthBps: number } =
      { mode: p.mode, latencyMs: p.latencyMs, bandwidthBps: p.bandwidthBps };
    if (p.relay !== undefined) out.relay = p.relay;
    return out;
  };

  const layer: LinkLayer = {
    async routeTo(remote, remoteMultiaddr) {
      checkRemote(remote);
      const target = parseTcpMultiaddr(remoteMultiaddr);
      if (!isLoopback(target.host) && !(opts.allowedHosts ?? []).includes(target.host)) {
        throw new LinkAddressError(remoteMultiaddr, `host ${target.host} is neither loopback nor one of this run's test hosts (${(opts.allowedHosts ?? []).join(", ") || "none configured"})`);
      }
      const key = `peer:${remote}:${target.host}:${target.port}`;
      let counters = peerCounters.get(remote);
      if (!counters) { counters = new LinkCounters(); peerCounters.set(remote, counters); }
      const c = counters;
      const e = await once(key, async () => ({
        shaper: await startShaper({
          upstream: { host: target.host, port: target.port },
          forward: () => linkParams(s, self, remote, clock()),
          reverse: () => linkParams(s, remote, self, clock()),
          counters: c,
          seed: nextSeed(),
        }),
        stats: () => ({ from: self, to: remote, role: "peer" as const, ...summary(linkParams(s, self, remote, clock())) }),
      }));
      return `/ip4/127.0.0.1/tcp/${e.shaper.port}${target.suffix}`;
    },

    async rpcUrl(chainRpcUrl) {
      const u = parseHttpUrl(chainRpcUrl);
      const route = chainRoute(s, self, clock());
      const key = `rpc:${u.host}`;
      const e = await once(key, async () => {
        if (route.kind === "uu") {
          return {
            shaper: await startShaper({
              upstream: { host: u.hostname, port: defaultPort(u) },
              forward: () => uuChainParams(s, self, "up", clock()),
              reverse: () => uuChainParams(s, self, "down", clock()),
              seed: nextSeed(),
            }),
            stats: () => ({ from: self, to: "chain" as const, role: "rpc" as const, ...summary(uuChainParams(s, self, "up", clock())) }),
          };
        }
        const relay = route.relay;
        return {
          // Only the sidelink hop is shaped here; the relay's forwarder shapes its own Uu hop.
          shaper: await startShaper({
            upstream: { host: "127.0.0.1", port: opts.relayPortFor(relay) },
            forward: () => relayAccessParams(s, self, relay, "up", clock()),
            reverse: () => relayAccessParams(s, self, relay, "down", clock()),
            seed: nextSeed(),
          }),
          stats: () => ({ from: self, to: "chain" as const, role: "rpc" as const, ...summary(chainParams(s, self, "up", clock())), relay }),
        };
      });
      return `http://127.0.0.1:${e.shaper.port}${u.pathname === "/" ? "" : u.pathname}${u.search}`;
    },

    async serveRelay(chainRpcUrl) {
      const u = parseHttpUrl(chainRpcUrl);
      const port = opts.relayPortFor(self);
      const route = chainRoute(s, self, clock());
      const e = await once(`relay:${u.host}`, async () => {
        if (route.kind === "uu") {
          return {
            shaper: await startShaper({
              listenPort: port,
              upstream: { host: u.hostname, port: defaultPort(u) },
              forward: () => uuChainParams(s, self, "up", clock()),
              reverse: () => uuChainParams(s, self, "down", clock()),
              seed: nextSeed(),
            }),
            stats: () => ({ from: self, to: "chain" as const, role: "relay-forwarder" as const, ...summary(uuChainParams(s, self, "up", clock())) }),
          };
        }
        // Out of coverage: chainRoute never picks this peer as a relay, but forwarding onward through its
        // own relay keeps the call safe (and correct) for agents that start a forwarder on every peer.
        const relay = route.relay;
        return {
          shaper: await startShaper({
            listenPort: port,
            upstream: { host: "127.0.0.1", port: opts.relayPortFor(relay) },
            forward: () => relayAccessParams(s, self, relay, "up", clock()),
            reverse: () => relayAccessParams(s, self, relay, "down", clock()),
            seed: nextSeed(),
          }),
          stats: () => ({ from: self, to: "chain" as const, role: "relay-forwarder" as const, ...summary(chainParams(s, self, "up", clock())), relay }),
        };
      });
      return `http://127.0.0.1:${e.shaper.port}`;
    },

    modeTo(remote) {
      checkRemote(remote);
      return linkParams(s, self, remote, clock());
    },

    chainLink(direction = "up") {
      return chainParams(s, self, direction, clock());
    },

    chainRoute() {
      return chainRoute(s, self, clock());
    },

    inCoverage() {
      return inCoverage(s, self, clock());
    },

    stats() {
      const out: LinkStats[] = [];
      const seenPeers = new Set<number>();
      for (const e of entries.values()) {
        const base = e.stats();
        if (base.role === "peer") {
          // several multiaddrs of one remote share the same counters: report the link once
          if (seenPeers.has(base.to as number)) continue;
          seenPeers.add(base.to as number);
        }
        const c = e.shaper.counters;
        out.push({ ...base, bytesUp: c.bytesUp, bytesDown: c.bytesDown, connections: c.connections, busyMs: Math.round(c.busyMs) });
      }
      return out;
    },

    routedPorts() {
      return [...entries.values()].map((e) => e.shaper.port);
    },

    async writeStats(file) {
      const body = { selfIndex: self, scenario: s.name, writtenAt: new Date().toISOString(), links: layer.stats() };
      await writeFile(file, JSON.stringify(body, null, 2) + "\n");
    },

    async close() {
      closed = true;
      const all = await Promise.allSettled([...pending.values()]);
      await Promise.all(all.map((r) => (r.status === "fulfilled" ? r.value.shaper.close() : Promise.resolve())));
      entries.clear();
      pending.clear();
    },
  };
  return layer;
}
