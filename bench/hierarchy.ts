// Hierarchical aggregation over D2D clusters vs flat, with and without update compression:
// MNIST, 20 peers of the scenario examples/scenarios/d2d-20peers.json (18 of them within sidelink
// range of a cluster head, device tiers from its "devices"), 10 rounds, through the in-process
// protocol code (node/sim/hierarchy.ts). Bytes and energy come from the 5G link model and the device
// profiles; round time is modeled (see node/sim/hierarchy.ts), accuracy is measured on MNIST's test split.
//   node --import tsx bench/hierarchy.ts [--quick] [--rounds R] [--samples S] [--formats none,q8,q4,topk]
// Writes bench/results/hierarchy.json ({"rows": [...]}, exactly the keys),
// bench/results/hierarchy-detail.json (per-tier energy, clusters, per-round accuracy, targets) and
// bench/results/hierarchy.svg.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { basename, dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { COMPRESSION_FORMATS, type CompressionFormat } from "../node/compression/spec.ts";
import { loadDevices } from "../node/devices/scenario.ts";
import { loadScenario } from "../node/links/scenario.ts";
import { createHierarchyLearners, simulateHierarchy, type HierarchyMode, type HierarchyResult } from "../node/sim/hierarchy.ts";

const HELP = `bench/hierarchy.ts — flat vs D2D-clustered aggregation, none/q8/q4/topk update compression
  --quick          300 samples per peer (default 1,000); accuracy always on the 10,000-image test split
  --rounds R       rounds per run (default 10)
  --samples S      samples per peer cap (10 % held out for validation)
  --formats LIST   compression formats (default none,q8,q4,topk)
  --modes LIST     flat,clustered (default both)
  --append         keep the rows of the existing NAME.json / NAME-detail.json that this run does not redo
                   (the same settings are required: a scratch of several short runs)
  --scenario FILE  default examples/scenarios/d2d-20peers.json
  --out NAME       bench/results/NAME.json, NAME-detail.json, NAME.svg (default hierarchy)`;

const { values: a } = parseArgs({
  options: {
    quick: { type: "boolean", default: false }, rounds: { type: "string" }, samples: { type: "string" },
    formats: { type: "string" }, modes: { type: "string" }, append: { type: "boolean", default: false }, scenario: { type: "string" }, out: { type: "string" }, help: { type: "boolean", default: false },
  },
});
if (a.help) { console.log(HELP); process.exit(0); }
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const rounds = Number(a.rounds ?? 10);
const samples = Number(a.samples ?? (a.quick ? 300 : 1000));
// the whole 10,000-image test split even in quick mode: evaluation is cheap, and accuracy differences of tenths of a point need it
const testSamples: number | undefined = undefined;
const formats = (a.formats ?? "none,q8,q4,topk").split(",").map((f) => {
  if (!(COMPRESSION_FORMATS as readonly string[]).includes(f)) throw new Error(`--formats: unknown format ${f} (${COMPRESSION_FORMATS.join(", ")})`);
  return f as CompressionFormat;
});
const modes = (a.modes ?? "flat,clustered").split(",").map((m) => {
  if (m !== "flat" && m !== "clustered") throw new Error(`--modes: unknown mode ${m} (flat, clustered)`);
  return m as HierarchyMode;
});
const scenarioFile = a.scenario ?? join(root, "examples/scenarios/d2d-20peers.json");
const outArg = a.out ?? "hierarchy";
const outName = isAbsolute(outArg) ? basename(outArg) : outArg;

interface Row {
  mode: HierarchyMode;
  compression: CompressionFormat;
  uplinkBytesPerRound: number;
  sidelinkBytesPerRound: number;
  roundSeconds: number;
  accuracy: number;
  energyJoulesPerPeerRound: number;
}

const scenario = await loadScenario(scenarioFile);
const learnerSettings = { dataset: "mnist" as const, model: "mlp" as const, partition: { kind: "iid" as const }, seed: 19, maxSamplesPerPeer: samples, localEpochs: 1, batchSize: 32, learningRate: 0.003, optimizer: "adam" as const };
// one learner per peer for every run: each trains from the global it is given with a fresh optimizer and per-round seed
const learners = await createHierarchyLearners(learnerSettings, scenario.peers.length);
const devices = await loadDevices(scenarioFile);
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
const started = performance.now();
const load0 = loadavg()[0];
const rows: Row[] = [];
const details: Record<string, unknown>[] = [];
const outDir = isAbsolute(outArg) ? dirname(outArg) : join(root, "bench/results");
if (a.append && existsSync(join(outDir, `${outName}-detail.json`))) {
  const previous = JSON.parse(readFileSync(join(outDir, `${outName}-detail.json`), "utf8")) as { settings: { samplesPerPeer: number; rounds: number }; runs: (Row & Record<string, unknown>)[] };
  if (previous.settings.samplesPerPeer !== samples || previous.settings.rounds !== rounds) throw new Error(`--append: ${outName}-detail.json was made with ${previous.settings.samplesPerPeer} samples and ${previous.settings.rounds} rounds, not ${samples} and ${rounds}`);
  for (const run of previous.runs) {
    if (formats.includes(run.compression) && modes.includes(run.mode)) continue;
    details.push(run);
    rows.push({ mode: run.mode, compression: run.compression, uplinkBytesPerRound: run.uplinkBytesPerRound, sidelinkBytesPerRound: run.sidelinkBytesPerRound, roundSeconds: run.roundSeconds, accuracy: run.accuracy, energyJoulesPerPeerRound: run.energyJoulesPerPeerRound });
  }
}

