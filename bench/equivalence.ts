/**
 * `npm run bench:equivalence`: the same seeded task run twice — through real agents on a chain
 * (hardhat node, Ignition, 5 agent processes with embedded IPFS, 1 sign-flip attacker, 3 rounds) and
 * through the in-process simulator — for the default rule and for Multi-Krum. Both drive
 * node/protocol, so every round's accepted mask and global CID must be identical.
 *
 * The agents' mask is in commit order (whatever order the transactions were mined in); the
 * simulator's per-peer verdicts are mapped onto that order through the update CIDs, which must also
 * match. Writes bench/results/equivalence.json as
 *   {"runs": [{"rule", "rounds": [{"round", "agentMask", "simMask", "agentCid", "simCid"}]}]}
 * and exits non-zero when anything differs.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { connectTask, PROJECT_ROOT } from "../node/chain/connect.ts";
import { readCommits, readRound } from "../node/chain/task.ts";
import { runDemo } from "../node/demo/demo.ts";
import { maskFrom, maskHex, parseRuleName, type RuleName } from "../node/protocol/index.ts";
import { simulate } from "../node/sim/index.ts";

const PEERS = 5;
const ROUNDS = 3;
const MAX_SAMPLES = Number(process.env.PEERFL_EQ_SAMPLES ?? 1000);
// The agents' defaults (node/agent/config.ts) and the demo's task creator (initial model seed 7).
const LOCAL = { localEpochs: 1, batchSize: 32, learningRate: 0.003, optimizer: "adam" as const, partitionSeed: 42, initialModelSeed: 7 };
const RULES: { rule: RuleName; ruleParam: number }[] = [
  { rule: "centered-clipping", ruleParam: 0 },
  { rule: "multi-krum", ruleParam: 1 },
];

interface RoundRow { round: number; agentMask: string; simMask: string; agentCid: string; simCid: string }
const runs: { rule: string; rounds: RoundRow[] }[] = [];
const problems: string[] = [];

for (const { rule, ruleParam } of RULES) {
  parseRuleName(rule);
  process.stdout.write(`\n${rule}: agents (${PEERS} peers, 1 sign-flip attacker, ${ROUNDS} rounds, ${MAX_SAMPLES} samples per peer) ...\n`);
  const demo = await runDemo({
    peers: PEERS, rounds: ROUNDS, attackers: 1, attack: "sign-flip", rule, ruleParam, maxSamples: MAX_SAMPLES,
    quiet: true, keepRunning: true, evaluate: false, json: undefined, port: 38545,
  });
  const agentRounds: { mask: bigint; commitCids: string[]; finalCid: string }[] = [];
  try {
    const conn = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
    for (let r = 1; r <= ROUNDS; r++) {
      const round = await readRound(conn.task, r);
      const commits = await readCommits(conn.task, r, round.commitCount);
      agentRounds.push({ mask: round.acceptedMask, commitCids: commits.map((c) => c.cid), finalCid: round.finalCid });
    }
  } finally {
    await demo.stop();
  }
  process.stdout.write(`${rule}: simulator ...\n`);
  const sim = await simulate({
    dataset: "mnist", model: "mlp", numPeers: PEERS, rounds: ROUNDS, partition: { kind: "iid" },
    attackers: [PEERS - 1], attack: "sign-flip", rule, ruleParam, seed: 1, maxSamplesPerPeer: MAX_SAMPLES, testSamples: 500, ...LOCAL,
  });
  const rows: RoundRow[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const a = agentRounds[r - 1];
    const s = sim.rounds[r - 1];
    const simAccepted = new Map(s.updateCids.map((cid, p) => [cid, (BigInt(s.mask) >> BigInt(p)) & 1n]));
    for (const cid of a.commitCids) if (!simAccepted.has(cid)) problems.push(`${rule} round ${r}: agent update ${cid} is not among the simulator's updates`);
    const simMask = maskFrom(a.commitCids.map((cid) => simAccepted.get(cid) === 1n));
    const row = { round: r, agentMask: maskHex(a.mask), simMask: maskHex(simMask), agentCid: a.finalCid, simCid: s.globalCid ?? "" };
    if (row.agentMask !== row.simMask) problems.push(`${rule} round ${r}: mask ${row.agentMask} (agents) vs ${row.simMask} (simulator)`);
    if (row.agentCid !== row.simCid) problems.push(`${rule} round ${r}: global CID ${row.agentCid} (agents) vs ${row.simCid} (simulator)`);
    rows.push(row);
  }
  runs.push({ rule, rounds: rows });
}

process.stdout.write("\nrule                round  agent mask  sim mask  same CID\n");
for (const run of runs) {
  for (const r of run.rounds) {
    process.stdout.write(`${run.rule.padEnd(20)}${String(r.round).padEnd(7)}${r.agentMask.padEnd(12)}${r.simMask.padEnd(10)}${r.agentCid === r.simCid ? "yes" : "NO"}  ${r.agentCid}\n`);
  }
}
const out = path.join(PROJECT_ROOT, "bench/results/equivalence.json");
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ runs }, null, 2) + "\n");
process.stdout.write(`\nwrote ${path.relative(process.cwd(), out)}\n`);
if (problems.length) {
  process.stdout.write(`\nDIFFERENCES:\n${problems.map((p) => `  ${p}`).join("\n")}\n`);
  process.exit(1);
}
process.stdout.write("agents and simulator agree on every mask and global CID\n");
process.exit(0);
