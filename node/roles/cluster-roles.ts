/**
 * Clustered rounds in the agents (`peerfl agent --cluster-rounds <address>`, docs/d2d-clusters.md):
 * the I/O around node/protocol/cluster-round.ts.
 *
 * - Every trainer commits its own update through the task's commitUpdate, as in a flat round.
 * - Head (VerifyCommit, first part of the window): fetch the members' updates over the link layer
 *   (the agents' IPFS dials go through the 5G emulation, D2D when in sidelink range), judge them with
 *   the task's rule (root-validation: with its public root-set vote), pin the cluster aggregate,
 *   record it in ClusterRounds; members whose update it could not fetch in time are left out of the
 *   record (every verifier judges them alone).
 * - Verifier: once the record window closed, read (or draw) the round's check seed, check in full the
 *   clusters the seed assigns to it (clusterCheckers: fetch their members' updates, recompute) and
 *   challenge a head it catches lying; for every other cluster fetch only the head's aggregate (from
 *   the head first: owner-first fetching). After
 *   the challenge window, judge the round (challenged clusters in full, by everyone) and vote per
 *   commit through the task as always.
 * - Aggregator: the same judgement (challenged clusters in full), then FedAvg of the inputs the
 *   on-chain mask accepted.
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
import { roundRootLoss } from "./root-set.ts";
import { averageAccepted } from "./accepted-average.ts";
import { bitsOf, checkPolicyOf, clusterRoundsWriter, maskOfPeers, type ClusterRoundsWriter } from "./cluster-chain.ts";
import {
  clusterCheckers, globalAverageSetting, clusterSeed, judgeCluster, judgeClusteredRound, roundClustering,
  type ClusterSetup, type ClusteredRound, type IndexedCommit,
} from "../protocol/cluster-round.ts";
import type { RoleContext } from "./context.ts";
import type { PendingAggregate } from "./reveals.ts";
import { fetchUpdates, phaseBudget, roundModels } from "./round-inputs.ts";
import type { FetchBudget } from "./models.ts";

/**
 * EXPERIMENTS ONLY: a lying head. `scale-aggregate` records an aggregate whose delta is 3x the
 * honest one; `drop-member` leaves out one honest member it should have included (a lie about the
 * rule's verdict); `leave-out-member` declares one member it did fetch as unfetched (not a lie the
 * protocol can see: that member is judged alone, over Uu, and must not be hurt).
 */
export type HeadAttack = "scale-aggregate" | "drop-member" | "leave-out-member";

export interface ClusterRoleContext {
  chain: ClusterRoundsWriter;
  setup: ClusterSetup;
  headAttack?: HeadAttack;
}

/** The side contract is missing, belongs to another task, is not configured, or its scenario cannot be read. */
export class ClusterSetupError extends Error {
  override name = "ClusterSetupError";
}

