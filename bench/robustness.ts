// Robustness benchmark: every robust rule against every attack, on MNIST and Fashion-MNIST, IID and
// Dirichlet label skew, 10 peers with 20 % / 30 % attackers, through the in-process simulator.
//   node --import tsx bench/robustness.ts [--quick] [--jobs N] [--rounds R] [--samples S]
// Prints tables, writes bench/results/robustness.json and bench/results/robustness.svg.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { krum } from "../node/aggregation/index.ts";
import { ruleNameOf, type RuleId } from "../node/protocol/index.ts";
import { mulberry32 } from "../node/ml/random.ts";
import { attackKinds, type AttackKind } from "../node/attacks/index.ts";
import type { PartitionScheme } from "../node/ml/partition.ts";
import { simulate } from "../node/sim/index.ts";

const HELP = `bench/robustness.ts — robust rules x attacks (accuracy, detection)
  --quick         Fashion-MNIST only, 30 % attackers, IID + Dir(0.1), fewer rounds/samples (< 5 min)
  --jobs N        worker processes (default 2: one per core)
  --rounds R      rounds per run (default 10, quick 6)
  --samples S     samples per peer cap (default 100)
  --epochs E      local epochs per round (default 2)
  --out NAME      write bench/results/NAME.json and NAME.svg (default robustness)
  --help`;

type DatasetName = "mnist" | "fashion-mnist";
interface RunConfig {
  key: number;
  dataset: DatasetName;
  partitionName: string;
  partition: PartitionScheme;
  attackerFraction: number;
  attack: AttackKind | "none";
  rule: RuleId;
  ruleParam: number;
}
interface RunResult extends RunConfig {
  ruleName: string;
  finalAccuracy: number;
  accuracyPerRound: number[];
  attackerRejectedShare: number | null;
  honestRejectedShare: number;
  seconds: number;
}

const NUM_PEERS = 10;
const RULES: RuleId[] = [0, 1, 2, 3, 4, 5];
const GROSS: AttackKind[] = ["sign-flip", "gaussian", "scale", "free-rider"];
/** Krum/Multi-Krum f and the trim count: the most 10 peers tolerate (n > 2f + 2); tau 0 = auto radius. */
const ruleParamFor = (rule: RuleId): number => (rule === 1 || rule === 2 || rule === 4 ? 3 : 0);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const quick = process.argv.includes("--quick");
const rounds = Number(arg("--rounds") ?? (quick ? 6 : 10));
const localEpochs = Number(arg("--epochs") ?? 2);
const samples = Number(arg("--samples") ?? 100);
const jobs = Number(arg("--jobs") ?? 2);
const workerIndex = arg("--worker");
/** Output name under bench/results/ (robustness.json / .svg by default). */
const outName = arg("--out") ?? "robustness";

function configs(): RunConfig[] {
  const datasets: DatasetName[] = quick ? ["fashion-mnist"] : ["mnist", "fashion-mnist"];
  const fractions = quick ? [0.3] : [0.2, 0.3];
  const partitions: [string, PartitionScheme][] = quick
    ? [["iid", { kind: "iid" }], ["dir0.1", { kind: "dirichlet", alpha: 0.1 }]]
    : [["iid", { kind: "iid" }], ["dir0.5", { kind: "dirichlet", alpha: 0.5 }], ["dir0.1", { kind: "dirichlet", alpha: 0.1 }]];
  const out: RunConfig[] = [];
  for (const dataset of datasets) for (const [partitionName, partition] of partitions) {
    for (const rule of RULES) out.push({ key: 0, dataset, partitionName, partition, attackerFraction: 0, attack: "none", rule, ruleParam: ruleParamFor(rule) });
    for (const attackerFraction of fractions) for (const attack of attackKinds) for (const rule of RULES) {
      out.push({ key: 0, dataset, partitionName, partition, attackerFraction, attack, rule, ruleParam: ruleParamFor(rule) });
    }
  }
  return out.map((c, key) => ({ ...c, key }));
}

