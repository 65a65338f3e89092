/**
 * Auditing a clustered round (ClusterRounds side contract, docs/d2d-clusters.md) from chain + IPFS
 * alone, at both levels, with the very code the agents run (node/protocol/cluster-round.ts):
 *   cluster level — recompute the round's clustering from the scenario the side contract names, and
 *     for every head's record its included members and aggregate from the members' committed CIDs;
 *     a record that does not match is reported as a caught head (status "invalid");
 *   global level — the task's rule over the cluster aggregates and lone updates -> the per-commit mask,
 *     compared with the on-chain mask; FedAvg over the on-chain accepted inputs -> the final CID.
 */
import { Contract, type ContractRunner } from "ethers";
import { decodeModelSpec } from "../node/ml/codec.ts";
import type { ModelSpec } from "../node/ml/types.ts";
import { checkPolicyOf, clusterRoundsReader, bitsOf, type ClusterRoundsReader } from "../node/roles/cluster-chain.ts";
import { aggregateClusteredRound, clusterCheckers, clusterSeed, judgeClusteredRound, type ClusterSetup, type IndexedCommit } from "../node/protocol/cluster-round.ts";
import { clusterSetupFrom } from "../node/roles/cluster-roles.ts";
import { createRule, hasRootVote } from "../node/aggregation/rules.ts";
import { rootLossOf } from "../node/roles/root-set.ts";
import { decodeUpdate, encodeUpdate, maskHas, maskHex, parseCid, Phase, phaseName, updateCid, type RoundModels, type RoundUpdate } from "../node/protocol/index.ts";
import type { AuditIO, AuditResult } from "./audit.ts";

export interface ClusterAuditIO {
  reader: ClusterRoundsReader;
  taskAddress: string;
  /** on-chain peer index of a registered address */
  peerIndexOf(address: string): Promise<number>;
  /** the round's verifier committee (peer indices) */
  verifierCommittee(round: number): Promise<number[]>;
}

/** One cluster as the audit recomputed it. */
export interface AuditedCluster {
  head: number;
  members: number[];
  status: "ok" | "missing" | "invalid";
  reason?: string;
  includedOnChain: number[] | null;
  includedRecomputed: number[] | null;
  aggregateCidOnChain: string | null;
  aggregateCidRecomputed: string | null;
  acceptedSamples: number | null;
  /** members the head's record left out (it could not fetch them): judged alone, not blamed on the head */
  leftOut: number[];
  /** committee verifiers the check seed assigned to check this cluster in full (k members, an outsider when sampled) */
  checkers: number[];
  /** who challenged the record (null: nobody) and whether the head had lied */
  challengedBy: string | null;
  challenge: "justified" | "unjustified" | null;
}

export interface ClusteredAuditResult extends AuditResult {
  clusters: AuditedCluster[];
  unclustered: number[];
  /** the sampled-check seed drawn on chain after the record window (null: never drawn) */
  checkSeed: string | null;
  checkSeedBlock: number;
  /** heads that lied while none of their checkers challenged them */
  uncaughtLies: number[];
}