/**
 * Too early to vote: the record window is still open (heads may still record), the check seed is
 * not drawn yet, or the challenge window is still open (a checker may still challenge). The agent
 * looks again a second later.
 */
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
  const clusterMembers = mine.members.map((m) => m.peer);
  const fetchedBefore = ctx.models.fetchedBytes;
  const fetched = await fetchUpdates(ctx, clusterMembers.map((p) => ({ ...byPeer.get(p)!, trainer: "" })), { ...budget, base: { cid: round.globalModelCid!.toString(), weights: models.global } });
  // Members whose update could not be fetched in the record window are left out of the record: every
  // verifier judges them alone (flat path). The head aggregates over the others.
  const leftOut = clusterMembers.filter((p, k) => p !== me && fetched[k].unusable?.code === "unavailable");
  if (cl.headAttack === "leave-out-member") {
    const victim = clusterMembers.find((p) => p !== me && !leftOut.includes(p));
    if (victim !== undefined) leftOut.push(victim);
    ctx.log.warn("cluster-head-attack", { round: round.round, attack: cl.headAttack, leftOut: victim });
  }
  const members = clusterMembers.filter((p) => !leftOut.includes(p));
  const updates = fetched.filter((_, k) => !leftOut.includes(clusterMembers[k]));
  if (leftOut.length > 0) ctx.log.warn("cluster-members-left-out", { round: round.round, head: me, leftOut: leftOut.join(","), reason: "update not fetched in the record window: judged alone by the verifiers" });
  if (members.length < 2) {
    ctx.log.warn("cluster-record-skipped", { round: round.round, head: me, reason: "no member update could be fetched: every member is judged alone" });
    return false;
  }
  const rules = roundRulesOf(ctx.task);
  const rootLoss = await roundRootLoss(ctx, round.round, fetchTimeoutMs);
  if (rootLoss === "unavailable") {
    // Without the root set the head cannot compute the rule's full verdict: it records nothing and its members go flat.
    ctx.log.warn("cluster-record-skipped", { round: round.round, head: me, reason: "the task's root set is unavailable here: every member is judged alone" });
    return false;
  }
  const judged = await judgeCluster(rules, models, updates, rootLoss);
  let included = members.filter((_, k) => judged.included[k]);
  let aggregate = judged.aggregate;
  if (cl.headAttack === "drop-member" && included.length > 1) {
    const dropped = included.find((p) => p !== me)!;
    included = included.filter((p) => p !== dropped);
    const kept = updates.filter((_, k) => included.includes(members[k]));
    aggregate = (await judgeCluster({ ...rules, copyCosineThreshold: 0 }, models, kept)).aggregate;
    ctx.log.warn("cluster-head-attack", { round: round.round, attack: cl.headAttack, dropped });
  } else if (cl.headAttack === "scale-aggregate" && aggregate) {
    const g = models.global;
    aggregate = aggregate.map((w, k) => g[k] + 3 * (w - g[k]));
    ctx.log.warn("cluster-head-attack", { round: round.round, attack: cl.headAttack });
  }
  const cid = aggregate ? CID.parse(await ctx.models.put(aggregate)) : null;
  const sent = await cl.chain.recordCluster(round.round, maskOfPeers(members), maskOfPeers(included), cid);
  ctx.log.info("cluster-recorded", {
    round: round.round, head: me, members: members.join(","), leftOut: leftOut.join(","), included: included.join(","), cid: cid?.toString() ?? "", samples: judged.samples,
    memberBytesFetched: ctx.models.fetchedBytes - fetchedBefore, gas: sent.gasUsed,
  });
  return true;
}

/**
 * The round's check seed (0x hex): read it, or draw it on chain (the first call fixes the seed block,
 * a later one stores the seed; concurrent verifiers may race, which the re-read absorbs). Null when it
 * is not drawn and can no longer be (the round left VerifyCommit without it).
 */
async function checkSeedOf(ctx: RoleContext, round: RoundState): Promise<string | null> {
  const cl = ctx.clusters!;
  const s = await cl.chain.checkSeed(round.round);
  if (s.seed) return s.seed;
  if (round.phase !== Phase.VerifyCommit) return null;
  try {
    const sent = await cl.chain.drawCheckSeed(round.round);
    ctx.log.info("check-seed-sent", { round: round.round, step: s.seedBlock === 0 ? "fix-block" : "draw", gas: sent.gasUsed });
  } catch (err) {
    ctx.log.debug("check-seed-draw", { round: round.round, reason: (err as Error).message });
  }
  const again = await cl.chain.checkSeed(round.round);
  if (again.seed) {
    ctx.log.info("check-seed", { round: round.round, seed: again.seed, seedBlock: again.seedBlock });
    return again.seed;
  }
  throw new ClusterRecordsPendingError(`round ${round.round}: the check seed's block ${again.seedBlock} is fixed, its seed is drawn from the next block on`);
}

/**
 * Owner-first fetching (ipfs/embedded-store.ts): a record's aggregate is held by its head, which
 * pinned it, so ask the head first instead of every connected peer (Bitswap would otherwise take the
 * blocks from every holder: the head, the checkers that pinned it, the members that fetched it).
 */