async function runOne(c: RunConfig): Promise<RunResult> {
  const numAttackers = Math.round(c.attackerFraction * NUM_PEERS);
  // Attackers are spread over the commit order rather than first, so index tie-breaks favour nobody.
  const attackers = Array.from({ length: numAttackers }, (_, i) => (i * 3 + 1) % NUM_PEERS);
  const res = await simulate({
    dataset: c.dataset, model: "mlp", numPeers: NUM_PEERS, rounds, partition: c.partition,
    attackers, attack: c.attack === "none" ? undefined : c.attack, rule: c.rule, ruleParam: c.ruleParam,
    localEpochs, batchSize: 32, learningRate: 0.1, seed: 7, maxSamplesPerPeer: samples, testSamples: 1000,
  });
  const sum = (f: (r: (typeof res.rounds)[number]) => number) => res.rounds.reduce((s, r) => s + f(r), 0);
  const attackerUpdates = sum((r) => r.acceptedAttackers + r.rejectedAttackers);
  return {
    ...c, ruleName: ruleNameOf(c.rule),
    finalAccuracy: res.rounds[res.rounds.length - 1].accuracy,
    accuracyPerRound: res.rounds.map((r) => Number(r.accuracy.toFixed(4))),
    attackerRejectedShare: attackerUpdates > 0 ? sum((r) => r.rejectedAttackers) / attackerUpdates : null,
    honestRejectedShare: sum((r) => r.rejectedHonest) / sum((r) => r.acceptedHonest + r.rejectedHonest),
    seconds: sum((r) => r.seconds),
  };
}

async function worker(index: number, count: number): Promise<void> {
  for (const c of configs().filter((c) => c.key % count === index)) {
    const r = await runOne(c);
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  }
}

const pct = (x: number | null) => (x === null ? "  -  " : `${(100 * x).toFixed(0).padStart(3)}%`);

function baselineOf(results: RunResult[], r: RunConfig): RunResult | undefined {
  return results.find((b) => b.attack === "none" && b.dataset === r.dataset && b.partitionName === r.partitionName && b.rule === r.rule);
}

function summarize(results: RunResult[]) {
  return RULES.map((rule) => {
    const mine = results.filter((r) => r.rule === rule);
    const attacked = mine.filter((r) => r.attack !== "none");
    const gross = attacked.filter((r) => (GROSS as string[]).includes(r.attack));
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    const drop = (rs: RunResult[]) => mean(rs.map((r) => (baselineOf(results, r)?.finalAccuracy ?? NaN) - r.finalAccuracy).filter(Number.isFinite));
    const worst = (kind: string) => { const xs = attacked.filter((r) => r.attack === kind).map((r) => r.finalAccuracy); return xs.length ? Math.min(...xs) : NaN; };
    return {
      rule, ruleName: ruleNameOf(rule), ruleParam: ruleParamFor(rule),
      grossAttackerRejected: mean(gross.map((r) => r.attackerRejectedShare ?? 0)),
      grossHonestRejected: mean(gross.map((r) => r.honestRejectedShare)),
      baselineHonestRejected: mean(mine.filter((r) => r.attack === "none").map((r) => r.honestRejectedShare)),
      grossAccuracyDropPoints: 100 * drop(gross),
      worstGrossAccuracyDropPoints: 100 * Math.max(...gross.map((r) => (baselineOf(results, r)?.finalAccuracy ?? NaN) - r.finalAccuracy).filter(Number.isFinite)),
      meanBaselineAccuracy: mean(mine.filter((r) => r.attack === "none").map((r) => r.finalAccuracy)),
      meanAttackedAccuracy: mean(attacked.map((r) => r.finalAccuracy)),
      alieMeanAccuracy: mean(attacked.filter((r) => r.attack === "alie").map((r) => r.finalAccuracy)),
      ipmMeanAccuracy: mean(attacked.filter((r) => r.attack === "ipm").map((r) => r.finalAccuracy)),
      labelFlipMeanAccuracy: mean(attacked.filter((r) => r.attack === "label-flip").map((r) => r.finalAccuracy)),
      worstAlie: worst("alie"), worstIpm: worst("ipm"),
    };
  });
}

