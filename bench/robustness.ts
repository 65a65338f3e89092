// Robustness benchmark: every robust rule against every simulated attack on Fashion-MNIST, IID and
// Dirichlet label skew (0.5, 0.1), 10 peers of up to 1,000 samples with 30 % attackers, through the
// in-process simulator (the agents' protocol code). --full-matrix adds MNIST and 20 % attackers.
//   node --import tsx bench/robustness.ts [--quick] [--jobs N] [--rounds R] [--samples S]
// Prints tables, writes bench/results/robustness.json (with `summary` for the default rule,
// centered clipping = node/protocol/task-config.ts DEFAULT_RULE, and `perRule` for every rule) and
// bench/robustness.svg. (root-validation's own summary is in bench/results/robustness-rv-gate.json; a copy of
// centered clipping's in robustness-cc.json.)
//   node --import tsx bench/robustness.ts --flower
// Flower's published setting instead: Fashion-MNIST, 10 peers sharing the full training set, 2
// Gaussian attackers, 40 rounds; FedAvg, median, trimmed mean, Multi-Krum, the default rule (always
// included by name; centered clipping) and root-validation;
// writes bench/results/robustness-flower.json ({"rows": [...]}) and robustness-flower-detail.json.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { krum } from "../node/aggregation/index.ts";
import { DEFAULT_RULE as DEFAULT_RULE_NAME, parseRuleName, ruleIdOf, ruleNameOf, type RuleId } from "../node/protocol/index.ts";
import { mulberry32 } from "../node/ml/random.ts";
import { attackKinds, type AttackKind } from "../node/attacks/index.ts";
import type { PartitionScheme } from "../node/ml/partition.ts";
import { simulate } from "../node/sim/index.ts";
import { DEFAULT_VOTE_HISTORY } from "../node/aggregation/rules/vote-history.ts";
import { argsWithout, resultLine, runWorkers } from "./workers.ts";

