/**
 * `npm run bench:scale`: how the system grows with the number of peers. Real demo runs (hardhat
 * node, Ignition, one OS process per agent, embedded IPFS) of 10, 25 and 50 agents, 3 rounds each,
 * with committees (7 verifiers, 5 aggregators) and --max-samples 1000. Per row:
 *   medianRoundSeconds        round wall time (training opens -> finalized), median of rounds >= 2
 *                             (round 1 also holds every agent's one-time start: tfjs, shard load)
 *   medianSlowestTrainSeconds the slowest committed peer's pure local training time, same rounds
 *   overhead                  median of round seconds / slowest training seconds, same rounds
 *   agentRssMbMedian / Max    each agent's peak resident memory (sampled from /proc every 2 s):
 *                             median and max over agents
 *   rpcCallsPerAgentPerRound  JSON-RPC calls (batch entries each) an agent sent per round, mean over
 *                             agents and rounds, as the agents log them ("rpc-round")
 *   bytesPerRound             model bytes all agents fetched over IPFS in a round (payload; no
 *                             libp2p framing, no RPC), median over rounds
 *   gasPerRound               gas of every task transaction of a round, median over rounds
 * Writes bench/results/scale.json with exactly {"rows": [...]} (rows of other peer counts already
 * there are kept), scale-detail.json (per-round numbers, registration times, RPC by method) and
 * scale.svg (each column against peers).
 *
 *   npm run bench:scale -- [--peers 10,25,50] [--rounds 3] [--max-samples 1000] [--verifiers 7] [--aggregators 5] [--rule centered-clipping]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { runDemo, type DemoControl } from "../node/demo/demo.ts";
import { PROJECT_ROOT } from "../node/lib/paths.ts";
import type { RuleName } from "../node/protocol/index.ts";
import { readPeerEvents, roundTimeline } from "./round-timeline.ts";

const cli = new Command("bench:scale")
  .option("--peers <list>", "peer counts, comma-separated", "10,25,50")
  .option("--rounds <n>", "rounds per run", "3")
  .option("--max-samples <n>", "cap on each peer's shard", "1000")
  .option("--verifiers <n>", "verifier committee size", "7")
  .option("--aggregators <n>", "aggregator committee size", "5")
  .option("--rule <name>", "robust rule (pinned, so rows stay comparable when the demo's default changes)", "centered-clipping")
  .option("--out <file>", "result file", "bench/results/scale.json")
  .option("--no-build", "use dist/ as it is (do not rebuild it first)")
  .option("--merge <file>", "merge the rows (and -detail.json runs) of another result file into --out, redraw the plot, exit")
  .parse(process.argv.slice(2), { from: "user" });
const opts = cli.opts<{ peers: string; rounds: string; maxSamples: string; verifiers: string; aggregators: string; rule: RuleName; out: string }>();
const peerCounts = opts.peers.split(",").map((x) => Number(x.trim()));
const rounds = Number(opts.rounds);
const maxSamples = Number(opts.maxSamples);
const outFile = path.resolve(PROJECT_ROOT, opts.out);
const detail: unknown[] = [];
const rows: ScaleRow[] = [];

export interface ScaleRow {
  peers: number;
  medianRoundSeconds: number;
  medianSlowestTrainSeconds: number;
  overhead: number;
  agentRssMbMedian: number;
  agentRssMbMax: number;
  rpcCallsPerAgentPerRound: number;
  bytesPerRound: number;
  gasPerRound: number;
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Resident memory of a process in MB, from /proc (null when it is gone). */
function rssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch { return null; }
}

/** When a process started (ms since the epoch), from /proc/<pid>/stat and the boot time. */
function startedAtMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]); // field 22 (starttime), counted from field 3
    const btime = Number(/btime (\d+)/.exec(readFileSync("/proc/stat", "utf8"))![1]);
    return (btime + ticks / 100) * 1000; // CLK_TCK is 100 on Linux
  } catch { return null; }
}

interface LogEvent { t: string; event: string; round?: number; trainSeconds?: string; calls?: number; byMethod?: Record<string, number>; modelBytesFetched?: number; code?: string; failed?: number; snapshotRereads?: number; ownerHits?: number; ownerMisses?: number }

function readEvents(file: string): LogEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("{")).flatMap((l) => {
    try { return [JSON.parse(l) as LogEvent]; } catch { return []; }
  });
}