function printTables(results: RunResult[]): void {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const k = `${r.dataset} ${r.partitionName}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  for (const [k, rs] of groups) {
    const fractions = [...new Set(rs.filter((r) => r.attack !== "none").map((r) => r.attackerFraction))].sort();
    for (const f of fractions) {
      console.log(`\n${k}, ${Math.round(f * 100)} % attackers — final accuracy (attacker updates rejected / honest rejected)`);
      console.log("attack".padEnd(11) + RULES.map((id) => ruleNameOf(id).padStart(24)).join(""));
      for (const attack of ["none", ...attackKinds]) {
        const cells = RULES.map((rule) => {
          const r = rs.find((x) => x.rule === rule && x.attack === attack && (attack === "none" || x.attackerFraction === f));
          return (r ? `${(100 * r.finalAccuracy).toFixed(1)} (${pct(r.attackerRejectedShare)}/${pct(r.honestRejectedShare)})` : "…").padStart(24);
        });
        console.log(attack.padEnd(11) + cells.join(""));
      }
    }
  }
}

function svgPlot(results: RunResult[]): string {
  // One panel per (dataset, partition) at the highest attacker share: each rule under its worst attack.
  const frac = Math.max(...results.map((r) => r.attackerFraction));
  const panels = [...new Set(results.map((r) => `${r.dataset} ${r.partitionName}`))];
  const colors = ["#999999", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"];
  const W = 360, H = 240, M = 40, cols = Math.min(3, panels.length), rowsN = Math.ceil(panels.length / cols);
  const parts: string[] = [];
  panels.forEach((panel, pi) => {
    const x0 = (pi % cols) * W, y0 = Math.floor(pi / cols) * H;
    const rs = results.filter((r) => `${r.dataset} ${r.partitionName}` === panel && r.attackerFraction === frac && r.attack !== "none");
    parts.push(`<g transform="translate(${x0},${y0})"><text x="${W / 2}" y="16" text-anchor="middle" font-size="12">${panel}, ${Math.round(frac * 100)} % attackers: worst attack per rule</text>`);
    parts.push(`<rect x="${M}" y="24" width="${W - M - 10}" height="${H - 24 - M}" fill="none" stroke="#ccc"/>`);
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      const y = 24 + (1 - t) * (H - 24 - M);
      parts.push(`<text x="${M - 4}" y="${y + 4}" text-anchor="end" font-size="9">${t * 100}%</text>`);
    }
    RULES.forEach((rule, ri) => {
      const mine = rs.filter((r) => r.rule === rule);
      if (mine.length === 0) return;
      const worst = mine.reduce((a, b) => (b.finalAccuracy < a.finalAccuracy ? b : a));
      const n = worst.accuracyPerRound.length;
      const pts = worst.accuracyPerRound.map((a, i) => `${(M + (i / Math.max(1, n - 1)) * (W - M - 10)).toFixed(1)},${(24 + (1 - a) * (H - 24 - M)).toFixed(1)}`).join(" ");
      parts.push(`<polyline fill="none" stroke="${colors[ri]}" stroke-width="1.5" points="${pts}"/>`);
      parts.push(`<text x="${M + 6}" y="${H - M - 8 - ri * 11}" font-size="9" fill="${colors[ri]}">${ruleNameOf(rule)} vs ${worst.attack}: ${(100 * worst.finalAccuracy).toFixed(1)}%</text>`);
    });
    parts.push(`<text x="${W / 2}" y="${H - M + 16}" text-anchor="middle" font-size="9">round 1 … ${rounds}</text></g>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * W}" height="${rowsN * H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}

/** Median wall time of Krum scoring for n = 100 MLP-sized updates (101,770 floats each), 5 runs. */
function krumTiming(): { n: number; d: number; runsMs: number[]; medianMs: number } {
  const n = 100, d = 101_770;
  const rng = mulberry32(1);
  const updates = Array.from({ length: n }, () => Float32Array.from({ length: d }, () => rng() - 0.5));
  const runsMs: number[] = [];
  for (let i = 0; i < 5; i++) { const t = performance.now(); krum(updates, 10); runsMs.push(Number((performance.now() - t).toFixed(1))); }
  return { n, d, runsMs, medianMs: [...runsMs].sort((a, b) => a - b)[2] };
}
let krumTimingResult: ReturnType<typeof krumTiming> | undefined;

