/**
 * `npm run bench:links-demo`: round time of a real 5-peer demo in each forced 5G link mode
 * (every peer-to-peer byte and every JSON-RPC call through the emulated links), merged into
 * bench/results/links.json under "demo". Run after `npm run bench:links`.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { runDemo } from "../node/demo/demo.ts";

const quick = process.argv.includes("--quick");
const rounds = quick ? 2 : 3;
const maxSamples = quick ? 800 : 2000;
const modes = ["none", "direct", "relay", "infrastructure"] as const;
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

const rows: { mode: string; roundSeconds: number[]; medianRoundSeconds: number; rpcBytes: number; peerBytes: number; modesUsed: Record<string, number> }[] = [];
for (const mode of modes) {
  process.stdout.write(`5 peers, ${rounds} rounds, link mode ${mode} ...\n`);
  const demo = await runDemo({
    peers: 5, rounds, attackers: 1, maxSamples, quiet: true, evaluate: false, json: undefined, port: 38545,
    linkMode: mode === "none" ? undefined : mode,
  });
  const secs = demo.result.rounds.map((r) => r.seconds);
  let rpcBytes = 0, peerBytes = 0;
  const modesUsed: Record<string, number> = {};
  for (const s of Object.values((demo.result.links ?? {}) as Record<string, { links: { role: string; mode: string; bytesUp: number; bytesDown: number }[] }>)) {
    for (const l of s.links) {
      const b = l.bytesUp + l.bytesDown;
      if (l.role === "peer") { peerBytes += b; modesUsed[l.mode] = (modesUsed[l.mode] ?? 0) + 1; } else rpcBytes += b;
    }
  }
  // round 1 carries every agent's start-up; the median covers rounds >= 2
  rows.push({ mode, roundSeconds: secs, medianRoundSeconds: median(secs.slice(1)), rpcBytes, peerBytes, modesUsed });
}
process.stdout.write("\nmode            median round s  rounds (s)        peer bytes  rpc bytes  pair modes\n");
for (const r of rows) {
  process.stdout.write(`${r.mode.padEnd(16)}${r.medianRoundSeconds.toFixed(1).padStart(14)}  ${r.roundSeconds.join(", ").padEnd(16)}  ${String(r.peerBytes).padStart(10)}  ${String(r.rpcBytes).padStart(9)}  ${JSON.stringify(r.modesUsed)}\n`);
}
const file = "bench/results/links.json";
const json = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
json.demo = { quick, peers: 5, rounds, maxSamples, runs: rows };
writeFileSync(file, JSON.stringify(json, null, 2) + "\n");
process.stdout.write(`merged into ${file}\n`);
