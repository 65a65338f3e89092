/** `peerfl agent`: flags -> one running peer. */
import { mkdirSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateKeyPairSync, createPublicKey } from "node:crypto";
import { hexlify } from "ethers";
import { agentHelp, parseAgentArgs, UsageError, type AgentConfig } from "./config.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { connectTask, hardhatAccount, PROJECT_ROOT } from "../chain/connect.ts";
import { Agent } from "./agent.ts";
import { createLearner } from "./learner.ts";
import { createAttackFor } from "./attack.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";

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
  const store = await createEmbeddedStore({ repoDir: path.join(dataDir, "ipfs"), listenPort: cfg.ipfsPort, allowDial });
  const addrs = await store.multiaddrs();
  log.info("ipfs-ready", { peerId: await store.peerId(), addrs });
  return { store, announce: addrs[0] ?? "" };
}

export async function main(argv: string[]): Promise<number> {
  let cfg: AgentConfig | null;
  try {
    cfg = parseAgentArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`peerfl agent: ${err.message}\n(run "peerfl agent --help" for the flags)\n`);
      return 2;
    }
    throw err;
  }
  if (!cfg) { process.stdout.write(agentHelp()); return 0; }
  const log = createLogger({ name: cfg.name ?? `peer${cfg.peerIndex}`, format: cfg.logFormat, level: cfg.logLevel });

  let attack;
  try {
    attack = cfg.attack ? await createAttackFor(cfg.attack, { scale: cfg.attackScale, seed: cfg.peerIndex + 1, numPeers: cfg.peers, rounds: cfg.attackRounds }) : undefined;
  } catch (err) {
    process.stderr.write(`peerfl agent: ${(err as Error).message}\n`);
    return 2;
  }

  const address = cfg.privateKey ? undefined : hardhatAccount(cfg.accountIndex).address;
  const dataDir = path.resolve(cfg.dataDir || path.join(PROJECT_ROOT, ".peerfl", "agents", address ?? `key-${cfg.peerIndex}`));
  mkdirSync(dataDir, { recursive: true });

  // 5G link emulation: the chain RPC and every peer-to-peer connection take this peer's emulated path.
  let rpcUrl = cfg.rpcUrl;
  let routeTo: ((i: number, ma: string) => Promise<string>) | undefined;
  let closeLinks: (() => Promise<void>) | undefined;
  let allowDial: ((ma: string) => boolean) | undefined;
  if (cfg.scenario || cfg.linkMode) {
    const { linkLayerForAgent } = await import("./links.ts");
    const layer = await linkLayerForAgent({ scenarioFile: cfg.scenario, forcedMode: cfg.linkMode, numPeers: cfg.peers, selfIndex: cfg.peerIndex, relayBasePort: cfg.relayBasePort, statsFile: path.join(dataDir, "links.json") });
    await layer.serveRelay(cfg.rpcUrl);
    rpcUrl = await layer.rpcUrl(cfg.rpcUrl);
    routeTo = (i, ma) => layer.routeTo(i, ma);
    // Every outbound libp2p dial must go through one of this peer's link proxies (or to a bootstrap
    // node such as the task creator's): addresses learned by identify cannot bypass the emulation.
    const tcpPort = (ma: string) => Number(/\/tcp\/(\d+)/.exec(ma)?.[1] ?? -1);
    const bootstrapPorts = new Set(cfg.ipfsPeers.map(tcpPort));
    allowDial = (ma) => bootstrapPorts.has(tcpPort(ma)) || layer.routedPorts().includes(tcpPort(ma));
    closeLinks = () => layer.close();
    log.info("links", { rpcVia: rpcUrl, mode: cfg.linkMode ?? "auto" });
  }

  // A chain node that is not up yet (or restarting) is waited for, with the reason logged.
  let conn: Awaited<ReturnType<typeof connectTask>> | undefined;
  for (let attempt = 1; !conn; attempt++) {
    try {
      conn = await connectTask({ rpcUrl, contract: cfg.contract, privateKey: cfg.privateKey, accountIndex: cfg.accountIndex });
    } catch (err) {
      if (attempt >= cfg.chainRetries) throw err;
      log.warn("chain-unavailable", { attempt, of: cfg.chainRetries, reason: (err as Error).message });
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * attempt)));
    }
  }
  const { store, announce } = await openStore(cfg, dataDir, log, allowDial);
  const publicKey = loadOrCreateKey(dataDir);
  const agent = new Agent({
    conn, store, log, roles: cfg.roles, announceAddr: announce, publicKey, fetchTimeoutMs: cfg.fetchTimeoutMs,
    pollMs: cfg.pollMs, stay: cfg.stay, attack, routeTo, bootstrapPeers: cfg.ipfsPeers,
    makeLearner: (spec) => {
      if (cfg.model && cfg.model !== spec.model) log.warn("model-flag-ignored", { flag: cfg.model, task: spec.model });
      return createLearner({ ...cfg, spec, seed: 1000 + cfg.peerIndex, log });
    },
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal });
    agent.stop();
    await store.stop().catch(() => undefined);
    await closeLinks?.().catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  await agent.register();
  await agent.run();
  await store.stop().catch(() => undefined);
  await closeLinks?.().catch(() => undefined);
  return 0;
}
