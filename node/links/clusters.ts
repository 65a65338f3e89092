/**
 * D2D clusters from the radio model: peers within sidelink range of each other form clusters whose
 * head collects the members' updates over the sidelink and sends one cluster aggregate over Uu.
 * PURE and deterministic: every peer computes the same clustering from the scenario, the peers'
 * energy levels and a public seed from the chain (e.g. the round's committee seed block hash).
 *
 * Algorithm (greedy, after LEACH-style head election but without randomness beyond the seed):
 *  1. A peer may be a head when it is active, in Uu coverage (its uplink decodes within range) and
 *     has at least `minHeadEnergy` of its battery.
 *  2. Its score = energy × (uplink Mbit/s + Σ sidelink Mbit/s to the active peers within direct
 *     sidelink range), rounded to 1e-3 so floating-point noise cannot reorder peers; ties are broken
 *     by sha256(seed ‖ peer index) — the chain's seed, so no peer can choose to be head.
 *  3. In score order, an unassigned eligible peer with an unassigned neighbour becomes head and takes
 *     its unassigned direct neighbours (best sidelink first, up to `maxClusterSize`).
 *  4. Unassigned peers that reach a head over a two-hop sidelink relay (both hops in range) join the
 *     head with the best relay bottleneck (clusters not full).
 *  5. Everyone else is unclustered and takes part over Uu as before.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bestRelay, directParams, sidelinkHop, uplinkHop } from "./modes.ts";
import type { Scenario } from "./scenario.ts";

export interface ClusterOptions {
  /** public seed from the chain (hex string or bytes) that breaks score ties */
  seed: string | Uint8Array;
  /** scenario time, s (mobility) */
  t?: number;
  /** battery level per peer, 0..1 (default 1: full) */
  energy?: readonly number[];
  /** peers taking part this round (default: all) */
  active?: readonly boolean[];
  /** below this battery level a peer is never head (default 0.3) */
  minHeadEnergy?: number;
  /** head + members (default 8) */
  maxClusterSize?: number;
}

export interface ClusterMember {
  peer: number;
  /** how the member reaches its head ("head" for the head itself) */
  via: "head" | "direct" | "relay";
  relay?: number;
  /** bottleneck throughput member → head, bit/s (0 for the head) */
  bandwidthBps: number;
}

export interface Cluster {
  head: number;
  /** head first, then members in peer order */
  members: ClusterMember[];
}

export interface Clustering {
  clusters: Cluster[];
  /** active peers in no cluster (they go over Uu) */
  unclustered: number[];
  /** cluster index per peer, −1 when unclustered or inactive */
  clusterOf: number[];
  /** head score per peer (0 when not eligible) */
  scores: number[];
}

const utf8 = new TextEncoder();

function seedBytes(seed: string | Uint8Array): Uint8Array {
  if (typeof seed !== "string") return seed;
  const hex = seed.startsWith("0x") ? seed.slice(2) : seed;
  if (/^[0-9a-fA-F]*$/.test(hex) && hex.length % 2 === 0 && hex.length > 0) return Uint8Array.from(Buffer.from(hex, "hex"));
  return utf8.encode(seed);
}

/** sha256(seed ‖ "peerfl/cluster-head" ‖ peer) as a hex string: lexicographic order = tie order. */
export function tieBreak(seed: string | Uint8Array, peer: number): string {
  const s = seedBytes(seed);
  const tag = utf8.encode(`|peerfl/cluster-head|${peer}`);
  const buf = new Uint8Array(s.length + tag.length);
  buf.set(s);
  buf.set(tag, s.length);
  return Buffer.from(sha256(buf)).toString("hex");
}

const mbps = (bps: number): number => bps / 1e6;

