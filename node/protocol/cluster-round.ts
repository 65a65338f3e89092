/**
 * The clustered (D2D, hierarchical) round's rules in one place, for the head, the verifiers, the
 * aggregators and the audit — the same steps as the simulator (node/sim/hierarchy.ts):
 *
 *  1. Clustering: node/links/clusters.ts formClusters over the task's scenario (its CID is in the
 *     ClusterRounds config), the peers that committed this round (placed by the scenario's `peers`
 *     address list: address i stands at scenario position i; without the list, on-chain peer index i
 *     does), their scenario battery levels and a public seed sha256(task | round | global model CID).
 *     Anyone recomputes it; no peer chooses to be head. Results are in on-chain peer indices.
 *  2. Cluster level (the head): the task's rule as the verdict over its members' own committed
 *     updates (protocol/verdict.ts roundVerdict, with the near-copy check and the sample-weight clip;
 *     root-validation adds its leave-one-out vote on the public root set, rootVerdict, at both levels),
 *     the aggregate of the included ones (aggregateAccepted), pinned as float32 PFLW.
 *  3. Checking the heads: a record lists the clustering's members of that head it aggregated over
 *     (public, checked by everyone: it may leave out members it could not fetch, which are then judged
 *     alone like lone peers, never blamed on the head; it may add nobody), and — for the clusters a
 *     verifier checks in full — its included set and aggregate CID must equal the recomputation from
 *     the recorded members' CIDs. Which clusters a verifier checks in full: those the check seed
 *     assigns to it (clusterCheckers: k members of the cluster, plus an outsider with probability p;
 *     the seed is drawn on chain after the record window, so no head knows its checkers when it records), every challenged
 *     cluster (a checker that caught a lie challenges it on chain), and any cluster whose aggregate
 *     it cannot fetch. Every other cluster enters the global step with the head's recorded aggregate
 *     and included set. A head caught lying (or a peer that recorded a cluster it does not head)
 *     gets its own commit rejected and its members are judged alone (flat fallback); a head that
 *     did not record in the window (crashed) leaves its members to the flat path too.
 *  4. Global level: the task's rule as a verdict over the cluster aggregates (weighted by accepted
 *     samples, summed on chain) and the lone updates, then FedAvg of the accepted inputs by their
 *     samples. Per commit: a member is accepted iff its head included it and its cluster aggregate
 *     was accepted; a lone commit iff its own update was.
 *
 * The audit judges twice: as the protocol does (full checks for challenged clusters only: this must
 * reproduce the chain) and with every cluster checked (the truth: which challenges were justified,
 * and whether a lie went through unchallenged). docs/d2d-clusters.md.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import type { CID } from "multiformats/cid";
import { deviceTier } from "../devices/profiles.ts";
import type { DeviceConfig } from "../devices/session.ts";
import { formClusters, type Clustering } from "../links/clusters.ts";
import type { Scenario } from "../links/scenario.ts";
import type { ModelSpec } from "../ml/types.ts";
import { maskFrom, sameDigest } from "./codecs.ts";
import { encodeUpdate, updateCid } from "./model-bytes.ts";
import type { RoundRules } from "./task-config.ts";
import { aggregateAccepted, rootVerdict, roundVerdict, type Rejection, type RootLoss, type RoundModels, type RoundUpdate, type RuleSetting } from "./verdict.ts";

/** One head's record of one round, as on chain (ClusterRounds.recordOf). */
export interface ClusterRecord {
  headIndex: number;
  /** peer-index bitmaps */
  members: bigint;
  included: bigint;
  /** null when nothing was included */
  aggregateCid: CID | null;
  acceptedSamples: number;
}

/** Peer indices of a bitmap, ascending. */
export const bitsOf = (mask: bigint): number[] => {
  const out: number[] = [];
  for (let i = 0; mask > 0n; i++, mask >>= 1n) if (mask & 1n) out.push(i);
  return out;
};
/** The bitmap of a set of peer indices. */
export const maskOfPeers = (peers: readonly number[]): bigint => peers.reduce((m, p) => m | (1n << BigInt(p)), 0n);

