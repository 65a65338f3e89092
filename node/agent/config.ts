import { attackKinds } from "../attacks/index.ts";
import { TIER_NAMES } from "../devices/profiles.ts";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { intArg, numArg } from "../lib/cli-args.ts";
import type { PartitionScheme } from "../ml/partition.ts";
import { KeyPolicyError, readKeyFile, type KeySource } from "../chain/connect.ts";

export type RoleName = "trainer" | "verifier" | "aggregator";
/** The partition a peer's shard comes from (the learning core's scheme). */
export type PartitionFlag = PartitionScheme;

export interface AgentConfig {
  rpcUrl: string;
  contract?: string;
  privateKey?: string;
  /** where the signing key comes from: --account (public Hardhat dev key), --private-key, PEERFL_PRIVATE_KEY or --key-file */
  keySource: KeySource;
  /** the file named by --key-file, when that is the source */
  keyFile?: string;
  accountIndex: number;
  roles: RoleName[];
  dataset: string;
  partition: PartitionFlag;
  partitionSeed: number;
  peers: number;
  peerIndex: number;
  maxSamples?: number;
  model?: "mlp" | "cnn";
  epochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: "sgd" | "adagrad" | "adam";
  dataDir: string;
  ipfsApi?: string;
  ipfsPort: number;
  /** listen (and announce) the embedded IPFS node on this IPv4 address instead of 127.0.0.1 (netns hosts) */
  ipfsHost?: string;
  /** IPv4 network (a.b.c.d/n) whose peers the embedded IPFS node may dial and accept besides loopback */
  ipfsAllowNet?: string;
  ipfsPeers: string[];
  fetchTimeoutMs: number;
  attack?: string;
  attackScale?: number;
  /** rounds in which the attack is active (undefined = every round) */
  attackRounds?: number[];
  /** example-level DP-SGD in this peer's local training (off unless --dp example) */
  exampleDp?: { clipNorm: number; noiseMultiplier: number; expectedBatchSize: number };
  /** The --dp-example-* flags given on the command line (a task's privacy ledger fixes the others; these only fill what it leaves open). */
  exampleDpFlags?: { clipNorm?: number; noiseMultiplier?: number; expectedBatchSize?: number };
  /** PrivacyLedger of the task (--privacy-ledger): the DP unit and parameters, and where this peer reports its epsilon. */
  privacyLedger?: string;
  /** SecureAggregation side contract of a private task (--secagg): masked updates, share reveals, candidate-aggregate votes. */
  secagg?: string;
  /** FAULT INJECTION for tests (--exit-at): "before-reveal" = after committing, vanish when the shares would be revealed. */
  exitAt?: "before-reveal";
  /** ClusterRounds side contract of a clustered task (--cluster-rounds): D2D cluster heads record cluster aggregates there. */
  clusterRounds?: string;
  /** EXPERIMENTS ONLY: this peer, when it heads a cluster, lies in its record (--cluster-head-attack). */
  clusterHeadAttack?: "scale-aggregate" | "drop-member";
  /** EXPERIMENTS ONLY: directory the colluding attackers share their honest deltas through */
  colludeDir?: string;
  /** EXPERIMENTS ONLY: how many colluders to wait for (default 1: alone) */
  colluders?: number;
  backend: "auto" | "tensorflow" | "wasm" | "cpu";
  logFormat: "text" | "json";
  logLevel: "debug" | "info" | "warn" | "error";
  stay: boolean;
  pollMs: number;
  chainRetries: number;
  scenario?: string;
  linkMode?: "auto" | "direct" | "relay" | "infrastructure";
  /** account addresses by link-scenario position (position i = entry i); default: on-chain registration order */
  linkPeers?: string[];
  relayBasePort: number;
  name?: string;
  /** device tier (node/devices/profiles.ts); default: the scenario file's devices[peerIndex], else none */
  deviceTier?: string;
}

/** A flag that cannot be used as given (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) { super(message); this.name = "UsageError"; }
}

const int = intArg;

/** --link-peers: a comma-separated list of 0x account addresses, lower-cased. */
function addressList(v: string): string[] {
  const list = v.split(",").map((a) => a.trim().toLowerCase());
  for (const a of list) if (!/^0x[0-9a-f]{40}$/.test(a)) throw new InvalidArgumentError(`not an account address: "${a}"`);
  return list;
}
const num = numArg;

export function parseRoles(v: string): RoleName[] {
  const all: RoleName[] = ["trainer", "verifier", "aggregator"];
  if (v === "all") return all;
  const parts = v.split(",").map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError(`--roles needs at least one of ${all.join(", ")} (or "all")`);
  for (const p of parts) if (!all.includes(p as RoleName)) throw new InvalidArgumentError(`unknown role "${p}" (expected ${all.join(", ")} or "all")`);
  return [...new Set(parts as RoleName[])];
}

