// Mode choice after 3GPP: infrastructure (Uu via the gNB), D2D direct (PC5 sidelink) and D2D relay
// (two sidelink hops through a relay UE: 5G ProSe UE-to-UE relay, TS 23.304 Rel-18), plus the route of a peer to
// the chain node behind the base station (5G ProSe UE-to-network relay when out of coverage, TS 23.304 / TS 23.303).
import { composePath, hopLink, PROFILES, type HopLink, type LatencyProfile, type LinkMode, type LinkParams } from "./radio.ts";
import { distance, inCoverage, positionAt, type Scenario } from "./scenario.ts";

/** No radio path can carry traffic between the two endpoints. */
export class NoRouteError extends Error {
  override name = "NoRouteError";
  constructor(readonly from: number, readonly to: number | "chain", reason: string) {
    super(`no emulated 5G route from peer ${from} to ${to === "chain" ? "the chain node" : `peer ${to}`}: ${reason}`);
  }
}

/** A peer index that the scenario does not have, or a link from a peer to itself. */
export class PeerIndexError extends Error {
  override name = "PeerIndexError";
  constructor(readonly index: number, numPeers: number, reason = "is out of range") {
    super(`peer index ${index} ${reason} (scenario has ${numPeers} peers)`);
  }
}

export function profileOf(s: Scenario): LatencyProfile {
  const p = PROFILES[s.profile];
  if (!p) throw new Error(`unknown profile ${JSON.stringify(s.profile)}`);
  return p;
}

function checkPeer(s: Scenario, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= s.peers.length) throw new PeerIndexError(i, s.peers.length);
}

export function uplinkHop(s: Scenario, peer: number, t = 0): HopLink {
  const d = distance(positionAt(s, peer, t), s.baseStation);
  return hopLink("uplink", d, s.coverageRadiusM, profileOf(s), s.radio);
}

export function downlinkHop(s: Scenario, peer: number, t = 0): HopLink {
  const d = distance(positionAt(s, peer, t), s.baseStation);
  return hopLink("downlink", d, s.coverageRadiusM, profileOf(s), s.radio);
}

export function sidelinkHop(s: Scenario, a: number, b: number, t = 0): HopLink {
  const d = distance(positionAt(s, a, t), positionAt(s, b, t));
  return hopLink("sidelink", d, s.sidelinkRangeM, profileOf(s), s.radio);
}

const pairDistance = (s: Scenario, a: number, b: number, t: number): number => distance(positionAt(s, a, t), positionAt(s, b, t));

/** PC5 direct: one sidelink hop. */
export function directParams(s: Scenario, a: number, b: number, t = 0): LinkParams {
  return composePath("direct", [sidelinkHop(s, a, b, t)], 0, 0, pairDistance(s, a, b, t));
}

/** Two sidelink hops through relay UE `r`, plus its forwarding time. */
export function relayParams(s: Scenario, a: number, b: number, r: number, t = 0): LinkParams {
  const p = profileOf(s);
  return composePath("relay", [sidelinkHop(s, a, r, t), sidelinkHop(s, r, b, t)], p.relayForwardMs,
    p.jitterFraction * p.relayForwardMs, pairDistance(s, a, b, t), r);
}

/** Uu: uplink of a, gNB → UPF → gNB hairpin through the core, downlink of b. */
export function infrastructureParams(s: Scenario, a: number, b: number, t = 0): LinkParams {
  const p = profileOf(s);
  return composePath("infrastructure", [uplinkHop(s, a, t), downlinkHop(s, b, t)], p.coreMs,
    p.jitterFraction * p.coreMs, pairDistance(s, a, b, t));
}

const usable = (l: LinkParams): boolean => l.bandwidthBps > 0;

/** Order: higher bottleneck throughput, then lower latency, then lower relay index. */
function better(x: LinkParams, y: LinkParams | null): boolean {
  if (y === null) return true;
  if (x.bandwidthBps !== y.bandwidthBps) return x.bandwidthBps > y.bandwidthBps;
  if (x.latencyMs !== y.latencyMs) return x.latencyMs < y.latencyMs;
  return (x.relay ?? 0) < (y.relay ?? 0);
}

/** The relay maximising the bottleneck throughput of a→r→b; `inRangeOnly` keeps both hops within sidelink range. */
export function bestRelay(s: Scenario, a: number, b: number, t = 0, inRangeOnly = true): LinkParams | null {
  let best: LinkParams | null = null;
  for (let r = 0; r < s.peers.length; r++) {
    if (r === a || r === b) continue;
    const l = relayParams(s, a, b, r, t);
    if (!usable(l) || (inRangeOnly && !l.inRange)) continue;
    if (better(l, best)) best = l;
  }
  return best;
}

