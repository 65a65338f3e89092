/**
 * Clustered rounds in the agents (`peerfl agent --cluster-rounds <address>`, docs/d2d-clusters.md):
 * the I/O around node/roles/cluster-round.ts.
 *
 * - Every trainer commits its own update through the task's commitUpdate, as in a flat round.
 * - Head (VerifyCommit, first part of the window): fetch the members' updates over the link layer
 *   (the agents' IPFS dials go through the 5G emulation, D2D when in sidelink range), judge them with
 *   the task's rule, pin the cluster aggregate, record it in ClusterRounds.
 * - Verifier: once the record window closed (or every head recorded), judge the round's clusters and
 *   lone peers (judgeClusteredRound) and vote per commit through the task as always.
 * - Aggregator: the same judgement, then FedAvg of the inputs the on-chain mask accepted.
 */
import { CID } from "multiformats/cid";
import type { RoundState } from "../chain/task-chain.ts";
import type { TaskConnection } from "../chain/connect.ts";
import type { Logger } from "../lib/log.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";
import { parseDevices } from "../devices/scenario.ts";
import { parseScenario } from "../links/scenario.ts";
import { maskHas } from "../protocol/codecs.ts";
import { Phase } from "../protocol/ids.ts";
import { roundRulesOf } from "../protocol/task-config.ts";
import type { RoundModels, RoundVerdict } from "../protocol/verdict.ts";
import { publishAggregate } from "./publish-aggregate.ts";
import { clusterRoundsWriter, maskOfPeers, type ClusterRoundsWriter } from "./cluster-chain.ts";
import {
  aggregateClusteredRound, clusterSeed, judgeCluster, judgeClusteredRound, roundClustering,
  type ClusterSetup, type ClusteredRound, type IndexedCommit,
} from "./cluster-round.ts";
import type { RoleContext } from "./context.ts";
import type { PendingAggregate } from "./reveals.ts";
import { fetchUpdates, phaseBudget, roundModels } from "./round-inputs.ts";
import type { FetchBudget } from "./models.ts";

/**
 * EXPERIMENTS ONLY: a lying head. `scale-aggregate` records an aggregate whose delta is 3x the
 * honest one; `drop-member` leaves out one honest member it should have included.
 */
export type HeadAttack = "scale-aggregate" | "drop-member";

export interface ClusterRoleContext {
  chain: ClusterRoundsWriter;
  setup: ClusterSetup;
  headAttack?: HeadAttack;
}

/** The side contract is missing, belongs to another task, is not configured, or its scenario cannot be read. */
export class ClusterSetupError extends Error {
  override name = "ClusterSetupError";
}

/** The record window is still open and some heads have not recorded: judging now could differ from the committee. */
export class ClusterRecordsPendingError extends Error {
  override name = "ClusterRecordsPendingError";
}

/**
 * Reads the JSON the ClusterRounds config names into the clustering's inputs: either
 * `{"scenario": {...a scenario file...}, "peers": ["0x…", …]}` (address i stands at scenario
 * position i; what the demo publishes) or a bare scenario file (position i = on-chain peer index i).
 */
export function clusterSetupFrom(scenarioJson: Uint8Array, o: { maxClusterSize: number; minHeadEnergy: number }): ClusterSetup {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(scenarioJson));
  } catch (err) {
    throw new ClusterSetupError(`the clustered mode's scenario is not JSON: ${(err as Error).message}`);
  }
  const wrapped = typeof json === "object" && json !== null && "scenario" in json;
  const scenarioJsonValue = wrapped ? (json as { scenario: unknown }).scenario : json;
  let addresses: string[] | null = null;
  if (wrapped) {
    const peers = (json as { peers?: unknown }).peers;
    if (!Array.isArray(peers) || !peers.every((a) => typeof a === "string" && /^0x[0-9a-fA-F]{40}$/.test(a))) {
      throw new ClusterSetupError("the clustered mode's deployment JSON needs \"peers\": an array of 0x addresses (address i stands at scenario position i)");
    }
    addresses = peers.map((a: string) => a.toLowerCase());
    if (new Set(addresses).size !== addresses.length) throw new ClusterSetupError("the clustered mode's \"peers\" lists an address twice");
  }
  const devices = parseDevices((scenarioJsonValue as { devices?: unknown })?.devices);
  const scenario = parseScenario(scenarioJsonValue);
  if (addresses && addresses.length > scenario.peers.length) throw new ClusterSetupError(`"peers" lists ${addresses.length} addresses for a scenario of ${scenario.peers.length} positions`);
  return { scenario, devices, addresses, maxClusterSize: o.maxClusterSize, minHeadEnergy: o.minHeadEnergy };
}