export function parseRoundList(v: string): number[] {
  const rounds = v.split(",").map((x) => x.trim()).filter(Boolean).map(Number);
  if (rounds.length === 0 || rounds.some((r) => !Number.isInteger(r) || r < 1)) throw new InvalidArgumentError(`expected a list of round numbers >= 1 like "1,3", got "${v}"`);
  return rounds;
}

export function parsePartition(v: string): PartitionFlag {
  const [kind, arg] = v.split(":");
  const needNum = (what: string): number => {
    const n = Number(arg);
    if (arg === undefined || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--partition ${kind} needs a positive ${what}, e.g. "${kind}:${kind === "shards" ? 2 : 0.5}"`);
    return n;
  };
  switch (kind) {
    case "iid": return { kind: "iid" };
    case "dirichlet": return { kind: "dirichlet", alpha: needNum("alpha") };
    case "shards": return { kind: "shards", classesPerPeer: Math.round(needNum("number of classes per peer")) };
    case "quantity": return { kind: "quantity", alpha: needNum("alpha") };
    default: throw new InvalidArgumentError(`unknown partition "${v}" (expected iid, dirichlet:ALPHA, shards:K, quantity:ALPHA)`);
  }
}

export function agentCommand(): Command {
  return new Command("peerfl agent")
    .description("Run one peerfl peer: registers on chain, then trains / verifies / aggregates each round as its roles say.")
    .option("--rpc <url>", "JSON-RPC URL of the chain node", "http://127.0.0.1:8545")
    .option("--contract <address>", "FederatedTask address (default: Ignition's deployment for this chain)")
    .option("--key-file <path>", "file holding this peer's private key (hex); must be mode 0600 or stricter")
    .addOption(new Option("--private-key <hex>", "wallet private key; visible in `ps`, prefer --key-file or PEERFL_PRIVATE_KEY").env("PEERFL_PRIVATE_KEY"))
    .option("--account <n>", "Hardhat development account index (public keys: local chain 31337 only)", int("--account", 0, 1000), 1)
    .option("--roles <list>", "trainer,verifier,aggregator or all", parseRoles, ["trainer", "verifier", "aggregator"] as RoleName[])
    .option("--dataset <name|dir>", "mnist, fashion-mnist, or a directory of IDX files", "mnist")
    .option("--partition <scheme>", "iid | dirichlet:ALPHA | shards:K | quantity:ALPHA", parsePartition, { kind: "iid" } as PartitionFlag)
    .option("--partition-seed <n>", "seed shared by all peers so shards are disjoint", int("--partition-seed", 0), 42)
    .option("--peers <n>", "number of shards the training set is split into", int("--peers", 1, 256), 1)
    .option("--peer-index <i>", "this peer's shard (0-based)", int("--peer-index", 0, 255), 0)
    .option("--max-samples <n>", "cap on this peer's shard size (smaller, faster runs)", int("--max-samples", 10))
    .addOption(new Option("--model <name>", "expected model (the task's model spec on chain is authoritative)").choices(["mlp", "cnn"]))
    .option("--epochs <n>", "local epochs per round", int("--epochs", 1, 100), 1)
    .option("--batch-size <n>", "local batch size", int("--batch-size", 1, 4096), 32)
    .option("--lr <x>", "local learning rate (3e-3: best of bench:learning for Adam, batch 32)", num("--lr", 0, 10), 0.003)
    .addOption(new Option("--optimizer <name>", "local optimizer").choices(["sgd", "adagrad", "adam"]).default("adam"))
    .addOption(new Option("--dp <unit>", "example: train with DP-SGD (per-example clipping + Gaussian noise, Poisson sampling); peer-level DP is a task setting on chain").choices(["off", "example"]).default("off"))
    .option("--dp-example-clip <C>", "DP-SGD per-example clip norm", num("--dp-example-clip", 0), 1)
    .option("--dp-example-sigma <x>", "DP-SGD noise multiplier (noise std = sigma x C per step)", num("--dp-example-sigma", 0), 1.1)
    .option("--dp-example-batch <n>", "DP-SGD expected batch size (sampling rate = batch / shard size)", int("--dp-example-batch", 1, 65536), 256)
    .option("--privacy-ledger <address>", "the task's PrivacyLedger: its example-level DP parameters are binding (the flags above only fill what it leaves open), and this peer reports its epsilon there each round and stops committing at the budget")
    .addOption(new Option("--exit-at <point>", "FAULT INJECTION for tests, private mode: before-reveal = in a round this peer committed in, when training closes it stops acting (never reveals its shares, never votes) and kills itself 10 s later (its IPFS node serves its masked update until then)").choices(["before-reveal"]))
    .option("--secagg <address>", "private task mode: the task's SecureAggregation contract; this peer masks its updates (secure aggregation), reveals its neighbours' shares, and votes on the unmasked candidate aggregate (docs/secure-aggregation.md)")
    .option("--cluster-rounds <address>", "clustered task mode: the task's ClusterRounds contract; a D2D cluster head judges its members' updates and records the cluster aggregate there, verifiers and aggregators work on cluster aggregates and lone updates (docs/d2d-clusters.md)")
    .addOption(new Option("--cluster-head-attack <kind>", "EXPERIMENTS ONLY: when this peer heads a cluster, it lies in its record (scale-aggregate: 3x the aggregate's delta; drop-member: leaves out an honest member)").choices(["scale-aggregate", "drop-member"]))
    .option("--data-dir <dir>", "where this peer keeps its IPFS repo and keys (default .peerfl/<address>)")
    .option("--ipfs-api <url>", "use a Kubo RPC API instead of the embedded IPFS node")
    .option("--ipfs-port <n>", "embedded IPFS node's TCP port on 127.0.0.1 (0 = any)", int("--ipfs-port", 0, 65535), 0)
    .option("--ipfs-host <ipv4>", "listen the embedded IPFS node on this address of the host (e.g. a network namespace's own), not 127.0.0.1")
    .option("--ipfs-allow-net <cidr>", "also dial and accept IPFS peers in this IPv4 network (e.g. the run's namespace bridge 10.201.7.0/24); nothing else outside loopback")
    .option("--ipfs-peer <multiaddr>", "an IPFS peer to dial at start (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--fetch-timeout <ms>", "give up fetching an update after this long (it is then rejected)", int("--fetch-timeout", 100), 20000)
    .option("--attack <kind>", `EXPERIMENTS ONLY: behave maliciously (${attackKinds.join("|")})`)
    .option("--attack-scale <x>", "strength parameter of the attack", num("--attack-scale", 0))
    .option("--attack-rounds <list>", "attack only in these rounds, e.g. 1,2 (default: every round)", parseRoundList)
    .option("--collude-dir <dir>", "EXPERIMENTS ONLY: share honest deltas with the other attackers through this directory (ALIE, IPM, min-max, min-sum use the group's statistics)")
    .option("--colluders <n>", "EXPERIMENTS ONLY: size of the colluding group to wait for (with --collude-dir)", int("--colluders", 1, 256), 1)
    .addOption(new Option("--backend <name>", "tfjs backend").choices(["auto", "tensorflow", "wasm", "cpu"]).default("auto"))
    .addOption(new Option("--log-format <f>", "log format").choices(["text", "json"]).default("text"))
    .addOption(new Option("--log-level <l>", "log level").choices(["debug", "info", "warn", "error"]).default("info"))
    .option("--stay", "keep running (serving IPFS content) after the task completes", false)
    .option("--poll <ms>", "chain polling interval", int("--poll", 50, 60000), 400)
    .option("--chain-retries <n>", "how often to retry reaching the chain node at start-up", int("--chain-retries", 1, 10000), 30)
    .option("--scenario <file>", "5G link scenario JSON (positions, base station, modes)")
    .addOption(new Option("--link-mode <mode>", "force the D2D link mode for every pair").choices(["auto", "direct", "relay", "infrastructure"]))
    .option("--link-peers <addresses>", "comma-separated account addresses by scenario position (position i = address i), so each remote peer's emulated link matches where it stands; default: registration order", addressList)
    .option("--relay-base-port <n>", "UE-to-network relay forwarder of peer i listens on this + i", int("--relay-base-port", 1024, 65000), 9700)
    .option("--name <name>", "name used in logs (default peer<index>)")
    .addOption(new Option("--device-tier <name>", "device profile: training speed, battery, energy, thermal throttling (default: the --scenario file's devices[peer-index], else none)").choices(TIER_NAMES));
}

/** Parses agent flags; throws UsageError (exit 2) for anything malformed. Returns null for --help. */
export function parseAgentArgs(argv: string[]): AgentConfig | null {
  // Commander writes nothing itself: help goes out once, from main (agentHelp), errors as UsageError.
  const cmd = agentCommand().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  try {
    cmd.parse(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.help") return null;
      throw new UsageError(err.message.replace(/^error: /, ""));
    }
    throw err;
  }
  const o = cmd.opts();
  if (o.peerIndex >= o.peers) throw new UsageError(`--peer-index ${o.peerIndex} must be < --peers ${o.peers}`);
  if (o.privateKey && !/^(0x)?[0-9a-fA-F]{64}$/.test(o.privateKey)) {
    throw new UsageError(`${cmd.getOptionValueSource("privateKey") === "env" ? "PEERFL_PRIVATE_KEY" : "--private-key"} must be 32 bytes of hex`);
  }
  let privateKey: string | undefined = o.privateKey;
  let keySource: KeySource = privateKey ? (cmd.getOptionValueSource("privateKey") === "env" ? "env" : "private-key-flag") : "hardhat-account";
  if (o.keyFile) {
    if (keySource === "private-key-flag") throw new UsageError("--key-file and --private-key name two keys: pass one");
    try { privateKey = readKeyFile(o.keyFile); } catch (err) {
      if (err instanceof KeyPolicyError) throw new UsageError(err.message);
      throw err;
    }
    keySource = "key-file"; // an explicit flag wins over PEERFL_PRIVATE_KEY
  }
  if (o.privacyLedger && !/^0x[0-9a-fA-F]{40}$/.test(o.privacyLedger)) throw new UsageError(`--privacy-ledger must be a 0x-prefixed 20-byte address, got "${o.privacyLedger}"`);
  if (o.secagg && !/^0x[0-9a-fA-F]{40}$/.test(o.secagg)) throw new UsageError(`--secagg must be a 0x-prefixed 20-byte address, got "${o.secagg}"`);
  if (o.clusterRounds && !/^0x[0-9a-fA-F]{40}$/.test(o.clusterRounds)) throw new UsageError(`--cluster-rounds must be a 0x-prefixed 20-byte address, got "${o.clusterRounds}"`);
  if (o.clusterHeadAttack && !o.clusterRounds) throw new UsageError("--cluster-head-attack needs --cluster-rounds");
  if (o.exitAt && !o.secagg) throw new UsageError("--exit-at before-reveal is a private-mode fault: it needs --secagg");
  const given = (name: string) => cmd.getOptionValueSource(name) === "cli";
  if (o.contract && !/^0x[0-9a-fA-F]{40}$/.test(o.contract)) throw new UsageError(`--contract must be a 0x-prefixed 20-byte address, got "${o.contract}"`);
  try { new URL(o.rpc); } catch { throw new UsageError(`--rpc is not a URL: "${o.rpc}"`); }
  if (o.ipfsApi) { try { new URL(o.ipfsApi); } catch { throw new UsageError(`--ipfs-api is not a URL: "${o.ipfsApi}"`); } }
  return {
    rpcUrl: o.rpc, contract: o.contract, privateKey, keySource, keyFile: o.keyFile, accountIndex: o.account, roles: o.roles,
    dataset: o.dataset, partition: o.partition, partitionSeed: o.partitionSeed, peers: o.peers, peerIndex: o.peerIndex,
    maxSamples: o.maxSamples, model: o.model, epochs: o.epochs, batchSize: o.batchSize, learningRate: o.lr,
    optimizer: o.optimizer,
    exampleDp: o.dp === "example" ? { clipNorm: o.dpExampleClip, noiseMultiplier: o.dpExampleSigma, expectedBatchSize: o.dpExampleBatch } : undefined,
    exampleDpFlags: {
      ...(given("dpExampleClip") ? { clipNorm: o.dpExampleClip } : {}),
      ...(given("dpExampleSigma") ? { noiseMultiplier: o.dpExampleSigma } : {}),
      ...(given("dpExampleBatch") ? { expectedBatchSize: o.dpExampleBatch } : {}),
    },
    privacyLedger: o.privacyLedger,
    secagg: o.secagg, exitAt: o.exitAt,
    clusterRounds: o.clusterRounds, clusterHeadAttack: o.clusterHeadAttack,
    dataDir: o.dataDir ?? "", ipfsApi: o.ipfsApi, ipfsPort: o.ipfsPort, ipfsPeers: o.ipfsPeer, ipfsHost: o.ipfsHost, ipfsAllowNet: o.ipfsAllowNet,
    fetchTimeoutMs: o.fetchTimeout, attack: o.attack, attackScale: o.attackScale, attackRounds: o.attackRounds, colludeDir: o.colludeDir, colluders: o.colluders, backend: o.backend,
    logFormat: o.logFormat, logLevel: o.logLevel, stay: o.stay, pollMs: o.poll, chainRetries: o.chainRetries, scenario: o.scenario,
    linkMode: o.linkMode, linkPeers: o.linkPeers, relayBasePort: o.relayBasePort, name: o.name, deviceTier: o.deviceTier,
  };
}

export function agentHelp(): string {
  return agentCommand().helpInformation();
}
