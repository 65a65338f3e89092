// The real agents' side of bench:hierarchy: the same small demo run flat and clustered (`peerfl demo
// --clusters`), with the bytes every agent's 5G link emulation counted (node/links/layer.ts), split by
// medium: libp2p traffic between peers over Uu (infrastructure links, both legs of a relay) against
// the sidelink (direct D2D links, the UE leg of a relay), and the chain JSON-RPC apart. Merges the
// result as `agentsDemo` into bench/results/hierarchy-detail.json (the simulator's rows stay as they are).
//   node --import tsx bench/hierarchy-agents.ts [--from clustered.json,flat.json] [--scenario FILE] [--peers N] [--rounds 2] [--samples 300] [--inside 1] [--outside-bps 4000] [--only clustered|flat]
// Clustered runs use sampled checks (docs/d2d-clusters.md): each cluster is checked in full by
// --inside committee verifiers among its members (sidelink) and, with probability --outside-bps / 10000
// per cluster and round, by one committee verifier outside it, all drawn after the records; the other
// verifiers fetch only its aggregate.
// --only runs one mode and writes its summary to /tmp/peerfl-agents-<mode>.json (to split the runs
// over several heavy-lock holds); --from then combines the two summaries.
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
const { values: a } = parseArgs({ options: { from: { type: "string" }, peers: { type: "string" }, rounds: { type: "string" }, samples: { type: "string" }, scenario: { type: "string" }, inside: { type: "string" }, "outside-bps": { type: "string" }, only: { type: "string" } } });
const scenario = a.scenario ?? "examples/scenarios/d2d-9peers.json";
const scenarioPeers = (JSON.parse(readFileSync(join(root, scenario), "utf8")) as { peers: unknown[] }).peers.length;

interface Row { role?: string; mode?: string; bytesUp?: number; bytesDown?: number }
interface Summary { peers: number; rule?: string; rounds: { status?: string; accepted?: unknown; accuracy?: number | null }[]; totalSeconds: number; links?: Record<string, { links: Row[] }>; clusters?: { rounds: unknown[] } }

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
  const last = [...s.rounds].reverse().find((r) => r.status === "finalized");
  return {
    peerUuBytesPerRound: Math.round(peerUu / rounds), peerSidelinkBytesPerRound: Math.round(peerSidelink / rounds), rpcBytesPerRound: Math.round(rpc / rounds),
    finalized: s.rounds.filter((r) => r.status === "finalized").length, rounds: s.rounds.length, finalAccuracy: last?.accuracy ?? null, totalSeconds: s.totalSeconds,
  };
}

const load0 = loadavg()[0];
let clustered: Summary, flat: Summary | null;
if (a.from) {
  const [c, f] = a.from.split(",");
  clustered = JSON.parse(readFileSync(c, "utf8"));
  flat = f ? JSON.parse(readFileSync(f, "utf8")) : null;
} else {
  const { runDemo } = await import("../node/demo/demo.ts");
  // The rule is pinned (the simulator's bench uses the same one), so a change of the demo's default
  // rule does not change this row. A 90 s verify-commit window in both modes leaves the clustered
  // mode's record / check / vote windows (40 / 30 / 30 %) room on a loaded machine.
  const common = {
    peers: Number(a.peers ?? scenarioPeers), rounds: Number(a.rounds ?? 2), attackers: 0, scenario, maxSamples: Number(a.samples ?? 300),
    rule: "centered-clipping" as const, trainingWindow: 60, verificationWindow: 90, quiet: true,
  };
  const checks = { insideCheckers: Number(a.inside ?? 1), outsideCheckBps: Number(a["outside-bps"] ?? 4000) };
  const runMode = async (mode: string) => {
    const r = (await runDemo(mode === "clustered" ? { ...common, clusters: true, clusterChecks: checks } : common)).result as unknown as Summary;
    writeFileSync(`/tmp/peerfl-agents-${mode}.json`, JSON.stringify(r, null, 2) + "\n");
    return r;
  };
  if (a.only) {
    if (a.only !== "clustered" && a.only !== "flat") throw new Error(`--only clustered|flat, got ${a.only}`);
    await runMode(a.only);
    console.log(`wrote /tmp/peerfl-agents-${a.only}.json (load average at start ${load0})`);
    process.exit(0);
  }
  clustered = await runMode("clustered");
  flat = await runMode("flat");
}
const c = media(clustered), f = flat ? media(flat) : null;
const row = {
  what: "real agents (peerfl demo): libp2p bytes between peers per round by medium, from the agents' own link counters; chain RPC apart",
  scenario, peers: clustered.peers, rule: clustered.rule ?? null, insideCheckers: Number(a.inside ?? 1), outsideCheckBps: Number(a["outside-bps"] ?? 4000), measuredAt: new Date().toISOString(), loadAverage: a.from ? null : load0, ...(a.from ? { from: a.from } : {}),
  clustered: c, flat: f,
  peerUuCutPct: f && f.peerUuBytesPerRound > 0 ? Math.round((1 - c.peerUuBytesPerRound / f.peerUuBytesPerRound) * 1000) / 10 : null,
  accuracyDeltaPoints: f && c.finalAccuracy !== null && f.finalAccuracy !== null ? Math.round((c.finalAccuracy - f.finalAccuracy) * 10000) / 100 : null,
  clusterRecords: clustered.clusters?.rounds ?? [],
  note: "sampled checks: each cluster is recomputed from its members' updates only by the committee verifiers the on-chain check seed draws (insideCheckers among its members, over the sidelink; one outsider with probability outsideCheckBps); the other verifiers fetch its aggregate; a head leaves out members it could not fetch (judged alone); lone peers' updates go to every verifier over Uu in both modes. See docs/d2d-clusters.md." +
    (f ? "" : " No flat baseline in this row."),
};
const file = join(root, "bench/results/hierarchy-detail.json");
const detail = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
// The default scenario's row is `agentsDemo`; rows of other scenarios go under `agentsDemoScenarios`.
if (scenario === "examples/scenarios/d2d-9peers.json") detail.agentsDemo = row;
else detail.agentsDemoScenarios = { ...detail.agentsDemoScenarios, [scenario]: row };
writeFileSync(file, JSON.stringify(detail, null, 2) + "\n");
console.log(JSON.stringify(row, null, 2));
