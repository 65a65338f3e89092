// Privacy/utility/robustness benchmark: peer-level DP-FedAvg (each trainer clips + noises its own
// update) on MNIST with 10 peers and one sign-flip attacker, for several target epsilons.
// Usage: node --import tsx bench/privacy.ts [--quick] [--help]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { parseRuleName } from "../node/protocol/index.ts";
import { RdpAccountant, noiseMultiplierFor } from "../node/privacy/accountant.ts";
import { privatizeUpdate, secureGaussianSource } from "../node/privacy/gaussian.ts";
import { simulate, type SimulationRound } from "../node/sim/index.ts";

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
  .option("--out <file>", "JSON output", join(here, "results", "privacy.json"));
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
