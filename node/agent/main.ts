/** `peerfl agent`: flags -> one running peer. */
import { mkdirSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateKeyPairSync, createPublicKey } from "node:crypto";
import { hexlify, Wallet } from "ethers";
import { agentHelp, parseAgentArgs, UsageError, type AgentConfig } from "./config.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { connectTask, hardhatAccount, KeyPolicyError, PROJECT_ROOT } from "../chain/connect.ts";
import { InsufficientFundsError, TxNotMinedError, TxRevertedError } from "../chain/tx.ts";
import { Agent } from "./agent.ts";
import { createLearner, learnerSeed } from "../ml/learner.ts";
import { directoryChannel } from "../attacks/collusion.ts";
import { createAttackFor } from "./attack.ts";
import { learnerSettingsUnder, openPrivacyLedger } from "./privacy.ts";
import { openSecureAggregation } from "../secagg/agent-setup.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";
import { collectGarbage } from "../lib/entry.ts";
import type { TrainerDeviceState } from "../devices/trainer-side.ts";

/** X25519 key for later secure aggregation; its 32-byte public key is registered on chain. */
function loadOrCreateKey(dir: string): string {
  const file = path.join(dir, "x25519.pem");
  let pem: string;
  if (existsSync(file)) pem = readFileSync(file, "utf8");
  else {
    pem = generateKeyPairSync("x25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    writeFileSync(file, pem, { mode: 0o600 });
  }
  const raw = createPublicKey(pem).export({ type: "spki", format: "der" });
  return hexlify(raw.subarray(raw.length - 32));
}

async function openStore(cfg: AgentConfig, dataDir: string, log: Logger, allowDial?: (ma: string) => boolean): Promise<{ store: ModelStore; announce: string }> {
  if (cfg.ipfsApi) {
    const { createKuboStore } = await import("../../ipfs/kubo-store.ts");
    const store = await createKuboStore({ apiUrl: cfg.ipfsApi });
    const addrs = await store.multiaddrs();
    return { store, announce: addrs.find((a: string) => a.includes("/127.0.0.1/")) ?? addrs[0] ?? "" };
  }
  const { createEmbeddedStore } = await import("../../ipfs/embedded-store.ts");
  const { ipv4CidrMatcher } = await import("../netns/cidr.ts");
  const allowIp = cfg.ipfsAllowNet ? ipv4CidrMatcher(cfg.ipfsAllowNet) : undefined;
  const store = await createEmbeddedStore({ repoDir: path.join(dataDir, "ipfs"), listenPort: cfg.ipfsPort, allowDial, listenHost: cfg.ipfsHost, allowIp });
  const addrs = await store.multiaddrs();
  log.info("ipfs-ready", { peerId: await store.peerId(), addrs });
  return { store, announce: addrs[0] ?? "" };
}

/** Exit codes: 0 done, 1 cannot continue (no funds, refused registration, chain gone), 2 bad flags or key. */
export const EXIT_FATAL = 1;
export const EXIT_USAGE = 2;

/** One line saying why the agent cannot go on; the demo shows it as the peer's cause of death. */
export function fatalReason(err: unknown): string {
  if (err instanceof TxRevertedError) return `the contract refused ${err.method}: ${err.errorName}(${err.errorArgs.map(String).join(", ")})`;
  if (err instanceof Error) return err.message.split("\n")[0];
  return String(err);
}

export async function main(argv: string[]): Promise<number> {
  let cfg: AgentConfig | null;
  try {
    cfg = parseAgentArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`peerfl agent: ${err.message}\n(run "peerfl agent --help" for the flags)\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (!cfg) { process.stdout.write(agentHelp()); return 0; }
  const log = createLogger({ name: cfg.name ?? `peer${cfg.peerIndex}`, format: cfg.logFormat, level: cfg.logLevel });
  if (cfg.keySource === "private-key-flag") {
    log.warn("private-key-on-command-line", { hint: "other users see it in `ps` and shell history: use --key-file PATH (mode 0600) or PEERFL_PRIVATE_KEY" });
  }

  let attack;
  try {
    attack = cfg.attack ? await createAttackFor(cfg.attack, { scale: cfg.attackScale, seed: cfg.peerIndex + 1, numPeers: cfg.peers, rounds: cfg.attackRounds }) : undefined;
  } catch (err) {
    process.stderr.write(`peerfl agent: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }

  // A dropped connection to the chain node or a peer (the node restarting, a peer crashing) can
  // surface as an error event nobody listens to (e.g. "socket hang up" on a pooled HTTP socket).
  // It must not kill the agent: the loop retries from chain state. Anything else stays fatal.
  guardNetworkErrors = () => {
    // tfjs-backend-wasm (Emscripten) installs a handler that re-throws every uncaught exception:
    // ours replaces it (it is installed again once the learner has loaded tfjs).
    process.removeAllListeners("uncaughtException");
    process.on("uncaughtException", (err: NodeJS.ErrnoException) => {
      if (isTransientNetworkError(err)) {
        log.warn("network-error", { code: err.code, reason: err.message });
        return;
      }
      log.error("fatal", { reason: err.message, error: err.name });
      process.exit(EXIT_FATAL);
    });
  };
  guardNetworkErrors();

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined); };
  try {
    await runAgent(cfg, log, attack, cleanups);
    await cleanup();
    return 0;
  } catch (err) {
    // Nothing the agent can do about these by itself: say why in one line and exit non-zero.
    const code = err instanceof KeyPolicyError ? EXIT_USAGE : EXIT_FATAL;
    log.error("fatal", {
      reason: fatalReason(err), error: (err as Error)?.name,
      ...(err instanceof InsufficientFundsError ? { address: err.address, balanceWei: err.balanceWei?.toString() } : {}),
      ...(err instanceof TxNotMinedError ? { nonce: err.nonce } : {}),
    });
    await cleanup();
    // An IPFS or RPC handle that outlives cleanup must not keep a dead agent alive.
    setTimeout(() => process.exit(code), 1000).unref();
    return code;
  }
}

