/**
 * Learning benchmark: centralized baseline vs FedAvg simulated in one process (10 peers, 1 local
 * epoch per round) on MNIST, MLP and CNN, IID and Dirichlet(0.5) partitions; plus the time of the
 * aggregation rules (Krum, Multi-Krum, FedAvg, coordinate median, trimmed mean) on MLP-sized updates.
 * Prints tables, writes bench/results/learning.json.
 *
 *   node --import tsx bench/learning.ts [--quick] [--rounds N] [--models mlp,cnn] [--partitions iid,dirichlet]
 *   node --import tsx bench/learning.ts --rules-only [--reps N]   # just the rule timings, merged into the JSON
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fedAvg } from "../node/aggregation/fedavg.ts";
import { krum } from "../node/aggregation/krum.ts";
import { coordinateMedian } from "../node/aggregation/median.ts";
import { trimmedMean } from "../node/aggregation/trimmedMean.ts";
import { initBackend } from "../node/ml/backend.ts";
import { flattenWeights, parameterCount, unflattenWeights } from "../node/ml/codec.ts";
import { loadDataset, loadLabels, selectSamples, type Dataset } from "../node/ml/datasets.ts";
import { createModel, initialWeights, modelSpecFor, type ModelName } from "../node/ml/models.ts";
import { partition, type PartitionScheme } from "../node/ml/partition.ts";
import { deriveSeed, mulberry32, permutation } from "../node/ml/random.ts";
import { evaluate, getWeights, setWeights, trainLocal, type TrainOptions } from "../node/ml/train.ts";

interface RoundResult {
  round: number;
  accuracy: number;
  seconds: number;
}
interface ConfigResult {
  name: string;
  model: ModelName;
  partition: string;
  rounds: RoundResult[];
}
interface KrumTiming {
  n: number;
  f: number;
  ms: number;
  multiKrumM: number;
  multiKrumMs: number;
}
/** Median wall-clock milliseconds of one call of each rule on n MLP-sized updates. */
interface RuleTiming {
  n: number;
  d: number;
  reps: number;
  /** Krum's f (and Multi-Krum m = n - f). */
  f: number;
  multiKrumM: number;
  /** Trimmed mean's beta (values dropped per side). */
  beta: number;
  krumMs: number;
  multiKrumMs: number;
  fedAvgMs: number;
  medianMs: number;
  trimmedMeanMs: number;
  /** The same, as median process CPU time (less sensitive to other processes on a shared machine). */
  cpuMs: { krum: number; multiKrum: number; fedAvg: number; median: number; trimmedMean: number };
}
const RULE_TARGETS_MS = { krumMs: 100, multiKrumMs: 100, fedAvgMs: 50 } as const;

const HELP = `Usage: node --import tsx bench/learning.ts [options]
  --quick               reduced run (< 3 min): 12k train / 2k test samples, 3 rounds
  --rounds N            FedAvg rounds = centralized epochs (default 10, quick 3)
  --models LIST         comma list of mlp,cnn (default both)
  --partitions LIST     comma list of iid,dirichlet, or none (default both)
  --peers N             simulated peers (default 10)
  --seed N              seed (default 1)
  --lr X                Adam learning rate (default 0.003: 1e-3 was measured slower per FedAvg round)
  --batch N             batch size (default 32)
  --no-krum             skip the aggregation-rule timings
  --no-central          skip the centralized baseline
  --rules-only          only the aggregation-rule timings (alias --krum-only); keeps the training
                        results already in --out and replaces only the timings
  --reps N              repetitions per rule timing, the median is reported (default 7, min 5)
  --out FILE            JSON output (default bench/results/learning.json)
  --merge F1 F2 ...     combine result files of partial runs (e.g. one process per model) into --out;
                        configs in file order, Krum timings from the last file that has them
  --help                this text`;

function parseArgs(argv: string[]) {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(HELP);
    process.exit(0);
  }
  const quick = argv.includes("--quick");
  const here = dirname(fileURLToPath(import.meta.url));
  return {
    quick,
    rounds: Number(get("--rounds") ?? (quick ? 3 : 10)),
    models: (get("--models") ?? "mlp,cnn").split(",") as ModelName[],
    partitions: (get("--partitions") ?? "iid,dirichlet").split(",").filter((p) => p !== "none"),
    peers: Number(get("--peers") ?? 10),
    seed: Number(get("--seed") ?? 1),
    lr: Number(get("--lr") ?? 3e-3),
    batch: Number(get("--batch") ?? 32),
    krum: !argv.includes("--no-krum"),
    rulesOnly: argv.includes("--rules-only") || argv.includes("--krum-only"),
    reps: Math.max(5, Number(get("--reps") ?? 7)),
    noCentral: argv.includes("--no-central"),
    out: get("--out") ?? join(here, "results", "learning.json"),
  };
}

