/**
 * `npm run bench:rounds`: protocol overhead of a round = wall time of the round (training window
 * opening -> round finalized on chain) / the slowest peer's pure local training time in that round.
 * Real demo runs (hardhat node, Ignition, agent processes, embedded IPFS), 5 and 10 peers.
 * Writes bench/results/rounds.json. `--quick`: fewer rounds and samples.
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { runDemo } from "../node/demo/demo.ts";

const quick = process.argv.includes("--quick");
const peersList = quick ? [5] : [5, 10];
const rounds = quick ? 2 : 4;
const maxSamples = quick ? 1500 : 4000;

interface Row { peers: number; round: number; roundSeconds: number; slowestTrainSeconds: number; overhead: number }
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

const rows: Row[] = [];
const summary: { peers: number; medianRoundSeconds: number; medianSlowestTrainSeconds: number; medianOverhead: number }[] = [];
for (const peers of peersList) {
  process.stdout.write(`running ${peers} peers x ${rounds} rounds (${maxSamples} samples per peer) ...\n`);
  const demo = await runDemo({ peers, rounds, attackers: 1, maxSamples, quiet: true, evaluate: false, json: undefined, port: 28545 });
  const train = new Map<number, number>();
  for (let i = 0; i < peers; i++) {
    const log = readFileSync(path.join(demo.workDir, `peer${i}.log`), "utf8");
    for (const line of log.split("\n")) {
      if (!line.startsWith("{")) continue;
      const e = JSON.parse(line) as { event: string; round?: number; trainSeconds?: string };
      if (e.event === "committed" && e.round) train.set(e.round, Math.max(train.get(e.round) ?? 0, Number(e.trainSeconds)));
    }
  }
  const mine: Row[] = [];
  for (const r of demo.result.rounds) {
    const t = train.get(r.round) ?? NaN;
    mine.push({ peers, round: r.round, roundSeconds: r.seconds, slowestTrainSeconds: t, overhead: r.seconds / t });
  }
  rows.push(...mine);
  // Round 1 includes every agent's one-time start-up (tfjs, dataset load); report rounds >= 2.
  const steady = mine.filter((r) => r.round >= 2);
  summary.push({
    peers,
    medianRoundSeconds: median(steady.map((r) => r.roundSeconds)),
    medianSlowestTrainSeconds: median(steady.map((r) => r.slowestTrainSeconds)),
    medianOverhead: median(steady.map((r) => r.overhead)),
  });
}

const head = ["peers", "round", "round s", "slowest train s", "overhead"];
const table = rows.map((r) => [String(r.peers), String(r.round), r.roundSeconds.toFixed(1), r.slowestTrainSeconds.toFixed(1), r.overhead.toFixed(2)]);
const w = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const fmt = (row: string[]) => row.map((c, i) => c.padStart(w[i])).join("  ");
process.stdout.write([fmt(head), ...table.map(fmt)].join("\n") + "\n\n");
for (const s of summary) process.stdout.write(`${s.peers} peers: median round ${s.medianRoundSeconds.toFixed(1)} s, slowest training ${s.medianSlowestTrainSeconds.toFixed(1)} s, overhead ${s.medianOverhead.toFixed(2)} (target <= 1.25 with 10 peers)\n`);
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/rounds.json", JSON.stringify({ quick, rounds, maxSamples, rows, summary }, null, 2) + "\n");
process.stdout.write("wrote bench/results/rounds.json\n");