if (cli.opts<{ merge?: string }>().merge) {
  // Runs made one peer count at a time (e.g. --peers 25 --out scale-25.json) join the main file here.
  const other = path.resolve(PROJECT_ROOT, cli.opts<{ merge: string }>().merge);
  rows.push(...(JSON.parse(readFileSync(other, "utf8")) as { rows: ScaleRow[] }).rows);
  const otherDetail = other.replace(/\.json$/, "-detail.json");
  if (existsSync(otherDetail)) detail.push(...(JSON.parse(readFileSync(otherDetail, "utf8")) as { runs: unknown[] }).runs);
  save();
  process.exit(0);
}

// Agents run compiled (dist/), as `./peerfl demo` runs them: build once now, then use that build
// even if sources change while the benchmark runs (PEERFL_USE_DIST, node/lib/entry.ts).
if (!process.argv.includes("--no-build")) {
  process.stdout.write("bench:scale: building dist/ (tsc -p tsconfig.build.json) ...\n");
  spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: PROJECT_ROOT, stdio: "ignore" });
}
process.env.PEERFL_USE_DIST = "1";
// Interrupted (Ctrl-C, `timeout`): exit through process.exit, whose hook in node/lib/processes.ts
// kills every process group the demo started (agents, chain node, IPFS), so nothing is orphaned.
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => { process.stderr.write(`bench:scale: ${sig}, stopping\n`); process.exit(130); });