/** What every peer knows of the clustered mode: the scenario and the side contract's parameters. */
export interface ClusterSetup {
  scenario: Scenario;
  devices: DeviceConfig[];
  /** lower-case address standing at each scenario position; null: position i = on-chain peer index i */
  addresses: string[] | null;
  maxClusterSize: number;
  minHeadEnergy: number;
}

/** One commit of the round with its trainer's on-chain peer index. */
export interface IndexedCommit {
  index: number;
  /** the trainer's on-chain peer index (what records' bitmaps count in) */
  peerIndex: number;
  trainer: string;
  cid: CID;
  numSamples: number;
}

/** Battery level per scenario peer, 0..1 (mains-powered tiers: 1; no device entry: 1). */
export function scenarioEnergy(setup: Pick<ClusterSetup, "scenario" | "devices">): number[] {
  return setup.scenario.peers.map((_, i) => {
    const d = setup.devices[i];
    if (!d) return 1;
    return Number.isFinite(deviceTier(d.tier).batteryJoules) ? (d.batteryPercent ?? 100) / 100 : 1;
  });
}

/** The public tie-break seed of a round's clustering. */
export function clusterSeed(task: string, round: number, globalModelCid: string): string {
  return Buffer.from(sha256(new TextEncoder().encode(`peerfl/clusters/v1|${task.toLowerCase()}|${round}|${globalModelCid}`))).toString("hex");
}

/** A trainer's scenario position (-1: not in the scenario, it takes part alone). */
export function slotOf(setup: Pick<ClusterSetup, "scenario" | "addresses">, c: Pick<IndexedCommit, "peerIndex" | "trainer">): number {
  if (setup.addresses) return setup.addresses.indexOf(c.trainer.toLowerCase());
  return c.peerIndex < setup.scenario.peers.length ? c.peerIndex : -1;
}

/**
 * The round's clustering over the peers that committed (peers outside the scenario take part alone),
 * computed on scenario positions and returned in on-chain peer indices (heads, members, relays,
 * unclustered; `scores` and `clusterOf` indexed by peer index).
 */
export function roundClustering(setup: ClusterSetup, commits: readonly IndexedCommit[], seed: string): Clustering {
  const n = setup.scenario.peers.length;
  const active = new Array<boolean>(n).fill(false);
  const peerAt = new Map<number, number>();
  for (const c of commits) {
    const slot = slotOf(setup, c);
    if (slot < 0 || slot >= n) continue;
    active[slot] = true;
    peerAt.set(slot, c.peerIndex);
  }
  const bySlot = formClusters(setup.scenario, { seed, active, energy: scenarioEnergy(setup), minHeadEnergy: setup.minHeadEnergy, maxClusterSize: setup.maxClusterSize });
  const to = (slot: number) => peerAt.get(slot)!;
  const clusters = bySlot.clusters.map((cl) => ({
    head: to(cl.head),
    members: cl.members.map((m) => ({ ...m, peer: to(m.peer), ...(m.relay !== undefined ? { relay: peerAt.get(m.relay) ?? -1 } : {}) })),
  }));
  for (const cl of clusters) cl.members = [cl.members[0], ...cl.members.slice(1).sort((a, b) => a.peer - b.peer)];
  const size = Math.max(0, ...commits.map((c) => c.peerIndex + 1));
  const clusterOf = new Array<number>(size).fill(-1);
  const scores = new Array<number>(size).fill(0);
  for (const [slot, peer] of peerAt) { clusterOf[peer] = bySlot.clusterOf[slot]; scores[peer] = bySlot.scores[slot]; }
  const unclustered = commits.map((c) => c.peerIndex).filter((p) => clusterOf[p] === -1).sort((a, b) => a - b);
  return { clusters, unclustered, clusterOf, scores };
}