/** The JSON the demo publishes for ClusterRounds: the scenario file and the address at each of its positions. */
export function clusterDeploymentJson(scenarioFileJson: unknown, addresses: readonly string[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ scenario: scenarioFileJson, peers: addresses }));
}

/** `--cluster-rounds <address>`: open the side contract, check it belongs to this task, fetch its scenario from IPFS. */
export async function openClusterRounds(address: string, conn: TaskConnection, store: ModelStore, log: Logger, o: { timeoutMs?: number; dial?: string[] } = {}): Promise<ClusterRoleContext> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  if ((await conn.provider.getCode(address)) === "0x") throw new ClusterSetupError(`no contract at --cluster-rounds ${address}`);
  const chain = clusterRoundsWriter(address, conn.signer, log);
  const task = await chain.taskAddress();
  if (task.toLowerCase() !== String(conn.task.target).toLowerCase()) {
    throw new ClusterSetupError(`the ClusterRounds contract at ${address} belongs to task ${task}, not to ${String(conn.task.target)}`);
  }
  const config = await chain.config();
  if (!config) throw new ClusterSetupError(`the ClusterRounds contract at ${address} is not configured yet (the task's initiator calls configure)`);
  // The scenario is public content: the task creator's node (and any peer that pinned it) serves it.
  for (const addr of o.dial ?? []) await store.dial(addr, { timeoutMs: 5000 }).catch(() => undefined);
  const bytes = await store.get(config.scenarioCid.toString(), { timeoutMs, maxBytes: 1 << 20 });
  await store.pin(config.scenarioCid.toString()).catch(() => undefined);
  const setup = clusterSetupFrom(bytes, config);
  log.info("cluster-rounds", { address, scenario: config.scenarioCid.toString(), peers: setup.scenario.peers.length, maxClusterSize: config.maxClusterSize, minHeadEnergy: config.minHeadEnergy, recordWindowBps: config.recordWindowBps });
  return { chain, setup };
}

/** The round's commits with their trainers' peer indices. */
async function indexedCommits(ctx: RoleContext, round: RoundState): Promise<IndexedCommit[]> {
  const commits = await ctx.chain.commits(round.round, round.commitCount);
  const index = new Map((await ctx.chain.peers()).map((p) => [p.address.toLowerCase(), p.peerIndex]));
  return commits.map((c) => {
    const peerIndex = index.get(c.trainer.toLowerCase());
    if (peerIndex === undefined) throw new Error(`round ${round.round}: trainer ${c.trainer} of commit ${c.index} is not a registered peer`);
    return { index: c.index, peerIndex, trainer: c.trainer, cid: c.cid, numSamples: c.numSamples };
  });
}

const seedOf = (ctx: RoleContext, round: RoundState) => clusterSeed(ctx.chain.contractAddress, round.round, round.globalModelCid!.toString());

/**
 * Head, in VerifyCommit: when this peer heads a cluster of the round's clustering and has not recorded
 * yet, judge its members, pin the cluster aggregate and record it. Returns true when it sent the record.
 */
