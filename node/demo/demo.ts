/**
 * `npm run demo` / `peerfl demo`: the whole system on one machine, on embedded defaults.
 * Starts a Hardhat node on 127.0.0.1, creates the task's model spec and initial weights on the
 * task creator's IPFS node, deploys + configures FederatedTask with Ignition, starts N agent
 * processes (one of them a sign-flip attacker by default), starts the task, follows the rounds,
 * and ends with a per-round table (also written to bench/results/demo.json).
 * Every process it started is stopped on exit, Ctrl-C, or failure.
 */
import { mkdirSync, writeFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { Command, CommanderError, Option } from "commander";
import { intArg, numArg } from "../lib/cli-args.ts";
import cliProgress from "cli-progress";
import { PROJECT_ROOT, connectTask, hardhatAccount, probeChainId } from "../chain/connect.ts";
import { cidToHex } from "../chain/cid.ts";
import { readRound, readCommits, readPeers, maskHas, Phase, phaseName } from "../chain/task.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";
import { startProcess, freePort, waitFor, type ManagedProcess } from "../lib/processes.ts";

export interface DemoOptions {
  peers: number;
  rounds: number;
  attackers: number;
  attack: string;
  dataset: string;
  model: "mlp" | "cnn";
  partition: string;
  rule: number;
  ruleParam: number;
  maxSamples?: number;
  epochs: number;
  trainingWindow: number;
  verificationWindow: number;
  aggregationWindow: number;
  aggregatorQuorum?: number;
  dpClip: number;
  dpSigma: number;
  dpBudget: number;
  linkMode?: string;
  scenario?: string;
  port: number;
  keepRunning: boolean;
  quiet: boolean;
  json?: string;
  workDir?: string;
  evaluate: boolean;
  /** honest peers that start only after round 1 is finalized (they join mid-task) */
  lateJoiners: number;
  /** honest peers that send one bad (sign-flipped) update in `unluckyRounds`, then behave: they should recover */
  unlucky: number;
  unluckyRounds: number[];
  /** called on every poll while rounds run (tests use it to kill and restart agents mid-round) */
  onProgress?: (p: { round: number; phase: number; commits: number; verdicts: number; aggregates: number }, ctl: DemoControl) => void | Promise<void>;
}

export interface DemoControl {
  agents: ManagedProcess[];
  startAgent(i: number): ManagedProcess;
  workDir: string;
}

export const DEMO_DEFAULTS: DemoOptions = {
  peers: 5, rounds: 5, attackers: 1, attack: "sign-flip", dataset: "mnist", model: "mlp", partition: "iid",
  rule: 5, ruleParam: 0, epochs: 1, trainingWindow: 180, verificationWindow: 60, aggregationWindow: 60,
  dpClip: 0, dpSigma: 0, dpBudget: 0, port: 8545, keepRunning: false, quiet: false, evaluate: true, lateJoiners: 0, unlucky: 0, unluckyRounds: [1],
  json: "bench/results/demo.json",
};

export interface RoundSummary {
  round: number;
  status: "finalized" | "failed";
  committed: string[];
  accepted: string[];
  rejected: string[];
  /** trainers whose reputation fell below the threshold: they may no longer commit */
  excluded: string[];
  globalCid: string;
  accuracy: number | null;
  reportedAccuracy: number | null;
  cumulativeEpsilon: number | null;
  gasUsed: number;
  seconds: number;
}

export interface DemoResult {
  peers: number;
  attackers: string[];
  attack: string | null;
  dataset: string;
  model: string;
  rule: number;
  rounds: RoundSummary[];
  totalSeconds: number;
  contractAddress: string;
  links?: unknown;
}

export interface DemoHandle {
  rpcUrl: string;
  contractAddress: string;
  workDir: string;
  creatorMultiaddrs: string[];
  result: DemoResult;
  agents: ManagedProcess[];
  startAgent(i: number): ManagedProcess;
  stop(): Promise<void>;
}

type Say = (line: string) => void;

/** Runs the demo to completion; with keepRunning the chain and agents stay up until stop(). */
export async function runDemo(partial: Partial<DemoOptions> = {}): Promise<DemoHandle> {
  const o: DemoOptions = { ...DEMO_DEFAULTS, ...partial };
  const say: Say = o.quiet ? () => {} : (l) => process.stdout.write(l + "\n");
  const started = Date.now();
  const workDir = path.resolve(o.workDir ?? path.join(PROJECT_ROOT, ".peerfl", `demo-${new Date().toISOString().replace(/[:.]/g, "-")}`));
  mkdirSync(workDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const agents: ManagedProcess[] = [];
  let creator: ModelStore | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(agents.map((a) => a.stop(4000)));
    await Promise.all(processes.map((p) => p.stop(3000)));
    await creator?.stop().catch(() => undefined);
  };

  try {
    // 1. chain
    const port = await freePort(o.port);
    const rpcUrl = `http://127.0.0.1:${port}`;
    say(`peerfl demo: ${o.peers} peers (${o.attackers} ${o.attack} attacker${o.attackers === 1 ? "" : "s"}), ${o.rounds} rounds, ${o.dataset}/${o.model}/${o.partition}; work dir ${path.relative(process.cwd(), workDir)}`);
    const chain = startProcess({
      name: "hardhat-node", cmd: "npx", args: ["hardhat", "node", "--hostname", "127.0.0.1", "--port", String(port)],
      cwd: PROJECT_ROOT, logFile: path.join(workDir, "hardhat-node.log"), env: { HARDHAT_DISABLE_TELEMETRY: "true" },
    });
    processes.push(chain);
    const chainId = await waitFor("the Hardhat node", () => probeChainId(rpcUrl, 1000), 60_000, 300);
    say(`  chain      hardhat node on ${rpcUrl} (chain ${chainId})`);

    // 2. the task creator's IPFS node holds the model spec and the initial weights
    const { createEmbeddedStore } = await import("../../ipfs/embedded-store.ts");
    creator = await createEmbeddedStore({ repoDir: path.join(workDir, "creator-ipfs"), listenPort: 0 });
    const creatorAddrs = await creator.multiaddrs();
    const { initBackend } = await import("../ml/backend.ts");
    const { modelSpecFor, createModel } = await import("../ml/models.ts");
    const { getWeights } = await import("../ml/train.ts");
    const { encodeWeights, encodeModelSpec } = await import("../ml/codec.ts");
    await initBackend("auto");
    const spec = modelSpecFor(o.model);
    const initial = getWeights(createModel(spec, 7));
    const specCid = await creator.put(encodeModelSpec(spec), { pin: true });
    const initialCid = await creator.put(encodeWeights(initial), { pin: true });
    say(`  ipfs       model spec ${specCid}\n             initial weights ${initialCid}`);

    // 3. deploy + configure with Ignition
    const params = {
      FederatedTaskModule: {
        modelSpecCid: cidToHex(specCid), initialModelCid: cidToHex(initialCid), rounds: o.rounds,
        trainingDuration: o.trainingWindow, verificationDuration: o.verificationWindow, aggregationDuration: o.aggregationWindow,
        minTrainers: Math.min(2, o.peers), aggregatorQuorum: o.aggregatorQuorum ?? Math.min(2, o.peers),
        robustRule: o.rule, ruleParam: o.ruleParam,
        dpClipNormMilli: Math.round(o.dpClip * 1000), dpNoiseMultiplierMilli: Math.round(o.dpSigma * 1000),
        dpDeltaExponent: 5, dpEpsilonBudgetMilli: Math.round(o.dpBudget * 1000),
      },
    };
    const paramsFile = path.join(workDir, "ignition-parameters.json");
    writeFileSync(paramsFile, JSON.stringify(params, null, 2));
    const deployDir = path.join(PROJECT_ROOT, "ignition", "deployments", `chain-${chainId}`);
    rmSync(deployDir, { recursive: true, force: true }); // a fresh chain: the old journal is void
    const deploy = startProcess({
      name: "ignition", cmd: "npx",
      args: ["hardhat", "ignition", "deploy", "ignition/modules/FederatedTask.ts", "--network", "localhost", "--parameters", paramsFile],
      cwd: PROJECT_ROOT, logFile: path.join(workDir, "ignition.log"),
      env: { PEERFL_RPC_URL: rpcUrl, HARDHAT_DISABLE_TELEMETRY: "true" },
    });
    const code = await deploy.exited;
    if (code !== 0) throw new Error(`Ignition deployment failed (exit ${code}); see ${path.join(workDir, "ignition.log")}:\n${readFileSync(path.join(workDir, "ignition.log"), "utf8").slice(-2000)}`);
    const addresses = JSON.parse(readFileSync(path.join(deployDir, "deployed_addresses.json"), "utf8")) as Record<string, string>;
    const contractAddress = addresses["FederatedTaskModule#FederatedTask"];
    say(`  contract   FederatedTask at ${contractAddress} (Ignition)`);

    // 4. agents
    const attackerSet = new Set(Array.from({ length: o.attackers }, (_, k) => o.peers - 1 - k));
    const names = Array.from({ length: o.peers }, (_, i) => `peer${i}`);
    const byAddress = new Map<string, string>();
    for (let i = 0; i < o.peers; i++) byAddress.set(hardhatAccount(i + 1).address.toLowerCase(), names[i]);
    const relayBasePort = await freePort(9700 + (port % 100) * 10);
    const agentArgs = (i: number): string[] => {
      const a = [
        "--import", "tsx", path.join(PROJECT_ROOT, "node/cli.ts"), "agent",
        "--rpc", rpcUrl, "--contract", contractAddress, "--account", String(i + 1),
        "--peers", String(o.peers), "--peer-index", String(i), "--dataset", o.dataset, "--partition", o.partition,
        "--epochs", String(o.epochs), "--data-dir", path.join(workDir, names[i]), "--log-format", "json",
        "--name", names[i], "--relay-base-port", String(relayBasePort),
      ];
      for (const ma of creatorAddrs) a.push("--ipfs-peer", ma);
      if (o.maxSamples) a.push("--max-samples", String(o.maxSamples));
      if (attackerSet.has(i)) a.push("--attack", o.attack);
      if (unluckySet.has(i)) a.push("--attack", "sign-flip", "--attack-rounds", o.unluckyRounds.join(","));
      a.push("--stay"); // agents keep serving IPFS until the demo stops them (the last global model is fetched after the task completes)
      if (o.linkMode) a.push("--link-mode", o.linkMode);
      if (o.scenario) a.push("--scenario", path.resolve(o.scenario));
      return a;
    };
    const startAgent = (i: number): ManagedProcess => {
      const p = startProcess({
        name: names[i], cmd: process.execPath, args: agentArgs(i), cwd: PROJECT_ROOT,
        logFile: path.join(workDir, `${names[i]}.log`),
        onLine: (line) => {
          if (!line.startsWith("{")) return;
          try {
            const ev = JSON.parse(line) as { event: string; level: string; reason?: string; error?: string };
            if (ev.level === "error" || ev.event === "tx-reverted" || ev.event === "role-failed" || ev.event === "loop-error") {
              say(`  ! ${names[i]} ${ev.event} ${ev.error ?? ev.reason ?? ""}`);
            }
          } catch { /* not JSON */ }
        },
      });
      agents[i] = p;
      return p;
    };
    // Late joiners are the honest peers just below the attackers; they start after round 1.
    const lateSet = new Set(Array.from({ length: o.lateJoiners }, (_, k) => o.peers - 1 - o.attackers - k));
    const unluckySet = new Set(Array.from({ length: o.unlucky }, (_, k) => o.peers - 1 - o.attackers - o.lateJoiners - k));
    for (let i = 0; i < o.peers; i++) if (!lateSet.has(i)) startAgent(i);
    say(`  agents     ${names.map((n, i) => (attackerSet.has(i) ? `${n}(${o.attack})` : n)).join(" ")}; logs in ${path.relative(process.cwd(), workDir)}/peerN.log`);

    const initiator = await connectTask({ rpcUrl, contract: contractAddress, accountIndex: 0 });
    const task = initiator.task;
    const early = o.peers - lateSet.size;
    await waitFor("all agents to register", async () => (Number(await task.peerCount()) >= early ? true : undefined), 180_000, 500);
    await (await task.startTask()).wait();
    say(`  started    ${early} peers registered; task started${lateSet.size ? ` (${[...lateSet].map((i) => names[i]).join(",")} join after round 1)` : ""}\n`);

    // 5. follow the rounds
    const evaluator = o.evaluate ? await makeEvaluator(o, spec, creator, task) : undefined;
    const result: DemoResult = {
      peers: o.peers, attackers: [...attackerSet].sort().map((i) => names[i]), attack: o.attackers > 0 ? o.attack : null,
      dataset: o.dataset, model: o.model, rule: o.rule, rounds: [], totalSeconds: 0, contractAddress,
    };
    const bar = !o.quiet && process.stdout.isTTY
      ? new cliProgress.SingleBar({ format: " round {round}/{total} [{bar}] {phase} | commits {c} verdicts {v} aggregates {a} | {secs}s", hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(o.rounds, 0, { round: 1, total: o.rounds, phase: "Training", c: 0, v: 0, a: 0, secs: 0 });
    const gasByRound = new Map<number, number>();
    let scannedBlock = 0;
    const iface = task.interface;
    const scanGas = async () => {
      const latest = await initiator.provider.getBlockNumber();
      for (let b = scannedBlock + 1; b <= latest; b++) {
        const block = await initiator.provider.getBlock(b, true);
        for (const tx of block?.prefetchedTransactions ?? []) {
          if (tx.to?.toLowerCase() !== contractAddress.toLowerCase()) continue;
          const receipt = await initiator.provider.getTransactionReceipt(tx.hash);
          let round = 0;
          try {
            const parsed = iface.parseTransaction({ data: tx.data });
            if (parsed && parsed.fragment.inputs[0]?.name === "round") round = Number(parsed.args[0]);
            if (parsed?.name === "startTask") round = 1;
          } catch { /* not ours */ }
          if (round > 0) gasByRound.set(round, (gasByRound.get(round) ?? 0) + Number(receipt?.gasUsed ?? 0n));
        }
      }
      scannedBlock = latest;
    };
    let roundStart = Date.now();
    let lastLine = "";
    let reported = 0;
    while (reported < o.rounds) {
      const current = Number(await task.currentRound());
      const completed = await task.taskCompleted();
      for (let r = reported + 1; r <= current; r++) {
        const rv = await readRound(task, r);
        if (rv.phase !== Phase.Finalized && rv.phase !== Phase.Failed) break;
        await scanGas();
        const commits = await readCommits(task, r, rv.commitCount);
        const who = (a: string) => byAddress.get(a.toLowerCase()) ?? a;
        const finalized = rv.phase === Phase.Finalized;
        const threshold = Number((await task.taskConfig()).reputationThreshold);
        const excluded = (await readPeers(task)).filter((p) => p.reputation < threshold).map((p) => who(p.address));
        const summary: RoundSummary = {
          round: r, status: finalized ? "finalized" : "failed",
          committed: commits.map((c) => who(c.trainer)),
          accepted: commits.filter((c) => maskHas(rv.acceptedMask, c.index)).map((c) => who(c.trainer)),
          rejected: commits.filter((c) => !maskHas(rv.acceptedMask, c.index)).map((c) => who(c.trainer)),
          excluded,
          globalCid: finalized ? rv.finalCid : rv.globalModelCid,
          accuracy: null, reportedAccuracy: finalized ? rv.accuracyBps / 10000 : null,
          cumulativeEpsilon: finalized && rv.cumulativeEpsilonMilli > 0 ? rv.cumulativeEpsilonMilli / 1000 : null,
          gasUsed: gasByRound.get(r) ?? 0, seconds: await roundSeconds(task, r).catch(() => (Date.now() - roundStart) / 1000),
        };
        if (finalized && evaluator) summary.accuracy = await evaluator(rv.finalCid).catch((err: Error) => { say(`  ! test-set evaluation of ${rv.finalCid} failed: ${err.message}`); return null; });
        result.rounds.push(summary);
        reported = r;
        roundStart = Date.now();
        if (r === 1) for (const i of lateSet) { startAgent(i); say(`  joined     ${names[i]} starts mid-task`); }
        bar?.update(r, { round: Math.min(r + 1, o.rounds), phase: "Training", c: 0, v: 0, a: 0, secs: 0 });
        const acc = summary.accuracy ?? summary.reportedAccuracy;
        const line = `  round ${r}: ${summary.status}, accepted ${summary.accepted.join(",") || "-"}; rejected ${summary.rejected.join(",") || "-"}${summary.excluded.length ? `; excluded ${summary.excluded.join(",")}` : ""}; accuracy ${acc === null ? "-" : (acc * 100).toFixed(2) + "%"}; gas ${summary.gasUsed.toLocaleString("en-US")}; ${summary.seconds.toFixed(1)} s`;
        if (bar) bar.stop();
        say(line);
        if (bar && reported < o.rounds) bar.start(o.rounds, reported, { round: reported + 1, total: o.rounds, phase: "Training", c: 0, v: 0, a: 0, secs: 0 });
      }
      if (reported >= o.rounds || completed && reported >= current) break;
      const rv = await readRound(task, current);
      const status = `${phaseName(rv.phase)} c${rv.commitCount} v${rv.verdictCount} a${rv.aggregateCount}`;
      await o.onProgress?.({ round: current, phase: rv.phase, commits: rv.commitCount, verdicts: rv.verdictCount, aggregates: rv.aggregateCount }, { agents, startAgent, workDir });
      if (bar) bar.update(reported, { round: current, total: o.rounds, phase: phaseName(rv.phase), c: rv.commitCount, v: rv.verdictCount, a: rv.aggregateCount, secs: Math.round((Date.now() - roundStart) / 1000) });
      else if (status !== lastLine && !o.quiet) { say(`    round ${current}: ${status}`); lastLine = status; }
      if (agents.every((a) => a.child.exitCode !== null)) throw new Error(`every agent exited; see ${workDir}/peerN.log`);
      await new Promise((r) => setTimeout(r, 500));
    }
    bar?.stop();
    result.totalSeconds = (Date.now() - started) / 1000;
    result.links = collectLinkStats(workDir, names);
    if (o.json) {
      const out = path.resolve(PROJECT_ROOT, o.json);
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
    }
    say("\n" + formatTable(result));
    if (result.links) say("\n" + formatLinks(result.links as Record<string, { links: LinkRow[] }>));
    if (o.json) say(`\nwrote ${o.json}`);
    if (!o.keepRunning) await stop();
    return { rpcUrl, contractAddress, workDir, creatorMultiaddrs: creatorAddrs, result, agents, startAgent, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Chain time from the round's RoundStarted block to its RoundFinalized/RoundFailed block. */
async function roundSeconds(task: import("ethers").Contract, round: number): Promise<number> {
  const started = await task.queryFilter(task.filters.RoundStarted(round));
  const ended = [...await task.queryFilter(task.filters.RoundFinalized(round)), ...await task.queryFilter(task.filters.RoundFailed(round))];
  if (!started.length || !ended.length) throw new Error("round events missing");
  const [a, b] = await Promise.all([started[0].getBlock(), ended[0].getBlock()]);
  return b.timestamp - a.timestamp;
}

function collectLinkStats(workDir: string, names: string[]): unknown {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const f = path.join(workDir, n, "links.json");
    if (existsSync(f)) { try { out[n] = JSON.parse(readFileSync(f, "utf8")); } catch { /* partial file */ } }
  }
  return Object.keys(out).length ? out : undefined;
}

/** Test-set accuracy of a global model, measured by the demo itself (the chain only has the aggregators' word). */
async function makeEvaluator(o: DemoOptions, spec: import("../ml/types.ts").ModelSpec, store: ModelStore, task: import("ethers").Contract): Promise<(cid: string) => Promise<number>> {
  const { loadDataset } = await import("../ml/datasets.ts");
  const { createModel } = await import("../ml/models.ts");
  const { evaluate, setWeights } = await import("../ml/train.ts");
  const { decodeWeights } = await import("../ml/codec.ts");
  const test = loadDataset(o.dataset, "test");
  const model = createModel(spec, 1);
  return async (cid) => {
    for (const p of await readPeers(task)) if (p.multiaddr) await store.dial(p.multiaddr, { timeoutMs: 3000 }).catch(() => undefined);
    const bytes = await store.get(cid, { timeoutMs: 20_000 });
    setWeights(model, decodeWeights(bytes, spec));
    return (await evaluate(model, test)).accuracy;
  };
}

interface LinkRow { from: number; to: number | "chain"; role: string; mode: string; relay?: number; bytesUp: number; bytesDown: number; connections: number; latencyMs: number; bandwidthBps: number }

/** Which emulated 5G mode each pair (and each peer's path to the chain) used, with its counters. */
export function formatLinks(stats: Record<string, { links: LinkRow[] }>): string {
  const head = ["link", "traffic", "mode", "via", "latency ms", "Mbit/s", "bytes up", "bytes down", "conns"];
  const rows: string[][] = [];
  for (const s of Object.values(stats)) {
    for (const l of s.links ?? []) {
      rows.push([
        `peer${l.from} -> ${l.to === "chain" ? "chain" : `peer${l.to}`}`, l.role, l.mode, l.relay !== undefined ? `peer${l.relay}` : "-",
        l.latencyMs.toFixed(1), (l.bandwidthBps / 1e6).toFixed(1), String(l.bytesUp), String(l.bytesDown), String(l.connections),
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join("  ");
  return ["emulated 5G links (one-way latency, bottleneck throughput):", fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

export function formatTable(r: DemoResult): string {
  const head = ["round", "status", "committed", "accepted", "rejected", "excluded", "global CID", "accuracy", "gas used", "seconds"];
  const rows = r.rounds.map((x) => [
    String(x.round), x.status, String(x.committed.length), x.accepted.join(",") || "-", x.rejected.join(",") || "-", x.excluded.join(",") || "-",
    x.globalCid.length > 20 ? `${x.globalCid.slice(0, 10)}…${x.globalCid.slice(-6)}` : x.globalCid,
    x.accuracy !== null ? `${(x.accuracy * 100).toFixed(2)}%` : x.reportedAccuracy !== null ? `${(x.reportedAccuracy * 100).toFixed(2)}%*` : "-",
    x.gasUsed.toLocaleString("en-US"), x.seconds.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join("  ");
  const lines = [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)];
  const attackers = r.attackers.length ? `attackers: ${r.attackers.join(",")} (${r.attack})` : "no attackers";
  lines.push("", `${r.peers} peers, ${attackers}; accuracy = test-set accuracy of the finalized global model (* = aggregators' reported validation accuracy); total ${r.totalSeconds.toFixed(1)} s`);
  return lines.join("\n");
}

function demoCommand(): Command {
  const int = (name: string, min: number) => intArg(name, min);
  const num = (name: string) => numArg(name, 0);
  const d = DEMO_DEFAULTS;
  return new Command("peerfl demo")
    .description("Run the whole system locally: chain + IPFS + N agents + R rounds, then a per-round table.")
    .option("--peers <n>", "number of peer agents", int("--peers", 2), d.peers)
    .option("--rounds <n>", "number of rounds", int("--rounds", 1), d.rounds)
    .option("--attackers <n>", "how many peers attack (the last ones)", int("--attackers", 0), d.attackers)
    .option("--late-joiners <n>", "honest peers that join only after round 1", int("--late-joiners", 0), d.lateJoiners)
    .option("--attack <kind>", "sign-flip|gaussian|scale|label-flip|free-rider|alie|ipm", d.attack)
    .option("--dataset <name|dir>", "mnist, fashion-mnist or an IDX directory", d.dataset)
    .addOption(new Option("--model <name>", "model").choices(["mlp", "cnn"]).default(d.model))
    .option("--partition <scheme>", "iid | dirichlet:ALPHA | shards:K | quantity:ALPHA", d.partition)
    .option("--rule <id>", "robust rule id: 0 fedavg, 1 krum, 2 multi-krum, 3 median, 4 trimmed-mean, 5 centered-clipping", int("--rule", 0), d.rule)
    .option("--rule-param <n>", "rule parameter (Krum f, trim count, ...)", int("--rule-param", 0), d.ruleParam)
    .option("--max-samples <n>", "cap on each peer's shard", int("--max-samples", 10))
    .option("--epochs <n>", "local epochs per round", int("--epochs", 1), d.epochs)
    .option("--training-window <s>", "training window in seconds", int("--training-window", 5), d.trainingWindow)
    .option("--dp-clip <C>", "DP clip norm (0 = DP off)", num("--dp-clip"), d.dpClip)
    .option("--dp-sigma <x>", "DP noise multiplier", num("--dp-sigma"), d.dpSigma)
    .option("--dp-budget <eps>", "DP epsilon budget (0 = none)", num("--dp-budget"), d.dpBudget)
    .addOption(new Option("--link-mode <mode>", "force a 5G link mode for every pair").choices(["auto", "direct", "relay", "infrastructure"]))
    .option("--scenario <file>", "5G link scenario JSON")
    .option("--port <n>", "preferred chain RPC port", int("--port", 1024), d.port)
    .option("--keep-running", "leave chain and agents running after the last round (Ctrl-C stops)", false)
    .option("--json <file>", "where to write the JSON summary", d.json)
    .option("--no-evaluate", "skip the test-set evaluation of each global model")
    .option("--quiet", "print only the final table", false);
}

export async function main(argv: string[]): Promise<number> {
  const cmd = demoCommand().exitOverride().configureOutput({ writeErr: () => {} });
  try {
    cmd.parse(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.help") { process.stdout.write(cmd.helpInformation()); return 0; }
      process.stderr.write(`peerfl demo: ${err.message.replace(/^error: /, "")}\n(run "peerfl demo --help" for the flags)\n`);
      return 2;
    }
    throw err;
  }
  const o = cmd.opts();
  if (o.attackers >= o.peers) { process.stderr.write(`peerfl demo: --attackers ${o.attackers} must be < --peers ${o.peers}\n`); return 2; }
  if (o.attackers + o.lateJoiners >= o.peers) { process.stderr.write(`peerfl demo: --attackers + --late-joiners must be < --peers ${o.peers}\n`); return 2; }
  let handle: DemoHandle | undefined;
  const onSignal = async () => { process.stdout.write("\nstopping every process the demo started ...\n"); await handle?.stop(); process.exit(130); };
  process.on("SIGINT", () => void onSignal());
  process.on("SIGTERM", () => void onSignal());
  handle = await runDemo({
    peers: o.peers, rounds: o.rounds, attackers: o.attackers, lateJoiners: o.lateJoiners, attack: o.attack, dataset: o.dataset, model: o.model,
    partition: o.partition, rule: o.rule, ruleParam: o.ruleParam, maxSamples: o.maxSamples, epochs: o.epochs,
    trainingWindow: o.trainingWindow, dpClip: o.dpClip, dpSigma: o.dpSigma, dpBudget: o.dpBudget, linkMode: o.linkMode,
    scenario: o.scenario, port: o.port, keepRunning: o.keepRunning, json: o.json, evaluate: o.evaluate, quiet: o.quiet,
  });
  if (o.keepRunning) {
    process.stdout.write(`\nchain ${handle.rpcUrl}, contract ${handle.contractAddress}: still running (explorer: npm run explorer -- --rpc ${handle.rpcUrl} --contract ${handle.contractAddress}). Ctrl-C stops.\n`);
    await new Promise(() => {});
  }
  return 0;
}