/** Cluster level: the task's own rule (near-copy check and weight clip included). */
export const clusterSetting = (rules: RoundRules): RuleSetting => rules;
/** Global level, as the simulator: the rule as a verdict over aggregates and lone updates (no per-peer checks) ... */
export const globalVerdictSetting = (rules: RoundRules): RuleSetting => ({ ...rules, copyCosineThreshold: 0, sampleWeightClip: 0 });
/** ... then FedAvg of the accepted inputs by their accepted samples. */
export const globalAverageSetting = (rules: RoundRules): RuleSetting => ({ ...rules, rule: "fedavg", ruleParam: 0, copyCosineThreshold: 0, sampleWeightClip: 0 });

export interface ClusterJudgement {
  /** per member update, in the order given */
  included: boolean[];
  aggregate: Float32Array | null;
  samples: number;
  rejections: Rejection[];
}

/**
 * The rule's full, deterministic verdict at either level: roundVerdict, and for root-validation also the
 * leave-one-out vote on the task's PUBLIC root set (rootLoss: node/roles/root-set.ts), which a checker and
 * the audit recompute exactly. Rules with a private vote (validation-vote) cannot be checked this way and
 * are refused in clustered mode (ClusterRounds.configure, the demo, the agent).
 */
function fullVerdict(setting: RuleSetting, models: RoundModels, updates: readonly RoundUpdate[], rootLoss?: RootLoss | null) {
  return rootLoss ? rootVerdict(setting, models, updates, rootLoss) : Promise.resolve(roundVerdict(setting, models, updates));
}

/**
 * What an honest head computes over its members' updates (head first, then members by peer index).
 * `rootLoss`: the root set's loss when the task's rule votes on it (root-validation), else omitted.
 */
export async function judgeCluster(rules: RoundRules, models: RoundModels, members: readonly RoundUpdate[], rootLoss?: RootLoss | null): Promise<ClusterJudgement> {
  const verdict = await fullVerdict(clusterSetting(rules), models, members, rootLoss);
  const accepted = members.filter((_, i) => verdict.accepted[i]);
  return {
    included: verdict.accepted,
    aggregate: accepted.length > 0 ? aggregateAccepted(clusterSetting(rules), models, accepted) : null,
    samples: accepted.reduce((s, u) => s + u.numSamples, 0),
    rejections: verdict.rejections,
  };
}

/** Who checks a cluster's record ("checks" in docs/d2d-clusters.md): ClusterRounds insideCheckers (k) and outsideCheckBps (p). */
export interface CheckPolicy {
  /** committee verifiers among the cluster's members (not its head) drawn to check it: they fetch over the sidelink */
  insideCheckers: number;
  /** chance in basis points (1..10000) per cluster and round that one committee verifier from outside the cluster checks it too */
  outsideCheckBps: number;
}

const hashHex = (text: string) => Buffer.from(sha256(new TextEncoder().encode(text))).toString("hex");

/**
 * Whether the check seed draws an outside check of the cluster of `head` this round: sha256("peerfl/
 * cluster-outside/v1" | seed | head) mod 10000 < p. The seed is drawn on chain after the records, so
 * a head cannot know at record time whether an outsider will check it.
 */
export function outsideCheckDrawn(seed: string, head: number, outsideCheckBps: number): boolean {
  return BigInt("0x" + hashHex(`peerfl/cluster-outside/v1|${seed.toLowerCase()}|${head}`)) % 10000n < BigInt(outsideCheckBps);
}

/**
 * Who checks which cluster in full, per head: the `insideCheckers` committee verifiers among its
 * members (head excluded) with the lowest sha256("peerfl/cluster-checks/v1" | seed | head | verifier),
 * then — when outsideCheckDrawn — the lowest-ranked committee verifier outside the cluster. Members
 * fetch each other's updates over the sidelink (no Uu bytes) but may be the head's accomplices; the
 * sampled outsider is what a colluding cluster cannot predict. `seed` is the on-chain check seed
 * (ClusterRounds.checkSeed, 0x hex). A cluster may get nobody (no committee member inside, no
 * outside check drawn): its record is then taken as it is this round.
 */