/** The real IO: the side contract's views over the same provider, peer indices from the task's getPeer. */
export function clusterAuditIO(address: string, taskAddress: string, runner: ContractRunner, peerIndexOf: (a: string) => Promise<number>): ClusterAuditIO {
  const task = new Contract(taskAddress, ["function getCommittees(uint32) view returns (bool, uint64, uint256, uint256)"], runner);
  return {
    reader: clusterRoundsReader(address, runner), taskAddress, peerIndexOf,
    verifierCommittee: async (round) => bitsOf(BigInt((await task.getFunction("getCommittees")(round))[2])),
  };
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function auditClusteredRound(round: number, io: AuditIO, cio: ClusterAuditIO): Promise<ClusteredAuditResult> {
  const differences: string[] = [];
  const state = await io.chain.round(round);
  const config = await io.chain.taskConfig();
  const result: ClusteredAuditResult = {
    round, ok: false, rule: `${config.rules.rule} (param ${config.ruleParamRaw}), clustered`,
    acceptedMaskOnChain: maskHex(state.acceptedMask), acceptedMaskRecomputed: null, globalCidOnChain: state.finalCid, globalCidRecomputed: null,
    commits: [], verifiers: [], differences, clusters: [], unclustered: [], checkSeed: null, checkSeedBlock: 0, uncaughtLies: [],
  };
  if (state.phase !== Phase.Finalized) {
    differences.push(`round ${round} is not finalized (phase ${phaseName(state.phase)}): there is no final CID to reproduce`);
    return result;
  }
  let spec: ModelSpec;
  let setup: ClusterSetup;
  const models: RoundModels = { global: new Float32Array(0), previousGlobal: null };
  try {
    spec = decodeModelSpec(await io.fetch(config.modelSpecCid));
    const cc = await cio.reader.config();
    if (!cc) throw new Error(`ClusterRounds ${cio.reader.address} is not configured`);
    setup = clusterSetupFrom(await io.fetch(cc.scenarioCid.toString()), cc);
    models.global = decodeUpdate(await io.fetch(state.globalModelCid), spec);
    if (round > 1) models.previousGlobal = decodeUpdate(await io.fetch((await io.chain.round(round - 1)).globalModelCid), spec);
  } catch (error) {
    differences.push(`inputs of round ${round} unavailable or invalid: ${errorText(error)}`);
    return result;
  }
  const raw = [];
  for (let i = 0; i < state.commitCount; i++) raw.push(await io.chain.commit(round, i));
  const commits: IndexedCommit[] = await Promise.all(raw.map(async (c) => ({ index: c.index, peerIndex: await cio.peerIndexOf(c.trainer), trainer: c.trainer, cid: parseCid(c.cid), numSamples: c.numSamples })));
  const base = { cid: parseCid(state.globalModelCid).toString(), weights: models.global };
  const problems = new Map<number, string>();
  const fetch = async (idx: number[]): Promise<RoundUpdate[]> => Promise.all(idx.map(async (i): Promise<RoundUpdate> => {
    const c = commits[i];
    try {
      return { cid: c.cid, numSamples: c.numSamples, weights: decodeUpdate(await io.fetch(c.cid.toString()), spec, base) };
    } catch (error) {
      problems.set(i, errorText(error));
      return { cid: c.cid, numSamples: c.numSamples, weights: null, unusable: { code: "bad-encoding", message: errorText(error) } };
    }
  }));
  const records = await cio.reader.records(round);
  const challenges = await cio.reader.challenges(round);
  const seed = clusterSeed(cio.taskAddress, round, parseCid(state.globalModelCid).toString());
  const fetchAggregate = async (cid: { toString(): string }) => {
    try { return decodeUpdate(await io.fetch(cid.toString()), spec); } catch { return null; }
  };
  // root-validation: its root-set vote is deterministic, so the audit applies it at both levels as the head and verifiers do.
  const rootLoss = hasRootVote(createRule(config.rules.rule))
    ? await rootLossOf({ get: (cid: string) => io.fetch(cid) }, spec, 20_000).catch((error: unknown) => {
      differences.push(`root set of the model spec unavailable or invalid: ${errorText(error)}; only the public pre-filter was recomputed`);
      return null;
    })
    : null;
  const common = { rules: config.rules, models, spec, setup, seed, commits, records, fetch, fetchAggregate, rootLoss };
  // The truth: every cluster recomputed from its members' updates.
  const truth = await judgeClusteredRound(common);
  // What the protocol decides: challenged clusters in full, every other record as it is.
  const judged = await judgeClusteredRound({ ...common, fullCheck: (head) => challenges.has(head) });
  const checkSeed = await cio.reader.checkSeed(round);
  result.checkSeed = checkSeed.seed;
  result.checkSeedBlock = checkSeed.seedBlock;
  const checkers = checkSeed.seed ? clusterCheckers(checkSeed.seed, truth.clustering, await cio.verifierCommittee(round), await checkPolicyOf(cio.reader)) : new Map<number, number[]>();
  result.acceptedMaskRecomputed = maskHex(judged.mask);
  result.unclustered = judged.clustering.unclustered;
  result.clusters = truth.clusters.map((c) => {
    const by = challenges.get(c.head) ?? null;
    return {
      head: c.head, members: c.members, status: c.status, ...(c.reason || c.incomplete ? { reason: c.reason ?? c.incomplete } : {}),
      includedOnChain: c.record ? bitsOf(c.record.included) : null, includedRecomputed: c.recomputedIncluded ?? null,
      aggregateCidOnChain: c.record?.aggregateCid?.toString() ?? null, aggregateCidRecomputed: c.recomputedCid ?? null,
      acceptedSamples: c.record?.acceptedSamples ?? null, leftOut: c.leftOut ?? [],
      checkers: checkers.get(c.head) ?? [], challengedBy: by, challenge: by ? (c.status === "invalid" ? "justified" : "unjustified") : null,
    };
  });
  for (const r of judged.strayRecords) {
    const by = challenges.get(r.headIndex) ?? null;
    result.clusters.push({ head: r.headIndex, members: bitsOf(r.members), status: "invalid", reason: "recorded a cluster it does not head", includedOnChain: bitsOf(r.included), includedRecomputed: null, aggregateCidOnChain: r.aggregateCid?.toString() ?? null, aggregateCidRecomputed: null, acceptedSamples: r.acceptedSamples, leftOut: [], checkers: [], challengedBy: by, challenge: by ? "justified" : null });
  }
  // A lie whose record is public (wrong members) is caught by every verifier without a check; one
  // in the content (included set, aggregate) only through a checker's challenge.
  const protocolStatus = new Map(judged.clusters.map((c) => [c.head, c.status]));
  result.uncaughtLies = truth.clusters.filter((c) => c.status === "invalid" && protocolStatus.get(c.head) === "ok").map((c) => c.head);
  for (const h of result.uncaughtLies) differences.push(`head peer${h} lied (${truth.clusters.find((c) => c.head === h)?.reason}) and none of its checkers [${(checkers.get(h) ?? []).join(", ")}] challenged it: its record went into the round as it was`);
  result.commits = raw.map((c) => ({
    index: c.index, trainer: c.trainer, cid: c.cid, numSamples: c.numSamples, problem: problems.get(c.index) ?? null,
    acceptedOnChain: maskHas(state.acceptedMask, c.index), acceptedRecomputed: judged.accepted[c.index],
  }));
  for (const c of result.commits) {
    if (c.acceptedOnChain !== c.acceptedRecomputed) differences.push(`commit ${c.index} by ${c.trainer}: ${c.acceptedOnChain ? "accepted" : "rejected"} on chain, ${c.acceptedRecomputed ? "accepted" : "rejected"} by the recomputed clustered verdict`);
  }
  if (io.chain.verdicts) {
    for (const v of await io.chain.verdicts(round)) result.verifiers.push({ verifier: v.verifier, acceptedMask: maskHex(v.acceptedMask), matchesRecomputed: v.acceptedMask === judged.mask });
  }
  try {
    const aggregate = aggregateClusteredRound(config.rules, models, judged, (i) => maskHas(state.acceptedMask, i));
    const version = parseCid(state.finalCid).version === 0 ? 0 : 1;
    result.globalCidRecomputed = (await updateCid(encodeUpdate(aggregate, spec), version)).toString();
    if (result.globalCidRecomputed !== state.finalCid) differences.push(`final global model: on chain ${state.finalCid}, recomputed ${result.globalCidRecomputed}`);
  } catch (error) {
    differences.push(`aggregation of the accepted inputs failed: ${errorText(error)}`);
  }
  result.ok = differences.length === 0;
  return result;
}

/** The cluster level of a clustered audit as text (what `peerfl audit --cluster-rounds` prints under the round lines). */
export function formatClusterAudit(r: ClusteredAuditResult): string {
  const lines = ["  clusters (recomputed from the scenario, the records and the members' CIDs):"];
  for (const c of r.clusters) {
    lines.push(`    head peer${c.head} members ${c.members.join(",")}: ${c.status}` +
      (c.status === "ok" ? `, included ${(c.includedRecomputed ?? []).join(",") || "none"}, ${c.acceptedSamples} samples, aggregate ${c.aggregateCidOnChain ?? "none"} reproduces` : ` — ${c.reason ?? ""}`));
    if (c.leftOut.length) lines.push(`      left out by the head (not fetched in its record window), judged alone: ${c.leftOut.map((p) => `peer${p}`).join(", ")}`);
    lines.push(`      checkers ${c.checkers.length ? c.checkers.map((p) => `peer${p}`).join(", ") : "none"}; ` +
      (c.challengedBy ? `challenged by ${c.challengedBy} (${c.challenge})` : "not challenged"));
  }
  if (r.clusters.length === 0) lines.push("    none");
  lines.push(`  check seed                  ${r.checkSeed ? `${r.checkSeed} (block ${r.checkSeedBlock})` : "not drawn"}`);
  if (r.uncaughtLies.length) lines.push(`  UNCAUGHT LIES               ${r.uncaughtLies.map((p) => `peer${p}`).join(", ")}`);
  lines.push(`  over Uu alone               ${r.unclustered.length ? r.unclustered.map((p) => `peer${p}`).join(", ") : "none"}`);
  return lines.join("\n") + "\n";
}
