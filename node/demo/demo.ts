/**
 * The whole system on one machine, on embedded defaults (the CLI is node/demo/cli.ts).
 * Starts a local chain node on 127.0.0.1 (Hardhat's EDR node, or Foundry's Anvil with `chain: "anvil"`), creates the task's model spec and initial weights on the
 * task creator's IPFS node, deploys + configures FederatedTask with Ignition, funds and admits the
 * peers' accounts, starts N agent processes (one of them a sign-flip attacker by default), starts the
 * task, follows the rounds, and ends with a per-round table (also written to bench/results/demo.json).
 * Every process it started is stopped on success, failure, an agent's death, or abort.
 */
import { AGENT_ENV, AGENT_NODE_FLAGS, peerflCliArgs } from "../lib/entry.ts";
import { createLogger } from "../lib/log.ts";
import type { TASK_DEFAULTS } from "../../ignition/modules/federatedTaskModule.ts";
import { DEFAULT_RULE, defaultRuleFor, ruleIdOf, ruleParamToChain, type RuleName } from "../protocol/index.ts";
import { mkdirSync, writeFileSync, existsSync, readFileSync, rmSync, accessSync, constants as fsConstants } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import cliProgress from "cli-progress";
import type { HDNodeWallet } from "ethers";
import { DEV_CHAIN_ID, HARDHAT_MNEMONIC, MAX_PEERS, PROJECT_ROOT, connectTask, hardhatAccount, probeChainId } from "../chain/connect.ts";
import { cidToHex } from "../chain/cid.ts";
import { readPeers } from "../chain/task.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";
import { startProcess, freePort, waitFor, type ManagedProcess } from "../lib/processes.ts";
import { fundAccounts, DEFAULT_PEER_FUNDING_WEI } from "./funding.ts";
import { admitPeers } from "./admission.ts";
import { AgentSupervisor, AgentDiedError, DemoAbortedError } from "./supervisor.ts";
import {
  chainRoundSource, summarizeRound, formatRoundLine, formatTable, formatLinks,
  type RoundSummary, type SummaryTable, type LinkRow, type RoundSource,
} from "./summary.ts";

export { formatTable, formatLinks, type RoundSummary, type RoundSource } from "./summary.ts";
export { AgentDiedError, DemoAbortedError } from "./supervisor.ts";

/** Where the demo's agents live (see DemoOptions.hosts). */
export type HostsMode = "loopback" | "netns";
export const HOSTS_MODES: readonly HostsMode[] = ["loopback", "netns"];

/** The local chain node the demo runs on. */
export type ChainKind = "hardhat" | "anvil";
export const CHAIN_KINDS: readonly ChainKind[] = ["hardhat", "anvil"];

export interface DemoOptions {
  /** the local chain node: Hardhat's EDR node (default) or Foundry's Anvil (the optional npm package @foundry-rs/anvil-linux-amd64) */
  chain?: ChainKind;
  peers: number;
  rounds: number;
  attackers: number;
  attack: string;
  dataset: string;
  model: "mlp" | "cnn";
  partition: string;
  /** the task's robust rule, by name */
  rule: RuleName;
  /** its parameter in natural units */
  ruleParam: number;
  maxSamples?: number;
  epochs: number;
  trainingWindow: number;
  verificationWindow: number;
  aggregationWindow: number;
  /** Any other TaskConfig field (Ignition parameter) to override, e.g. { verifierCommitteeSize: 3 }. */
  task?: Partial<Record<keyof typeof TASK_DEFAULTS, number>>;
  dpClip: number;
  dpSigma: number;
  dpBudget: number;
  /**
   * The DP unit. "example": every trainer runs DP-SGD (per-example clip dpClip, default 1; noise
   * multiplier dpSigma, default 1.1; expected batch dpBatch, default 64; budget dpBudget) and the task
   * records it in a PrivacyLedger the agents report their epsilon to. Otherwise dpClip > 0 turns on
   * peer-level DP in the task, also recorded in a ledger (unit peer). "distributed" (needs private):
   * each trainer L2-clips numSamples × delta to dpClip (default 3000) and adds its 1/peers share of
   * Skellam noise of std dpSigma·dpClip (default z = 1) on the secure sum (ledger unit distributed).
   */
  dp?: "peer" | "example" | "distributed";
  dpBatch?: number;
  linkMode?: string;
  scenario?: string;
  /**
   * Private task mode (docs/secure-aggregation.md): deploys the task's SecureAggregation side contract
   * and runs every agent with --secagg (masked updates, share reveals, candidate-aggregate votes).
   * Neighbourhood k (default 8) and threshold t (default: a majority of each peer's neighbours).
   */
  private?: boolean;
  secaggNeighbours?: number;
  secaggThreshold?: number;
  /** FAULT INJECTION (tests, private mode): these peer indices run with `--exit-at before-reveal`. */
  exitBeforeReveal?: number[];
  /**
   * Clustered rounds (docs/d2d-clusters.md): deploys the task's ClusterRounds side contract naming the
   * scenario (published on the creator's IPFS node) and runs every agent with --cluster-rounds. Needs --scenario.
   */
  clusters?: boolean;
  /** clustered rounds: who checks each cluster in full (ClusterRounds insideCheckers k, default 1; outsideCheckBps p, default 4000) */
  clusterChecks?: { insideCheckers?: number; outsideCheckBps?: number };
  /** EXPERIMENTS ONLY: peers (indices) that lie in their cluster record when they head a cluster */
  lyingHeads?: { peer: number; attack: "scale-aggregate" | "drop-member" }[];
  /** update compression written into the task's model spec (node/compression); none/undefined = float32 */
  compression?: "none" | "q8" | "q4" | "topk";
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
  /** wei sent from the initiator to each peer account holding less than half of it (default 10 ETH) */
  peerFundingWei?: bigint;
  /** aborting stops every process the demo started and rejects with DemoAbortedError */
  signal?: AbortSignal;
  /**
   * Where the agents live: "loopback" (default, all on 127.0.0.1) or "netns": each agent in its own
   * Linux network namespace with its own address on a bridge the run creates; the chain node and the
   * creator's IPFS node listen on the bridge (node/netns). Needs root; torn down when the demo ends.
   */
  hosts?: HostsMode;
  /** called on every poll while rounds run (tests use it to kill and restart agents mid-round) */
  onProgress?: (p: { round: number; phase: number; commits: number; verdicts: number; aggregates: number }, ctl: DemoControl) => void | Promise<void>;
}

