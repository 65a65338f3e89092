/**
 * `peerfl explorer` (the web UI) and `peerfl audit --round R` (the same audit, in a terminal).
 * Both return an exit code instead of exiting: node/cli.ts owns the process.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { isAddress } from "ethers";
import { auditRound, type AuditResult } from "./audit.ts";
import { auditIO, contractAuditChain } from "./audit-io.ts";
import { contractPrivateAudit } from "./audit-private.ts";
import { clusterAuditIO, formatClusterAudit, type ClusteredAuditResult } from "./audit-clusters.ts";
import { errorMessage } from "./chain-client.ts";
import { startExplorerServer } from "./server.ts";
import { createExplorerService, deployedTaskAddress, DEPLOYED_ADDRESSES, DEPLOYMENT_KEY } from "./setup.ts";
import { Contract } from "ethers";
import { port, positiveInt, waitForSignal } from "../node/lib/cli-args.ts";
import { federatedTaskInterface } from "./abi.ts";
import { DEFAULT_MAX_CONCURRENT_AUDITS } from "./services/audit.ts";
import { DEFAULT_MAX_CID_BYTES } from "./services/cids.ts";
import type { EpsilonAuditRow } from "../node/privacy/ledger.ts";

const DEFAULT_RPC = "http://127.0.0.1:8545";


function address(value: string): string {
  if (!isAddress(value)) throw new InvalidArgumentError(`not an address: ${value}`);
  return value;
}

function url(value: string): string {
  try {
    new URL(value);
    return value;
  } catch {
    throw new InvalidArgumentError(`not a URL: ${value}`);
  }
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Parse with commander; returns the options, or an exit code for --help (0) and usage errors (2). */
function parse<T extends Record<string, unknown>>(program: Command, argv: string[]): T | number {
  try {
    program.parse(argv, { from: "user" });
    return program.opts<T>();
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.help" || error.code === "commander.version" ? 0 : 2;
    }
    throw error;
  }
}