function writeOutputs(results: RunResult[], total: number, startedAt: number, done: boolean): void {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = join(here, "results");
  mkdirSync(dir, { recursive: true });
  const sorted = [...results].sort((a, b) => a.key - b.key);
  const summary = summarize(sorted);
  writeFileSync(join(dir, `${outName}.json`), JSON.stringify({
    meta: {
      quick, complete: done, runsFinished: results.length, runsPlanned: total, rounds, samplesPerPeer: samples,
      numPeers: NUM_PEERS, model: "mlp", localEpochs, batchSize: 32, learningRate: 0.1, seed: 7,
      ruleParams: Object.fromEntries(RULES.map((r) => [ruleNameOf(r), ruleParamFor(r)])),
      wallSeconds: (performance.now() - startedAt) / 1000, node: process.version, krumTiming: krumTimingResult,
    },
    summary, runs: sorted,
  }, null, 1));
  writeFileSync(join(dir, `${outName}.svg`), svgPlot(sorted));
}

async function main(): Promise<void> {
  if (process.argv.includes("--help")) { console.log(HELP); return; }
  if (workerIndex !== undefined) { await worker(Number(workerIndex), jobs); return; }
  const all = configs();
  krumTimingResult = krumTiming();
  console.log(`Krum scores, n = 100 x 101,770 floats: median ${krumTimingResult.medianMs} ms (runs ${krumTimingResult.runsMs.join(", ")})`);
  const startedAt = performance.now();
  console.log(`robustness: ${all.length} runs, ${rounds} rounds, <= ${samples} samples/peer, ${jobs} worker(s)${quick ? " (quick)" : ""}`);
  const results: RunResult[] = [];
  const here = fileURLToPath(import.meta.url);
  const passThrough = process.argv.slice(2).filter((a, i, xs) => a !== "--jobs" && xs[i - 1] !== "--jobs");
  await Promise.all(Array.from({ length: jobs }, (_, w) => new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", here, ...passThrough, "--jobs", String(jobs), "--worker", String(w)], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith("RESULT ")) continue;
        const r = JSON.parse(line.slice(7)) as RunResult;
        results.push(r);
        const el = (performance.now() - startedAt) / 1000;
        console.log(`[${results.length}/${all.length} ${el.toFixed(0)}s] ${r.dataset} ${r.partitionName} ${Math.round(r.attackerFraction * 100)}% ${r.attack} ${r.ruleName}: acc ${(100 * r.finalAccuracy).toFixed(1)} att-rej ${pct(r.attackerRejectedShare)} hon-rej ${pct(r.honestRejectedShare)}`);
        writeOutputs(results, all.length, startedAt, false);
      }
    });
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`worker ${w} exited with ${code}`))));
  })));
  writeOutputs(results, all.length, startedAt, true);
  const sorted = [...results].sort((a, b) => a.key - b.key);
  printTables(sorted);
  console.log("\nper rule (means over datasets, partitions, attacker shares):");
  console.log("rule".padEnd(18) + "gross att-rej  gross hon-rej  no-attack hon-rej  gross drop(pts)  worst gross drop  ALIE acc  IPM acc  label-flip acc  all-attacks acc");
  for (const s of summarize(sorted)) {
    console.log(`${`${s.ruleName}(${s.ruleParam})`.padEnd(18)}${pct(s.grossAttackerRejected).padStart(13)}${pct(s.grossHonestRejected).padStart(15)}${pct(s.baselineHonestRejected).padStart(19)}${s.grossAccuracyDropPoints.toFixed(1).padStart(17)}${s.worstGrossAccuracyDropPoints.toFixed(1).padStart(18)}${(100 * s.alieMeanAccuracy).toFixed(1).padStart(10)}${(100 * s.ipmMeanAccuracy).toFixed(1).padStart(9)}${(100 * s.labelFlipMeanAccuracy).toFixed(1).padStart(16)}${(100 * s.meanAttackedAccuracy).toFixed(1).padStart(17)}`);
  }
  console.log(`\nwrote bench/results/${outName}.json and ${outName}.svg in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