/**
 * What onProgress may do to the agents. An agent killed here (by stopAgent, ManagedProcess.kill,
 * or even child.kill) and replaced with startAgent before the callback returns is not a death.
 */
export interface DemoControl {
  agents: ManagedProcess[];
  startAgent(i: number): ManagedProcess;
  /** stops agent i on purpose: the demo does not count it as dead */
  stopAgent(i: number, graceMs?: number): Promise<void>;
  workDir: string;
  rpcUrl: string;
  contractAddress: string;
  /** kills the chain node and starts it again on the same port (see ChainRestartOptions) */
  restartChain(o?: ChainRestartOptions): Promise<ChainRestart>;
}

export interface ChainRestartOptions {
  /** SIGTERM (default): Anvil writes its state file on the way out. SIGKILL: a crash; Anvil keeps what its last periodic dump (every second) saved. */
  signal?: "SIGTERM" | "SIGKILL";
  /** how long the node stays down before it is started again (default 0) */
  downMs?: number;
  /**
   * For a node that starts from a fresh genesis (Hardhat's node, which keeps no state): deploy the task
   * again with the same parameters (same deployer nonce, so the same address), fund and admit the
   * peers, wait until the running agents registered again, and start the task. Default false.
   */
  redeploy?: boolean;
}

export interface ChainRestart {
  chain: ChainKind;
  signal: "SIGTERM" | "SIGKILL";
  /** latest block before the kill and right after the restart; lostBlocks = how many the restart lost */
  blockBefore: number;
  blockAfter: number;
  lostBlocks: number;
  /** same genesis block after the restart (Anvil with its state file: yes; Hardhat's node: no) */
  sameGenesis: boolean;
  /** seconds from the kill until the node answered again */
  downSeconds: number;
  /** set when redeploy ran: the task's address on the new chain */
  contractAddress?: string;
}

export const DEMO_DEFAULTS: DemoOptions = {
  peers: 5, rounds: 5, attackers: 1, attack: "sign-flip", dataset: "mnist", model: "mlp", partition: "iid",
  rule: DEFAULT_RULE, ruleParam: 0, epochs: 1, trainingWindow: 180, verificationWindow: 60, aggregationWindow: 60,
  dpClip: 0, dpSigma: 0, dpBudget: 0, port: 8545, keepRunning: false, quiet: false, evaluate: true, lateJoiners: 0, unlucky: 0, unluckyRounds: [1],
  json: "bench/results/demo.json",
};

export interface DemoResult extends SummaryTable {
  peers: number;
  attackers: string[];
  attack: string | null;
  dataset: string;
  model: string;
  rule: RuleName;
  rounds: RoundSummary[];
  totalSeconds: number;
  contractAddress: string;
  links?: unknown;
  /** the task's PrivacyLedger and every EpsilonReported event (example unit), when DP is on */
  privacy?: { ledger: string; unit: "peer" | "example" | "distributed"; reports: { round: number; peer: string; epsilon: number; numSamples: number }[] };
  /** private mode: the SecureAggregation side contract */
  secagg?: string;
  /** clustered mode: the ClusterRounds side contract and each round's head records */
  clusters?: { address: string; scenarioCid: string; rounds: { round: number; head: string; members: string[]; included: string[]; aggregateCid: string | null; acceptedSamples: number; challengedBy: string | null }[] };
}

export interface DemoHandle {
  rpcUrl: string;
  contractAddress: string;
  workDir: string;
  creatorMultiaddrs: string[];
  result: DemoResult;
  agents: ManagedProcess[];
  startAgent(i: number): ManagedProcess;
  /** kills the chain node and starts it again on the same port (with keepRunning) */
  restartChain(o?: ChainRestartOptions): Promise<ChainRestart>;
  stop(): Promise<void>;
  /** with hosts "netns": the run's bridge and namespaces (torn down by stop()) */
  netns?: { runId: string; bridge: string; hostIp: string; subnet: string; peers: { ns: string; ip: string; hostVeth: string }[] };
}

type Say = (line: string) => void;

/** Peer i signs with Hardhat development account i + 1 (account 0 is the initiator). */
export function peerAccount(i: number): HDNodeWallet {
  return hardhatAccount(i + 1);
}

/** Refuses option combinations the demo cannot run, with the flag names in the message. */
export function validateDemoOptions(o: DemoOptions): void {
  if (!Number.isInteger(o.peers) || o.peers < 2 || o.peers > MAX_PEERS) throw new RangeError(`--peers must be an integer in 2..${MAX_PEERS} (the contract's MAX_PEERS), got ${o.peers}`);
  if (o.dp === "peer" && !(o.dpClip > 0)) throw new RangeError("--dp peer needs --dp-clip C > 0 (the task's peer-level clip norm) and --dp-sigma");
  if (o.dp === "distributed" && !o.private) throw new RangeError("--dp distributed needs --private (the noise shares only add up to the full noise in the secure sum)");
  if (o.attackers < 0 || o.attackers >= o.peers) throw new RangeError(`--attackers ${o.attackers} must be < --peers ${o.peers}`);
  if (o.attackers + o.lateJoiners + o.unlucky >= o.peers) throw new RangeError(`--attackers + --late-joiners (+ unlucky peers) must be < --peers ${o.peers}`);
  if (o.clusters && !o.scenario) throw new RangeError("--clusters needs --scenario FILE: the clustering is computed from the scenario's radio model");
  if (o.clusters && o.private) throw new RangeError("--clusters does not combine with --private (a head cannot judge masked updates)");
  if (o.clusters && o.rule === "validation-vote") throw new RangeError("--clusters does not combine with --rule validation-vote (its votes are private: nobody could check a cluster head's verdict; root-validation's public root set can be checked)");
}

/** Foundry's Anvil cannot be found: the message says how to install it. */
export class AnvilMissingError extends Error {
  override name = "AnvilMissingError";
  constructor(detail: string) {
    super(`Anvil (Foundry's EVM node) is not installed: ${detail}. On linux-x64, "npm install" installs it from the optional `
      + `dependency @foundry-rs/anvil-linux-amd64 (npm skips it on other platforms); elsewhere install Foundry (foundryup) and put `
      + `anvil on PATH, or set PEERFL_ANVIL=/path/to/anvil. Or run the demo on Hardhat's node: --chain hardhat`);
  }
}