let guardNetworkErrors: () => void = () => {};

/** --device-tier, else the scenario file's devices[peerIndex] (battery, charging), else no device profile. */
async function deviceFor(cfg: AgentConfig, log: Logger): Promise<TrainerDeviceState | undefined> {
  const { DeviceSession } = await import("../devices/session.ts");
  const fromScenario = cfg.scenario ? (await (await import("../devices/scenario.ts")).loadDevices(cfg.scenario))[cfg.peerIndex] : undefined;
  const tier = cfg.deviceTier ?? fromScenario?.tier;
  if (!tier) return undefined;
  const session = new DeviceSession({ ...(fromScenario?.tier === tier ? fromScenario : {}), tier });
  log.info("device", { tier, battery: session.batteryPercent.toFixed(0) + "%", charging: session.charging, minBattery: session.minBatteryPercent + "%" });
  return { session, epochs: cfg.epochs };
}

function isTransientNetworkError(err: NodeJS.ErrnoException): boolean {
  return ["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_SOCKET"].includes(err?.code ?? "")
    || /socket hang up/i.test(err?.message ?? "");
}

async function runAgent(cfg: AgentConfig, log: Logger, attack: Awaited<ReturnType<typeof createAttackFor>> | undefined, cleanups: (() => Promise<void>)[]): Promise<void> {
  const address = cfg.privateKey ? new Wallet(cfg.privateKey).address : hardhatAccount(cfg.accountIndex).address;
  const dataDir = path.resolve(cfg.dataDir || path.join(PROJECT_ROOT, ".peerfl", "agents", address));
  mkdirSync(dataDir, { recursive: true });

  // 5G link emulation: the chain RPC and every peer-to-peer connection take this peer's emulated path.
  let rpcUrl = cfg.rpcUrl;
  let routeTo: ((i: number, ma: string) => Promise<string>) | undefined;
  let allowDial: ((ma: string) => boolean) | undefined;
  if (cfg.scenario || cfg.linkMode) {
    const { linkLayerForAgent } = await import("./links.ts");
    const layer = await linkLayerForAgent({ scenarioFile: cfg.scenario, forcedMode: cfg.linkMode, numPeers: cfg.peers, selfIndex: cfg.peerIndex, relayBasePort: cfg.relayBasePort, statsFile: path.join(dataDir, "links.json") });
    cleanups.push(() => layer.close());
    await layer.serveRelay(cfg.rpcUrl);
    rpcUrl = await layer.rpcUrl(cfg.rpcUrl);
    routeTo = (i, ma) => layer.routeTo(i, ma);
    // Every outbound libp2p dial must go through one of this peer's link proxies (or to a bootstrap
    // node such as the task creator's): addresses learned by identify cannot bypass the emulation.
    const tcpPort = (ma: string) => Number(/\/tcp\/(\d+)/.exec(ma)?.[1] ?? -1);
    const bootstrapPorts = new Set(cfg.ipfsPeers.map(tcpPort));
    allowDial = (ma) => bootstrapPorts.has(tcpPort(ma)) || layer.routedPorts().includes(tcpPort(ma));
    log.info("links", { rpcVia: rpcUrl, mode: cfg.linkMode ?? "auto" });
  }

  // A chain node that is not up yet (or restarting) is waited for, with the reason logged.
  // A key the policy refuses will not become acceptable by waiting.
  let conn: Awaited<ReturnType<typeof connectTask>> | undefined;
  for (let attempt = 1; !conn; attempt++) {
    try {
      conn = await connectTask({
        rpcUrl, contract: cfg.contract, privateKey: cfg.privateKey, accountIndex: cfg.accountIndex,
        keySource: cfg.keySource === "hardhat-account" ? undefined : cfg.keySource,
      });
    } catch (err) {
      if (err instanceof KeyPolicyError || attempt >= cfg.chainRetries) throw err;
      log.warn("chain-unavailable", { attempt, of: cfg.chainRetries, reason: (err as Error).message });
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * attempt)));
    }
  }
  const { store, announce } = await openStore(cfg, dataDir, log, allowDial);
  cleanups.push(() => store.stop());
  const publicKey = loadOrCreateKey(dataDir);
  const device = await deviceFor(cfg, log);
  // The task's privacy ledger: its example-level parameters set this peer's DP-SGD; epsilon is reported there.
  const privacy = cfg.privacyLedger ? await openPrivacyLedger(cfg.privacyLedger, conn, log) : undefined;
  const learnerCfg = privacy ? learnerSettingsUnder(privacy, cfg, log) : cfg;
  // Private task mode: the task's SecureAggregation side contract and this peer's long-term X25519 key.
  const secagg = cfg.secagg ? await openSecureAggregation(cfg.secagg, conn, dataDir, log) : undefined;
  if (secagg && cfg.exitAt) secagg.faultExitAt = cfg.exitAt; // fault injection (tests): node/secagg/roles.ts
  // Clustered task mode: the task's ClusterRounds side contract and the scenario it names (fetched from IPFS).
  const clusters = cfg.clusterRounds ? await (await import("../roles/cluster-roles.ts")).openClusterRounds(cfg.clusterRounds, conn, store, log, { dial: cfg.ipfsPeers }) : undefined;
  if (clusters && cfg.clusterHeadAttack) clusters.headAttack = cfg.clusterHeadAttack;
  const agent = new Agent({
    conn, store, log, roles: cfg.roles, announceAddr: announce, publicKey, fetchTimeoutMs: cfg.fetchTimeoutMs,
    pollMs: cfg.pollMs, stay: cfg.stay, attack, routeTo, linkPeers: cfg.linkPeers, bootstrapPeers: cfg.ipfsPeers,
    dataIndex: cfg.peerIndex, numPeers: cfg.peers, stateDir: dataDir, device, privacy, secagg, clusters,
    colluders: attack && cfg.colludeDir ? directoryChannel({ dir: cfg.colludeDir, id: `peer${cfg.peerIndex}`, groupSize: cfg.colluders ?? 1 }) : undefined,
    makeLearner: (spec) => {
      if (cfg.model && cfg.model !== spec.model) log.warn("model-flag-ignored", { flag: cfg.model, task: spec.model });
      // The dataset files were read whole to cut this peer's shard out: give that memory back now.
      return createLearner({ ...learnerCfg, spec, seed: learnerSeed(cfg.peerIndex), log }).then((learner) => { guardNetworkErrors(); collectGarbage(); return learner; });
    },
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal });
    agent.stop();
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  await agent.register();
  await agent.run();
}