for (const [k, peers] of peerCounts.entries()) {
  const verifiers = Math.min(Number(opts.verifiers), peers);
  const aggregators = Math.min(Number(opts.aggregators), peers);
  // Windows large enough that a loaded machine does not fail rounds; phases end early once every
  // committee member acted, so they bound the round time only when someone is late.
  const trainingWindow = peers >= 40 ? 300 : 180;
  process.stdout.write(`bench:scale: ${peers} peers x ${rounds} rounds (committees ${verifiers}/${aggregators}, ${maxSamples} samples per peer) ...\n`);
  const peak = new Map<number, number>();
  const starts = new Map<number, number>();
  let lastSample = 0;
  let ctlRef: DemoControl | undefined;
  const sample = () => {
    if (!ctlRef) return;
    ctlRef.agents.forEach((a, i) => {
      const pid = a?.child.pid;
      const mb = rssMb(pid);
      if (mb !== null) peak.set(i, Math.max(peak.get(i) ?? 0, mb));
      if (!starts.has(i)) { const s = startedAtMs(pid); if (s !== null) starts.set(i, s); }
    });
  };
  const sampler = setInterval(sample, 2000);
  const began = Date.now();
  let demo;
  try {
    demo = await runDemo({
      peers, rounds, attackers: 0, maxSamples, rule: opts.rule, quiet: true, evaluate: false, json: undefined, port: 29545 + k * 10,
      trainingWindow, verificationWindow: peers >= 40 ? 360 : 180, aggregationWindow: 120,
      task: { verifierCommitteeSize: verifiers, aggregatorCommitteeSize: aggregators, revealDuration: 60 },
      onProgress: (_p, ctl) => {
        ctlRef = ctl;
        if (Date.now() - lastSample > 2000) { lastSample = Date.now(); sample(); }
      },
    });
  } finally {
    clearInterval(sampler);
  }
  const wallSeconds = (Date.now() - began) / 1000;
  const train = new Map<number, number>();
  const rpc: { peer: number; round: number; calls: number }[] = [];
  const bytes = new Map<number, number>();
  const byMethod: Record<string, number> = {};
  const registered: number[] = [];
  // Verification fairness under load: how often a committee verifier judged an (honest: there are
  // no attackers here) update "unavailable", and how many updates the chain's tally rejected.
  // Snapshots read again after an event raced them (node/chain/snapshot-read.ts); fetches the committer
  // (or an aggregator) served alone, and those that fell back to the swarm (owner-first fetching).
  let snapshotRereads = 0, ownerHits = 0, ownerMisses = 0;
  let unavailableVotes = 0, verdictsCommitted = 0, verdictsAbstained = 0, peersExcluded = 0, dialFailures = 0;
  for (let i = 0; i < peers; i++) {
    for (const e of readEvents(path.join(demo.workDir, `peer${i}.log`))) {
      if (e.event === "committed" && e.round) train.set(e.round, Math.max(train.get(e.round) ?? 0, Number(e.trainSeconds)));
      if (e.event === "rpc-round" && e.round && e.round <= rounds) {
        rpc.push({ peer: i, round: e.round, calls: e.calls ?? 0 });
        bytes.set(e.round, (bytes.get(e.round) ?? 0) + (e.modelBytesFetched ?? 0));
        for (const [m, n] of Object.entries(e.byMethod ?? {})) byMethod[m] = (byMethod[m] ?? 0) + n;
        snapshotRereads += e.snapshotRereads ?? 0;
        ownerHits += e.ownerHits ?? 0;
        ownerMisses += e.ownerMisses ?? 0;
      }
      if (e.event === "update-rejected-invalid" && e.code === "unavailable") unavailableVotes++;
      if (e.event === "verdict-committed") verdictsCommitted++;
      // A verifier that fetched too few updates commits no verdict (protocol/availability.ts).
      if (e.event === "verdict-abstained") verdictsAbstained++;
      // Peers banned (all are honest here): excluded by reputation.
      if (e.event === "excluded") peersExcluded++;
      if (e.event === "peers-dialed") dialFailures += Number(e.failed ?? 0);
      if ((e.event === "registered" || e.event === "resumed") && starts.has(i)) registered.push((Date.parse(e.t) - starts.get(i)!) / 1000);
    }
  }
  const perRound = demo.result.rounds.map((r) => ({
    round: r.round, status: r.status, seconds: r.seconds, slowestTrainSeconds: train.get(r.round) ?? NaN,
    overhead: r.seconds / (train.get(r.round) ?? NaN), gasUsed: r.gasUsed, bytes: bytes.get(r.round) ?? 0,
    rpcCallsMean: mean(rpc.filter((x) => x.round === r.round).map((x) => x.calls)),
    committed: r.committed.length, rejected: r.rejected.length,
  }));
  const steady = perRound.filter((r) => r.round >= 2 && r.status === "finalized");
  const use = steady.length ? steady : perRound;
  const rss = [...peak.values()];
  const row: ScaleRow = {
    peers,
    medianRoundSeconds: round2(median(use.map((r) => r.seconds))),
    medianSlowestTrainSeconds: round2(median(use.map((r) => r.slowestTrainSeconds))),
    overhead: round2(median(use.map((r) => r.overhead))),
    agentRssMbMedian: round2(median(rss)),
    agentRssMbMax: round2(Math.max(...rss)),
    rpcCallsPerAgentPerRound: round2(mean(rpc.map((x) => x.calls))),
    bytesPerRound: Math.round(median(perRound.map((r) => r.bytes))),
    gasPerRound: Math.round(median(perRound.map((r) => r.gasUsed))),
  };
  rows.push(row);
  const calls = rpc.map((x) => x.calls);
  detail.push({
    peers, rounds, maxSamples, rule: opts.rule, committees: { verifiers, aggregators }, wallSeconds, workDir: path.relative(PROJECT_ROOT, demo.workDir),
    perRound, rpcCallsPerAgentRound: { median: median(calls), max: Math.max(...calls), min: Math.min(...calls) },
    rpcByMethodPerAgentPerRound: Object.fromEntries(Object.entries(byMethod).map(([m, n]) => [m, round2(n / Math.max(1, rpc.length))])),
    registeredSeconds: { median: round2(median(registered)), min: round2(Math.min(...registered)), max: round2(Math.max(...registered)), agents: registered.length },
    agentRssMbPeaks: rss.map(round2).sort((a, b) => a - b),
    fairness: {
      // Not accepted: rejected by a committee majority, or in a round that failed (no majority either
      // way: the trainer's reputation does not change). All updates here are honest.
      updatesNotAccepted: perRound.reduce((a, r) => a + r.rejected, 0), updatesCommitted: perRound.reduce((a, r) => a + r.committed, 0),
      peersExcludedAtEnd: demo.result.rounds.at(-1)?.excluded.length ?? 0,
      unavailableVotes, verdictsCommitted, verdictsAbstained, peersExcluded,
    },
    // libp2p dials that failed in the agents' own passes (at the start and retried each round), not counting re-dials on a fetch miss.
    ipfsDialFailures: dialFailures,
    snapshotRereadsPerAgentPerRound: round2(snapshotRereads / Math.max(1, rpc.length)),
    ownerFirstFetches: { servedByOwner: ownerHits, fellBackToSwarm: ownerMisses },
    // Where each round's time went (bench/round-timeline.ts): phases, and inside them the agents' work.
    timeline: (() => { const ev = readPeerEvents(demo.workDir); return perRound.map((r) => roundTimeline(ev, r.round)); })(),
    loadAverage: (await import("node:os")).loadavg().map(round2),
  });
  process.stdout.write(`  ${JSON.stringify(row)}\n`);
  // Keep what is done even if a later (larger) run cannot finish.
  save();
}

