// Benchmark of the emulated 5G links: for each mode and distance, the time to move a model (1 MB)
// between two peers through the user-space shaper, against the link model's prediction.
//   node --import tsx bench/links.ts [--quick] [--runs N] [--bytes B]
import net from "node:net";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { directParams, infrastructureParams, relayParams } from "../node/links/modes.ts";
import { LINK_MODES, type LinkMode, type LinkParams } from "../node/links/radio.ts";
import { parseScenario, type Scenario } from "../node/links/scenario.ts";
import { predictTransferMs, retransmissionTimeoutMs, startShaper } from "../node/links/shaper.ts";

const HELP = `bench:links — measured vs predicted time to move a model through each emulated 5G mode

usage: node --import tsx bench/links.ts [--quick] [--runs N] [--bytes B]
  --quick     1 run per pair (default: 5, median reported)
  --runs N    runs per pair
  --bytes B   model size in bytes (default 1048576)
writes bench/results/links.json`;

interface Row {
  mode: LinkMode;
  distanceM: number;
  /** distance of the gNB from the street the peers stand on */
  gnbOffsetM: number;
  available: boolean;
  /** every hop within its nominal range (coverage radius / sidelink range) */
  inRange: boolean;
  /** median prediction (compared with the median of the runs) */
  predictedMs: number | null;
  /** expected value of the transfer time */
  predictedMeanMs: number | null;
  measuredMs: number | null;
  errorPct: number | null;
  /** median over runs of (measured − (lossless prediction + that run's drawn retransmission delay)) / that, % */
  shaperErrorPct: number | null;
  /** runs in which at least one chunk was retransmitted */
  runsWithRetransmit: number;
  latencyMs: number;
  jitterMs: number;
  bandwidthMbps: number;
  lossRate: number;
  runs: number;
}

const DISTANCES = [10, 50, 100, 200, 500, 1000];
/** near the gNB (mid-cell) and at the cell edge (coverage radius is 250 m) */
const GNB_OFFSETS = [50, 200];

/**
 * Two peers `d` apart on a street, the candidate relay UE half-way between them and the gNB `offset`
 * metres off the street opposite the relay: each mode forced in turn.
 */
function benchScenario(d: number, offset: number): Scenario {
  return parseScenario({
    name: `bench-${d}m-gnb${offset}m`,
    baseStation: { x: 0, y: offset },
    peers: [{ x: -d / 2, y: 0 }, { x: d / 2, y: 0 }, { x: 0, y: 0 }],
  });
}

function parseArgs(argv: string[]): { runs: number; bytes: number; quick: boolean } {
  let runs = 5, bytes = 1024 * 1024, quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") { console.log(HELP); process.exit(0); }
    else if (a === "--quick") { quick = true; runs = 1; }
    else if (a === "--runs") runs = Number(argv[++i]);
    else if (a === "--bytes") bytes = Number(argv[++i]);
    else { console.error(`unknown argument ${a}\n\n${HELP}`); process.exit(2); }
  }
  if (!Number.isInteger(runs) || runs < 1) { console.error(`--runs must be an integer ≥ 1 (got ${runs})`); process.exit(2); }
  if (!Number.isInteger(bytes) || bytes < 1) { console.error(`--bytes must be an integer ≥ 1 (got ${bytes})`); process.exit(2); }
  return { runs, bytes, quick };
}

/**
 * One transfer of `bytes` from peer A to peer B through a shaper: ms from first write to last byte, and
 * the retransmission delay the shaper drew for this run (to check the shaper against the model run by run).
 */
