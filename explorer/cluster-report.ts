/**
 * What the explorer shows of D2D clusters, computed from chain + IPFS (and, for the live view, the
 * demo's link statistics files), PURE:
 *  - linkBytesByMedium: bytes each peer moved over Uu (infrastructure links, the chain RPC, and the
 *    base-station leg of relayed links) against the sidelink (direct D2D links and the UE leg of
 *    relayed links), from the agents' links.json counters (node/links/layer.ts LinkStats);
 *  - roundEnergy: each peer's modeled energy in a round from its device tier (the scenario the
 *    ClusterRounds config names), its committed sample count and the bytes it sent: a lone peer its
 *    update over Uu; a member of a recorded cluster its update over the sidelink; a head also the
 *    cluster aggregate over Uu — the same booking as the simulator (node/sim/hierarchy.ts), one
 *    local epoch per round assumed (the task does not record the epochs).
 */
import { deviceTier, roundEnergyJoules } from "../node/devices/profiles.ts";
import type { DeviceConfig } from "../node/devices/session.ts";

export interface MediumBytes {
  peer: string;
  uuBytes: number;
  sidelinkBytes: number;
}

interface StatRow { role?: string; mode?: string; bytesUp?: number; bytesDown?: number }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Accepts one agent's links.json ({selfIndex, links: [...]}), the demo's map of them ({peer0: {...}, ...}),
 * or a demo summary JSON holding that map under `links`. Rows with an unknown shape are skipped.
 */
export function linkBytesByMedium(stats: unknown): MediumBytes[] {
  if (!isObject(stats)) return [];
  if (Array.isArray(stats.links)) return [mediumOf(String(isObject(stats) && stats.selfIndex !== undefined ? `peer${stats.selfIndex}` : "peer"), stats.links as StatRow[])];
  const map = isObject(stats.links) ? stats.links : stats;
  return Object.entries(map).flatMap(([peer, v]) => (isObject(v) && Array.isArray(v.links) ? [mediumOf(peer, v.links as StatRow[])] : []))
    .sort((a, b) => a.peer.localeCompare(b.peer, "en", { numeric: true }));
}

function mediumOf(peer: string, rows: StatRow[]): MediumBytes {
  let uu = 0;
  let sl = 0;
  for (const r of rows) {
    const bytes = (Number(r.bytesUp) || 0) + (Number(r.bytesDown) || 0);
    if (r.role === "relay-forwarder") { uu += bytes; continue; } // another peer's RPC this relay carries over its own Uu
    if (r.mode === "direct") sl += bytes;
    else if (r.mode === "relay") { sl += bytes; uu += bytes; } // the UE leg and the base-station leg
    else uu += bytes; // infrastructure, the chain RPC
  }
  return { peer, uuBytes: uu, sidelinkBytes: sl };
}

export interface PeerRoundEnergy {
  peer: number;
  tier: string;
  role: "lone" | "member" | "head";
  trainJ: number;
  uuJ: number;
  sidelinkJ: number;
  totalJ: number;
}

/**
 * Modeled energy per peer that committed in a round. `commits`: peer index, samples, update bytes
 * (null when the size is not known yet: its transmit energy is then left out, and `complete` is false).
 * `clusters`: the round's recorded clusters whose members took the sidelink (head, members, aggregate bytes).
 */
export function roundEnergy(
  devices: readonly DeviceConfig[],
  commits: readonly { peer: number; samples: number; updateBytes: number | null }[],
  clusters: readonly { head: number; members: number[]; aggregateBytes: number | null }[],
): { peers: PeerRoundEnergy[]; complete: boolean } {
  const headOf = new Map<number, { head: number; aggregateBytes: number | null }>();
  for (const c of clusters) for (const m of c.members) headOf.set(m, c);
  let complete = true;
  const peers = commits.map((c) => {
    const tier = deviceTier(devices[c.peer]?.tier ?? "mid-phone");
    const cl = headOf.get(c.peer);
    const role: PeerRoundEnergy["role"] = !cl ? "lone" : cl.head === c.peer ? "head" : "member";
    if (c.updateBytes === null || (role === "head" && cl!.aggregateBytes === null)) complete = false;
    const own = c.updateBytes ?? 0;
    const uuBytes = role === "lone" ? own : role === "head" ? cl!.aggregateBytes ?? 0 : 0;
    const sidelinkBytes = role === "member" ? own : 0;
    const e = roundEnergyJoules(tier, { samplesTrained: c.samples, uuBytes, sidelinkBytes });
    return { peer: c.peer, tier: tier.name, role, trainJ: e.train, uuJ: e.uu, sidelinkJ: e.sidelink, totalJ: e.total };
  });
  return { peers, complete };
}