function save(): void {
  mkdirSync(path.dirname(outFile), { recursive: true });
  let kept: ScaleRow[] = [];
  if (existsSync(outFile)) {
    try { kept = (JSON.parse(readFileSync(outFile, "utf8")) as { rows: ScaleRow[] }).rows.filter((r) => !rows.some((n) => n.peers === r.peers)); } catch { kept = []; }
  }
  const all = [...kept, ...rows].sort((a, b) => a.peers - b.peers);
  writeFileSync(outFile, JSON.stringify({ rows: all }, null, 2) + "\n");
  const detailFile = outFile.replace(/\.json$/, "-detail.json");
  let keptDetail: { peers: number }[] = [];
  if (existsSync(detailFile)) {
    try { keptDetail = (JSON.parse(readFileSync(detailFile, "utf8")) as { runs: { peers: number }[] }).runs.filter((r) => !rows.some((n) => n.peers === r.peers)); } catch { keptDetail = []; }
  }
  writeFileSync(detailFile, JSON.stringify({ runs: [...keptDetail, ...(detail as { peers: number }[])].sort((a, b) => a.peers - b.peers) }, null, 2) + "\n");
  writeFileSync(outFile.replace(/\.json$/, ".svg"), renderSvg(all));
}

/** Small multiples: one panel per column, peers on x. Hand-drawn SVG like the other benches' plots. */
function renderSvg(all: ScaleRow[]): string {
  const cols: { key: keyof ScaleRow; label: string; target?: number }[] = [
    { key: "medianRoundSeconds", label: "round s (median)" },
    { key: "medianSlowestTrainSeconds", label: "slowest training s" },
    { key: "overhead", label: "overhead (target 1.25 / 1.5)", target: 1.25 },
    { key: "agentRssMbMedian", label: "agent RSS MB, median (target 200)", target: 200 },
    { key: "agentRssMbMax", label: "agent RSS MB, max" },
    { key: "rpcCallsPerAgentPerRound", label: "RPC calls / agent / round (target 30)", target: 30 },
    { key: "bytesPerRound", label: "model MB fetched / round" },
    { key: "gasPerRound", label: "gas / round (M)" },
  ];
  const PW = 260, PH = 170, M = { l: 48, r: 12, t: 26, b: 30 }, perRow = 4;
  const W = PW * perRow, H = PH * Math.ceil(cols.length / perRow) + 30;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="10" y="18" font-size="14">bench:scale: each column against the number of peers (${all.map((r) => r.peers).join(", ")})</text>`];
  const xs = all.map((r) => r.peers);
  const xMax = Math.max(...xs, 1);
  cols.forEach((c, i) => {
    const ox = (i % perRow) * PW, oy = 30 + Math.floor(i / perRow) * PH;
    const scale = c.key === "bytesPerRound" ? 1 / 1e6 : c.key === "gasPerRound" ? 1 / 1e6 : 1;
    const ys = all.map((r) => Number(r[c.key]) * scale);
    const yMax = Math.max(...ys.filter(Number.isFinite), c.target ?? 0, 1e-9) * 1.15;
    const px = (x: number) => ox + M.l + (x / xMax) * (PW - M.l - M.r);
    const py = (y: number) => oy + PH - M.b - (y / yMax) * (PH - M.t - M.b);
    out.push(`<text x="${ox + M.l}" y="${oy + 16}" font-weight="bold">${c.label}</text>`);
    out.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(xMax)}" y2="${py(0)}" stroke="#444"/><line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(yMax)}" stroke="#444"/>`);
    for (const f of [0, 0.5, 1]) out.push(`<text x="${px(0) - 4}" y="${py(yMax * f) + 4}" text-anchor="end" fill="#555">${(yMax * f).toPrecision(3)}</text>`);
    for (const x of xs) out.push(`<text x="${px(x)}" y="${py(0) + 14}" text-anchor="middle" fill="#555">${x}</text>`);
    if (c.target !== undefined) out.push(`<line x1="${px(0)}" y1="${py(c.target)}" x2="${px(xMax)}" y2="${py(c.target)}" stroke="#c33" stroke-dasharray="4 3"/>`);
    const pts = all.map((r, j) => [px(r.peers), py(ys[j])] as const).filter(([, y]) => Number.isFinite(y));
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="#2563eb" stroke-width="2" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" fill="#2563eb"/>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

process.stdout.write(`wrote ${path.relative(PROJECT_ROOT, outFile)}\n`);
process.exit(0);