// Format by format, flat then clustered, and the files are rewritten after every run: a run cut
// short still leaves the finished rows.
for (const compression of formats) {
  for (const mode of modes) {
    const t0 = performance.now();
    const res: HierarchyResult = await simulateHierarchy({
      mode, compression, scenario, devices, rounds, ...learnerSettings, rule: "centered-clipping", ruleParam: 0, testSamples, learners,
      onRound: (r) => process.stdout.write(`  ${mode}/${compression} round ${r.round}: acc ${(100 * r.accuracy).toFixed(2)} %, Uu ${(r.uplinkBytes / 1e6).toFixed(2)} MB, sidelink ${(r.sidelinkBytes / 1e6).toFixed(2)} MB\n`),
    });
    const rs = res.rounds;
    const energies = rs.flatMap((r) => r.energy);
    const row: Row = {
      mode, compression,
      uplinkBytesPerRound: Math.round(mean(rs.map((r) => r.uplinkBytes))),
      sidelinkBytesPerRound: Math.round(mean(rs.map((r) => r.sidelinkBytes))),
      roundSeconds: Number(mean(rs.map((r) => r.roundSeconds)).toFixed(3)),
      accuracy: Number(rs[rs.length - 1].accuracy.toFixed(4)),
      energyJoulesPerPeerRound: Number(mean(energies.map((e) => e.totalJ)).toFixed(3)),
    };
    rows.push(row);
    const tiers = [...new Set(energies.map((e) => e.tier))].sort();
    details.push({
      ...row,
      updateBytes: Math.round(mean(rs.map((r) => r.updateBytes))), float32UpdateBytes: res.float32UpdateBytes,
      energyJoulesPerPeerRoundByTier: Object.fromEntries(tiers.map((t) => {
        const es = energies.filter((e) => e.tier === t);
        return [t, { total: Number(mean(es.map((e) => e.totalJ)).toFixed(3)), train: Number(mean(es.map((e) => e.trainJ)).toFixed(3)), uu: Number(mean(es.map((e) => e.uuJ)).toFixed(3)), sidelink: Number(mean(es.map((e) => e.sidelinkJ)).toFixed(3)), peerRounds: es.length }];
      })),
      accuracyPerRound: rs.map((r) => Number(r.accuracy.toFixed(4))),
      clustersRound1: rs[0].clusters, unclusteredRound1: rs[0].unclustered,
      skipped: rs.map((r) => r.skipped),
      finalBatteryPercent: Object.fromEntries(rs[rs.length - 1].energy.map((e) => [`${e.tier}`, Number(e.batteryPercent.toFixed(1))])),
      wallSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    });
    console.log(`${mode}/${compression}: ${JSON.stringify(row)}`);
    writeResults();
  }
}
writeResults();
console.log(`wrote bench/results/${outName}.json, ${outName}-detail.json and ${outName}.svg in ${((performance.now() - started) / 1000).toFixed(0)} s`);