export async function runClusterHead(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<boolean> {
  const cl = ctx.clusters!;
  const me = (await ctx.chain.peer(ctx.chain.account))?.peerIndex;
  if (me === undefined) return false;
  const commits = await indexedCommits(ctx, round);
  const clustering = roundClustering(cl.setup, commits, seedOf(ctx, round));
  const mine = clustering.clusters.find((c) => c.head === me);
  if (!mine) return false;
  if ((await cl.chain.records(round.round)).some((r) => r.headIndex === me)) return false;
  const deadline = await cl.chain.recordDeadline(round.round);
  if (deadline === 0 || ctx.now() > deadline) {
    ctx.log.warn("cluster-record-missed", { round: round.round, recordDeadline: deadline });
    return false;
  }
  const budget: FetchBudget = { timeoutMs: fetchTimeoutMs, deadlineMs: Math.max(deadline * 1000 - 5000, ctx.now() * 1000 + 2000) };
  const models = await roundModels(ctx, round, budget);
  const byPeer = new Map(commits.map((c) => [c.peerIndex, c]));
  const members = mine.members.map((m) => m.peer);
  const memberCommits = members.map((p) => byPeer.get(p)!);
  const fetchedBefore = ctx.models.fetchedBytes;
  const updates = await fetchUpdates(ctx, memberCommits.map((c) => ({ ...c, trainer: "" })), { ...budget, base: { cid: round.globalModelCid!.toString(), weights: models.global } });
  const rules = roundRulesOf(ctx.task);
  const judged = judgeCluster(rules, models, updates);
  let included = members.filter((_, k) => judged.included[k]);
  let aggregate = judged.aggregate;
  if (cl.headAttack === "drop-member" && included.length > 1) {
    const dropped = included.find((p) => p !== me)!;
    included = included.filter((p) => p !== dropped);
    const kept = updates.filter((_, k) => included.includes(members[k]));
    aggregate = judgeCluster({ ...rules, copyCosineThreshold: 0 }, models, kept).aggregate;
    ctx.log.warn("cluster-head-attack", { round: round.round, attack: cl.headAttack, dropped });
  } else if (cl.headAttack === "scale-aggregate" && aggregate) {
    const g = models.global;
    aggregate = aggregate.map((w, k) => g[k] + 3 * (w - g[k]));
    ctx.log.warn("cluster-head-attack", { round: round.round, attack: cl.headAttack });
  }
  const cid = aggregate ? CID.parse(await ctx.models.put(aggregate)) : null;
  const sent = await cl.chain.recordCluster(round.round, maskOfPeers(members), maskOfPeers(included), cid);
  ctx.log.info("cluster-recorded", {
    round: round.round, head: me, members: members.join(","), included: included.join(","), cid: cid?.toString() ?? "", samples: judged.samples,
    memberBytesFetched: ctx.models.fetchedBytes - fetchedBefore, gas: sent.gasUsed,
  });
  return true;
}

/** Judge the round once the record window closed (or every head recorded); throws ClusterRecordsPendingError before. */
export async function judgeRoundClustered(ctx: RoleContext, round: RoundState, windowSeconds: number, fetchTimeoutMs: number): Promise<{ judged: ClusteredRound; models: RoundModels }> {
  const cl = ctx.clusters!;
  const commits = await indexedCommits(ctx, round);
  const seed = seedOf(ctx, round);
  const clustering = roundClustering(cl.setup, commits, seed);
  const records = await cl.chain.records(round.round);
  const recorded = new Set(records.map((r) => r.headIndex));
  const waiting = clustering.clusters.filter((c) => !recorded.has(c.head)).map((c) => c.head);
  if (waiting.length > 0 && round.phase === Phase.VerifyCommit) {
    const deadline = await cl.chain.recordDeadline(round.round);
    if (deadline !== 0 && ctx.now() <= deadline) throw new ClusterRecordsPendingError(`round ${round.round}: heads ${waiting.join(", ")} may still record until ${deadline}`);
  }
  const budget = phaseBudget(ctx, round, windowSeconds, fetchTimeoutMs, round.commitCount);
  const models = await roundModels(ctx, round, budget);
  const base = { cid: round.globalModelCid!.toString(), weights: models.global };
  const byIndex = new Map(commits.map((c) => [c.index, c]));
  const judged = await judgeClusteredRound({
    rules: roundRulesOf(ctx.task), models, spec: ctx.spec, setup: cl.setup, seed, commits, records,
    fetch: (idx) => fetchUpdates(ctx, idx.map((i) => ({ ...byIndex.get(i)!, trainer: "" })), { ...budget, base }),
  });
  return { judged, models };
}

/** The verifier's verdict in a clustered round (same shape as the flat one). */
export async function clusteredVerdict(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<RoundVerdict> {
  const { judged } = await judgeRoundClustered(ctx, round, ctx.task.verificationDuration, fetchTimeoutMs);
  ctx.log.info("clusters-judged", {
    round: round.round,
    clusters: judged.clusters.map((c) => `${c.head}:[${c.members.join(",")}]:${c.status}`).join(" "),
    loneCommits: judged.lone.join(","), inputs: judged.inputs.length,
  });
  for (const c of judged.clusters) if (c.status !== "ok") ctx.log.warn(c.status === "invalid" ? "cluster-head-caught" : "cluster-head-missing", { round: round.round, head: c.head, reason: c.reason });
  return { accepted: judged.accepted, mask: judged.mask, rejections: judged.rejections };
}

/** The aggregator's aggregate in a clustered round: FedAvg over the inputs the on-chain mask accepted. */
export async function clusteredAggregate(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<PendingAggregate> {
  const { judged, models } = await judgeRoundClustered(ctx, round, ctx.task.aggregationDuration, fetchTimeoutMs);
  const used = judged.inputs.filter((x) => x.commits.some((i) => maskHas(round.acceptedMask, i)));
  const missing = used.filter((x) => !x.update.weights);
  if (missing.length > 0) throw Object.assign(new Error(`round ${round.round}: accepted input(s) ${missing.map((x) => x.commits.join("+")).join(", ")} could not be fetched`), { name: "AcceptedUpdateUnavailableError" });
  const aggregate = aggregateClusteredRound(roundRulesOf(ctx.task), models, judged, (i) => maskHas(round.acceptedMask, i));
  ctx.log.info("clustered-aggregate", { round: round.round, inputs: used.map((x) => (x.kind === "cluster" ? `cluster${x.head}` : `commit${x.commits[0]}`)).join(",") });
  return publishAggregate(ctx, round.round, aggregate);
}