function autoParams(s: Scenario, a: number, b: number, t: number): LinkParams {
  const direct = directParams(s, a, b, t);
  if (direct.inRange && usable(direct)) return direct;
  const relay = bestRelay(s, a, b, t, true);
  if (relay) return relay;
  const infra = infrastructureParams(s, a, b, t);
  if (infra.inRange && usable(infra)) return infra;
  // Nothing within nominal range: use whatever still decodes, best throughput first.
  let best: LinkParams | null = null;
  for (const l of [direct, bestRelay(s, a, b, t, false), infra]) if (l && usable(l) && better(l, best)) best = l;
  if (best) return best;
  throw new NoRouteError(a, b, "every direct, relay and infrastructure path is below the minimum SNR");
}

/**
 * Link parameters of the ordered pair a→b at time t (s). Auto: direct when within sidelink range,
 * else the best relay with both hops in range, else infrastructure. A forced mode is used whenever it
 * decodes at all (even beyond nominal range, degraded); if it cannot, auto is used and `fallbackFrom` says so.
 */
export function linkParams(s: Scenario, a: number, b: number, t = 0): LinkParams {
  checkPeer(s, a);
  checkPeer(s, b);
  if (a === b) throw new PeerIndexError(b, s.peers.length, "is the peer itself: no link to self");
  const forced = s.forcedMode;
  if (forced === null) return autoParams(s, a, b, t);
  let l: LinkParams | null;
  if (forced === "direct") l = directParams(s, a, b, t);
  else if (forced === "infrastructure") l = infrastructureParams(s, a, b, t);
  else l = bestRelay(s, a, b, t, true) ?? bestRelay(s, a, b, t, false);
  if (l && usable(l)) return l;
  return { ...autoParams(s, a, b, t), fallbackFrom: forced };
}

/** How a peer reaches the chain node: its own Uu link, or a sidelink hop to a relay UE in coverage. */
export type ChainRoute = { kind: "uu" } | { kind: "relay"; relay: number };

/** 3GPP rule: in coverage → own Uu; out of coverage → UE-to-network relay maximising min(sidelink, relay uplink). */
export function chainRoute(s: Scenario, peer: number, t = 0): ChainRoute {
  checkPeer(s, peer);
  const own = uplinkHop(s, peer, t);
  if (inCoverage(s, peer, t) && own.usable) return { kind: "uu" };
  let best: { relay: number; bw: number; inRange: boolean } | null = null;
  for (let r = 0; r < s.peers.length; r++) {
    if (r === peer || !inCoverage(s, r, t)) continue;
    const sl = sidelinkHop(s, peer, r, t);
    const ul = uplinkHop(s, r, t);
    const bw = Math.min(sl.bandwidthBps, ul.bandwidthBps);
    if (bw <= 0) continue;
    const inRange = sl.rangeFraction <= 1;
    if (!best || (inRange && !best.inRange) || (inRange === best.inRange && bw > best.bw)) best = { relay: r, bw, inRange };
  }
  if (best) return { kind: "relay", relay: best.relay };
  if (own.usable) return { kind: "uu" };
  throw new NoRouteError(peer, "chain", "out of coverage, and no in-coverage peer is reachable over sidelink");
}

/** Own Uu path to the chain node: uplink + core (`up`), or core + downlink (`down`). */
export function uuChainParams(s: Scenario, peer: number, direction: "up" | "down", t = 0): LinkParams {
  const p = profileOf(s);
  const hop = direction === "up" ? uplinkHop(s, peer, t) : downlinkHop(s, peer, t);
  return composePath("infrastructure", [hop], p.coreMs, p.jitterFraction * p.coreMs, hop.distanceM);
}

/** The sidelink hop between a peer and its UE-to-network relay (the part shaped on the remote peer's side). */
export function relayAccessParams(s: Scenario, peer: number, relay: number, direction: "up" | "down", t = 0): LinkParams {
  const p = profileOf(s);
  const hop = direction === "up" ? sidelinkHop(s, peer, relay, t) : sidelinkHop(s, relay, peer, t);
  return composePath("relay", [hop], p.relayForwardMs, p.jitterFraction * p.relayForwardMs, hop.distanceM, relay);
}

/** End-to-end parameters peer↔chain, whichever route chainRoute picks. */
export function chainParams(s: Scenario, peer: number, direction: "up" | "down", t = 0): LinkParams {
  const route = chainRoute(s, peer, t);
  if (route.kind === "uu") return uuChainParams(s, peer, direction, t);
  const access = relayAccessParams(s, peer, route.relay, direction, t);
  const uu = uuChainParams(s, route.relay, direction, t);
  return {
    mode: "relay",
    latencyMs: access.latencyMs + uu.latencyMs,
    jitterMs: Math.hypot(access.jitterMs, uu.jitterMs),
    bandwidthBps: Math.min(access.bandwidthBps, uu.bandwidthBps),
    lossRate: 1 - (1 - access.lossRate) * (1 - uu.lossRate),
    hops: 2,
    relay: route.relay,
    distanceM: distance(positionAt(s, peer, t), s.baseStation),
    inRange: access.inRange && uu.inRange,
  };
}

export type { LinkMode };