function writeResults(): void {
  const order = (r: { mode: string; compression: string }) => COMPRESSION_FORMATS.indexOf(r.compression as CompressionFormat) * 2 + (r.mode === "flat" ? 0 : 1);
  rows.sort((x, y) => order(x) - order(y));
  details.sort((x, y) => order(x as unknown as Row) - order(y as unknown as Row));
  const find = (mode: string, c: string) => rows.find((r) => r.mode === mode && r.compression === c);
  const flatNone = find("flat", "none"), clNone = find("clustered", "none"), flatQ8 = find("flat", "q8");
  const targets = {
    clusteredUuCutPct: flatNone && clNone ? Number((100 * (1 - clNone.uplinkBytesPerRound / flatNone.uplinkBytesPerRound)).toFixed(1)) : null,
    clusteredAccuracyLossPt: flatNone && clNone ? Number((100 * (flatNone.accuracy - clNone.accuracy)).toFixed(2)) : null,
    q8UpdateBytesRatio: flatNone && flatQ8 ? Number((flatNone.uplinkBytesPerRound / flatQ8.uplinkBytesPerRound).toFixed(2)) : null,
    q8AccuracyLossPt: flatNone && flatQ8 ? Number((100 * (flatNone.accuracy - flatQ8.accuracy)).toFixed(2)) : null,
  };
  const met = {
    clusteredUuCut: targets.clusteredUuCutPct !== null && targets.clusteredUuCutPct >= 60 && targets.clusteredAccuracyLossPt! <= 0.5,
    q8: targets.q8UpdateBytesRatio !== null && targets.q8UpdateBytesRatio >= 3.5 && targets.q8AccuracyLossPt! <= 0.3,
  };
  // --out NAME writes under bench/results; an absolute path (e.g. a scratch run) is used as is
  const dir = outDir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${outName}.json`), JSON.stringify({ rows }, null, 2) + "\n");
  writeFileSync(join(dir, `${outName}-detail.json`), JSON.stringify({
    settings: { scenario: scenario.name, peers: scenario.peers.length, rounds, samplesPerPeer: samples, testSamples: testSamples ?? 10000, quick: a.quick, rule: "centered-clipping", optimizer: "adam", lr: 0.003, batchSize: 32, epochs: 1, seed: 19 },
    targets, met, completedRuns: details.length, plannedRuns: 2 * formats.length, loadAverageStart: Number(load0.toFixed(2)), loadAverageEnd: Number(loadavg()[0].toFixed(2)),
    wallSeconds: Number(((performance.now() - started) / 1000).toFixed(0)), runs: details,
  }, null, 2) + "\n");
  writeFileSync(join(dir, `${outName}.svg`), svg(rows));
  console.log(JSON.stringify({ targets, met }));
}

function svg(rs: Row[]): string {
  const W = 520, H = 260, M = 50, top = 28, plotH = H - top - 60;
  const labels = rs.map((r) => `${r.mode}/${r.compression}`);
  const bw = (W - M - 10) / Math.max(1, rs.length);
  const parts: string[] = [];
  // panel 1: MB per round over Uu (dark) and sidelink (light), stacked side by side
  const maxMB = Math.max(...rs.map((r) => Math.max(r.uplinkBytesPerRound, r.sidelinkBytesPerRound) / 1e6), 0.001);
  parts.push(`<g><text x="${W / 2}" y="16" text-anchor="middle" font-size="12">MB per round: Uu uplink (blue) and sidelink (orange)</text>`);
  parts.push(`<rect x="${M}" y="${top}" width="${W - M - 10}" height="${plotH}" fill="none" stroke="#ccc"/>`);
  for (const t of [0, 0.5, 1]) parts.push(`<text x="${M - 4}" y="${top + (1 - t) * plotH + 4}" text-anchor="end" font-size="9">${(t * maxMB).toFixed(1)}</text>`);
  rs.forEach((r, i) => {
    const x = M + i * bw;
    const hu = (r.uplinkBytesPerRound / 1e6 / maxMB) * plotH, hs = (r.sidelinkBytesPerRound / 1e6 / maxMB) * plotH;
    parts.push(`<rect x="${(x + bw * 0.1).toFixed(1)}" y="${(top + plotH - hu).toFixed(1)}" width="${(bw * 0.4).toFixed(1)}" height="${hu.toFixed(1)}" fill="#1f77b4"/>`);
    parts.push(`<rect x="${(x + bw * 0.5).toFixed(1)}" y="${(top + plotH - hs).toFixed(1)}" width="${(bw * 0.4).toFixed(1)}" height="${hs.toFixed(1)}" fill="#ff7f0e"/>`);
    parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${top + plotH + 12}" text-anchor="end" font-size="9" transform="rotate(-35 ${(x + bw / 2).toFixed(1)} ${top + plotH + 12})">${labels[i]}</text>`);
  });
  parts.push("</g>");
  // panel 2: final accuracy, axis from (min − 1 pt) to (max + 0.5 pt)
  const lo = Math.floor(Math.min(...rs.map((r) => r.accuracy)) * 100 - 1), hi = Math.ceil(Math.max(...rs.map((r) => r.accuracy)) * 100 + 0.5);
  parts.push(`<g transform="translate(0,${H})"><text x="${W / 2}" y="16" text-anchor="middle" font-size="12">test accuracy after the last round (%; axis ${lo}–${hi}, not from 0)</text>`);
  parts.push(`<rect x="${M}" y="${top}" width="${W - M - 10}" height="${plotH}" fill="none" stroke="#ccc"/>`);
  for (const t of [0, 0.5, 1]) parts.push(`<text x="${M - 4}" y="${top + (1 - t) * plotH + 4}" text-anchor="end" font-size="9">${(lo + t * (hi - lo)).toFixed(1)}</text>`);
  rs.forEach((r, i) => {
    const x = M + i * bw;
    const h = ((r.accuracy * 100 - lo) / (hi - lo)) * plotH;
    parts.push(`<rect x="${(x + bw * 0.2).toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${(bw * 0.6).toFixed(1)}" height="${h.toFixed(1)}" fill="${r.mode === "flat" ? "#2ca02c" : "#9467bd"}"/>`);
    parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(top + plotH - h - 3).toFixed(1)}" text-anchor="middle" font-size="8">${(r.accuracy * 100).toFixed(2)}</text>`);
    parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${top + plotH + 12}" text-anchor="end" font-size="9" transform="rotate(-35 ${(x + bw / 2).toFixed(1)} ${top + plotH + 12})">${labels[i]}</text>`);
  });
  parts.push("</g>");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${2 * H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}