const HELP = `bench/robustness.ts — robust rules x attacks (accuracy, detection)
  --quick         fewer rounds and samples per peer (about 6 min on 2 cores; the full run about 40)
  --full-matrix   also MNIST and 20 % attackers (about 4 x the runs)
  --rules A,B     only these rules (names or ids; default all nine, --flower its six: the default always)
  --jobs N        worker processes (default 2: one per core)
  --rounds R      rounds per run (default 10, quick 4)
  --samples S     samples per peer cap, 10 % of them held out for validation (default 1000, quick 300)
  --epochs E      local epochs per round (default 1)
  --out NAME      write bench/results/NAME.json and NAME.svg (default robustness, quick robustness-quick)
  --flower        Flower's setting (see the top of this file): 15 runs of 40 rounds on full shards
  --batch B       local batch size (default 32; --flower 64)
  --partitions P  only these partitions (comma list of iid, dir0.5, dir0.1), e.g. to re-measure one row
  --vote-history  validation-vote plus the per-peer vote history (node/aggregation/rules/vote-history.ts,
                  DEFAULT_VOTE_HISTORY; simulator only, the agents do not run it)
  --single-file   --flower: write only NAME.json (rows, meta and per-run detail in one file)
  --merge A,B     run nothing: merge the runs of earlier outputs (bench/results/A.json, ... each
                  holding "runs"; a later file's run of the same setting replaces an earlier one)
                  and write the outputs from them, e.g. a matrix or the Flower rows measured in
                  several shorter holds of the machine
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
  attackerUpdates: number;
  attackerRejected: number;
  honestUpdates: number;
  honestRejected: number;
  seconds: number;
  /** Backdoor runs: the final model's attack-success rate on triggered test images. */
  backdoorAsr: number | null;
  /** The most rounds any single honest peer was rejected in (reputation's exclusion counts these). */
  maxRejectionsOfAnHonestPeer: number;
  /**
   * root-validation: honest rejections by the root-set vote (the update passed the public pre-filter and
   * has a root score), the rest were the pre-filter's; absent for other rules.
   */
  honestRejectedByRootVote?: number;
}

const NUM_PEERS = 10;
const flower = process.argv.includes("--flower");
/**
 * The default rule (the demo and `peerfl task init`: node/protocol/task-config.ts
 * DEFAULT_RULE, centered clipping), whose numbers go to the JSON's `summary`.
 */
const DEFAULT_RULE: RuleId = ruleIdOf(DEFAULT_RULE_NAME);
/**
 * The Flower list always holds the default rule by name, whatever it is, next to Flower's four,
 * root-validation and centered clipping (the default of private rounds).
 */
const ALL_RULES: RuleId[] = flower ? [...new Set<RuleId>([0, 3, 4, 2, DEFAULT_RULE, 8, 5])] : [0, 1, 2, 3, 4, 5, 6, 7, 8];
/** Every attack, the backdoor included (its attack-success rate is measured on triggered test images). */
const BENCH_ATTACKS: AttackKind[] = [...attackKinds];
/** Gross attacks: an update a defence should simply reject. */
const GROSS: AttackKind[] = ["sign-flip", "gaussian", "scale", "free-rider", "label-flip"];
const PARTITIONS = ["iid", "dir0.5", "dir0.1"] as const;
/**
 * Krum/Multi-Krum f and the trim count: the most 10 peers tolerate (n > 2f + 2); tau 0 = auto radius.
 * In Flower's setting f and the trim count are the 2 attackers, as Flower configures them.
 */
const ruleParamFor = (rule: RuleId): number => (rule === 1 || rule === 2 || rule === 4 ? (flower ? 2 : 3) : 0);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const quick = process.argv.includes("--quick");
const fullMatrix = process.argv.includes("--full-matrix");
const rounds = Number(arg("--rounds") ?? (flower ? 40 : quick ? 4 : 10));
const localEpochs = Number(arg("--epochs") ?? 1);
/** Samples per peer; 0 = the whole shard (Flower's setting: 6,000 each). */
const samples = Number(arg("--samples") ?? (flower ? 0 : quick ? 300 : 1000));
const batchSize = Number(arg("--batch") ?? (flower ? 64 : 32));
const TEST_SAMPLES = flower ? 10_000 : 2000;
/** --rules a,b: run only these rules (names or ids), e.g. to re-measure one rule on a busy machine. */
const RULES: RuleId[] = arg("--rules")
  ? arg("--rules")!.split(",").map((x) => (/^\d+$/.test(x.trim()) ? ruleIdOf(ruleNameOf(Number(x))) : ruleIdOf(parseRuleName(x))))
  : ALL_RULES;
const jobs = Number(arg("--jobs") ?? 2);
const workerIndex = arg("--worker");
/** Output name under bench/results/ (robustness.json / .svg by default). */
const outName = arg("--out") ?? (flower ? "robustness-flower" : quick ? "robustness-quick" : "robustness");
const ALL_PARTITIONS: [string, PartitionScheme][] = [["iid", { kind: "iid" }], ["dir0.5", { kind: "dirichlet", alpha: 0.5 }], ["dir0.1", { kind: "dirichlet", alpha: 0.1 }]];
/** --partitions iid,dir0.1: run only these partitions (bad names are an error, not an empty run). */
const PARTITION_CHOICE: [string, PartitionScheme][] = (() => {
  const want = arg("--partitions");
  if (!want) return ALL_PARTITIONS;
  const names = want.split(",").map((x) => x.trim());
  const bad = names.filter((n) => !ALL_PARTITIONS.some(([p]) => p === n));
  if (bad.length || names.length === 0) throw new Error(`--partitions: unknown ${bad.join(", ") || "(empty)"}; choose from ${ALL_PARTITIONS.map(([p]) => p).join(", ")}`);
  return ALL_PARTITIONS.filter(([p]) => names.includes(p));
})();
const singleFile = process.argv.includes("--single-file");
/** --vote-history: validation-vote's committees also reject peers with persistent reject votes (vote-history.ts). */
const withHistory = process.argv.includes("--vote-history");
/** --merge a,b: the runs of earlier outputs, deduplicated by setting (the later file wins), re-keyed. */
const merged: { runs: RunResult[] } | undefined = (() => {
  const names = arg("--merge");
  if (!names) return undefined;
  const dir = join(dirname(fileURLToPath(import.meta.url)), "results");
  const bySetting = new Map<string, RunResult>();
  for (const name of names.split(",").map((x) => x.trim()).filter(Boolean)) {
    const file = join(dir, name.endsWith(".json") ? name : `${name}.json`);
    const data = JSON.parse(readFileSync(file, "utf8")) as { runs?: RunResult[] };
    if (!Array.isArray(data.runs)) throw new Error(`--merge: ${file} has no "runs" (for --flower write the parts with --single-file)`);
    for (const r of data.runs) bySetting.set(`${r.dataset}|${r.partitionName}|${r.attackerFraction}|${r.attack}|${r.rule}`, r);
  }
  const order = flower ? [...new Set([DEFAULT_RULE, 8, 5, 7, 2, 4, 3, 0])] : [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const runs = [...bySetting.values()].sort((a, b) => PARTITIONS.indexOf(a.partitionName as (typeof PARTITIONS)[number]) - PARTITIONS.indexOf(b.partitionName as (typeof PARTITIONS)[number]) || order.indexOf(a.rule) - order.indexOf(b.rule) || a.key - b.key);
  return { runs: runs.map((r, key) => ({ ...r, key })) };
})();

function configs(): RunConfig[] {
  if (flower) return flowerConfigs();
  const datasets: DatasetName[] = fullMatrix ? ["mnist", "fashion-mnist"] : ["fashion-mnist"];
  const fractions = fullMatrix ? [0.2, 0.3] : [0.3];
  const partitions = PARTITION_CHOICE;
  const out: RunConfig[] = [];
  for (const dataset of datasets) for (const [partitionName, partition] of partitions) {
    for (const rule of RULES) out.push({ key: 0, dataset, partitionName, partition, attackerFraction: 0, attack: "none", rule, ruleParam: ruleParamFor(rule) });
    for (const attackerFraction of fractions) for (const attack of BENCH_ATTACKS) for (const rule of RULES) {
      out.push({ key: 0, dataset, partitionName, partition, attackerFraction, attack, rule, ruleParam: ruleParamFor(rule) });
    }
  }
  return out.map((c, key) => ({ ...c, key }));
}

/** Flower's setting: 2 Gaussian attackers (20 %), every partition x the six rules. */
function flowerConfigs(): RunConfig[] {
  const partitions = PARTITION_CHOICE;
  const out: RunConfig[] = [];
  // The comparison the target is about first (our default, then Multi-Krum), so a cut-short run still has it.
  const priority = [...new Set([DEFAULT_RULE, 8, 5, 7, 2, 4, 3, 0])].filter((r) => RULES.includes(r as RuleId)) as RuleId[];
  for (const rule of priority) for (const [partitionName, partition] of partitions) {
    out.push({ key: 0, dataset: "fashion-mnist", partitionName, partition, attackerFraction: 0.2, attack: "gaussian", rule, ruleParam: ruleParamFor(rule) });
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
    ...(withHistory ? { voteHistory: DEFAULT_VOTE_HISTORY } : {}),
    // The clean run also measures the trigger's success on the clean model: the floor for backdoorAsr.
    measureBackdoorAsr: !flower && c.attack === "none",
    localEpochs, batchSize, learningRate: 0.1, seed: 7, maxSamplesPerPeer: samples > 0 ? samples : undefined, testSamples: TEST_SAMPLES,
    // Progress on stderr (the parent passes it through), so a long run can be followed in its log.
    onRound: (r) => process.stderr.write(`  ${c.partitionName} ${ruleNameOf(c.rule)} round ${r.round}: acc ${(100 * r.accuracy).toFixed(1)} honest rejected ${r.rejectedHonest}/${r.acceptedHonest + r.rejectedHonest} attackers rejected ${r.rejectedAttackers}/${r.acceptedAttackers + r.rejectedAttackers} mask ${r.mask}\n`),
  });
  const asr = res.rounds.map((r) => r.backdoorAsr).filter((x): x is number => x !== undefined);
  // Reputation excludes a peer after repeated rejections: how often was the worst-treated honest peer rejected?
  const honestRejections = Array.from({ length: NUM_PEERS }, (_, p) => (attackers.includes(p) ? 0 : res.rounds.filter((r) => ((BigInt(r.mask) >> BigInt(p)) & 1n) === 0n).length));
  const sum = (f: (r: (typeof res.rounds)[number]) => number) => res.rounds.reduce((s, r) => s + f(r), 0);
  const attackerUpdates = sum((r) => r.acceptedAttackers + r.rejectedAttackers);
  return {
    ...c, ruleName: ruleNameOf(c.rule),
    finalAccuracy: res.rounds[res.rounds.length - 1].accuracy,
    accuracyPerRound: res.rounds.map((r) => Number(r.accuracy.toFixed(4))),
    attackerRejectedShare: attackerUpdates > 0 ? sum((r) => r.rejectedAttackers) / attackerUpdates : null,
    honestRejectedShare: sum((r) => r.rejectedHonest) / sum((r) => r.acceptedHonest + r.rejectedHonest),
    attackerUpdates, attackerRejected: sum((r) => r.rejectedAttackers),
    honestUpdates: sum((r) => r.acceptedHonest + r.rejectedHonest), honestRejected: sum((r) => r.rejectedHonest),
    seconds: sum((r) => r.seconds),
    backdoorAsr: asr.length ? Number(asr[asr.length - 1].toFixed(4)) : null,
    maxRejectionsOfAnHonestPeer: Math.max(...honestRejections),
    ...(res.rounds.some((r) => r.rootScores) ? {
      honestRejectedByRootVote: res.rounds.reduce((n, r) => n + (r.rootScores ?? []).filter((score, p) => score !== null && !attackers.includes(p) && ((BigInt(r.mask) >> BigInt(p)) & 1n) === 0n).length, 0),
    } : {}),
  };
}

async function worker(index: number, count: number): Promise<void> {
  for (const c of configs().filter((c) => c.key % count === index)) {
    const r = await runOne(c);
    process.stdout.write(`${resultLine(r)}\n`);
  }
}

const pct = (x: number | null) => (x === null ? "  -  " : `${(100 * x).toFixed(0).padStart(3)}%`);

function baselineOf(results: RunResult[], r: RunConfig): RunResult | undefined {
  return results.find((b) => b.attack === "none" && b.dataset === r.dataset && b.partitionName === r.partitionName && b.rule === r.rule);
}

/** The issue's headline numbers for one rule at one partition (rates 0-1, drops in accuracy points vs the clean run). */
interface PartitionSummary {
  grossTpr: number | null;
  honestFpr: number | null;
  alieDrop: number | null;
  minMaxDrop: number | null;
  backdoorAsr: number | null;
}
interface PartitionDetail extends PartitionSummary {
  /** The clean run's final model: its own share of triggered images classified as the target (the floor). */
  cleanBackdoorAsr: number | null;
  /** Clean test accuracy lost under the backdoor, in points. */
  backdoorDrop: number | null;
  cleanAccuracy: number | null;
  ipmDrop: number | null;
  minSumDrop: number | null;
  worstGrossDrop: number | null;
  /** Share of honest updates rejected in the clean run alone. */
  cleanHonestFpr: number | null;
  /** The most rounds one honest peer was rejected in, over this partition's runs. */
  maxRejectionsOfAnHonestPeer: number | null;
}

const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const round4 = (x: number | null) => (x === null || !Number.isFinite(x) ? null : Number(x.toFixed(4)));

function partitionDetail(results: RunResult[], rule: RuleId, partitionName: string): PartitionDetail {
  const mine = results.filter((r) => r.rule === rule && r.partitionName === partitionName);
  const clean = mine.filter((r) => r.attack === "none");
  const gross = mine.filter((r) => (GROSS as string[]).includes(r.attack));
  const ratio = (num: number, den: number) => (den > 0 ? num / den : null);
  const dropOf = (kind: string): number | null => {
    const drops = mine.filter((r) => r.attack === kind).map((r) => {
      const base = clean.find((b) => b.dataset === r.dataset);
      return base ? 100 * (base.finalAccuracy - r.finalAccuracy) : NaN;
    }).filter(Number.isFinite);
    return drops.length ? drops.reduce((a, b) => a + b, 0) / drops.length : null;
  };
  const grossDrops = GROSS.map(dropOf).filter((x): x is number => x !== null);
  return {
    grossTpr: round4(ratio(gross.reduce((s, r) => s + r.attackerRejected, 0), gross.reduce((s, r) => s + r.attackerUpdates, 0))),
    honestFpr: round4(ratio(mine.reduce((s, r) => s + r.honestRejected, 0), mine.reduce((s, r) => s + r.honestUpdates, 0))),
    alieDrop: round4(dropOf("alie")),
    minMaxDrop: round4(dropOf("min-max")),
    backdoorAsr: round4(mean(mine.filter((r) => r.attack === "backdoor").map((r) => r.backdoorAsr).filter((x): x is number => x !== null))),
    backdoorDrop: round4(dropOf("backdoor")),
    cleanBackdoorAsr: round4(mean(clean.map((r) => r.backdoorAsr).filter((x): x is number => x !== null))),
    cleanAccuracy: round4(clean.length ? clean.reduce((s, r) => s + r.finalAccuracy, 0) / clean.length : null),
    ipmDrop: round4(dropOf("ipm")),
    minSumDrop: round4(dropOf("min-sum")),
    worstGrossDrop: round4(grossDrops.length ? Math.max(...grossDrops) : null),
    maxRejectionsOfAnHonestPeer: mine.length ? Math.max(...mine.map((r) => r.maxRejectionsOfAnHonestPeer)) : null,
    cleanHonestFpr: round4(ratio(clean.reduce((s, r) => s + r.honestRejected, 0), clean.reduce((s, r) => s + r.honestUpdates, 0))),
  };
}

/**
 * The rule `summary` is for: the default rule when the runs hold it, else the one rule run (so a
 * `--rules root-validation` output keeps that rule's summary in its own file); named in meta.summaryRule.
 */
function summaryRuleOf(results: RunResult[]): RuleId {
  if (results.some((r) => r.rule === DEFAULT_RULE)) return DEFAULT_RULE;
  const rules = [...new Set(results.map((r) => r.rule))];
  return rules.length === 1 ? rules[0] : DEFAULT_RULE;
}

/** `summary` exactly as the issue asks, for the default rule (see summaryRuleOf). */
function headline(results: RunResult[], rule: RuleId = summaryRuleOf(results)): Record<string, PartitionSummary> {
  return Object.fromEntries(PARTITIONS.map((p) => {
    const { grossTpr, honestFpr, alieDrop, minMaxDrop, backdoorAsr } = partitionDetail(results, rule, p);
    return [p, { grossTpr, honestFpr, alieDrop, minMaxDrop, backdoorAsr }];
  }));
}

function perRule(results: RunResult[]): Record<string, { ruleParam: number; partitions: Record<string, PartitionDetail> }> {
  return Object.fromEntries(RULES.filter((rule) => results.some((r) => r.rule === rule)).map((rule) => [ruleNameOf(rule), {
    ruleParam: ruleParamFor(rule),
    partitions: Object.fromEntries(PARTITIONS.map((p) => [p, partitionDetail(results, rule, p)])),
  }]));
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
      for (const attack of ["none", ...BENCH_ATTACKS]) {
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
  const colors = ["#999999", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#000000"];
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
  if (flower) {
    // Exactly the issue's format; everything else (per-round accuracies, rejections, settings) beside it.
    const rows = sorted.map((r) => ({ partition: r.partitionName, rule: r.ruleName, accuracy: Number(r.finalAccuracy.toFixed(4)) }));
    const detail = {
      meta: {
        setting: "Flower: Fashion-MNIST, 10 peers sharing the full training set, 2 Gaussian attackers (sigma 0.1 per coordinate), 40 rounds",
        model: "mlp: 784-128(relu)-10, 101,770 parameters", defaultRule: ruleNameOf(DEFAULT_RULE), complete: done, runsFinished: results.length, runsPlanned: total, rounds,
        localEpochs, batchSize, learningRate: 0.1, optimizer: "sgd", seed: 7, testSamples: TEST_SAMPLES,
        voteHistory: withHistory ? { ...DEFAULT_VOTE_HISTORY, unit: "node/aggregation/rules/vote-history.ts" } : "off",
        ruleParams: Object.fromEntries(RULES.map((r) => [ruleNameOf(r), ruleParamFor(r)])),
        wallSeconds: (performance.now() - startedAt) / 1000, node: process.version,
        partitions: PARTITION_CHOICE.map(([p]) => p),
        ...(merged ? { mergedFrom: arg("--merge"), runSecondsSum: Number(results.reduce((s, r) => s + r.seconds, 0).toFixed(0)) } : {}),
      },
      runs: sorted,
    };
    if (singleFile) { writeFileSync(join(dir, `${outName}.json`), JSON.stringify({ rows, ...detail }, null, 1)); return; }
    writeFileSync(join(dir, `${outName}.json`), JSON.stringify({ rows }, null, 1));
    writeFileSync(join(dir, `${outName}-detail.json`), JSON.stringify(detail, null, 1));
    writeFileSync(join(dir, `${outName}.svg`), svgPlot(sorted));
    return;
  }
  writeFileSync(join(dir, `${outName}.json`), JSON.stringify({
    meta: {
      quick, complete: done, runsFinished: results.length, runsPlanned: total, rounds, samplesPerPeer: samples,
      numPeers: NUM_PEERS, model: "mlp", localEpochs, batchSize, learningRate: 0.1, seed: 7, testSamples: TEST_SAMPLES,
      datasets: fullMatrix ? ["mnist", "fashion-mnist"] : ["fashion-mnist"], attackerFractions: fullMatrix ? [0.2, 0.3] : [0.3],
      attacks: BENCH_ATTACKS, grossAttacks: GROSS, defaultRule: ruleNameOf(DEFAULT_RULE), summaryRule: ruleNameOf(summaryRuleOf(sorted)),
      backdoor: "4x4 checker trigger, target label 0, 30 % of each attacker's shard poisoned, model replacement gamma = 10; backdoorAsr = final model's share of triggered non-target test images classified as the target",
      verifierCommittee: "validation-vote: 5 verifiers per round, seeded; attackers on the committee vote the public pre-filter",
      rootSet: "root-validation: 50 per class of the training split, seeded, from samples no peer holds (filled from peers' samples only when there are too few: the --flower full shards)",
      rootGate: "root-validation: a total-loss outlier is rejected only when the per-class gate confirms it (worst class harm >= 0.7 x the round's owner size, or summed harms > 2 x summed helps; node/aggregation/rules/root-validation.ts perClassGate)",
      voteHistory: withHistory ? { ...DEFAULT_VOTE_HISTORY, unit: "node/aggregation/rules/vote-history.ts" } : "off",
      ruleParams: Object.fromEntries(RULES.map((r) => [ruleNameOf(r), ruleParamFor(r)])),
      wallSeconds: (performance.now() - startedAt) / 1000, node: process.version, krumTiming: krumTimingResult,
      ...(merged ? { mergedFrom: arg("--merge") } : {}),
    },
    summary: headline(sorted), perRule: perRule(sorted), runs: sorted,
  }, null, 1));
  writeFileSync(join(dir, `${outName}.svg`), svgPlot(sorted));
}

async function main(): Promise<void> {
  if (process.argv.includes("--help")) { console.log(HELP); return; }
  if (workerIndex !== undefined) { await worker(Number(workerIndex), jobs); return; }
  const all = configs();
  if (!flower && !merged) {
    const k = (krumTimingResult = krumTiming());
    console.log(`Krum scores, n = 100 x 101,770 floats: median ${k.medianMs} ms (runs ${k.runsMs.join(", ")})`);
  }
  const startedAt = performance.now();
  console.log(merged
    ? `robustness: merging ${merged.runs.length} runs from ${arg("--merge")}`
    : `robustness: ${all.length} runs, ${rounds} rounds, <= ${samples} samples/peer, ${jobs} worker(s)${quick ? " (quick)" : ""}`);
  const results: RunResult[] = merged ? merged.runs : [];
  if (!merged) {
    await runWorkers<RunResult>({
      script: fileURLToPath(import.meta.url), jobs, args: argsWithout(process.argv.slice(2), ["--jobs"]),
      workerArgs: (w) => ["--jobs", String(jobs), "--worker", String(w)],
      onResult: (r) => {
        results.push(r);
        const el = (performance.now() - startedAt) / 1000;
        console.log(`[${results.length}/${all.length} ${el.toFixed(0)}s] ${r.dataset} ${r.partitionName} ${Math.round(r.attackerFraction * 100)}% ${r.attack} ${r.ruleName}: acc ${(100 * r.finalAccuracy).toFixed(1)} att-rej ${pct(r.attackerRejectedShare)} hon-rej ${pct(r.honestRejectedShare)}`);
        writeOutputs(results, all.length, startedAt, false);
      },
    });
  }
  writeOutputs(results, merged ? results.length : all.length, startedAt, true);
  const sorted = [...results].sort((a, b) => a.key - b.key);
  if (flower) {
    // Flower's published numbers for this setting (15 seeds), final accuracy in %.
    const published: Record<string, Record<string, number>> = {
      iid: { fedavg: 66.3, median: 86.7, "trimmed-mean": 86.5, "multi-krum": 86.9 },
      "dir0.5": { fedavg: 60.8, median: 84.2, "trimmed-mean": 85.1, "multi-krum": 85.6 },
      "dir0.1": { fedavg: 52.0, median: 69.5, "trimmed-mean": 76.2, "multi-krum": 78.8 },
    };
    console.log("\npartition  rule               ours    Flower");
    for (const r of sorted) console.log(`${r.partitionName.padEnd(10)} ${r.ruleName.padEnd(18)} ${(100 * r.finalAccuracy).toFixed(1).padStart(5)}   ${published[r.partitionName]?.[r.ruleName]?.toFixed(1) ?? "-"}`);
    console.log(`\nwrote bench/results/${outName}.json${singleFile ? "" : `, ${outName}-detail.json and ${outName}.svg`} in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
    return;
  }
  printTables(sorted);
  const fmt = (x: number | null, points = false) => (x === null ? "-" : points ? x.toFixed(1) : `${(100 * x).toFixed(1)}%`);
  console.log("\nper rule and partition (grossTpr: gross-attack updates rejected; honestFpr: honest updates rejected; drops in accuracy points vs the clean run):");
  console.log("rule".padEnd(20) + "partition".padEnd(10) + ["clean acc", "grossTpr", "honestFpr", "clean FPR", "alieDrop", "ipmDrop", "minMaxDrop", "minSumDrop", "worst gross", "backdoorAsr", "clean ASR"].map((h) => h.padStart(12)).join(""));
  for (const [name, { ruleParam, partitions }] of Object.entries(perRule(sorted))) {
    for (const [p, d] of Object.entries(partitions)) {
      const cells = [fmt(d.cleanAccuracy), fmt(d.grossTpr), fmt(d.honestFpr), fmt(d.cleanHonestFpr), fmt(d.alieDrop, true), fmt(d.ipmDrop, true), fmt(d.minMaxDrop, true), fmt(d.minSumDrop, true), fmt(d.worstGrossDrop, true), fmt(d.backdoorAsr), fmt(d.cleanBackdoorAsr)];
      console.log(`${name}(${ruleParam})`.padEnd(20) + p.padEnd(10) + cells.map((c) => c.padStart(12)).join(""));
    }
  }
  console.log(`\nsummary (${ruleNameOf(summaryRuleOf(sorted))}): ${JSON.stringify(headline(sorted))}`);
  console.log(`\nwrote bench/results/${outName}.json and ${outName}.svg in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
