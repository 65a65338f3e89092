// The real agents' side of bench:hierarchy: the same small demo run flat and clustered (`peerfl demo
// --clusters`), with the bytes every agent's 5G link emulation counted (node/links/layer.ts), split by
// medium: libp2p traffic between peers over Uu (infrastructure links, both legs of a relay) against
// the sidelink (direct D2D links, the UE leg of a relay), and the chain JSON-RPC apart. Merges the
// result as `agentsDemo` into bench/results/hierarchy-detail.json (the simulator's rows stay as they are).
//   node --import tsx bench/hierarchy-agents.ts [--from clustered.json,flat.json] [--peers 5] [--rounds 2] [--samples 300]
// With --from it reads `peerfl demo --json` summaries (the first clustered, the optional second flat)
// instead of running the demos. Both modes place every remote peer at its own scenario position: the
// demo passes each agent `--link-peers` (the account at each position); clustered runs also publish
// that list with the scenario (docs/d2d-clusters.md). Summaries from before --link-peers existed
// placed flat runs' remote peers by registration order and are not comparable.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: a } = parseArgs({ options: { from: { type: "string" }, peers: { type: "string" }, rounds: { type: "string" }, samples: { type: "string" }, scenario: { type: "string" } } });
const scenario = a.scenario ?? "examples/scenarios/d2d-5peers.json";

interface Row { role?: string; mode?: string; bytesUp?: number; bytesDown?: number }
interface Summary { peers: number; rounds: { status?: string; accepted?: number }[]; totalSeconds: number; links?: Record<string, { links: Row[] }>; clusters?: { rounds: unknown[] } }

/** Bytes by medium over every agent's links (each proxied connection is counted by the one agent that dialed it). */
function media(s: Summary) {
  let peerUu = 0, peerSidelink = 0, rpc = 0;
  for (const agent of Object.values(s.links ?? {})) {
    for (const r of agent.links ?? []) {
      const bytes = (Number(r.bytesUp) || 0) + (Number(r.bytesDown) || 0);
      if (r.role !== "peer") { rpc += bytes; continue; }
      if (r.mode === "direct") peerSidelink += bytes;
      else if (r.mode === "relay") { peerSidelink += bytes; peerUu += bytes; }
      else peerUu += bytes;
    }
  }
  const rounds = s.rounds.length || 1;
  return { peerUuBytesPerRound: Math.round(peerUu / rounds), peerSidelinkBytesPerRound: Math.round(peerSidelink / rounds), rpcBytesPerRound: Math.round(rpc / rounds), finalized: s.rounds.filter((r) => r.status === "finalized").length, rounds: s.rounds.length, totalSeconds: s.totalSeconds };
}

const load0 = loadavg()[0];
let clustered: Summary, flat: Summary | null;
if (a.from) {
  const [c, f] = a.from.split(",");
  clustered = JSON.parse(readFileSync(c, "utf8"));
  flat = f ? JSON.parse(readFileSync(f, "utf8")) : null;
} else {
  const { runDemo } = await import("../node/demo/demo.ts");
  const common = { peers: Number(a.peers ?? 5), rounds: Number(a.rounds ?? 2), attackers: 0, scenario, maxSamples: Number(a.samples ?? 300), trainingWindow: 60, quiet: true };
  clustered = (await runDemo({ ...common, clusters: true })).result as unknown as Summary;
  flat = (await runDemo(common)).result as unknown as Summary;
}
const c = media(clustered), f = flat ? media(flat) : null;
const row = {
  what: "real agents (peerfl demo): libp2p bytes between peers per round by medium, from the agents' own link counters; chain RPC apart",
  scenario, peers: clustered.peers, measuredAt: new Date().toISOString(), loadAverage: a.from ? null : load0, ...(a.from ? { from: a.from } : {}),
  clustered: c, flat: f,
  peerUuCutPct: f && f.peerUuBytesPerRound > 0 ? Math.round((1 - c.peerUuBytesPerRound / f.peerUuBytesPerRound) * 1000) / 10 : null,
  clusterRecords: clustered.clusters?.rounds ?? [],
  note: "verifiers recompute every cluster from the members' updates (full check), so they still download every member update; the heads' aggregates add bytes. See docs/d2d-clusters.md." +
    (f ? "" : " No flat baseline in this row."),
};
const file = join(root, "bench/results/hierarchy-detail.json");
const detail = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
detail.agentsDemo = row;
writeFileSync(file, JSON.stringify(detail, null, 2) + "\n");
console.log(JSON.stringify(row, null, 2));
