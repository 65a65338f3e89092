// Privacy/utility/robustness benchmark, two privacy units on MNIST with 10 peers:
//  - peer-level DP-FedAvg (each trainer clips + noises its own update), one sign-flip attacker,
//    several target epsilons ("runs" in privacy.json, privacy.svg);
//  - example-level DP-SGD in every trainer (Poisson sampling, per-example clipping, Gaussian noise),
//    the full training set split IID, target epsilons 0.5..8 ("exampleLevel", privacy-example.svg).
// Usage: node --import tsx bench/privacy.ts [--quick] [--example-only | --peer-only] [--help]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { parseRuleName } from "../node/protocol/index.ts";
import { RdpAccountant, noiseMultiplierFor } from "../node/privacy/accountant.ts";
import { privatizeUpdate, secureGaussianSource } from "../node/privacy/gaussian.ts";
import { simulate, type SimulationRound } from "../node/sim/index.ts";
import { dpSgdEpsilon, dpSgdNoiseMultiplierFor, dpSgdSampleRate, dpSgdStepsPerEpoch } from "../node/privacy/dpsgd.ts";
import { initBackend } from "../node/ml/backend.ts";
import { loadDataset, loadLabels } from "../node/ml/datasets.ts";
import { peerShard } from "../node/ml/partition.ts";
import { createModel, modelSpecFor } from "../node/ml/models.ts";
import { trainLocal } from "../node/ml/train.ts";
import { mulberry32 } from "../node/ml/random.ts";
import { seededGaussianSource as seededNoise } from "../node/privacy/gaussian.ts";
import { argsWithout, resultLine, runWorkers } from "./workers.ts";

interface RunResult {
  targetEpsilon: number;
  noiseMultiplier: number;
  clipNorm: number;
  rounds: { round: number; accuracy: number; epsilon: number }[];
  finalAccuracy: number;
  /** Share of the attacker's updates rejected over all rounds. */
  attackerRejected: number;
  /** Share of honest updates rejected over all rounds. */
  honestRejected: number;
  seconds: number;
}

const here = dirname(fileURLToPath(import.meta.url));

function parseEpsilons(s: string): number[] {
  return s.split(",").map((x) => (x.trim() === "inf" ? Infinity : Number(x)));
}

const program = new Command()
  .name("bench:privacy")
  .description("Accuracy, epsilon per round and sign-flip detection under peer-level DP (MNIST, in-process simulator)")
  .option("--quick", "small run (< 5 min): fewer rounds, samples and test images", false)
  .option("--rounds <n>", "federated rounds (default 20, quick 12)")
  .option("--peers <n>", "number of peers", "10")
  .option("--samples <n>", "max training samples per peer (default 400, quick 200)")
  .option("--test <n>", "test images used for accuracy (default 2000, quick 1000)")
  .option("--epsilons <list>", "target epsilons, comma-separated, 'inf' = no noise", "1,2,4,8,inf,100,1000,10000")
  .option("--delta <x>", "delta of the guarantee", "1e-5")
  .option("--clip <C>", "L2 clip norm of each update", "0.5")
  .option("--rule <name>", "robust rule: fedavg, krum, multi-krum, median, trimmed-mean, centered-clipping", "multi-krum")
  .option("--rule-param <x>", "rule parameter (Krum f, trim count, radius)", "1")
  .option("--seed <n>", "seed", "1")
  .option("--out <file>", "JSON output", join(here, "results", "privacy.json"))
  .option("--example-only", "run only the example-level DP-SGD part and merge it into the JSON", false)
  .option("--peer-only", "run only the peer-level part and keep the JSON's exampleLevel rows", false)
  .option("--example-epsilons <list>", "example-level target epsilons", "0.5,1,2,4,8")
  .option("--example-rounds <n>", "example-level: federated rounds (default 5, quick 2)")
  .option("--example-epochs <n>", "example-level: local epochs per round (default 3, quick 1)")
  .option("--example-batch <n>", "example-level: expected batch size q N of each peer", "256")
  .option("--example-clip <C>", "example-level: per-example L2 clip norm", "1")
  .option("--example-lr <x>", "example-level: SGD learning rate", "4")
  .option("--example-test <n>", "example-level: test images (default 10000, quick 2000)")
  .option("--no-example-baseline", "example-level: skip the non-private run with the same schedule")
  .option("--example-replot", "example-level: only redraw privacy-example.svg from the JSON", false)
  .option("--example-baseline-only", "example-level: run only the non-private run and merge it into the JSON's exampleLevel part", false)
  .option("--example-baseline-lr <x>", "example-level: SGD learning rate of the non-private run (unclipped gradients need a smaller one)", "0.5")
  .option("--jobs <n>", "example-level: runs in parallel worker processes (default 6)", "6")
  .option("--example-worker <i>", "internal: run worker i's share of the example-level runs and print them as JSON");