export function formClusters(s: Scenario, o: ClusterOptions): Clustering {
  const n = s.peers.length;
  const t = o.t ?? 0;
  const energy = Array.from({ length: n }, (_, i) => o.energy?.[i] ?? 1);
  const active = Array.from({ length: n }, (_, i) => o.active?.[i] ?? true);
  const minHeadEnergy = o.minHeadEnergy ?? 0.3;
  const maxSize = o.maxClusterSize ?? 8;
  if (!Number.isInteger(maxSize) || maxSize < 2) throw new RangeError(`maxClusterSize must be an integer >= 2, got ${maxSize}`);
  for (const [i, e] of energy.entries()) if (!(e >= 0 && e <= 1)) throw new RangeError(`energy[${i}] must be in 0..1, got ${e}`);

  // direct sidelink neighbours (in range and decodable) with their throughput
  const neighbours: { peer: number; bps: number }[][] = Array.from({ length: n }, () => []);
  for (let a = 0; a < n; a++) {
    if (!active[a]) continue;
    for (let b = a + 1; b < n; b++) {
      if (!active[b]) continue;
      const hop = sidelinkHop(s, a, b, t);
      if (!hop.usable || hop.rangeFraction > 1) continue;
      const bps = Math.min(directParams(s, a, b, t).bandwidthBps, directParams(s, b, a, t).bandwidthBps);
      neighbours[a].push({ peer: b, bps });
      neighbours[b].push({ peer: a, bps });
    }
  }
  const scores = Array.from({ length: n }, (_, i) => {
    const up = uplinkHop(s, i, t);
    if (!active[i] || !up.usable || up.rangeFraction > 1 || energy[i] < minHeadEnergy) return 0;
    const raw = energy[i] * (mbps(up.bandwidthBps) + neighbours[i].reduce((acc, x) => acc + mbps(x.bps), 0));
    return Math.round(raw * 1000) / 1000;
  });
  const ties = Array.from({ length: n }, (_, i) => tieBreak(o.seed, i));
  const order = Array.from({ length: n }, (_, i) => i).filter((i) => scores[i] > 0)
    .sort((a, b) => scores[b] - scores[a] || (ties[a] < ties[b] ? -1 : ties[a] > ties[b] ? 1 : 0));

  const clusterOf = new Array<number>(n).fill(-1);
  const clusters: Cluster[] = [];
  for (const h of order) {
    if (clusterOf[h] !== -1) continue;
    const free = neighbours[h].filter((x) => clusterOf[x.peer] === -1).sort((a, b) => b.bps - a.bps || a.peer - b.peer).slice(0, maxSize - 1);
    if (free.length === 0) continue;
    const c = clusters.length;
    clusterOf[h] = c;
    const members: ClusterMember[] = [{ peer: h, via: "head", bandwidthBps: 0 }];
    for (const x of free) { clusterOf[x.peer] = c; members.push({ peer: x.peer, via: "direct", bandwidthBps: x.bps }); }
    clusters.push({ head: h, members });
  }
  // two-hop members through a relay UE (both hops within sidelink range)
  for (let p = 0; p < n; p++) {
    if (!active[p] || clusterOf[p] !== -1) continue;
    let best: { c: number; relay: number; bps: number } | null = null;
    clusters.forEach((cl, c) => {
      if (cl.members.length >= maxSize) return;
      const r = bestRelay(s, p, cl.head, t, true);
      if (!r || r.relay === undefined || !active[r.relay]) return;
      if (!best || r.bandwidthBps > best.bps) best = { c, relay: r.relay, bps: r.bandwidthBps };
    });
    if (best) {
      const b: { c: number; relay: number; bps: number } = best;
      clusterOf[p] = b.c;
      clusters[b.c].members.push({ peer: p, via: "relay", relay: b.relay, bandwidthBps: b.bps });
    }
  }
  for (const cl of clusters) cl.members = [cl.members[0], ...cl.members.slice(1).sort((a, b) => a.peer - b.peer)];
  const unclustered = Array.from({ length: n }, (_, i) => i).filter((i) => active[i] && clusterOf[i] === -1);
  return { clusters, unclustered, clusterOf, scores };
}

/** A text table of a clustering (the demo prints it under the per-pair link table). */
export function formatClusters(c: Clustering, heading = "D2D clusters the radio model forms:"): string {
  const lines = [heading];
  c.clusters.forEach((cl, i) => {
    const members = cl.members.slice(1).map((m) => `peer${m.peer}${m.via === "relay" ? ` (via peer${m.relay})` : ""} ${(m.bandwidthBps / 1e6).toFixed(0)} Mbit/s`);
    lines.push(`  cluster ${i}: head peer${cl.head} (score ${c.scores[cl.head].toFixed(0)}), members ${members.join(", ")}`);
  });
  lines.push(`  over Uu only: ${c.unclustered.length ? c.unclustered.map((p) => `peer${p}`).join(", ") : "none"}`);
  return lines.join("\n");
}