export function clusterCheckers(seed: string, clustering: Pick<Clustering, "clusters">, committee: readonly number[], policy: CheckPolicy): Map<number, number[]> {
  const out = new Map<number, number[]>();
  const rank = (head: number, v: number) => hashHex(`peerfl/cluster-checks/v1|${seed.toLowerCase()}|${head}|${v}`);
  for (const cl of clustering.clusters) {
    const members = new Set(cl.members.map((m) => m.peer));
    const byRank = (vs: number[]) => vs.map((v) => ({ v, r: rank(cl.head, v) })).sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0)).map((x) => x.v);
    const inside = byRank(committee.filter((v) => members.has(v) && v !== cl.head)).slice(0, Math.max(0, policy.insideCheckers));
    const outside = outsideCheckDrawn(seed, cl.head, policy.outsideCheckBps) ? byRank(committee.filter((v) => !members.has(v))).slice(0, 1) : [];
    out.set(cl.head, [...inside, ...outside]);
  }
  return out;
}

export type ClusterStatus = "ok" | "missing" | "invalid";

export interface ClusterCheck {
  head: number;
  /** peers of the clustering (head first) */
  members: number[];
  /** members of the clustering the head's record left out (it could not fetch them): judged alone, never blamed on the head */
  leftOut?: number[];
  status: ClusterStatus;
  /** why the record is invalid or missing */
  reason?: string;
  record?: ClusterRecord;
  /** the recomputed included members (peer indices) and the recomputed aggregate's CID */
  recomputedIncluded?: number[];
  recomputedCid?: string;
  /** set for status ok: the cluster's global input (null when it included nobody) */
  input?: RoundUpdate | null;
  /** true when the cluster was recomputed from its members' updates; false: the record was taken as it is */
  fullyChecked: boolean;
  /** set when a full check could not be done because some member updates could not be fetched here */
  incomplete?: string;
}

export interface ClusteredRound {
  clustering: Clustering;
  clusters: ClusterCheck[];
  /** records by peers that head no cluster of the clustering (their own commits are rejected) */
  strayRecords: ClusterRecord[];
  /** commit indices judged alone (unclustered, or in a missing/invalid cluster) */
  lone: number[];
  /** the global inputs: ok clusters' aggregates, then lone updates */
  inputs: { kind: "cluster" | "lone"; head?: number; commits: number[]; update: RoundUpdate }[];
  /** per commit (commit order) */
  accepted: boolean[];
  mask: bigint;
  rejections: Rejection[];
}

/**
 * Judges a clustered round. `fetch` gives the decoded updates of the commits asked for (in that
 * order; unusable ones with weights null and the reason). Recorded clusters for which `fullCheck`
 * says true (default: all) are recomputed from their members' updates; the others enter the global
 * step with the recorded aggregate (`fetchAggregate`, null when its bytes cannot be had: the cluster
 * is then checked in full after all) and the recorded included set, without any member download.
 */