interface ExplorerFlags extends Record<string, unknown> {
  rpc: string;
  contract?: string;
  port: number;
  host: string;
  ipfsApi?: string;
  ipfsRepo?: string;
  linkStats?: string;
  cidTimeout: number;
  allowedHost?: string[];
  maxAudits: number;
  maxCidBytes: number;
  privacyLedger?: string;
  clusterRounds?: string;
  secagg?: string;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export async function mainExplorer(argv: string[], io: Io = stdio): Promise<number> {
  const program = new Command("peerfl explorer")
    .description("Block explorer for a peerfl task: blocks, txs (decoded calls, events, revert errors), rounds, peers, CIDs, live charts, round audit")
    .option("--rpc <url>", "JSON-RPC URL of any EVM node", url, DEFAULT_RPC)
    .option("--contract <address>", `FederatedTask address (default: ${DEPLOYMENT_KEY} in ignition/deployments/chain-31337/deployed_addresses.json)`, address)
    .option("--port <port>", "HTTP port", port, 8600)
    .option("--host <host>", "HTTP host to listen on", "127.0.0.1")
    .option("--ipfs-api <url>", "use this Kubo RPC API instead of an embedded IPFS node", url)
    .option("--ipfs-repo <dir>", "repo directory of the embedded IPFS node (default: a temp dir)")
    .option("--link-stats <file>", "JSON file with link statistics to show in the live view")
    .option("--cid-timeout <ms>", "how long to wait for IPFS content", positiveInt, 8000)
    .option("--allowed-host <host>", "also answer to this Host header: NAME:PORT, or NAME on any port (repeatable; default: 127.0.0.1, localhost, [::1] on --port)", collect)
    .option("--max-audits <n>", "audits allowed at once; more get HTTP 429", positiveInt, DEFAULT_MAX_CONCURRENT_AUDITS)
    .option("--max-cid-bytes <bytes>", "largest content a CID page or raw download fetches; more gets HTTP 413", positiveInt, DEFAULT_MAX_CID_BYTES)
    .option("--privacy-ledger <address>", "the task's PrivacyLedger: show each trainer's epsilon per round (Privacy page, round view)", address)
    .option("--cluster-rounds <address>", "the task's ClusterRounds: show D2D clusters, heads and per-peer energy per round (Clusters page)", address)
    .option("--secagg <address>", "private task: its SecureAggregation contract; the round page's audit recomputes the sum from masked updates + revealed shares", address)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  const flags = parse<ExplorerFlags>(program, argv);
  if (typeof flags === "number") return flags;
  const contractAddress = flags.contract ?? deployedTaskAddress();
  if (!contractAddress) io.err(`peerfl explorer: no --contract and no ${DEPLOYMENT_KEY} in ${DEPLOYED_ADDRESSES}; showing the chain only\n`);
  const setup = createExplorerService({
    rpcUrl: flags.rpc,
    contractAddress,
    ipfsApi: flags.ipfsApi,
    ipfsRepo: flags.ipfsRepo,
    linkStatsPath: flags.linkStats,
    cidTimeoutMs: flags.cidTimeout,
    maxConcurrentAudits: flags.maxAudits,
    maxCidBytes: flags.maxCidBytes,
    privacyLedger: flags.privacyLedger,
    clusterRounds: flags.clusterRounds,
    secagg: flags.secagg,
  });
  await setup.service.refresh();
  const running = await startExplorerServer(setup.service, { host: flags.host, port: flags.port, allowedHosts: flags.allowedHost ?? [] });
  const chain = setup.client.status();
  io.out(`peerfl explorer on ${running.url}  (rpc ${flags.rpc}${chain.reachable ? `, chain ${chain.chainId}` : ", chain unreachable for now"}; task ${contractAddress ?? "none"}; IPFS ${setup.content.mode})\n`);
  await waitForSignal();
  await running.close();
  await setup.close();
  return 0;
}

interface AuditFlags extends Record<string, unknown> {
  round: number;
  rpc: string;
  contract?: string;
  json?: boolean;
  ipfsApi?: string;
  cidTimeout: number;
  privacyLedger?: string;
  secagg?: string;
  clusterRounds?: string;
}

export function formatAudit(result: AuditResult): string {
  const lines = [
    result.ok ? `✓ round ${result.round} reproduces` : `✗ round ${result.round} does NOT reproduce`,
    `  rule                      ${result.rule}`,
    `  accepted mask on chain    ${result.acceptedMaskOnChain}`,
    `  accepted mask recomputed  ${result.acceptedMaskRecomputed ?? "—"}`,
    `  global CID on chain       ${result.globalCidOnChain || "—"}`,
    `  global CID recomputed     ${result.globalCidRecomputed ?? "—"}`,
  ];
  for (const d of result.differences) lines.push(`  - ${d}`);
  return lines.join("\n") + "\n";
}

/** The audit's epsilon lines: one per trainer of the round (example and distributed units). */
export function formatEpsilons(rows: (EpsilonAuditRow & { trainer: string })[], unit: "peer" | "example" | "distributed" | null): string {
  if (unit !== "example" && unit !== "distributed") return `  epsilon                   ${unit === "peer" ? "peer unit: see the aggregate reveals" : "the privacy ledger is not configured"}\n`;
  const ok = rows.every((r) => r.status === "ok");
  const what = unit === "distributed" ? "peer-level epsilon (distributed Skellam noise on the secure sum)" : "example-level epsilon";
  const lines = [`${ok ? "✓" : "✗"} ${what} of ${rows.length} trainer${rows.length === 1 ? "" : "s"}`];
  for (const r of rows) {
    lines.push(`  ${r.trainer}  reported ${r.reportedMilli === null ? "none" : (r.reportedMilli / 1000).toFixed(3)}, expected ${r.expectedMilli === null ? "—" : (r.expectedMilli / 1000).toFixed(3)}  ${r.status}`);
  }
  return lines.join("\n") + "\n";
}

export async function mainAudit(argv: string[], io: Io = stdio): Promise<number> {
  const program = new Command("peerfl audit")
    .description("Re-verify a finalized round from the chain and IPFS alone (exit 0: reproduces, 1: does not, 2: usage error)")
    .requiredOption("--round <n>", "round number", positiveInt)
    .option("--rpc <url>", "JSON-RPC URL", url, DEFAULT_RPC)
    .option("--contract <address>", `FederatedTask address (default: from ${DEPLOYED_ADDRESSES})`, address)
    .option("--json", "print the result as JSON")
    .option("--ipfs-api <url>", "use this Kubo RPC API instead of an embedded IPFS node", url)
    .option("--cid-timeout <ms>", "how long to wait for each IPFS object", positiveInt, 15000)
    .option("--privacy-ledger <address>", "also check every trainer's example-level epsilon of the round against the task's DP parameters", address)
    .option("--secagg <address>", "private task: its SecureAggregation contract; the sum is recomputed from masked updates + revealed shares", address)
    .option("--cluster-rounds <address>", "clustered task: its ClusterRounds contract; both levels are recomputed (every head's record from its members' CIDs, then the global step)", address)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  const flags = parse<AuditFlags>(program, argv);
  if (typeof flags === "number") return flags;
  const contractAddress = flags.contract ?? deployedTaskAddress();
  if (!contractAddress) {
    io.err(`peerfl audit: no --contract given and no ${DEPLOYMENT_KEY} in ${DEPLOYED_ADDRESSES}\n`);
    return 2;
  }
  const setup = createExplorerService({ rpcUrl: flags.rpc, contractAddress, ipfsApi: flags.ipfsApi, cidTimeoutMs: flags.cidTimeout, privacyLedger: flags.privacyLedger });
  try {
    const provider = await setup.client.getProvider();
    const iface = federatedTaskInterface();
    // Dial every registered peer's multiaddr (read with getPeer) so bitswap can find the content.
    const task = new Contract(contractAddress, iface, provider);
    const count = Number(await task.peerCount());
    const addrs: string[] = [];
    for (let i = 0; i < count; i++) addrs.push(String((await task.getPeer(await task.peerAt(i))).multiaddr));
    await setup.content.dialPeers(addrs.filter(Boolean));
    const baseIO = auditIO(contractAuditChain(contractAddress, iface, provider), (cid) => setup.content.get(cid, { timeoutMs: flags.cidTimeout, referenced: true }));
    // Private task (--secagg): the round is recomputed from its unmasking transcript (explorer/audit-private.ts).
    const secagg = flags.secagg ? contractPrivateAudit(flags.secagg, contractAddress, iface, provider) : undefined;
    // Clustered task (--cluster-rounds): cluster level and global level (explorer/audit-clusters.ts).
    const clusters = flags.clusterRounds ? clusterAuditIO(flags.clusterRounds, contractAddress, provider, async (a) => Number((await task.getPeer(a)).peerIndex)) : undefined;
    const result = await auditRound(flags.round, { ...baseIO, secagg, clusters });
    // Example-level DP: every trainer's reported epsilon for this round against the recomputation.
    const privacy = flags.privacyLedger ? await setup.service.privacy.report() : null;
    const epsilons = privacy ? privacy.peers.flatMap((p) => p.rows.filter((r) => r.round === flags.round).map((r) => ({ trainer: p.trainer, ...r }))) : null;
    const privacyOk = !epsilons || epsilons.every((e) => e.status === "ok");
    io.out(flags.json ? JSON.stringify(epsilons ? { ...result, epsilons, privacyOk } : result, null, 2) + "\n" : formatAudit(result) + (clusters ? formatClusterAudit(result as ClusteredAuditResult) : "") + (epsilons ? formatEpsilons(epsilons, privacy?.params?.unit ?? null) : ""));
    return result.ok && privacyOk ? 0 : 1;
  } catch (error) {
    io.err(`peerfl audit: cannot audit round ${flags.round}: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    await setup.close();
  }
}