async function measureOnce(forward: LinkParams, reverse: LinkParams, bytes: number, seed: number): Promise<{ ms: number; lossDelayMs: number; retransmits: number }> {
  let done!: (at: number) => void;
  const finished = new Promise<number>((r) => { done = r; });
  const sink = net.createServer((sock) => {
    let got = 0;
    sock.on("data", (b: Buffer) => { got += b.length; if (got >= bytes) done(performance.now()); });
  });
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", () => r()));
  const sinkPort = (sink.address() as net.AddressInfo).port;
  const shaper = await startShaper({ upstream: { host: "127.0.0.1", port: sinkPort }, forward: () => forward, reverse: () => reverse, seed });
  const client = net.connect(shaper.port, "127.0.0.1");
  await new Promise<void>((r) => client.once("connect", () => r()));
  const data = Buffer.alloc(bytes, 0x5a);
  const t0 = performance.now();
  client.write(data);
  const t1 = await finished;
  client.destroy();
  const { lossDelayMs, retransmits } = shaper.counters;
  await shaper.close();
  await new Promise<void>((r) => sink.close(() => r()));
  return { ms: t1 - t0, lossDelayMs, retransmits };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (v: number | null, digits = 0): string => (v === null ? "n/a" : v.toFixed(digits));

async function main(): Promise<void> {
  const { runs, bytes, quick } = parseArgs(process.argv.slice(2));
  const rows: Row[] = [];
  console.log(`bench:links — ${bytes} bytes, ${runs} run(s) per pair, median reported\n`);
  for (const offset of GNB_OFFSETS) {
  console.log(`\ngNB ${offset} m off the street (relay UE half-way between the peers)`);
  console.log("mode            dist_m  lat_ms  jit_ms  bw_Mbps  loss      pred_ms  meas_ms  err_%  rtx_runs  shaper_err_%");
  for (const mode of LINK_MODES) {
    for (const d of DISTANCES) {
      const s = benchScenario(d, offset);
      // The mode's own path, whether or not it decodes here (bandwidth 0 = below the minimum SNR).
      const path = (a: number, b: number): LinkParams =>
        mode === "direct" ? directParams(s, a, b) : mode === "relay" ? relayParams(s, a, b, 2) : infrastructureParams(s, a, b);
      const fwd = path(0, 1);
      const rev = path(1, 0);
      const available = fwd.bandwidthBps > 0 && rev.bandwidthBps > 0;
      const row: Row = {
        mode, distanceM: d, gnbOffsetM: offset, available, predictedMs: null, predictedMeanMs: null, measuredMs: null, errorPct: null, shaperErrorPct: null, runsWithRetransmit: 0,
        latencyMs: fwd.latencyMs, jitterMs: fwd.jitterMs, bandwidthMbps: fwd.bandwidthBps / 1e6,
        lossRate: fwd.lossRate, inRange: fwd.inRange, runs: 0,
      };
      if (available) {
        const rtoMs = retransmissionTimeoutMs(fwd, rev);
        row.predictedMs = predictTransferMs(fwd, bytes, { rtoMs, statistic: "median" });
        row.predictedMeanMs = predictTransferMs(fwd, bytes, { rtoMs });
        const times: number[] = [];
        const shaperErrors: number[] = [];
        const lossless = predictTransferMs({ ...fwd, lossRate: 0 }, bytes);
        for (let r = 0; r < runs; r++) {
          const m = await measureOnce(fwd, rev, bytes, 1000 * d + 7 * offset + 101 * LINK_MODES.indexOf(mode) + r + 1);
          times.push(m.ms);
          shaperErrors.push((100 * (m.ms - (lossless + m.lossDelayMs))) / (lossless + m.lossDelayMs));
          if (m.retransmits > 0) row.runsWithRetransmit++;
        }
        row.measuredMs = median(times);
        row.shaperErrorPct = median(shaperErrors);
        row.errorPct = (100 * (row.measuredMs - row.predictedMs)) / row.predictedMs;
        row.runs = runs;
      }
      rows.push(row);
      console.log(
        `${mode.padEnd(15)} ${String(d).padStart(6)}  ${row.latencyMs.toFixed(1).padStart(6)}  ${row.jitterMs.toFixed(1).padStart(6)}  ` +
        `${row.bandwidthMbps.toFixed(1).padStart(7)}  ${row.lossRate.toExponential(1).padEnd(8)}  ${fmt(row.predictedMs).padStart(7)}  ` +
        `${fmt(row.measuredMs).padStart(7)}  ${fmt(row.errorPct, 1).padStart(5)}  ${(available ? `${row.runsWithRetransmit}/${runs}` : "").padStart(8)}  ${fmt(row.shaperErrorPct, 1).padStart(12)}` +
        (available ? (fwd.inRange ? "" : "  (beyond nominal range)") : "  (cannot decode: below minimum SNR)"),
      );
    }
  }
  }

  const measured = rows.filter((r) => r.measuredMs !== null && (r.predictedMs ?? 0) > 100);
  const worst = measured.reduce((w, r) => Math.max(w, Math.abs(r.errorPct ?? 0)), 0);
  const worstShaper = measured.reduce((w, r) => Math.max(w, Math.abs(r.shaperErrorPct ?? 0)), 0);
  console.log(`\nover ${measured.length} pairs predicted above 100 ms: worst |measured − model median| ${worst.toFixed(1)} %, ` +
    `worst |shaper error| given each run's drawn losses ${worstShaper.toFixed(1)} % (target ≤ 10 %)`);
  for (const offset of GNB_OFFSETS) {
    const at = (mode: LinkMode, d: number): Row | undefined =>
      rows.find((r) => r.mode === mode && r.distanceM === d && r.gnbOffsetM === offset && r.available);
    const short = LINK_MODES.map((m) => at(m, 10)).filter((r): r is Row => r !== undefined);
    const lowest = short.reduce((a, b) => (a.latencyMs <= b.latencyMs ? a : b));
    const parts = [`lowest latency at 10 m: ${lowest.mode} (${lowest.latencyMs.toFixed(1)} ms)`];
    for (const d of [200, 500]) {
      const avail = LINK_MODES.map((m) => at(m, d)).filter((r): r is Row => r !== undefined);
      if (avail.length === 0) continue;
      const best = avail.reduce((a, b) => (a.bandwidthMbps >= b.bandwidthMbps ? a : b));
      parts.push(`highest throughput at ${d} m: ${best.mode} (${best.bandwidthMbps.toFixed(1)} Mbit/s)`);
    }
    console.log(`gNB ${offset} m: ${parts.join("; ")}`);
  }

  const out = join(dirname(fileURLToPath(import.meta.url)), "results", "links.json");
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify({
    generatedAt: new Date().toISOString(), bytes, runs, quick,
    geometry: "peers d apart on a street, relay UE half-way, gNB gnbOffsetM off the street opposite the relay; coverage 250 m, sidelink range 150 m, eMBB profile",
    pairs: rows, demo: null,
  }, null, 2) + "\n");
  console.log(`\nwrote ${out}`);
}

await main();