export async function judgeClusteredRound(o: {
  rules: RoundRules;
  models: RoundModels;
  spec: ModelSpec;
  setup: ClusterSetup;
  seed: string;
  commits: readonly IndexedCommit[];
  records: readonly ClusterRecord[];
  fetch: (commitIndices: number[]) => Promise<RoundUpdate[]>;
  /** whether the cluster of this head is recomputed from its members (default: every cluster) */
  fullCheck?: (head: number) => boolean;
  /** the decoded recorded aggregate (float32 PFLW), null when it cannot be fetched */
  fetchAggregate?: (cid: CID) => Promise<Float32Array | null>;
  /** root-validation: the loss on the task's public root set (both levels then apply the root vote) */
  rootLoss?: RootLoss | null;
}): Promise<ClusteredRound> {
  const clustering = roundClustering(o.setup, o.commits, o.seed);
  const byPeer = new Map(o.commits.map((c) => [c.peerIndex, c]));
  const recordOf = new Map(o.records.map((r) => [r.headIndex, r]));
  const heads = new Set(clustering.clusters.map((c) => c.head));
  const strayRecords = o.records.filter((r) => !heads.has(r.headIndex));
  const rejections: Rejection[] = [];
  const forced = new Map<number, Rejection>(); // commit index -> rejected regardless of the global verdict
  const lone: number[] = [];
  const clusters: ClusterCheck[] = [];
  const updates = new Map<number, RoundUpdate>();
  const need = (idx: number[]) => idx.filter((i) => !updates.has(i));
  const fetchInto = async (idx: number[]) => {
    const todo = need(idx);
    if (todo.length === 0) return;
    const got = await o.fetch(todo);
    todo.forEach((i, k) => updates.set(i, got[k]));
  };

  for (const r of strayRecords) {
    const own = byPeer.get(r.headIndex);
    if (own) forced.set(own.index, { index: own.index, code: "rejected-by-rule", message: `peer ${r.headIndex} recorded a cluster although it heads none in this round's clustering` });
  }
  for (const cl of clustering.clusters) {
    const members = cl.members.map((m) => m.peer);
    const commitsOf = members.map((p) => byPeer.get(p)!);
    const record = recordOf.get(cl.head);
    const check: ClusterCheck = { head: cl.head, members: [...members], status: "ok", fullyChecked: false, ...(record ? { record } : {}) };
    clusters.push(check);
    if (!record) {
      check.status = "missing";
      check.reason = `head peer ${cl.head} recorded no cluster in the record window: its members are judged alone`;
      lone.push(...commitsOf.map((c) => c.index));
      continue;
    }
    const invalid = (reason: string) => {
      check.status = "invalid";
      check.reason = reason;
      const own = byPeer.get(cl.head)!;
      forced.set(own.index, { index: own.index, code: "rejected-by-rule", message: `cluster head: ${reason}` });
      lone.push(...commitsOf.filter((c) => c.peerIndex !== cl.head).map((c) => c.index));
    };
    // The record may leave out members the head could not fetch (they go to the flat path: judged
    // alone by every verifier, so a member left out is not hurt); it may not add anyone.
    if ((record.members & ~maskOfPeers(members)) !== 0n) {
      invalid(`recorded members [${bitsOf(record.members).join(", ")}] are not a subset of the clustering's [${members.join(", ")}]`);
      continue;
    }
    const leftOut = members.filter((p) => (record.members & (1n << BigInt(p))) === 0n);
    if (leftOut.length > 0) {
      check.leftOut = leftOut;
      lone.push(...leftOut.map((p) => byPeer.get(p)!.index));
      const kept = new Set(bitsOf(record.members));
      members.splice(0, members.length, ...members.filter((p) => kept.has(p)));
      commitsOf.splice(0, commitsOf.length, ...commitsOf.filter((c) => kept.has(c.peerIndex)));
    }
    /** The head's record as it is: its aggregate (fetched) and included set. False when the aggregate cannot be had. */
    const takeRecord = async (): Promise<boolean> => {
      if (!o.fetchAggregate) return false;
      const weights = record.aggregateCid ? await o.fetchAggregate(record.aggregateCid) : null;
      if (record.aggregateCid && !weights) return false;
      const included = bitsOf(record.included);
      commitsOf.forEach((c, k) => {
        if (!included.includes(members[k])) rejections.push({ index: c.index, code: "rejected-by-rule", message: `in cluster of peer ${cl.head}: left out by its head (record taken unchecked)` });
      });
      check.input = record.aggregateCid ? { cid: record.aggregateCid, numSamples: record.acceptedSamples, weights: weights! } : null;
      return true;
    };
    // Not checked by this verifier: the head's record as it is (its checkers would have challenged a
    // lie). When the recorded aggregate cannot be fetched, the cluster is checked in full instead.
    if (o.fullCheck && !o.fullCheck(cl.head) && (await takeRecord())) continue;
    check.fullyChecked = true;
    await fetchInto(commitsOf.map((c) => c.index));
    const judged = await judgeCluster(o.rules, o.models, commitsOf.map((c) => updates.get(c.index)!), o.rootLoss);
    const included = members.filter((_, k) => judged.included[k]);
    check.recomputedIncluded = included;
    const recomputed = judged.aggregate ? await updateCid(encodeUpdate(judged.aggregate, o.spec)) : null;
    check.recomputedCid = recomputed?.toString();
    const includedDiffers = record.included !== maskOfPeers(included);
    const aggregateDiffers = recomputed === null ? record.aggregateCid !== null : !record.aggregateCid || !sameDigest(record.aggregateCid, recomputed);
    if (includedDiffers || aggregateDiffers) {
      // Bytes this verifier could not fetch are no evidence against the head: with some member
      // updates unavailable HERE, the record cannot be checked, so it is taken as it is (or, when
      // its aggregate cannot be had either, every member is judged alone and the head not blamed).
      const unfetched = members.filter((_, k) => updates.get(commitsOf[k].index)?.unusable?.code === "unavailable");
      if (unfetched.length > 0) {
        check.incomplete = `the updates of member(s) [${unfetched.join(", ")}] could not be fetched here: the record cannot be checked and is not blamed`;
        check.fullyChecked = false;
        delete check.recomputedIncluded;
        delete check.recomputedCid;
        if (await takeRecord()) continue;
        check.status = "missing";
        check.reason = `${check.incomplete}; its aggregate could not be fetched either: its members are judged alone`;
        lone.push(...commitsOf.map((c) => c.index));
        continue;
      }
      invalid(includedDiffers
        ? `included [${bitsOf(record.included).join(", ")}], but the task's rule includes [${included.join(", ")}]`
        : `aggregate ${record.aggregateCid?.toString() ?? "(none)"} is not the recomputed ${recomputed?.toString() ?? "(none)"}`);
      continue;
    }
    for (const rj of judged.rejections) rejections.push({ ...rj, index: commitsOf[rj.index].index, message: `in cluster of peer ${cl.head}: ${rj.message}` });
    check.input = judged.aggregate ? { cid: record.aggregateCid!, numSamples: record.acceptedSamples, weights: judged.aggregate } : null;
  }
  const clustered = new Set(clustering.clusters.flatMap((c) => c.members.map((m) => m.peer)));
  for (const c of o.commits) if (!clustered.has(c.peerIndex)) lone.push(c.index);
  const loneJudged = [...new Set(lone)].filter((i) => !forced.has(i)).sort((a, b) => a - b);
  await fetchInto(loneJudged);

  const inputs: ClusteredRound["inputs"] = [];
  for (const ch of clusters) {
    const included = ch.recomputedIncluded ?? (ch.record ? bitsOf(ch.record.included) : []);
    if (ch.status === "ok" && ch.input) inputs.push({ kind: "cluster", head: ch.head, commits: included.map((p) => byPeer.get(p)!.index), update: ch.input });
  }
  for (const i of loneJudged) inputs.push({ kind: "lone", commits: [i], update: updates.get(i)! });
  const verdict = inputs.length > 0 ? await fullVerdict(globalVerdictSetting(o.rules), o.models, inputs.map((x) => x.update), o.rootLoss) : { accepted: [], rejections: [] };
  const accepted = new Array<boolean>(o.commits.length).fill(false);
  inputs.forEach((x, k) => {
    if (verdict.accepted[k]) for (const i of x.commits) accepted[i] = true;
  });
  for (const rj of verdict.rejections) {
    const x = inputs[rj.index];
    for (const i of x.commits) rejections.push({ ...rj, index: i, message: x.kind === "cluster" ? `cluster aggregate of peer ${x.head}: ${rj.message}` : rj.message });
  }
  for (const rj of forced.values()) rejections.push(rj);
  rejections.sort((a, b) => a.index - b.index);
  return { clustering, clusters, strayRecords, lone: loneJudged, inputs, accepted, mask: maskFrom(accepted), rejections };
}

/**
 * The next global model from a judged clustered round and the ON-CHAIN accepted mask: the inputs
 * whose commits the committee accepted (a cluster aggregate when any of its included members is
 * accepted), averaged by accepted samples.
 */
export function aggregateClusteredRound(rules: RoundRules, models: RoundModels, judged: ClusteredRound, acceptedOnChain: (commitIndex: number) => boolean): Float32Array {
  const used = judged.inputs.filter((x) => x.commits.some(acceptedOnChain)).map((x) => x.update);
  return aggregateAccepted(globalAverageSetting(rules), models, used);
}