program.parse();
const o = program.opts<Record<string, string | boolean>>();
const quick = o.quick === true;
const rounds = Number(o.rounds ?? (quick ? 12 : 20));
const numPeers = Number(o.peers);
const samples = Number(o.samples ?? (quick ? 200 : 400));
const testSamples = Number(o.test ?? (quick ? 1000 : 2000));
const epsilons = parseEpsilons(String(o.epsilons));
const delta = Number(o.delta);
const clipNorm = Number(o.clip);
const rule = parseRuleName(String(o.rule));
const ruleParam = Number(o.ruleParam);
const seed = Number(o.seed);
const attacker = numPeers - 1;
// Every peer trains and commits in every round, and commits are public on chain: no amplification by
// subsampling applies to a peer's own published update, so each peer is accounted at q = 1.
const sampleRate = 1;

const exampleWorker = o.exampleWorker === undefined ? null : Number(o.exampleWorker);
if (o.exampleOnly !== true && exampleWorker === null) {
// 1. The mechanism's own cost on a 100k-float update with the secure source (median of 15).
const mechanismMs = (() => {
  const d = new Float32Array(100_000).map((_, i) => Math.sin(i) * 1e-3);
  const src = secureGaussianSource();
  const t: number[] = [];
  for (let i = 0; i < 15; i++) {
    const s = performance.now();
    privatizeUpdate(d, 1, 1.1, src);
    t.push(performance.now() - s);
  }
  return t.sort((a, b) => a - b)[7];
})();
console.log(`privatizeUpdate, 100k floats, secure source: median ${mechanismMs.toFixed(2)} ms (15 runs)`);
console.log(
  `MNIST mlp, ${numPeers} peers (peer ${attacker} sign-flips), ${rounds} rounds, <= ${samples} samples/peer, ` +
    `rule ${rule} (param ${ruleParam}), C = ${clipNorm}, delta = ${delta}, q = ${sampleRate}${quick ? ", quick" : ""}`,
);

const runs: RunResult[] = [];
for (const targetEpsilon of epsilons) {
  const sigma = noiseMultiplierFor(targetEpsilon, delta, rounds, sampleRate);
  const acc = new RdpAccountant({ noiseMultiplier: sigma, sampleRate });
  const perRound: RunResult["rounds"] = [];
  const t0 = performance.now();
  process.stdout.write(`eps ${String(targetEpsilon).padStart(8)}  sigma ${sigma.toFixed(4).padStart(8)}  round`);
  const res = await simulate({
    dataset: "mnist",
    model: "mlp",
    numPeers,
    rounds,
    partition: { kind: "iid" },
    attackers: [attacker],
    attack: "sign-flip",
    rule,
    ruleParam,
    localEpochs: 1,
    batchSize: 32,
    learningRate: 0.1,
    seed,
    dp: { clipNorm, noiseMultiplier: sigma },
    maxSamplesPerPeer: samples,
    testSamples,
    onRound: (r: SimulationRound) => {
      acc.step();
      perRound.push({ round: r.round, accuracy: r.accuracy, epsilon: acc.epsilon(delta).epsilon });
      process.stdout.write(` ${r.round}`);
    },
  });
  process.stdout.write("\n");
  const sum = (f: (r: SimulationRound) => number): number => res.rounds.reduce((s, r) => s + f(r), 0);
  runs.push({
    targetEpsilon,
    noiseMultiplier: sigma,
    clipNorm,
    rounds: perRound,
    finalAccuracy: res.rounds[res.rounds.length - 1].accuracy,
    attackerRejected: sum((r) => r.rejectedAttackers) / sum((r) => r.rejectedAttackers + r.acceptedAttackers),
    honestRejected: sum((r) => r.rejectedHonest) / sum((r) => r.rejectedHonest + r.acceptedHonest),
    seconds: (performance.now() - t0) / 1000,
  });
}

// 2. Table.
const fmtEps = (e: number): string => (e === Infinity ? "inf" : e >= 100 ? e.toFixed(0) : e.toFixed(3));
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
const head = ["target eps", "sigma", "noise std", "eps@1", `eps@${rounds}`, "final acc", "attacker rej", "honest rej", "s"];
const rows = runs.map((r) => [
  fmtEps(r.targetEpsilon),
  r.noiseMultiplier.toFixed(4),
  (r.noiseMultiplier * r.clipNorm).toFixed(4),
  fmtEps(r.rounds[0].epsilon),
  fmtEps(r.rounds[r.rounds.length - 1].epsilon),
  pct(r.finalAccuracy),
  pct(r.attackerRejected),
  pct(r.honestRejected),
  r.seconds.toFixed(0),
]);
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i])).join("  ");
console.log(`\n${line(head)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n${rows.map(line).join("\n")}`);