let TRAIN: Omit<TrainOptions, "seed" | "epochs"> = { batchSize: 32, learningRate: 3e-3, optimizer: "adam" };
const DIRICHLET_ALPHA = 0.5;

function schemeFor(name: string): PartitionScheme {
  if (name === "iid") return { kind: "iid" };
  if (name === "dirichlet") return { kind: "dirichlet", alpha: DIRICHLET_ALPHA };
  throw new Error(`unknown partition ${name}, expected iid or dirichlet`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function pct(x: number): string {
  return (x * 100).toFixed(2);
}

function centralized(model: ModelName, train: Dataset, test: Dataset, epochs: number, seed: number): ConfigResult {
  const spec = modelSpecFor(model);
  const net = createModel(spec, seed);
  const rounds: RoundResult[] = [];
  const name = `${model}-centralized`;
  trainLocal(net, train, {
    ...TRAIN,
    epochs,
    seed: deriveSeed(seed, 0xce),
    onEpoch: ({ epoch, seconds }) => {
      const { accuracy } = evaluate(net, test);
      rounds.push({ round: epoch + 1, accuracy, seconds });
      console.log(`${name.padEnd(22)} epoch ${String(epoch + 1).padStart(2)}  acc ${pct(accuracy)} %  ${seconds.toFixed(1)} s`);
    },
  });
  net.dispose();
  return { name, model, partition: "centralized", rounds };
}

function federated(model: ModelName, partitionName: string, train: Dataset, test: Dataset, numRounds: number, peers: number, seed: number): ConfigResult {
  const spec = modelSpecFor(model);
  const net = createModel(spec, seed);
  const shards = partition(train.labels, peers, schemeFor(partitionName), seed).map((idx) => selectSamples(train, idx));
  const counts = shards.map((s) => s.count);
  let global = flattenWeights(initialWeights(spec, seed));
  const rounds: RoundResult[] = [];
  const name = `${model}-fedavg-${partitionName}`;
  for (let round = 1; round <= numRounds; round++) {
    const start = performance.now();
    const updates: Float32Array[] = [];
    shards.forEach((shard, p) => {
      setWeights(net, unflattenWeights(global, spec));
      trainLocal(net, shard, { ...TRAIN, epochs: 1, seed: deriveSeed(seed, round, p) });
      updates.push(flattenWeights(getWeights(net)));
    });
    global = fedAvg(updates, counts);
    const seconds = (performance.now() - start) / 1000;
    setWeights(net, unflattenWeights(global, spec));
    const { accuracy } = evaluate(net, test);
    rounds.push({ round, accuracy, seconds });
    console.log(`${name.padEnd(22)} round ${String(round).padStart(2)}  acc ${pct(accuracy)} %  ${seconds.toFixed(1)} s`);
  }
  net.dispose();
  return { name, model, partition: partitionName === "dirichlet" ? `dirichlet(${DIRICHLET_ALPHA})` : partitionName, rounds };
}

function ruleTimings(seed: number, reps: number): RuleTiming[] {
  const d = parameterCount(modelSpecFor("mlp"));
  const out: RuleTiming[] = [];
  for (const n of [10, 30, 100]) {
    const rng = mulberry32(deriveSeed(seed, 0x4b, n));
    const updates = Array.from({ length: n }, () => Float32Array.from({ length: d }, () => (rng() * 2 - 1) * 0.05));
    const counts = updates.map((_, i) => 100 + 37 * i);
    const f = Math.floor((n - 3) / 2);
    const m = n - f;
    const beta = Math.max(1, Math.floor(n / 10));
    const time = (fn: () => unknown): [number, number] => {
      fn(); // warm-up (JIT, WebAssembly compilation)
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let r = 0; r < reps; r++) {
        const c = process.cpuUsage();
        const t = performance.now();
        fn();
        wall.push(performance.now() - t);
        const u = process.cpuUsage(c);
        cpu.push((u.user + u.system) / 1000);
      }
      return [median(wall), median(cpu)];
    };
    const k = time(() => krum(updates, f, 1));
    const mk = time(() => krum(updates, f, m));
    const fa = time(() => fedAvg(updates, counts));
    const md = time(() => coordinateMedian(updates));
    const tm = time(() => trimmedMean(updates, beta));
    const r: RuleTiming = {
      n, d, reps, f, multiKrumM: m, beta,
      krumMs: k[0], multiKrumMs: mk[0], fedAvgMs: fa[0], medianMs: md[0], trimmedMeanMs: tm[0],
      cpuMs: { krum: k[1], multiKrum: mk[1], fedAvg: fa[1], median: md[1], trimmedMean: tm[1] },
    };
    out.push(r);
    console.log(`rules n=${String(n).padStart(3)} d=${d}: krum ${r.krumMs.toFixed(1)} ms, multi-krum ${r.multiKrumMs.toFixed(1)} ms, fedavg ${r.fedAvgMs.toFixed(1)} ms, median ${r.medianMs.toFixed(1)} ms, trimmed mean ${r.trimmedMeanMs.toFixed(1)} ms`);
  }
  return out;
}

/** The older `krum` key of the JSON, kept for readers of earlier results. */
function krumTimingsOf(rules: RuleTiming[]): KrumTiming[] {
  return rules.map((r) => ({ n: r.n, f: r.f, ms: r.krumMs, multiKrumM: r.multiKrumM, multiKrumMs: r.multiKrumMs }));
}

function printRuleTable(rules: RuleTiming[]): void {
  if (rules.length === 0) return;
  const cols = [["krumMs", "krum"], ["multiKrumMs", "multi-krum"], ["fedAvgMs", "fedavg"], ["medianMs", "median"], ["trimmedMeanMs", "trimmed-mean"]] as const;
  console.log(`\nAggregation rules on MLP-sized updates (d = ${rules[0].d}), median ms of ${rules[0].reps} runs`);
  console.log("n".padStart(4) + "  f/m/beta".padEnd(12) + cols.map(([, h]) => h.padStart(14)).join(""));
  for (const r of rules) {
    console.log(String(r.n).padStart(4) + `  ${r.f}/${r.multiKrumM}/${r.beta}`.padEnd(12) + cols.map(([k]) => r[k].toFixed(1).padStart(14)).join(""));
  }
  if (rules[0].cpuMs) {
    console.log("CPU time (median ms)");
    for (const r of rules) {
      const c = r.cpuMs;
      console.log(String(r.n).padStart(4) + "".padEnd(12) + [c.krum, c.multiKrum, c.fedAvg, c.median, c.trimmedMean].map((x) => x.toFixed(1).padStart(14)).join(""));
    }
  }
}

function printTable(configs: ConfigResult[]): void {
  const maxRounds = Math.max(...configs.map((c) => c.rounds.length));
  const w = Math.max(...configs.map((c) => c.name.length)) + 2;
  console.log("\nTest accuracy % (seconds per round/epoch)");
  console.log("round".padEnd(6) + configs.map((c) => c.name.padStart(w)).join(""));
  for (let r = 0; r < maxRounds; r++) {
    console.log(
      String(r + 1).padEnd(6) +
        configs.map((c) => (c.rounds[r] ? `${pct(c.rounds[r].accuracy)} (${c.rounds[r].seconds.toFixed(0)}s)` : "").padStart(w)).join(""),
    );
  }
}

function printTargets(configs: ConfigResult[], krums: KrumTiming[], rules: RuleTiming[] = []): void {
  const find = (name: string) => configs.find((c) => c.name === name);
  const bestWithin = (c: ConfigResult | undefined, r: number) => (c ? Math.max(...c.rounds.slice(0, r).map((x) => x.accuracy)) : NaN);
  const at = (c: ConfigResult | undefined, r: number) => c?.rounds[Math.min(r, c.rounds.length) - 1]?.accuracy ?? NaN;
  console.log("\nTargets");
  for (const [m, target] of [["mlp", 0.97], ["cnn", 0.985]] as const) {
    const c = find(`${m}-fedavg-iid`);
    if (!c) continue;
    const best = bestWithin(c, 5);
    const first = c.rounds.find((x) => x.accuracy >= target)?.round;
    console.log(
      `  ${m.toUpperCase()} FedAvg IID >= ${target * 100} % within 5 rounds: best ${pct(best)} %  ${best >= target ? "met" : "NOT met"}` +
        (first ? ` (reached at round ${first})` : ` (not reached in ${c.rounds.length} rounds)`),
    );
  }
  for (const m of ["mlp", "cnn"]) {
    const iid = find(`${m}-fedavg-iid`);
    const dir = find(`${m}-fedavg-dirichlet`);
    if (!iid || !dir) continue;
    const r = Math.min(10, iid.rounds.length, dir.rounds.length);
    const gap = (at(iid, r) - at(dir, r)) * 100;
    console.log(`  ${m.toUpperCase()} Dirichlet(0.5) within 2 points of IID at round ${r}: gap ${gap.toFixed(2)} points  ${gap <= 2 ? "met" : "NOT met"}`);
  }
  const r100 = rules.find((r) => r.n === 100);
  if (r100) {
    for (const [key, limit] of Object.entries(RULE_TARGETS_MS) as [keyof typeof RULE_TARGETS_MS, number][]) {
      const ms = r100[key];
      console.log(`  ${key.replace(/Ms$/, "")} n=100 <= ${limit} ms: ${ms.toFixed(1)} ms  ${ms <= limit ? "met" : "NOT met"}`);
    }
    return;
  }
  const k100 = krums.find((k) => k.n === 100);
  if (k100) console.log(`  Krum n=100 <= ${RULE_TARGETS_MS.krumMs} ms: ${k100.ms.toFixed(1)} ms  ${k100.ms <= RULE_TARGETS_MS.krumMs ? "met" : "NOT met"}`);
}

type Result = { quick: boolean; configs: ConfigResult[]; krum: KrumTiming[]; rules?: RuleTiming[] } & Record<string, unknown>;

function merge(files: string[], out: string): void {
  const parts = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as Result);
  // Krum timings: the last file that has them wins (re-measure on a quieter machine, pass that file last).
  const krums = parts.filter((p) => p.krum.length > 0).map((p) => p.krum);
  const rules = parts.filter((p) => (p.rules ?? []).length > 0).map((p) => p.rules!);
  const merged: Result = { ...parts[0], quick: parts.some((p) => p.quick), configs: parts.flatMap((p) => p.configs), krum: krums[krums.length - 1] ?? [], rules: rules[rules.length - 1] ?? [] };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(merged, null, 2) + "\n");
  printTable(merged.configs);
  printRuleTable(merged.rules ?? []);
  printTargets(merged.configs, merged.krum, merged.rules);
  console.log(`\nwrote ${out} from ${files.join(", ")}`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const m = argv.indexOf("--merge");
  if (m >= 0) {
    const files = argv.slice(m + 1).filter((a) => !a.startsWith("--"));
    return merge(files.filter((f) => f !== args.out), args.out);
  }
  if (args.rulesOnly) {
    // Timings only: no tfjs backend, no training; merge into the existing results file.
    let previous: Result = { quick: false, configs: [], krum: [] };
    try {
      previous = JSON.parse(readFileSync(args.out, "utf8")) as Result;
    } catch {
      // no earlier results: write a file with the timings only
    }
    const rules = ruleTimings(args.seed, args.reps);
    const result: Result = { ...previous, krum: krumTimingsOf(rules), rules };
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, JSON.stringify(result, null, 2) + "\n");
    printRuleTable(rules);
    printTargets(result.configs, result.krum, rules);
    console.log(`\nwrote ${args.out}`);
    return;
  }
  TRAIN = { ...TRAIN, learningRate: args.lr, batchSize: args.batch };
  const backend = await initBackend();
  console.log(`backend ${backend}, ${args.quick ? "QUICK" : "full"} run: ${args.rounds} rounds, ${args.peers} peers, Adam lr ${TRAIN.learningRate} batch ${TRAIN.batchSize}`);
  const result = { quick: args.quick, backend, rounds: args.rounds, peers: args.peers, training: { ...TRAIN, localEpochs: 1 }, configs: [] as ConfigResult[], krum: [] as KrumTiming[], rules: [] as RuleTiming[] };
  const save = () => {
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, JSON.stringify(result, null, 2) + "\n");
  };
  if (args.krum) {
    result.rules = ruleTimings(args.seed, args.reps);
    result.krum = krumTimingsOf(result.rules);
    printRuleTable(result.rules);
  }
  save();

  let train: Dataset;
  let test: Dataset;
  if (args.quick) {
    const trainN = loadLabels("mnist", "train").length;
    train = loadDataset("mnist", "train", permutation(trainN, mulberry32(deriveSeed(args.seed, 1))).slice(0, 12000));
    test = loadDataset("mnist", "test", permutation(10000, mulberry32(deriveSeed(args.seed, 2))).slice(0, 2000));
  } else {
    train = loadDataset("mnist", "train");
    test = loadDataset("mnist", "test");
  }
  console.log(`MNIST: ${train.count} train, ${test.count} test samples`);
  for (const model of args.models) {
    for (const p of args.partitions) {
      result.configs.push(federated(model, p, train, test, args.rounds, args.peers, args.seed));
      save();
    }
    if (!args.noCentral) {
      result.configs.push(centralized(model, train, test, args.rounds, args.seed));
      save();
    }
  }
  printTable(result.configs);
  printRuleTable(result.rules);
  printTargets(result.configs, result.krum, result.rules);
  console.log(`\nwrote ${args.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