async function hintAggregateHolders(ctx: RoleContext, records: readonly { headIndex: number; aggregateCid: CID | null }[]): Promise<void> {
  if (!ctx.store.hintProviders || records.length === 0) return;
  const peers = await ctx.chain.peers();
  for (const r of records) {
    const addr = peers.find((p) => p.peerIndex === r.headIndex)?.multiaddr;
    if (addr && r.aggregateCid) ctx.store.hintProviders(r.aggregateCid.toString(), [addr]);
  }
}

/** Verifiers whose own checks of this round are done (they wait for the challenge window after). */
const checksDone = new Set<string>();

/**
 * Judge the round. Verifiers (`asVerifier`) wait for the record window to close, take the check seed,
 * check their assigned clusters in full and challenge a caught head, then wait for the challenge
 * window to close; aggregators judge at once. Challenged clusters (and a verifier's own assigned
 * ones) are recomputed from their members; every other record is taken as it is (only its
 * aggregate is fetched). Throws ClusterRecordsPendingError while it is too early.
 */
export async function judgeRoundClustered(ctx: RoleContext, round: RoundState, windowSeconds: number, fetchTimeoutMs: number, asVerifier: boolean): Promise<{ judged: ClusteredRound; models: RoundModels; assigned: Set<number> }> {
  const cl = ctx.clusters!;
  // The agent asks again every second while it is too early: the cheap waits come first (one or two
  // calls each), before the round's commits, records and committee are read.
  const inVerify = round.phase === Phase.VerifyCommit;
  const recordDeadline = inVerify ? await cl.chain.recordDeadline(round.round) : 0;
  if (inVerify && ctx.now() <= recordDeadline) throw new ClusterRecordsPendingError(`round ${round.round}: the record window is open until ${recordDeadline}`);
  const checkSeed = asVerifier ? await checkSeedOf(ctx, round) : null;
  const challengeDeadline = inVerify ? await cl.chain.challengeDeadline(round.round) : 0;
  const checkingPhase = asVerifier && inVerify && ctx.now() <= challengeDeadline;
  // (the seed in the key: two chains with the same task address, as in tests, are not mixed up)
  const key = `${ctx.chain.contractAddress}:${round.round}:${ctx.chain.account}:${checkSeed}`.toLowerCase();
  if (checkingPhase && checksDone.has(key)) throw new ClusterRecordsPendingError(`round ${round.round}: checks done, the challenge window is open until ${challengeDeadline}`);
  const commits = await indexedCommits(ctx, round);
  const seed = seedOf(ctx, round);
  const clustering = roundClustering(cl.setup, commits, seed);
  const records = await cl.chain.records(round.round);
  const assigned = new Set<number>();
  if (asVerifier) {
    const me = (await ctx.chain.peer(ctx.chain.account))?.peerIndex;
    const committee = bitsOf((await ctx.chain.committees(round.round)).verifiers);
    // The committee is computable once its seed block is readable: without it nobody would be drawn.
    if (committee.length === 0 && inVerify) throw new ClusterRecordsPendingError(`round ${round.round}: the verifier committee is not drawn yet`);
    if (checkSeed && me !== undefined) {
      const checkers = clusterCheckers(checkSeed, clustering, committee, await checkPolicyOf(cl.chain));
      for (const [head, vs] of checkers) if (vs.includes(me)) assigned.add(head);
    }
  }
  const challenged = new Set((await cl.chain.challenges(round.round)).keys());
  await hintAggregateHolders(ctx, records);
  const budget = checkingPhase
    ? { timeoutMs: fetchTimeoutMs, deadlineMs: Math.max(challengeDeadline * 1000 - 3000, ctx.now() * 1000 + 2000) }
    : phaseBudget(ctx, round, windowSeconds, fetchTimeoutMs, round.commitCount);
  const models = await roundModels(ctx, round, budget);
  const base = { cid: round.globalModelCid!.toString(), weights: models.global };
  const byIndex = new Map(commits.map((c) => [c.index, c]));
  const rootLoss = await roundRootLoss(ctx, round.round, fetchTimeoutMs);
  if (rootLoss === "unavailable" && assigned.size > 0) {
    // Without the root set this verifier's recomputation would differ from an honest head's: no challenges from here.
    ctx.log.warn("cluster-checks-skipped", { round: round.round, heads: [...assigned].join(","), reason: "the task's root set is unavailable here" });
    assigned.clear();
  }
  const judged = await judgeClusteredRound({
    rules: roundRulesOf(ctx.task), models, spec: ctx.spec, setup: cl.setup, seed, commits, records, rootLoss: rootLoss === "unavailable" ? null : rootLoss,
    fetch: (idx) => fetchUpdates(ctx, idx.map((i) => ({ ...byIndex.get(i)!, trainer: "" })), { ...budget, base }),
    fullCheck: (head) => assigned.has(head) || challenged.has(head),
    fetchAggregate: (cid) => ctx.models.get(cid, budget).catch(() => null),
  });
  if (checkingPhase) {
    for (const c of judged.clusters) {
      if (!assigned.has(c.head) || !c.record) continue;
      if (c.status === "invalid" && !challenged.has(c.head)) {
        try {
          const sent = await cl.chain.challengeCluster(round.round, c.head);
          ctx.log.warn("cluster-challenged", { round: round.round, head: c.head, reason: c.reason, gas: sent.gasUsed });
        } catch (err) {
          ctx.log.warn("cluster-challenge-failed", { round: round.round, head: c.head, reason: (err as Error).message });
        }
      } else if (c.incomplete) {
        ctx.log.warn("cluster-check-incomplete", { round: round.round, head: c.head, reason: c.incomplete });
      } else if (c.status === "ok" && c.fullyChecked) {
        ctx.log.info("cluster-checked", { round: round.round, head: c.head, members: c.members.join(",") });
        // The recomputed aggregate is the recorded one: pin it too, so peers that did not check can fetch it from here.
        if (c.input?.weights) await ctx.models.put(c.input.weights).catch(() => undefined);
      }
    }
    checksDone.add(key);
    throw new ClusterRecordsPendingError(`round ${round.round}: assigned clusters [${[...assigned].join(", ")}] checked, the challenge window is open until ${challengeDeadline}`);
  }
  return { judged, models, assigned };
}