// 3. JSON (Infinity is written as null).
const out = String(o.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      ...readPrevious(out),
      quick,
      delta,
      runs,
      setup: {
        dataset: "mnist",
        model: "mlp",
        parameters: 101770,
        numPeers,
        attacker: { index: attacker, attack: "sign-flip" },
        rounds,
        maxSamplesPerPeer: samples,
        testSamples,
        rule: rule,
        ruleParam,
        sampleRate,
        localEpochs: 1,
        batchSize: 32,
        learningRate: 0.1,
        seed,
        accountant: "RDP, orders 1.1..10.9 and 11..256, Balle et al. 2020 conversion",
        mechanismMsPer100kFloats: mechanismMs,
      },
      notes: "targetEpsilon/epsilon null = infinite (no noise, clipping only). Each peer is accounted at q = 1 (its commits are public).",
    },
    null,
    2,
  ) + "\n",
);
console.log(`\nwrote ${out}`);

// 4. SVG: final accuracy vs epsilon (log axis; inf drawn at the right edge) and rejection shares.
const svgOut = join(dirname(out), "privacy.svg");
writeFileSync(svgOut, renderSvg(runs, rounds, numPeers));
console.log(`wrote ${svgOut}`);
}


if (o.peerOnly !== true) await runExampleLevel();

