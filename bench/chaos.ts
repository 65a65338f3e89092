/**
 * `npm run bench:chaos`: a soak of real agents under faults. 8 agents (hardhat node, Ignition,
 * embedded IPFS, real tfjs training on small MNIST shards) run >= 30 rounds while the harness
 *   - SIGKILLs a random agent and restarts it about every 2 rounds (at a random phase),
 *   - injects one garbage commit about every 5 rounds (an admitted extra wallet commits the CID of
 *     bytes that are not a model and that nobody serves),
 *   - once, kills the agent that provides a just-committed update before the verifiers fetch it,
 *     and restarts it (its update must still be served from its repo on disk).
 * It records, per round, how the round ended, and samples every agent's RSS.
 * Writes bench/results/chaos.json exactly as
 *   {"rounds", "finalized", "failedWithReason", "stuck", "doubleCommits", "maxAgentRssMbFirst5", "maxAgentRssMbLast5"}
 * (the events go to chaos-detail.json beside it). `--rounds N` (default 30), `--quick` (6 rounds, 5 agents).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { connectTask, hardhatAccount, PROJECT_ROOT } from "../node/chain/connect.ts";
import { taskChain } from "../node/chain/task-chain.ts";
import { runDemo } from "../node/demo/demo.ts";
import { createLogger } from "../node/lib/log.ts";
import { Phase, updateCid } from "../node/protocol/index.ts";
import { mulberry32 } from "../node/ml/random.ts";

const quick = process.argv.includes("--quick");
const roundsArg = process.argv.indexOf("--rounds");
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : quick ? 6 : 30;
const PEERS = quick ? 5 : 8;
const rng = mulberry32(2026);
const log = createLogger({ name: "chaos", level: "warn" });

const rss = new Map<number, number>(); // round -> max agent RSS MB seen in it
const events: string[] = [];
let lastKillRound = 0;
let garbageDue = false;
let garbageCount = 0;
let providerRestartDone = false;
let roundSeen = 0;

function rssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch { return 0; }
}

const GARBAGE_ACCOUNT = 200; // far beyond the demo's peers
const t0 = Date.now();
process.stdout.write(`chaos: ${PEERS} agents, ${ROUNDS} rounds, kill+restart every ~2 rounds, garbage every ~5 rounds\n`);
const demo = await runDemo({
  peers: PEERS, rounds: ROUNDS, attackers: 0, maxSamples: 400, quiet: true, keepRunning: true, evaluate: false, json: undefined,
  port: 48545, trainingWindow: 90, verificationWindow: 60, aggregationWindow: 60,
  onProgress: async (p, ctl) => {
    let m = 0;
    for (const a of ctl.agents) m = Math.max(m, rssMb(a.child.pid));
    rss.set(p.round, Math.max(rss.get(p.round) ?? 0, m));
    if (p.round !== roundSeen) {
      roundSeen = p.round;
      if (p.round % 5 === 2) garbageDue = true;
    }
    // Garbage commit: a fresh admitted wallet joins, commits the CID of bytes that are not a model
    // and that nobody serves, and leaves at once (so later training windows do not wait for it).
    if (garbageDue && p.phase === Phase.Training) {
      garbageDue = false;
      try {
        const initiator = await connectTask({ rpcUrl: ctl.rpcUrl, contract: ctl.contractAddress, accountIndex: 0 });
        const g = hardhatAccount(GARBAGE_ACCOUNT + garbageCount++);
        await (await initiator.signer.sendTransaction({ to: g.address, value: 10n ** 19n })).wait();
        await (await initiator.task.admit([g.address])).wait();
        const garbage = taskChain(await connectTask({ rpcUrl: ctl.rpcUrl, contract: ctl.contractAddress, accountIndex: GARBAGE_ACCOUNT + garbageCount - 1 }), log);
        await garbage.registerPeer(["trainer"], "/ip4/127.0.0.1/tcp/9", "0x" + "ab".repeat(32));
        const junk = new TextEncoder().encode(`garbage ${p.round} ${Math.random()}`);
        try {
          await garbage.commitUpdate(p.round, await updateCid(junk), 100);
          events.push(`round ${p.round}: garbage commit by ${g.address}`);
        } finally {
          // Leave whether or not the commit landed: a registered trainer that never commits makes
          // every later training window wait for its deadline (seen in the first 30-round run).
          await (await connectTask({ rpcUrl: ctl.rpcUrl, contract: ctl.contractAddress, accountIndex: GARBAGE_ACCOUNT + garbageCount - 1 })).task.leave().then((tx: { wait(): Promise<unknown> }) => tx.wait());
          garbage.close();
        }
      } catch (err) {
        events.push(`round ${p.round}: garbage commit refused: ${(err as Error).message.slice(0, 160)}`);
      }
    }
    // Kill + restart a random agent about every 2 rounds, at whatever phase we are in.
    if (p.round - lastKillRound >= 2 && rng() < 0.3) {
      lastKillRound = p.round;
      const i = Math.floor(rng() * PEERS);
      ctl.agents[i].child.kill("SIGKILL");
      await ctl.agents[i].exited;
      ctl.startAgent(i);
      events.push(`round ${p.round}: SIGKILL + restart peer${i} in phase ${p.phase}`);
    }
    // Once: the provider of a just-committed update dies before verification, then comes back.
    if (!providerRestartDone && p.round >= 3 && p.phase === Phase.VerifyCommit && p.commits > 0) {
      providerRestartDone = true;
      const i = PEERS - 1;
      ctl.agents[i].child.kill("SIGKILL");
      await ctl.agents[i].exited;
      ctl.startAgent(i);
      events.push(`round ${p.round}: provider peer${i} killed after its commit, restarted`);
    }
  },
});

const conn = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
const chain = taskChain(conn, log);
let finalized = 0, failedWithReason = 0, stuck = 0;
for (let r = 1; r <= ROUNDS; r++) {
  const s = await chain.round(r).catch(() => undefined);
  if (s?.phase === Phase.Finalized) finalized++;
  else if (s?.phase === Phase.Failed) failedWithReason++;
  else stuck++;
}
let doubleCommits = 0;
for (let i = 0; i < PEERS; i++) {
  const lines = readFileSync(path.join(demo.workDir, `peer${i}.log`), "utf8").split("\n").filter((l) => l.startsWith("{"));
  const perRound = new Map<number, number>();
  for (const l of lines) {
    const e = JSON.parse(l) as { event: string; round?: number };
    if (e.event === "committed" && e.round) perRound.set(e.round, (perRound.get(e.round) ?? 0) + 1);
  }
  for (const n of perRound.values()) if (n > 1) doubleCommits += n - 1;
}
chain.close();
await demo.stop();
const maxOf = (rs: number[]) => Math.round(Math.max(0, ...rs.map((r) => rss.get(r) ?? 0)) * 10) / 10;
// The result file holds exactly the keys; what happened, event by event, goes beside it.
const result = {
  rounds: ROUNDS, finalized, failedWithReason, stuck, doubleCommits,
  maxAgentRssMbFirst5: maxOf([1, 2, 3, 4, 5]), maxAgentRssMbLast5: maxOf(Array.from({ length: 5 }, (_, k) => ROUNDS - k)),
};
const detail = { peers: PEERS, minutes: Math.round((Date.now() - t0) / 6000) / 10, events };
const base = path.join(PROJECT_ROOT, "bench/results", quick ? "chaos-quick" : "chaos");
mkdirSync(path.dirname(base), { recursive: true });
writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + "\n");
writeFileSync(`${base}-detail.json`, JSON.stringify(detail, null, 2) + "\n");
process.stdout.write(`${JSON.stringify(result)}\n${events.join("\n")}\nwrote ${path.relative(process.cwd(), base)}.json\n`);
process.exit(0);
