/**
 * `npm run bench:reputation`: on-chain reputation at work in a real agent run. Six agents: peer5
 * attacks (sign-flip) every round, peer4 is an honest peer with one unlucky round (a bad update in
 * round 1 only), the rest are honest. Prints each peer's score after every round from the chain's
 * ReputationChanged events and the round at which the persistent attacker was excluded; writes
 * bench/results/reputation.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { runDemo } from "../node/demo/demo.ts";
import { connectTask, hardhatAccount } from "../node/chain/connect.ts";

const quick = process.argv.includes("--quick");
const rounds = quick ? 5 : 7;
const peers = 6;
const demo = await runDemo({
  peers, rounds, attackers: 1, unlucky: 1, unluckyRounds: [1], maxSamples: quick ? 800 : 2000,
  quiet: true, evaluate: false, json: undefined, keepRunning: true, port: 58545,
});
try {
  const { task } = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
  const names = new Map<string, string>(Array.from({ length: peers }, (_, i) => [hardhatAccount(i + 1).address.toLowerCase(), `peer${i}`]));
  const cfg = await task.taskConfig();
  const initial = Number(cfg.reputationInitial);
  const threshold = Number(cfg.reputationThreshold);
  const score = new Map([...names.values()].map((n) => [n, initial]));
  const history: { round: number; scores: Record<string, number>; accepted: string[]; rejected: string[]; excluded: string[] }[] = [];
  const events = await task.queryFilter(task.filters.ReputationChanged());
  for (let r = 1; r <= rounds; r++) {
    const accepted: string[] = [], rejected: string[] = [];
    for (const e of events) {
      if (!("args" in e) || Number(e.args.round) !== r) continue;
      const who = names.get(String(e.args.peer).toLowerCase()) ?? String(e.args.peer);
      score.set(who, Number(e.args.newScore));
      (e.args.accepted ? accepted : rejected).push(who);
    }
    history.push({
      round: r, scores: Object.fromEntries(score), accepted, rejected,
      excluded: [...score].filter(([, v]) => v < threshold).map(([k]) => k),
    });
  }
  const excludedAt = history.find((h) => h.excluded.includes("peer5"))?.round ?? null;
  const unluckyMin = Math.min(...history.map((h) => h.scores.peer4));
  const head = ["round", ...names.values(), "rejected"];
  const rows = history.map((h) => [String(h.round), ...[...names.values()].map((n) => String(h.scores[n])), h.rejected.join(",") || "-"]);
  const w = head.map((x, i) => Math.max(x.length, ...rows.map((r) => r[i].length)));
  process.stdout.write([head, ...rows].map((r) => r.map((c, i) => c.padStart(w[i])).join("  ")).join("\n") + "\n");
  process.stdout.write(`\nreputation: initial ${initial}, threshold ${threshold}. Persistent attacker peer5 excluded after round ${excludedAt}; ` +
    `unlucky honest peer4 (bad update in round 1 only) fell to ${unluckyMin} and ended at ${history.at(-1)!.scores.peer4} (never excluded: ${!history.some((h) => h.excluded.includes("peer4"))}).\n`);
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/reputation.json", JSON.stringify({ quick, rounds, initial, threshold, attacker: "peer5", unlucky: "peer4", attackerExcludedAfterRound: excludedAt, history }, null, 2) + "\n");
  process.stdout.write("wrote bench/results/reputation.json\n");
} finally {
  await demo.stop();
}