function renderSvg(rs: RunResult[], nRounds: number, peers: number): string {
  const W = 760;
  const H = 360;
  const panel = { w: 300, h: 220, top: 60 };
  const lefts = [70, 440];
  const finite = rs.filter((r) => Number.isFinite(r.targetEpsilon)).map((r) => r.targetEpsilon);
  const lo = Math.floor(Math.log10(Math.min(...finite, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...finite, 10)));
  const xOf = (e: number, left: number): number =>
    e === Infinity ? left + panel.w : left + ((Math.log10(e) - lo) / (hi - lo + 0.35)) * panel.w;
  const yOf = (v: number): number => panel.top + panel.h - v * panel.h;
  const sorted = [...rs].sort((a, b) => a.targetEpsilon - b.targetEpsilon);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">Peer-level DP on MNIST (MLP, ${peers} peers, 1 sign-flip attacker, ${nRounds} rounds, delta 1e-5)</text>`,
  );
  const titles = ["final test accuracy", "share of updates rejected by the rule"];
  lefts.forEach((left, p) => {
    parts.push(`<text x="${left + panel.w / 2}" y="${panel.top - 12}" text-anchor="middle">${titles[p]}</text>`);
    parts.push(`<rect x="${left}" y="${panel.top}" width="${panel.w}" height="${panel.h}" fill="none" stroke="#999"/>`);
    for (let v = 0; v <= 1.0001; v += 0.25) {
      const y = yOf(v);
      parts.push(`<line x1="${left}" y1="${y}" x2="${left + panel.w}" y2="${y}" stroke="#eee"/>`);
      parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${Math.round(v * 100)}%</text>`);
    }
    for (let k = lo; k <= hi; k++) {
      const x = xOf(10 ** k, left);
      parts.push(`<line x1="${x}" y1="${panel.top + panel.h}" x2="${x}" y2="${panel.top + panel.h + 4}" stroke="#999"/>`);
      parts.push(`<text x="${x}" y="${panel.top + panel.h + 16}" text-anchor="middle">${k >= 0 && k <= 3 ? 10 ** k : `1e${k}`}</text>`);
    }
    parts.push(`<text x="${left + panel.w}" y="${panel.top + panel.h + 16}" text-anchor="middle">inf</text>`);
    parts.push(`<text x="${left + panel.w / 2}" y="${panel.top + panel.h + 34}" text-anchor="middle">target epsilon (log scale)</text>`);
  });
  const series = (left: number, values: (r: RunResult) => number, color: string, label: string, ly: number): void => {
    const pts = sorted.map((r) => `${xOf(r.targetEpsilon, left).toFixed(1)},${yOf(values(r)).toFixed(1)}`);
    // The inf point sits after an axis break: join it with a dashed segment.
    const nFinite = sorted.filter((r) => Number.isFinite(r.targetEpsilon)).length;
    parts.push(`<polyline points="${pts.slice(0, nFinite).join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`);
    if (nFinite > 0 && nFinite < pts.length) {
      parts.push(`<polyline points="${pts[nFinite - 1]} ${pts[nFinite]}" fill="none" stroke="${color}" stroke-width="2" stroke-dasharray="4 3"/>`);
    }
    for (const pt of pts) {
      const [x, y] = pt.split(",");
      parts.push(`<circle cx="${x}" cy="${y}" r="3.5" fill="${color}"/>`);
    }
    parts.push(`<line x1="${left + 10}" y1="${ly}" x2="${left + 30}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${left + 34}" y="${ly + 4}">${label}</text>`);
  };
  series(lefts[0], (r) => r.finalAccuracy, "#1f77b4", "accuracy", panel.top + panel.h + 52);
  parts.push(`<line x1="${lefts[0]}" y1="${yOf(0.1)}" x2="${lefts[0] + panel.w}" y2="${yOf(0.1)}" stroke="#bbb" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${lefts[0] + 4}" y="${yOf(0.1) - 4}" fill="#888">chance</text>`);
  series(lefts[1], (r) => r.attackerRejected, "#d62728", "sign-flip attacker", panel.top + panel.h + 52);
  series(lefts[1], (r) => r.honestRejected, "#2ca02c", "honest peers", panel.top + panel.h + 68);
  parts.push(`</svg>`);
  return parts.join("\n") + "\n";
}

/** The JSON already at `path` (other parts' keys are kept on a partial run), or {}. */
function readPrevious(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
}

interface ExampleLevelRow {
  epsilon: number;
  delta: number;
  accuracy: number;
  rounds: number;
  noiseMultiplier: number;
  clipNorm: number;
  samplesPerSecond: number;
}

/**
 * Example-level DP-SGD: every peer runs DP-SGD on its IID shard of the full MNIST training set; sigma
 * is calibrated so that each peer's epsilon over all its local steps of all rounds meets the target.
 */
async function runExampleLevel(): Promise<void> {
  const epsilonsEx = String(o.exampleEpsilons).split(",").map(Number);
  const roundsEx = Number(o.exampleRounds ?? (quick ? 2 : 5));
  const epochsEx = Number(o.exampleEpochs ?? (quick ? 1 : 3));
  const batchEx = Number(o.exampleBatch);
  const clipEx = Number(o.exampleClip);
  const lrEx = Number(o.exampleLr);
  const testEx = Number(o.exampleTest ?? (quick ? 2000 : 10000));
  const jobs = Math.max(1, Number(o.jobs));
  const outPath = String(o.out);
  if (o.exampleReplot === true) {
    const prev = readPrevious(outPath) as { exampleLevel?: ExampleLevelRow[]; exampleLevelSetup?: { nonPrivateBaseline?: { accuracy: number } | null; rounds: number; localEpochs: number; numPeers: number; expectedBatchSize: number } };
    if (!prev.exampleLevel || !prev.exampleLevelSetup) throw new Error(`--example-replot needs an exampleLevel run in ${outPath}`);
    const st = prev.exampleLevelSetup;
    const svgPath = join(dirname(outPath), "privacy-example.svg");
    writeFileSync(svgPath, renderExampleSvg(prev.exampleLevel, st.nonPrivateBaseline?.accuracy ?? null, { rounds: st.rounds, epochs: st.localEpochs, peers: st.numPeers, batch: st.expectedBatchSize }));
    console.log(`wrote ${svgPath}`);
    return;
  }
  // Each peer's training shard (the learner holds out 10 % for validation); the smallest one has the
  // largest q and so the largest epsilon: calibrate on it.
  const labels = loadLabels("mnist", "train");
  const shardSizes = Array.from({ length: numPeers }, (_, p) =>
    peerShard(labels, { peers: numPeers, peerIndex: p, partition: { kind: "iid" }, partitionSeed: seed }).train.length);
  const minShard = Math.min(...shardSizes);
  const plan = { rounds: roundsEx, epochs: epochsEx, expectedBatchSize: batchEx, datasetSize: minShard };
  if (exampleWorker === null) console.log(
    `\nExample-level DP-SGD: MNIST mlp, ${numPeers} peers, IID shards of ${minShard}..${Math.max(...shardSizes)} training examples, ` +
      `${roundsEx} rounds x ${epochsEx} local epochs, expected batch ${batchEx} (q = ${(batchEx / minShard).toFixed(4)}, ` +
      `${dpSgdStepsPerEpoch(batchEx, minShard)} steps/epoch), C = ${clipEx}, SGD lr ${lrEx}, fedavg, delta = ${delta}, ${testEx} test images${quick ? ", quick" : ""}`,
  );

  const common = {
    dataset: "mnist" as const, model: "mlp" as const, numPeers, rounds: roundsEx, partition: { kind: "iid" as const }, attackers: [],
    rule: "fedavg" as const, ruleParam: 0, localEpochs: epochsEx, batchSize: batchEx, learningRate: lrEx, optimizer: "sgd" as const,
    seed, testSamples: testEx,
  };
  // One task per target epsilon (sigma calibrated on the smallest shard) and the non-private baseline (target Infinity).
  const baselineOnly = o.exampleBaselineOnly === true;
  const tasks = [...(o.exampleBaseline !== false || baselineOnly ? [Infinity] : []), ...(baselineOnly ? [] : epsilonsEx)];
  const runTask = async (target: number): Promise<{ target: number; row: ExampleLevelRow; curve: number[]; seconds: number }> => {
    const sigma = target === Infinity ? 0 : dpSgdNoiseMultiplierFor(target, delta, plan);
    const exampleDp = target === Infinity ? undefined : { clipNorm: clipEx, noiseMultiplier: sigma, expectedBatchSize: batchEx };
    const t0 = performance.now();
    const learningRate = target === Infinity ? Number(o.exampleBaselineLr) : lrEx;
    const res = await simulate({ ...common, learningRate, exampleDp, onRound: (r) => console.error(`[eps ${target}] round ${r.round}: ${(100 * r.accuracy).toFixed(1)} % (${r.seconds.toFixed(0)} s)`) });
    const seconds = (performance.now() - t0) / 1000;
    // Every peer's own epsilon (its q = B / N_p); report the largest.
    const spent = target === Infinity ? Infinity : Math.max(...res.samplesPerPeer.map((n) =>
      dpSgdEpsilon({ noiseMultiplier: sigma, sampleRate: dpSgdSampleRate(batchEx, n), steps: roundsEx * epochsEx * dpSgdStepsPerEpoch(batchEx, n), delta })));
    // Expected samples processed (Poisson batches) over the wall time of the whole simulation
    // (training, encoding, aggregation and evaluation): a lower bound on the training throughput.
    const samples = target === Infinity
      ? roundsEx * epochsEx * res.samplesPerPeer.reduce((a, b) => a + b, 0)
      : res.samplesPerPeer.reduce((a, n) => a + roundsEx * epochsEx * dpSgdStepsPerEpoch(batchEx, n) * batchEx, 0);
    return {
      target, seconds, curve: res.rounds.map((r) => r.accuracy),
      row: { epsilon: spent, delta, accuracy: res.rounds[res.rounds.length - 1].accuracy, rounds: roundsEx, noiseMultiplier: sigma, clipNorm: clipEx, samplesPerSecond: samples / seconds },
    };
  };
  if (exampleWorker !== null) {
    // Worker: its share of the tasks, one JSON line each on stdout.
    await initBackend("wasm");
    for (let t = exampleWorker; t < tasks.length; t += jobs) console.log(resultLine(await runTask(tasks[t])));
    return;
  }

  // Throughput on one peer's shard, non-private vs DP-SGD at the same (expected) batch, interleaved so
  // that load from other processes hits both alike; best of 3 one-epoch runs each.
  await initBackend("wasm");
  const shard = loadDataset("mnist", "train", peerShard(labels, { peers: numPeers, peerIndex: 0, partition: { kind: "iid" }, partitionSeed: seed }).train);
  const spec = modelSpecFor("mlp");
  const best = { plain: 0, dp: 0 };
  for (let rep = 0; rep < 3; rep++) {
    for (const kind of ["plain", "dp"] as const) {
      const model = createModel(spec, rep);
      const r = trainLocal(model, shard, {
        epochs: 1, batchSize: batchEx, learningRate: 0.01, optimizer: "sgd", seed: rep,
        dp: kind === "dp" ? { clipNorm: clipEx, noiseMultiplier: 1, expectedBatchSize: batchEx, noise: seededNoise(rep), sampler: mulberry32(rep) } : undefined,
      });
      model.dispose();
      best[kind] = Math.max(best[kind], r.samples / r.seconds);
    }
  }
  console.log(`throughput on one shard (${shard.count} examples, batch ${batchEx}): non-private ${best.plain.toFixed(0)} samples/s, DP-SGD ${best.dp.toFixed(0)} samples/s (${((100 * best.dp) / best.plain).toFixed(0)} %)`);

  type TaskResult = Awaited<ReturnType<typeof runTask>>;
  const results: TaskResult[] = [];
  if (jobs <= 1) {
    for (const t of tasks) results.push(await runTask(t));
  } else {
    results.push(...await runWorkers<TaskResult>({
      script: fileURLToPath(import.meta.url), jobs, label: "example-level worker",
      args: argsWithout(process.argv.slice(2), ["--jobs", "--example-worker"]),
      workerArgs: (w) => ["--example-only", "--jobs", String(jobs), "--example-worker", String(w)],
    }));
  }
  const byTarget = (t: number): TaskResult => {
    const r = results.find((x) => x.target === t);
    if (!r) throw new Error(`no result for target epsilon ${t}`);
    return r;
  };
  if (baselineOnly) {
    // Keep the DP rows of the previous run; replace only the non-private baseline.
    const prev = readPrevious(outPath) as { exampleLevel?: ExampleLevelRow[]; exampleLevelSetup?: Record<string, unknown> & { accuracyPerRound?: Record<string, number[]>; secondsPerRun?: Record<string, number>; rounds?: number; localEpochs?: number } };
    if (!prev.exampleLevel || !prev.exampleLevelSetup) throw new Error(`--example-baseline-only needs a previous exampleLevel run in ${outPath}`);
    const b = byTarget(Infinity);
    const setup = {
      ...prev.exampleLevelSetup,
      accuracyPerRound: { ...prev.exampleLevelSetup.accuracyPerRound, nonPrivate: b.curve },
      secondsPerRun: { ...prev.exampleLevelSetup.secondsPerRun, nonPrivate: b.seconds },
      nonPrivateBaseline: { accuracy: b.row.accuracy, samplesPerSecond: b.row.samplesPerSecond, learningRate: Number(o.exampleBaselineLr), note: "same rounds, epochs and batch size; plain mini-batch SGD, no clipping or noise" },
    };
    writeFileSync(outPath, JSON.stringify({ ...prev, exampleLevelSetup: setup }, null, 2) + "\n");
    console.log(`non-private baseline: ${(100 * b.row.accuracy).toFixed(2)} % (lr ${o.exampleBaselineLr}); merged into ${outPath}`);
    const svgPath = join(dirname(outPath), "privacy-example.svg");
    writeFileSync(svgPath, renderExampleSvg(prev.exampleLevel, b.row.accuracy, { rounds: roundsEx, epochs: epochsEx, peers: numPeers, batch: batchEx }));
    console.log(`wrote ${svgPath}`);
    return;
  }
  const rows = epsilonsEx.map((t) => byTarget(t).row);
  const base = o.exampleBaseline !== false ? byTarget(Infinity) : null;
  const baseline = base ? { accuracy: base.row.accuracy, samplesPerSecond: base.row.samplesPerSecond } : null;

  const pctEx = (x: number): string => `${(100 * x).toFixed(2)} %`;
  const headEx = ["target eps", "eps spent", "sigma", "noise std / B", "accuracy", "rounds x epochs", "samples/s (sim)"];
  const rowsEx = rows.map((r, i) => [
    String(epsilonsEx[i]), r.epsilon.toFixed(3), r.noiseMultiplier.toFixed(3), ((r.noiseMultiplier * r.clipNorm) / batchEx).toExponential(2),
    pctEx(r.accuracy), `${roundsEx} x ${epochsEx}`, r.samplesPerSecond.toFixed(0),
  ]);
  if (baseline) rowsEx.push(["inf", "-", "0", "0", pctEx(baseline.accuracy), `${roundsEx} x ${epochsEx}`, baseline.samplesPerSecond.toFixed(0)]);
  const w = headEx.map((h, i) => Math.max(h.length, ...rowsEx.map((row) => row[i].length)));
  const ln = (cells: string[]): string => cells.map((c, i) => c.padStart(w[i])).join("  ");
  console.log(`\n${ln(headEx)}\n${w.map((x) => "-".repeat(x)).join("  ")}\n${rowsEx.map(ln).join("\n")}`);

  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(
    outPath,
    JSON.stringify(
      {
        ...readPrevious(outPath),
        exampleLevel: rows,
        exampleLevelSetup: {
          quick,
          dataset: "mnist", model: "mlp", parameters: 101770, numPeers, partition: "iid", shardTrainingExamples: shardSizes,
          rounds: roundsEx, localEpochs: epochsEx, expectedBatchSize: batchEx, sampleRate: batchEx / minShard,
          stepsPerEpoch: dpSgdStepsPerEpoch(batchEx, minShard), totalStepsPerPeer: roundsEx * epochsEx * dpSgdStepsPerEpoch(batchEx, minShard),
          clipNorm: clipEx, optimizer: "sgd", learningRate: lrEx, rule: "fedavg", testSamples: testEx, seed,
          sampling: "Poisson (each example independently with q = expectedBatchSize / N); sum of clipped gradients + N(0, (sigma C)^2), divided by the expected batch size",
          accountant: "RDP of the Poisson-subsampled Gaussian over all local steps of all rounds, orders 1.1..10.9 and 11..256, Balle et al. 2020 conversion; epsilon = the largest over peers",
          targetEpsilons: epsilonsEx,
          accuracyPerRound: Object.fromEntries(results.map((r) => [r.target === Infinity ? "nonPrivate" : String(r.target), r.curve])),
          secondsPerRun: Object.fromEntries(results.map((r) => [r.target === Infinity ? "nonPrivate" : String(r.target), r.seconds])),
          jobs,
          nonPrivateBaseline: baseline && { ...baseline, learningRate: Number(o.exampleBaselineLr), note: "same rounds, epochs and batch size; plain mini-batch SGD, no clipping or noise" },
          throughput: { nonPrivateSamplesPerSecond: best.plain, dpSgdSamplesPerSecond: best.dp, ratio: best.dp / best.plain, method: "one peer shard, one epoch each, interleaved, best of 3" },
          samplesPerSecondNote: "rows: expected DP-SGD samples over the whole simulation's wall time (incl. encoding, aggregation, evaluation); throughput: training only",
          anchors: {
            abadi2016: [{ epsilon: 0.5, accuracy: 0.9 }, { epsilon: 2, accuracy: 0.95 }, { epsilon: 8, accuracy: 0.97 }],
            tfPrivacyTutorialCnn: [{ epsilon: 1.19, accuracy: 0.95 }, { epsilon: 3.01, accuracy: 0.966 }, { epsilon: 7.1, accuracy: 0.97 }],
          },
        },
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nwrote ${outPath}`);
  const svgPath = join(dirname(outPath), "privacy-example.svg");
  writeFileSync(svgPath, renderExampleSvg(rows, baseline?.accuracy ?? null, { rounds: roundsEx, epochs: epochsEx, peers: numPeers, batch: batchEx }));
  console.log(`wrote ${svgPath}`);
}

/** Accuracy vs epsilon (log axis) for example-level DP-SGD, with Abadi et al.'s and TF Privacy's centralized points. */
function renderExampleSvg(rows: ExampleLevelRow[], baseline: number | null, s: { rounds: number; epochs: number; peers: number; batch: number }): string {
  const W = 720;
  const H = 410;
  const P = { left: 70, top: 50, w: 380, h: 270 };
  const lo = Math.log10(0.3);
  const hi = Math.log10(12);
  const yLo = 0.75;
  const xOf = (e: number): number => P.left + ((Math.log10(e) - lo) / (hi - lo)) * P.w;
  const yOf = (a: number): number => P.top + P.h - ((Math.max(a, yLo) - yLo) / (1 - yLo)) * P.h;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">Example-level DP-SGD on MNIST (MLP, ${s.peers} IID peers, ${s.rounds} rounds x ${s.epochs} local epochs, delta 1e-5)</text>`);
  parts.push(`<rect x="${P.left}" y="${P.top}" width="${P.w}" height="${P.h}" fill="none" stroke="#999"/>`);
  for (let a = yLo; a <= 1.0001; a += 0.05) {
    const y = yOf(a);
    parts.push(`<line x1="${P.left}" y1="${y}" x2="${P.left + P.w}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${P.left - 6}" y="${y + 4}" text-anchor="end">${Math.round(a * 100)}%</text>`);
  }
  for (const e of [0.5, 1, 2, 4, 8]) {
    const x = xOf(e);
    parts.push(`<line x1="${x}" y1="${P.top}" x2="${x}" y2="${P.top + P.h}" stroke="#f3f3f3"/>`);
    parts.push(`<text x="${x}" y="${P.top + P.h + 16}" text-anchor="middle">${e}</text>`);
  }
  parts.push(`<text x="${P.left + P.w / 2}" y="${P.top + P.h + 34}" text-anchor="middle">epsilon (log scale), delta = 1e-5</text>`);
  const legendX = P.left + P.w + 14;
  let legendY = P.top + 10;
  const legend = (draw: (x: number, y: number) => string, label: string): void => {
    parts.push(draw(legendX + 10, legendY));
    parts.push(`<text x="${legendX + 24}" y="${legendY + 4}">${label}</text>`);
    legendY += 18;
  };
  const sorted = [...rows].sort((a, b) => a.epsilon - b.epsilon);
  parts.push(`<polyline points="${sorted.map((r) => `${xOf(r.epsilon).toFixed(1)},${yOf(r.accuracy).toFixed(1)}`).join(" ")}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
  for (const r of sorted) {
    parts.push(`<circle cx="${xOf(r.epsilon).toFixed(1)}" cy="${yOf(r.accuracy).toFixed(1)}" r="4" fill="#1f77b4"/>`);
    parts.push(`<text x="${xOf(r.epsilon).toFixed(1)}" y="${(yOf(r.accuracy) - 8).toFixed(1)}" text-anchor="middle" fill="#1f77b4">${(100 * r.accuracy).toFixed(1)}</text>`);
  }
  legend((x, y) => `<circle cx="${x}" cy="${y}" r="4" fill="#1f77b4"/>`, "peerfl DP-SGD (this run)");
  const anchor = (pts: { epsilon: number; accuracy: number }[], color: string, shape: "square" | "diamond", label: string): void => {
    const mark = (x: number, y: number): string =>
      shape === "square"
        ? `<rect x="${x - 4}" y="${y - 4}" width="8" height="8" fill="none" stroke="${color}" stroke-width="2"/>`
        : `<polygon points="${x},${y - 5} ${x + 5},${y} ${x},${y + 5} ${x - 5},${y}" fill="none" stroke="${color}" stroke-width="2"/>`;
    for (const p of pts) parts.push(mark(xOf(p.epsilon), yOf(p.accuracy)));
    legend(mark, label);
  };
  anchor([{ epsilon: 0.5, accuracy: 0.9 }, { epsilon: 2, accuracy: 0.95 }, { epsilon: 8, accuracy: 0.97 }], "#d62728", "square", "Abadi et al. 2016 (central)");
  anchor([{ epsilon: 1.19, accuracy: 0.95 }, { epsilon: 3.01, accuracy: 0.966 }, { epsilon: 7.1, accuracy: 0.97 }], "#2ca02c", "diamond", "TF Privacy tutorial CNN");
  for (const [target, color] of [[0.95, "#ff7f0e"], [0.97, "#9467bd"]] as const) {
    parts.push(`<line x1="${P.left}" y1="${yOf(target)}" x2="${P.left + P.w}" y2="${yOf(target)}" stroke="${color}" stroke-dasharray="2 3"/>`);
  }
  legend((x, y) => `<line x1="${x - 8}" y1="${y}" x2="${x + 8}" y2="${y}" stroke="#ff7f0e" stroke-dasharray="2 3"/>`, "target 95 % (eps &#8804; 2)");
  legend((x, y) => `<line x1="${x - 8}" y1="${y}" x2="${x + 8}" y2="${y}" stroke="#9467bd" stroke-dasharray="2 3"/>`, "target 97 % (eps &#8804; 8)");
  if (baseline !== null) {
    parts.push(`<line x1="${P.left}" y1="${yOf(baseline)}" x2="${P.left + P.w}" y2="${yOf(baseline)}" stroke="#555" stroke-dasharray="6 3"/>`);
    legend((x, y) => `<line x1="${x - 8}" y1="${y}" x2="${x + 8}" y2="${y}" stroke="#555" stroke-dasharray="6 3"/>`, `non-private, same schedule (${(100 * baseline).toFixed(1)} %)`);
  }
  parts.push(`<text x="${P.left}" y="${H - 26}" fill="#666">Each peer's epsilon counts all its local steps (Poisson q = ${s.batch}/N, RDP accountant).</text>`);
  parts.push(`<text x="${P.left}" y="${H - 10}" fill="#666">The anchors are centralized DP-SGD (all 60 000 examples in one model, longer training).</text>`);
  parts.push(`</svg>`);
  return parts.join("\n") + "\n";
}