const ANVIL_PACKAGE = "@foundry-rs/anvil-linux-amd64";

/** The anvil binary: $PEERFL_ANVIL, else the optional npm package (linux-x64 only), else `anvil` on PATH. */
export function findAnvil(): string {
  const executable = (f: string) => { try { accessSync(f, fsConstants.X_OK); return true; } catch { return false; } };
  const fromEnv = process.env.PEERFL_ANVIL;
  if (fromEnv) {
    if (!executable(fromEnv)) throw new AnvilMissingError(`PEERFL_ANVIL=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  try {
    const pkg = createRequire(import.meta.url).resolve(`${ANVIL_PACKAGE}/package.json`);
    const bin = path.join(path.dirname(pkg), "bin", "anvil");
    if (executable(bin)) return bin;
  } catch { /* not installed (another platform, or --no-optional) */ }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && executable(path.join(dir, "anvil"))) return path.join(dir, "anvil");
  }
  throw new AnvilMissingError(`no ${ANVIL_PACKAGE} package in node_modules, no PEERFL_ANVIL, no anvil on PATH`);
}

/**
 * Anvil's flags for the demo: loopback only, chain id 31337, Hardhat's public dev mnemonic (also
 * Anvil's default) with 20 funded accounts as Hardhat's node has, Anvil's default EIP-170 /
 * EIP-3860 code-size limits as on a public chain (FederatedTask fits them), automine with wall-clock timestamps
 * (Anvil's default: blocks in the same second share it), and the chain state kept in `stateFile`:
 * loaded at start when present, written every second and on SIGTERM, so a restart resumes the chain.
 */
export function anvilArgs(port: number, stateFile: string, host = "127.0.0.1"): string[] {
  return [
    "--host", host, "--port", String(port), "--chain-id", String(DEV_CHAIN_ID),
    "--mnemonic", HARDHAT_MNEMONIC, "--accounts", "20", "--balance", "10000",
    "--state", stateFile, "--state-interval", "1",
  ];
}

interface ChainNodeSpec { kind: ChainKind; label: string; logFile: string; start(): ManagedProcess }

/** How to start (and start again) the demo's chain node on `port`. */
function chainNodeSpec(kind: ChainKind, port: number, workDir: string, host = "127.0.0.1"): ChainNodeSpec {
  if (kind === "anvil") {
    const bin = findAnvil();
    const logFile = path.join(workDir, "anvil.log");
    const stateFile = path.join(workDir, "anvil-state.json");
    return { kind, label: "Anvil node", logFile, start: () => startProcess({ name: "anvil", cmd: bin, args: anvilArgs(port, stateFile, host), cwd: PROJECT_ROOT, logFile }) };
  }
  const logFile = path.join(workDir, "hardhat-node.log");
  return {
    kind, label: "Hardhat node", logFile,
    start: () => startProcess({
      name: "hardhat-node", cmd: "npx", args: ["hardhat", "node", "--hostname", host, "--port", String(port)],
      cwd: PROJECT_ROOT, logFile, env: { HARDHAT_DISABLE_TELEMETRY: "true", CI: "true" },
    }),
  };
}

/** One plain JSON-RPC call (no ethers provider: its polling would outlive a restart). */
async function rpcCall<T>(rpcUrl: string, method: string, params: unknown[] = [], timeoutMs = 3000): Promise<T> {
  const res = await fetch(rpcUrl, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }), signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/**
 * The demo's options with the defaults filled in. Without --rule the rule is the task default for the
 * mode (protocol/task-config.ts defaultRuleFor): centered clipping for public and --private rounds;
 * root-validation stays opt-in (docs/robustness.md, "Default").
 */
export function resolveDemoOptions(partial: Partial<DemoOptions> = {}): DemoOptions {
  return { ...DEMO_DEFAULTS, ...partial, rule: partial.rule ?? defaultRuleFor(partial) };
}

/**
 * The one line the demo prints about its rule at start, and a warning when the rule cannot do all it
 * promises in this mode (root-validation's root-set vote needs individual updates, which --private hides).
 */
export function describeDemoRule(partial: Partial<DemoOptions>, rule: RuleName): { line: string; warning: string | null } {
  const why = partial.rule !== undefined ? "--rule"
    : partial.private ? "default for private rounds: verifiers see only masked updates, so root-validation could run only its pre-filter"
    : `default${rule === "root-validation" && partial.clusters ? "; cluster heads and checkers vote on the same root set" : ""}; --rule root-validation keeps more honest non-IID peers (docs/robustness.md, "Default")`;
  const warning = partial.private && rule === "root-validation"
    ? "--rule root-validation with --private: verifiers see only masked updates, so only root-validation's public pre-filter applies; there is no root-set vote in private rounds (docs/robustness.md, \"Default\")"
    : null;
  return { line: `  rule       ${rule} (${why})`, warning };
}

/** Runs the demo to completion; with keepRunning the chain and agents stay up until stop(). */
export async function runDemo(partial: Partial<DemoOptions> = {}): Promise<DemoHandle> {
  const o: DemoOptions = resolveDemoOptions(partial);
  validateDemoOptions(o);
  const hosts: HostsMode = o.hosts ?? "loopback";
  if (!HOSTS_MODES.includes(hosts)) throw new RangeError(`--hosts must be one of ${HOSTS_MODES.join(", ")}, got ${String(hosts)}`);
  if (hosts === "netns" && (o.linkMode || o.scenario)) {
    throw new RangeError("--hosts netns shapes each namespace's link with the kernel (tbf); it does not combine with --link-mode / --scenario (the user-space link emulation)");
  }
  if (hosts === "netns") {
    // Before anything is started or written: say at once why namespaces cannot be made here.
    const { checkNetnsSupport, NetnsUnavailableError } = await import("../netns/topology.ts");
    const why = checkNetnsSupport();
    if (why) throw new NetnsUnavailableError(why);
  }
  const chainKind: ChainKind = o.chain ?? "hardhat";
  if (!CHAIN_KINDS.includes(chainKind)) throw new RangeError(`--chain must be one of ${CHAIN_KINDS.join(", ")}, got ${String(chainKind)}`);
  if (chainKind === "anvil") findAnvil(); // AnvilMissingError, before anything starts
  const say: Say = o.quiet ? () => {} : (l) => process.stdout.write(l + "\n");
  const started = Date.now();
  const workDir = path.resolve(o.workDir ?? path.join(PROJECT_ROOT, ".peerfl", `demo-${new Date().toISOString().replace(/[:.]/g, "-")}`));
  mkdirSync(workDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const agents: ManagedProcess[] = [];
  const supervisor = new AgentSupervisor();
  let creator: ModelStore | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let stopping: Promise<void> | undefined;
  const stopPolling = new AbortController(); // ends polls that lost a race against a failure
  let netns: import("../netns/topology.ts").NetnsTopology | undefined;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    supervisor.close();
    stopPolling.abort();
    bar?.stop();
    await Promise.all(agents.map((a) => a.stop(4000)));
    await Promise.all(processes.map((p) => p.stop(3000)));
    await creator?.stop().catch(() => undefined);
    netns?.teardown();
  })());
  const onAbort = () => supervisor.fail(new DemoAbortedError(String(o.signal?.reason instanceof Error ? o.signal.reason.message : o.signal?.reason ?? "aborted")));
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  // Every long wait below is raced against an agent's death and against abort.
  const guard = <T>(p: Promise<T>): Promise<T> => supervisor.race(p);

  try {
    supervisor.check();
    // 1. chain
    const port = await freePort(o.port);
    if (hosts === "netns") {
      // NetnsUnavailableError (not root, no iproute2, ...) stops the demo here, with the reason.
      const { createNetnsTopology } = await import("../netns/topology.ts");
      netns = createNetnsTopology({ peers: o.peers, log: say });
    }
    const host = netns?.hostIp ?? "127.0.0.1";
    const rpcUrl = `http://${host}:${port}`;
    say(`peerfl demo: ${o.peers} peers (${o.attackers} ${o.attack} attacker${o.attackers === 1 ? "" : "s"}), ${o.rounds} rounds, ${o.dataset}/${o.model}/${o.partition}; work dir ${path.relative(process.cwd(), workDir)}`);
    const ruleNote = describeDemoRule(partial, o.rule);
    say(ruleNote.line);
    if (ruleNote.warning) process.stderr.write(`peerfl demo: WARNING ${ruleNote.warning}\n`);
    const node = chainNodeSpec(chainKind, port, workDir, host);
    const startChain = (): ManagedProcess => {
      const p = node.start();
      processes.push(p);
      void p.exited.then((code) => {
        if (!p.stoppedOnPurpose) supervisor.fail(new Error(`the ${node.label} exited (code ${code}) during the demo; see ${node.logFile}${p.tail().length ? `:\n${p.tail().slice(-5).join("\n")}` : ""}`));
      });
      return p;
    };
    let chain = startChain();
    const chainId = await guard(waitFor(`the ${node.label}`, () => probeChainId(rpcUrl, 1000), 60_000, 300, stopPolling.signal));
    say(`  chain      ${chainKind === "anvil" ? "anvil" : "hardhat node"} on ${rpcUrl} (chain ${chainId})`);

    // 2. the task creator's IPFS node holds the model spec and the initial weights
    const { createEmbeddedStore } = await import("../../ipfs/embedded-store.ts");
    creator = await guard(createEmbeddedStore({ repoDir: path.join(workDir, "creator-ipfs"), listenPort: 0, ...(netns ? { listenHost: netns.hostIp, allowIp: netns.contains } : {}) }));
    const creatorAddrs = await creator.multiaddrs();
    const { initBackend } = await import("../ml/backend.ts");
    const { modelSpecFor, createModel } = await import("../ml/models.ts");
    const { getWeights } = await import("../ml/train.ts");
    const { encodeWeights, encodeModelSpec } = await import("../ml/codec.ts");
    await initBackend("auto");
    const spec = modelSpecFor(o.model);
    if (o.compression && o.compression !== "none") {
      const { parseCompressionSpec } = await import("../compression/spec.ts");
      spec.compression = parseCompressionSpec({ format: o.compression });
    }
    // root-validation: the creator publishes a class-balanced root set (50 per class of the training split,
    // preferring samples no agent holds) and names it in the model spec (node/ml/root-set.ts).
    const { createRule, hasRootVote } = await import("../aggregation/rules.ts");
    if (hasRootVote(createRule(o.rule))) {
      const { buildRootSet } = await import("../ml/root-set.ts");
      const { parsePartition } = await import("../agent/config.ts");
      const root = buildRootSet(o.dataset, { peers: o.peers, partition: parsePartition(o.partition), partitionSeed: 42, maxSamples: o.maxSamples, seed: 7, allowHeld: true });
      const rootCid = await creator.put(root.bytes, { pin: true });
      spec.rootSet = rootCid.toString();
      say(`  ipfs       root set ${rootCid} (${root.count} samples, ${root.held} of them also in agents' shards)`);
    }
    const initial = getWeights(createModel(spec, 7));
    const specCid = await creator.put(encodeModelSpec(spec), { pin: true });
    const initialCid = await creator.put(encodeWeights(initial), { pin: true });
    say(`  ipfs       model spec ${specCid}\n             initial weights ${initialCid}`);

    // 3. deploy + configure with Ignition
    const params = {
      FederatedTaskModule: {
        modelSpecCid: cidToHex(specCid), initialModelCid: cidToHex(initialCid), rounds: o.rounds,
        trainingDuration: o.trainingWindow, verificationDuration: o.verificationWindow, aggregationDuration: o.aggregationWindow,
        minTrainers: Math.min(2, o.peers),
        robustRule: ruleIdOf(o.rule), ruleParam: ruleParamToChain(o.rule, o.ruleParam),
        // Example-level DP lives in the PrivacyLedger; the task's own dp* fields are peer-level DP.
        dpClipNormMilli: o.dp === "example" || o.dp === "distributed" ? 0 : Math.round(o.dpClip * 1000), dpNoiseMultiplierMilli: o.dp === "example" || o.dp === "distributed" ? 0 : Math.round(o.dpSigma * 1000),
        dpDeltaExponent: 5, dpEpsilonBudgetMilli: Math.round(o.dpBudget * 1000),
        ...o.task,
      },
    };
    const paramsFile = path.join(workDir, "ignition-parameters.json");
    writeFileSync(paramsFile, JSON.stringify(params, null, 2));
    // The default port keeps Ignition's default deployment id (chain-<id>), which `peerfl agent`,
    // `peerfl explorer` and `peerfl audit` find on their own; runs on other ports (tests, benchmarks
    // side by side) get their own id, so concurrent demos never share a deployment journal.
    const deploymentId = port === 8545 ? `chain-${chainId}` : `demo-${port}`;
    const deployDir = path.join(PROJECT_ROOT, "ignition", "deployments", deploymentId);
    // Ignition talks to the node over plain JSON-RPC (--network localhost = PEERFL_RPC_URL), on either node.
    const deployTask = async (): Promise<string> => {
      rmSync(deployDir, { recursive: true, force: true }); // a fresh chain: the old journal is void
      const deploy = startProcess({
        name: "ignition", cmd: "npx",
        args: ["hardhat", "ignition", "deploy", "ignition/modules/FederatedTask.ts", "--network", "localhost", "--parameters", paramsFile, "--deployment-id", deploymentId],
        cwd: PROJECT_ROOT, logFile: path.join(workDir, "ignition.log"),
        env: { PEERFL_RPC_URL: rpcUrl, HARDHAT_DISABLE_TELEMETRY: "true", CI: "true" },
      });
      processes.push(deploy);
      const code = await guard(deploy.exited);
      if (code !== 0) throw new Error(`Ignition deployment failed (exit ${code}); see ${path.join(workDir, "ignition.log")}:\n${readFileSync(path.join(workDir, "ignition.log"), "utf8").slice(-2000)}`);
      const addresses = JSON.parse(readFileSync(path.join(deployDir, "deployed_addresses.json"), "utf8")) as Record<string, string>;
      return addresses["FederatedTaskModule#FederatedTask"];
    };
    const contractAddress = await deployTask();
    say(`  contract   FederatedTask at ${contractAddress} (Ignition)`);

    // 4. fund the peers' accounts (the node funds only its first 20) with plain transfers, then start the agents
    const initiator = await connectTask({ rpcUrl, contract: contractAddress, accountIndex: 0 });
    const names = Array.from({ length: o.peers }, (_, i) => `peer${i}`);
    const peerAddresses = names.map((_, i) => peerAccount(i).address);
    const fundAndAdmit = async (): Promise<void> => {
      const funding = await guard(fundAccounts({ funder: initiator.signer, addresses: peerAddresses, amountWei: o.peerFundingWei ?? DEFAULT_PEER_FUNDING_WEI }));
      if (funding.funded.length) say(`  funding    sent ${Number(funding.amountWei / 10n ** 15n) / 1000} ETH to ${funding.funded.length} peer account${funding.funded.length === 1 ? "" : "s"} from the initiator`);
      await guard(admitPeers(initiator.task, peerAddresses)); // allow-list mode: the module admits only the first few accounts
    };
    await fundAndAdmit();
    // The DP unit and parameters on chain, before the task starts (contracts/PrivacyLedger.sol).
    const { deployPrivacyLedger } = await import("../chain/privacy-ledger.ts");
    const ledgerParams = o.dp === "distributed"
      ? { unit: "distributed" as const, clipNorm: o.dpClip || 3000, noiseMultiplier: o.dpSigma || 1, expectedBatchSize: 0, localEpochs: 0, delta: 1e-5, epsilonBudget: o.dpBudget || Infinity, noisePeers: o.peers, scaleBits: 9 }
      : o.dp === "example"
      ? { unit: "example" as const, clipNorm: o.dpClip || 1, noiseMultiplier: o.dpSigma || 1.1, expectedBatchSize: o.dpBatch ?? 64, localEpochs: o.epochs, delta: 1e-5, epsilonBudget: o.dpBudget || Infinity }
      : o.dpClip > 0 ? { unit: "peer" as const, clipNorm: o.dpClip, noiseMultiplier: o.dpSigma, expectedBatchSize: 0, localEpochs: 0, delta: 1e-5, epsilonBudget: o.dpBudget || Infinity } : null;
    const privacyLedger = ledgerParams ? await guard(deployPrivacyLedger(contractAddress, ledgerParams, initiator.signer, createLogger({ name: "demo", level: "error" }))) : null;
    if (privacyLedger && ledgerParams) say(`  privacy    PrivacyLedger at ${privacyLedger.address}: unit ${ledgerParams.unit}, sigma ${ledgerParams.noiseMultiplier}, C ${ledgerParams.clipNorm}${ledgerParams.unit === "example" ? `, batch ${ledgerParams.expectedBatchSize}` : ""}, budget ${ledgerParams.epsilonBudget}`);
    // Private mode: the SecureAggregation side contract and its parameters, before the task starts.
    let secaggAddress: string | null = null;
    if (o.private) {
      const { privateDemoConfig } = await import("../secagg/demo-config.ts");
      const { deploySecureAggregation } = await import("../secagg/chain.ts");
      const base = privateDemoConfig(o.peers, o.secaggNeighbours, o.secaggThreshold);
      // Distributed DP: the ledger's clip, z and n_min, with 9 fractional bits so 8σ of noise fits next to 256 × range.
      const { validateSecAggConfig } = await import("../secagg/config.ts");
      const sc = ledgerParams?.unit === "distributed"
        ? validateSecAggConfig({ ...base, scaleBits: ledgerParams.scaleBits, clipL2: ledgerParams.clipNorm, noiseStd: ledgerParams.noiseMultiplier * ledgerParams.clipNorm, noisePeers: ledgerParams.noisePeers })
        : base;
      secaggAddress = await guard(deploySecureAggregation(contractAddress, sc, 5000, initiator.signer, createLogger({ name: "demo", level: "error" })));
      say(`  private    SecureAggregation at ${secaggAddress}: range ±${sc.range}, 2^${sc.scaleBits} fixed point, k=${sc.neighbours}, t=${sc.threshold}${sc.noiseStd > 0 ? `, Skellam noise σ ${sc.noiseStd} on the sum (L2 clip ${sc.clipL2}, ${sc.noisePeers} shares)` : ""}`);
    }

    // Clustered mode: the scenario on IPFS and the ClusterRounds side contract naming it, before the task starts.
    let clusterAddress: string | null = null;
    let scenarioCid = "";
    if (o.clusters && o.scenario) {
      const { deployClusterRounds } = await import("../roles/cluster-chain.ts");
      const { clusterDeploymentJson } = await import("../roles/cluster-roles.ts");
      const { CID } = await import("multiformats/cid");
      // The scenario and which peer account stands at each of its positions (peer i at position i):
      // on-chain peer indices follow registration order, which the concurrent agents do not keep.
      scenarioCid = await creator.put(clusterDeploymentJson(JSON.parse(readFileSync(path.resolve(o.scenario), "utf8")), peerAddresses), { pin: true });
      clusterAddress = await guard(deployClusterRounds(contractAddress, { scenarioCid: CID.parse(scenarioCid), ...o.clusterChecks }, initiator.signer, createLogger({ name: "demo", level: "error" })));
      say(`  clusters   ClusterRounds at ${clusterAddress}: scenario ${scenarioCid}, clusters of <= 8, heads >= 30 % battery, checks per cluster: ${o.clusterChecks?.insideCheckers ?? 1} member(s) + an outsider in ${(o.clusterChecks?.outsideCheckBps ?? 4000) / 100} % of rounds; verify-commit: records 40 %, sampled checks + challenges 30 %, votes 30 %`);
    }

    const attackerSet = new Set(Array.from({ length: o.attackers }, (_, k) => o.peers - 1 - k));
    const byAddress = new Map<string, string>(peerAddresses.map((a, i) => [a.toLowerCase(), names[i]]));
    const relayBasePort = await freePort(9700 + (port % 100) * 10);
    // Late joiners are the honest peers just below the attackers; they start after round 1.
    const lateSet = new Set(Array.from({ length: o.lateJoiners }, (_, k) => o.peers - 1 - o.attackers - k));
    const unluckySet = new Set(Array.from({ length: o.unlucky }, (_, k) => o.peers - 1 - o.attackers - o.lateJoiners - k));
    const agentArgs = (i: number): string[] => {
      const a = [
        ...AGENT_NODE_FLAGS, ...peerflCliArgs(), "agent",
        "--rpc", rpcUrl, "--contract", contractAddress, "--account", String(i + 1),
        "--peers", String(o.peers), "--peer-index", String(i), "--dataset", o.dataset, "--partition", o.partition,
        "--epochs", String(o.epochs), "--data-dir", path.join(workDir, names[i]), "--log-format", "json",
        "--name", names[i], "--relay-base-port", String(relayBasePort),
      ];
      for (const ma of creatorAddrs) a.push("--ipfs-peer", ma);
      if (o.maxSamples) a.push("--max-samples", String(o.maxSamples));
      if (attackerSet.has(i)) {
        a.push("--attack", o.attack);
        // Several attackers collude: they share their honest deltas through the run's directory.
        if (attackerSet.size > 1) a.push("--collude-dir", path.join(workDir, "colluders"), "--colluders", String(attackerSet.size));
      }
      if (unluckySet.has(i)) a.push("--attack", "sign-flip", "--attack-rounds", o.unluckyRounds.join(","));
      a.push("--stay"); // agents keep serving IPFS until the demo stops them (the last global model is fetched after the task completes)
      if (o.linkMode) a.push("--link-mode", o.linkMode);
      if (o.scenario) a.push("--scenario", path.resolve(o.scenario));
      // Peer i stands at scenario position i; agents register in any order, so name who stands where.
      if (o.linkMode || o.scenario) a.push("--link-peers", peerAddresses.join(","));
      if (privacyLedger) a.push("--privacy-ledger", privacyLedger.address, ...(o.dp === "example" ? ["--dp", "example"] : []));
      if (secaggAddress) a.push("--secagg", secaggAddress);
      if (secaggAddress && o.exitBeforeReveal?.includes(i)) a.push("--exit-at", "before-reveal");
      if (clusterAddress) a.push("--cluster-rounds", clusterAddress);
      const lie = o.lyingHeads?.find((h) => h.peer === i);
      if (clusterAddress && lie) a.push("--cluster-head-attack", lie.attack);
      if (netns) a.push("--ipfs-host", netns.peers[i].ip, "--ipfs-allow-net", netns.subnet);
      return a;
    };
    const startAgent = (i: number): ManagedProcess => {
      const logFile = path.join(workDir, `${names[i]}.log`);
      const p = startProcess({
        name: names[i], cwd: PROJECT_ROOT, logFile,
        // netns: `ip netns exec` execs node inside the peer's namespace (same pid, same process group).
        ...(netns ? { cmd: netns.execPrefix(i)[0], args: [...netns.execPrefix(i).slice(1), process.execPath, ...agentArgs(i)] } : { cmd: process.execPath, args: agentArgs(i) }),
        // A key given to the demo's parent must not leak into the dev-account agents.
        env: { PEERFL_PRIVATE_KEY: undefined, ...AGENT_ENV },
        onLine: (line) => {
          if (!line.startsWith("{")) return;
          try {
            const ev = JSON.parse(line) as { event: string; level: string; reason?: string; error?: string };
            if (ev.event === "fatal") return; // reported as the agent's death
            if (ev.level === "error" || ev.event === "tx-reverted" || ev.event === "role-failed" || ev.event === "loop-error") {
              say(`  ! ${names[i]} ${ev.event} ${ev.error ?? ev.reason ?? ""}`);
            }
          } catch { /* not JSON */ }
        },
      });
      agents[i] = p;
      // A fault-injected peer (--exit-at before-reveal) is meant to die: its death fails nothing.
      if (!(secaggAddress && o.exitBeforeReveal?.includes(i))) supervisor.watch(i, names[i], p, logFile);
      return p;
    };
    const stopAgent = async (i: number, graceMs = 4000) => { await agents[i]?.stop(graceMs); };
    const task = initiator.task;
    const early = o.peers - lateSet.size;
    const blockNumber = async (): Promise<number> => Number(BigInt(await rpcCall<string>(rpcUrl, "eth_blockNumber")));
    const genesisHash = async (): Promise<string> => (await rpcCall<{ hash: string }>(rpcUrl, "eth_getBlockByNumber", ["0x0", false])).hash;
    const restartChain = async (r: ChainRestartOptions = {}): Promise<ChainRestart> => {
      const signal = r.signal ?? "SIGTERM";
      const [blockBefore, genesisBefore] = [await blockNumber(), await genesisHash()];
      const killedAt = Date.now();
      const old = chain;
      if (signal === "SIGKILL") { old.kill("SIGKILL"); await old.exited; } else await old.stop(15_000); // Anvil dumps its state on SIGTERM
      await old.drained;
      if (processes.includes(old)) processes.splice(processes.indexOf(old), 1);
      if (r.downMs) await guard(new Promise((res) => setTimeout(res, r.downMs)));
      chain = startChain();
      await guard(waitFor(`the ${node.label} after its restart`, () => probeChainId(rpcUrl, 1000), 60_000, 200, stopPolling.signal));
      const downSeconds = (Date.now() - killedAt) / 1000;
      const [blockAfter, genesisAfter] = [await blockNumber(), await genesisHash()];
      initiator.signer.reset(); // its nonce count may be ahead of the restarted chain
      const out: ChainRestart = {
        chain: chainKind, signal, blockBefore, blockAfter, lostBlocks: Math.max(0, blockBefore - blockAfter), sameGenesis: genesisAfter === genesisBefore, downSeconds,
      };
      say(`  chain      ${node.label} restarted (${signal}, down ${downSeconds.toFixed(1)} s): block ${blockBefore} -> ${blockAfter}${out.sameGenesis ? "" : ", new genesis"}`);
      if (r.redeploy && (await rpcCall<string>(rpcUrl, "eth_getCode", [contractAddress, "latest"])) === "0x") {
        out.contractAddress = await deployTask();
        if (out.contractAddress.toLowerCase() !== contractAddress.toLowerCase()) throw new Error(`the redeployed task is at ${out.contractAddress}, not at ${contractAddress}: the agents cannot follow it`);
        initiator.signer.reset();
        await fundAndAdmit();
        const running = agents.filter((a) => a && a.child.exitCode === null && a.child.signalCode === null).length;
        await guard(waitFor(`${running} agents to register again`, async () => (Number(await task.peerCount()) >= running ? true : undefined), 240_000, 500, stopPolling.signal));
        await guard((async () => (await task.startTask()).wait())());
        say(`  redeployed FederatedTask at ${out.contractAddress}; ${running} agents registered again; task started`);
      }
      return out;
    };
    const ctl: DemoControl = { agents, startAgent, stopAgent, workDir, rpcUrl, contractAddress, restartChain };
    for (let i = 0; i < o.peers; i++) if (!lateSet.has(i)) startAgent(i);
    say(`  agents     ${names.map((n, i) => (attackerSet.has(i) ? `${n}(${o.attack})` : n)).join(" ")}; logs in ${path.relative(process.cwd(), workDir)}/peerN.log`);

    await guard(waitFor("all agents to register", async () => (Number(await task.peerCount()) >= early ? true : undefined), 180_000, 500, stopPolling.signal));
    await guard((async () => (await task.startTask()).wait())());
    say(`  started    ${early} peers registered; task started${lateSet.size ? ` (${[...lateSet].map((i) => names[i]).join(",")} join after round 1)` : ""}\n`);

    // 5. follow the rounds
    const source: RoundSource = chainRoundSource(task, initiator.provider);
    const evaluator = o.evaluate ? await guard(makeEvaluator(o, spec, creator, task)) : undefined;
    const result: DemoResult = {
      peers: o.peers, attackers: [...attackerSet].sort((a, b) => a - b).map((i) => names[i]), attack: o.attackers > 0 ? o.attack : null,
      dataset: o.dataset, model: o.model, rule: o.rule, rounds: [], totalSeconds: 0, contractAddress,
      ...(secaggAddress ? { secagg: secaggAddress } : {}),
    };
    bar = !o.quiet && process.stdout.isTTY
      ? new cliProgress.SingleBar({ format: " round {round}/{total} [{bar}] {phase} | commits {c} verdicts {v} aggregates {a} | {secs}s", hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(o.rounds, 0, { round: 1, total: o.rounds, phase: "Training", c: 0, v: 0, a: 0, secs: 0 });
    let roundStart = Date.now();
    let lastLine = "";
    let reported = 0;
    const who = (a: string) => byAddress.get(a.toLowerCase()) ?? a;
    while (reported < o.rounds) {
      supervisor.check();
      const st = await guard(source.status());
      for (let r = reported + 1; r <= st.currentRound; r++) {
        const since = roundStart;
        const summary = await guard(summarizeRound(source, r, { name: who, fallbackSeconds: () => (Date.now() - since) / 1000 }));
        if (!summary) break;
        if (summary.status === "finalized" && evaluator) {
          const measured = await guard(evaluator(summary.globalCid)).catch((err: Error) => {
            if (err instanceof AgentDiedError || err instanceof DemoAbortedError) throw err;
            say(`  ! test-set evaluation of ${summary.globalCid} failed: ${err.message}`);
            return null;
          });
          summary.accuracy = measured?.accuracy ?? null;
          if (measured?.backdoorAsr !== undefined) {
            summary.backdoorAsr = measured.backdoorAsr;
            say(`  backdoor   round ${r}: ${(100 * measured.backdoorAsr).toFixed(1)} % of triggered test images classified as the target`);
          }
        }
        result.rounds.push(summary);
        reported = r;
        roundStart = Date.now();
        if (r === 1) for (const i of lateSet) { startAgent(i); say(`  joined     ${names[i]} starts mid-task`); }
        bar?.stop();
        say(formatRoundLine(summary));
        if (bar && reported < o.rounds) bar.start(o.rounds, reported, { round: reported + 1, total: o.rounds, phase: "Training", c: 0, v: 0, a: 0, secs: 0 });
      }
      if (reported >= o.rounds || (st.completed && reported >= st.currentRound)) break;
      const now = await guard(source.status());
      await supervisor.holding(() => o.onProgress?.({ round: now.currentRound, phase: now.phase, commits: now.commits, verdicts: now.verdicts, aggregates: now.aggregates }, ctl));
      supervisor.check();
      const status = `${now.phaseName} c${now.commits} v${now.verdicts} a${now.aggregates}`;
      if (bar) bar.update(reported, { round: now.currentRound, total: o.rounds, phase: now.phaseName, c: now.commits, v: now.verdicts, a: now.aggregates, secs: Math.round((Date.now() - roundStart) / 1000) });
      else if (status !== lastLine && !o.quiet) { say(`    round ${now.currentRound}: ${status}`); lastLine = status; }
      await guard(new Promise((r) => setTimeout(r, 500)));
    }
    bar?.stop();
    result.totalSeconds = (Date.now() - started) / 1000;
    result.links = collectLinkStats(workDir, names);
    if (privacyLedger && ledgerParams) {
      const reports = await guard(privacyLedger.reports());
      result.privacy = { ledger: privacyLedger.address, unit: ledgerParams.unit, reports: reports.map((r) => ({ round: r.round, peer: who(r.peer), epsilon: r.epsilonMilli / 1000, numSamples: r.numSamples })) };
      if (reports.length) say(`  epsilon    ${names.map((n) => { const last = reports.filter((r) => who(r.peer) === n).pop(); return last ? `${n} ${(last.epsilonMilli / 1000).toFixed(2)} (round ${last.round})` : null; }).filter(Boolean).join(", ")}`);
    }
    if (o.json) {
      const out = path.resolve(PROJECT_ROOT, o.json);
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
    }
    say("\n" + formatTable(result));
    if (result.links) say("\n" + formatLinks(result.links as Record<string, { links: LinkRow[] }>));
    if (clusterAddress) {
      // What the heads recorded in ClusterRounds, per round (the explorer's /clusters page shows the same).
      const { clusterRoundsReader, bitsOf } = await import("../roles/cluster-chain.ts");
      const reader = clusterRoundsReader(clusterAddress, initiator.provider);
      const rows: NonNullable<DemoResult["clusters"]>["rounds"] = [];
      // records count in on-chain peer indices (registration order): name them by address
      const nameOf = async (i: number) => who(String(await guard(initiator.task.peerAt(i))));
      const namesOf = (mask: bigint) => Promise.all(bitsOf(mask).map(nameOf));
      for (let r = 1; r <= result.rounds.length; r++) {
        const challenges = await guard(reader.challenges(r));
        for (const rec of await guard(reader.records(r))) {
          const by = challenges.get(rec.headIndex);
          rows.push({ round: r, head: await nameOf(rec.headIndex), members: await namesOf(rec.members), included: await namesOf(rec.included), aggregateCid: rec.aggregateCid?.toString() ?? null, acceptedSamples: rec.acceptedSamples, challengedBy: by ? who(by) : null });
        }
      }
      result.clusters = { address: clusterAddress, scenarioCid, rounds: rows };
      say("\nClustered rounds (ClusterRounds records; members committed their own updates on the task):");
      for (const row of rows) say(`  round ${row.round}: head ${row.head}, members ${row.members.join(",")}, included ${row.included.join(",") || "none"}, ${row.acceptedSamples} samples, aggregate ${row.aggregateCid ?? "none"}${row.challengedBy ? `, CHALLENGED by ${row.challengedBy}` : ""}`);
      if (rows.length === 0) say("  no head recorded a cluster (every peer took the flat path)");
      if (o.json) writeFileSync(path.resolve(PROJECT_ROOT, o.json), JSON.stringify(result, null, 2) + "\n");
    }
    if (result.links && o.scenario) {
      // The cluster view of the same scenario (node/links/clusters.ts); the agents still aggregate flat.
      const { formClusters, formatClusters } = await import("../links/clusters.ts");
      const { loadScenario } = await import("../links/scenario.ts");
      const scen = await loadScenario(path.resolve(o.scenario));
      const clustering = formClusters(scen, { seed: result.contractAddress, active: scen.peers.map((_, i) => i < o.peers) });
      say("\n" + formatClusters(clustering, clusterAddress
        ? "D2D clusters the radio model forms with every demo peer taking part (the agents' per-round clustering is over the peers that committed, seeded by the round's global model CID):"
        : "D2D clusters the radio model forms (seed: task address; aggregation in the agents stays flat unless --clusters, see docs/d2d-clusters.md):"));
    }
    if (o.json) say(`\nwrote ${o.json}`);
    if (!o.keepRunning) await stop();
    // With keepRunning the demo no longer watches: the caller owns the processes until stop().
    else supervisor.close();
    return {
      rpcUrl, contractAddress, workDir, creatorMultiaddrs: creatorAddrs, result, agents, startAgent, restartChain, stop,
      ...(netns ? { netns: { runId: netns.runId, bridge: netns.bridge, hostIp: netns.hostIp, subnet: netns.subnet, peers: netns.peers.map(({ ns, ip, hostVeth }) => ({ ns, ip, hostVeth })) } } : {}),
    };
  } catch (err) {
    await stop();
    throw err;
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
  }
}

function collectLinkStats(workDir: string, names: string[]): unknown {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const f = path.join(workDir, n, "links.json");
    if (existsSync(f)) { try { out[n] = JSON.parse(readFileSync(f, "utf8")); } catch { /* partial file */ } }
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Test-set accuracy of a global model, measured by the demo itself (the chain only has the aggregators' word);
 * with `--attack backdoor` also the trigger's attack-success rate on the test images (attacks/backdoor.ts).
 */
async function makeEvaluator(o: DemoOptions, spec: import("../ml/types.ts").ModelSpec, store: ModelStore, task: import("ethers").Contract): Promise<(cid: string) => Promise<{ accuracy: number; backdoorAsr?: number }>> {
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
    const accuracy = (await evaluate(model, test)).accuracy;
    if (o.attack !== "backdoor" || o.attackers === 0) return { accuracy };
    const { attackSuccessRate, DEFAULT_BACKDOOR_TARGET } = await import("../attacks/index.ts");
    const tf = await import("@tensorflow/tfjs");
    const predict = (images: Float32Array) => tf.tidy(() => (model.predict(tf.tensor(images, [images.length / (28 * 28), 28, 28, 1])) as import("@tensorflow/tfjs").Tensor).argMax(-1).dataSync() as Int32Array);
    return { accuracy, backdoorAsr: attackSuccessRate(predict, test.images, test.labels, DEFAULT_BACKDOOR_TARGET) };
  };
}