/** The verifier's verdict in a clustered round (same shape as the flat one). */
export async function clusteredVerdict(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<RoundVerdict> {
  const { judged, assigned } = await judgeRoundClustered(ctx, round, ctx.task.verificationDuration, fetchTimeoutMs, true);
  ctx.log.info("clusters-judged", {
    round: round.round,
    clusters: judged.clusters.map((c) => `${c.head}:[${c.members.join(",")}]:${c.status}${c.fullyChecked ? ":checked" : ""}`).join(" "),
    assigned: [...assigned].join(","), loneCommits: judged.lone.join(","), inputs: judged.inputs.length,
  });
  for (const c of judged.clusters) if (c.status !== "ok") ctx.log.warn(c.status === "invalid" ? "cluster-head-caught" : "cluster-head-missing", { round: round.round, head: c.head, reason: c.reason });
  return { accepted: judged.accepted, mask: judged.mask, rejections: judged.rejections };
}

/** The aggregator's aggregate in a clustered round: FedAvg over the inputs the on-chain mask accepted. */
export async function clusteredAggregate(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<PendingAggregate> {
  const { judged, models } = await judgeRoundClustered(ctx, round, ctx.task.aggregationDuration, fetchTimeoutMs, false);
  const used = judged.inputs.filter((x) => x.commits.some((i) => maskHas(round.acceptedMask, i)));
  const aggregate = averageAccepted(round.round, globalAverageSetting(roundRulesOf(ctx.task)), models,
    used.map((x) => ({ label: x.kind === "cluster" ? `cluster of peer ${x.head} (commits ${x.commits.join("+")})` : x.commits[0], update: x.update })));
  ctx.log.info("clustered-aggregate", { round: round.round, inputs: used.map((x) => (x.kind === "cluster" ? `cluster${x.head}` : `commit${x.commits[0]}`)).join(",") });
  return publishAggregate(ctx, round.round, aggregate);
}
