/**
 * Re-verifying a finalized round from the chain and IPFS alone (verdicts are the revealed ones). The chain reader and the content
 * fetcher are injected (explorer/audit-io.ts wires the real ones), so the same code audits a live
 * task or a test fixture. Every round step it recomputes comes from node/protocol — the very
 * functions the agents' verifier and aggregator call:
 *   1. decode every committed update with the task's model spec (invalid or missing -> rejected),
 *      judge them with protocol roundVerdict (the round's global model, and the previous round's
 *      for the rule context) and compare with the on-chain majority mask;
 *   2. aggregate the ON-CHAIN accepted set with protocol aggregateAccepted, encode it canonically,
 *      compute its CID and compare with the on-chain final CID.
 */
import type { CID } from "multiformats/cid";
import { decodeModelSpec } from "../node/ml/codec.ts";
import type { UpdateBase } from "../node/protocol/model-bytes.ts";
import type { ModelSpec } from "../node/ml/types.ts";
import { auditPrivateRound, type PrivateAuditIO } from "./audit-private.ts";
import { auditClusteredRound, type ClusterAuditIO } from "./audit-clusters.ts";
import { rootLossOf } from "../node/roles/root-set.ts";
import {
  aggregateAccepted, decodeUpdate, encodeUpdate, maskHas, maskHex, parseCid, Phase, phaseName, roundVerdict, updateCid,
  rootVerdict,
  type RoundRules, type RoundUpdate, type RoundVerdict, type RuleSetting, type RoundModels,
} from "../node/protocol/index.ts";

export interface AuditTaskConfig {
  modelSpecCid: string;
  /** the rule, its parameter (natural units), the near-copy threshold and the sample-weight clip */
  rules: RoundRules;
  /** as stored on chain, for display */
  ruleParamRaw: number;
}

export interface AuditRoundState {
  phase: number;
  /** The global model the round started from. */
  globalModelCid: string;
  commitCount: number;
  acceptedMask: bigint;
  finalCid: string;
}

export interface AuditCommit {
  index: number;
  trainer: string;
  cid: string;
  numSamples: number;
}

export interface AuditVerdict {
  verifier: string;
  acceptedMask: bigint;
}

/** What the audit reads from the chain. */
export interface AuditChain {
  taskConfig(): Promise<AuditTaskConfig>;
  round(round: number): Promise<AuditRoundState>;
  commit(round: number, index: number): Promise<AuditCommit>;
  /** Verdicts submitted in the round (reported for information; optional). */
  verdicts?(round: number): Promise<AuditVerdict[]>;
}

/** The round steps the audit recomputes: node/protocol's, unless a test swaps in a different rule. */
export interface AuditRules {
  verdict(setting: RuleSetting, models: RoundModels, updates: readonly RoundUpdate[]): RoundVerdict;
  aggregate(setting: RuleSetting, models: RoundModels, accepted: readonly RoundUpdate[]): Float32Array;
}

export const protocolRules: AuditRules = { verdict: roundVerdict, aggregate: aggregateAccepted };

export interface AuditIO {
  chain: AuditChain;
  /** Bytes behind a CID (throws when unavailable). */
  fetch(cid: string): Promise<Uint8Array>;
  rules?: AuditRules;
  /** A private task (secure aggregation): the round is audited from its unmasking transcript (audit-private.ts). */
  secagg?: PrivateAuditIO;
  /** A clustered task (ClusterRounds side contract): both levels are recomputed (audit-clusters.ts). */
  clusters?: ClusterAuditIO;
}

export interface AuditCommitCheck {
  index: number;
  trainer: string;
  cid: string;
  numSamples: number;
  /** null when the update decoded fine, else why an honest verifier must reject it. */
  problem: string | null;
  acceptedOnChain: boolean;
  acceptedRecomputed: boolean;
}

export interface AuditResult {
  round: number;
  ok: boolean;
  rule: string;
  acceptedMaskOnChain: string;
  acceptedMaskRecomputed: string | null;
  globalCidOnChain: string;
  globalCidRecomputed: string | null;
  commits: AuditCommitCheck[];
  verifiers: { verifier: string; acceptedMask: string; matchesRecomputed: boolean }[];
  differences: string[];
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function fetchModel(io: AuditIO, cid: string, spec: ModelSpec, base?: UpdateBase): Promise<Float32Array> {
  return decodeUpdate(await io.fetch(cid), spec, base);
}

export async function auditRound(round: number, io: AuditIO): Promise<AuditResult> {
  if (io.secagg) return auditPrivateRound(round, io, io.secagg);
  if (io.clusters) return auditClusteredRound(round, io, io.clusters);
  const rules = io.rules ?? protocolRules;
  const differences: string[] = [];
  const state = await io.chain.round(round);
  const config = await io.chain.taskConfig();
  const setting: RuleSetting = config.rules;
  const result: AuditResult = {
    round,
    ok: false,
    rule: `${config.rules.rule} (param ${config.ruleParamRaw})`,
    acceptedMaskOnChain: maskHex(state.acceptedMask),
    acceptedMaskRecomputed: null,
    globalCidOnChain: state.finalCid,
    globalCidRecomputed: null,
    commits: [],
    verifiers: [],
    differences,
  };
  if (state.phase !== Phase.Finalized) {
    differences.push(`round ${round} is not finalized (phase ${phaseName(state.phase)}): there is no final CID to reproduce`);
    return result;
  }

  let spec: ModelSpec;
  const models: RoundModels = { global: new Float32Array(0), previousGlobal: null };
  try {
    spec = decodeModelSpec(await io.fetch(config.modelSpecCid));
  } catch (error) {
    differences.push(`model spec ${config.modelSpecCid} unavailable or invalid: ${errorText(error)}`);
    return result;
  }
  try {
    models.global = await fetchModel(io, state.globalModelCid, spec);
  } catch (error) {
    differences.push(`round ${round}'s starting global model ${state.globalModelCid} unavailable or invalid: ${errorText(error)}`);
    return result;
  }
  if (round > 1) {
    const previous = (await io.chain.round(round - 1)).globalModelCid;
    try {
      models.previousGlobal = await fetchModel(io, previous, spec);
    } catch (error) {
      differences.push(`round ${round - 1}'s global model ${previous} (the rule's reference) unavailable or invalid: ${errorText(error)}`);
      return result;
    }
  }

  const commits: AuditCommit[] = [];
  for (let i = 0; i < state.commitCount; i++) commits.push(await io.chain.commit(round, i));
  const updates: RoundUpdate[] = await Promise.all(commits.map(async (c): Promise<RoundUpdate> => {
    let cid: CID;
    try {
      cid = parseCid(c.cid);
    } catch (error) {
      throw new Error(`commit ${c.index} has an invalid CID on chain: ${errorText(error)}`);
    }
    try {
      // a trainer's update may be a compressed delta against the round's global model (node/compression)
      return { cid, numSamples: c.numSamples, weights: await fetchModel(io, c.cid, spec, { cid: parseCid(state.globalModelCid).toString(), weights: models.global }) };
    } catch (error) {
      return { cid, numSamples: c.numSamples, weights: null, unusable: { code: "bad-encoding", message: errorText(error) } };
    }
  }));

  // 1. Verdict, as an honest verifier computes it.
  let verdict: RoundVerdict | null = null;
  try {
    verdict = rules.verdict(setting, models, updates);
    // root-validation: the leave-one-out vote on the task's public root set is deterministic, so the
    // audit recomputes it in full (the root set's bytes come by the CID the model spec names).
    if (verdict.rootVote) {
      const rootLoss = await rootLossOf({ get: (cid: string) => io.fetch(cid) }, spec, 20_000).catch((error: unknown) => {
        differences.push(`root set of the model spec unavailable or invalid: ${errorText(error)}; only the public pre-filter was recomputed`);
        return null;
      });
      if (rootLoss) verdict = await rootVerdict(setting, models, updates, rootLoss);
    }
    result.acceptedMaskRecomputed = maskHex(verdict.mask);
  } catch (error) {
    differences.push(`the robust rule failed on this round's updates: ${errorText(error)}`);
  }
  result.commits = commits.map((c, i) => ({
    index: c.index,
    trainer: c.trainer,
    cid: c.cid,
    numSamples: c.numSamples,
    problem: updates[i].weights ? null : updates[i].unusable?.message ?? "unavailable",
    acceptedOnChain: maskHas(state.acceptedMask, c.index),
    acceptedRecomputed: verdict?.accepted[i] ?? false,
  }));
  if (verdict) {
    for (const c of result.commits) {
      // A rule with a private vote (validation-vote): the recomputed verdict is the public pre-filter, an
      // upper bound; the committee's majority of private votes may reject more, never accept more.
      if (verdict.privateVote && !c.acceptedOnChain && c.acceptedRecomputed) continue;
      if (c.acceptedOnChain !== c.acceptedRecomputed) {
        const why = c.problem ? ` (update invalid: ${c.problem})` : "";
        differences.push(
          `commit ${c.index} by ${c.trainer}: ${c.acceptedOnChain ? "accepted" : "rejected"} on chain, ` +
            `${c.acceptedRecomputed ? "accepted" : "rejected"} by the recomputed ${result.rule} verdict${why}`,
        );
      }
    }
    if (state.acceptedMask >> BigInt(commits.length) !== 0n) {
      differences.push(`on-chain accepted mask ${maskHex(state.acceptedMask)} has bits beyond the ${commits.length} commits`);
    }
  }
  if (io.chain.verdicts) {
    for (const v of await io.chain.verdicts(round)) {
      result.verifiers.push({ verifier: v.verifier, acceptedMask: maskHex(v.acceptedMask), matchesRecomputed: verdict !== null && v.acceptedMask === verdict.mask });
    }
  }

  // 2. Aggregate over the on-chain accepted set, canonical bytes, CID.
  const accepted = updates.filter((_, i) => maskHas(state.acceptedMask, commits[i].index));
  const unusable = commits.filter((c, i) => maskHas(state.acceptedMask, c.index) && !updates[i].weights);
  if (accepted.length === 0) {
    differences.push("the on-chain accepted set is empty: nothing to aggregate");
  } else if (unusable.length > 0) {
    for (const c of unusable) differences.push(`accepted commit ${c.index} (${c.cid}) cannot be used: ${result.commits[c.index].problem}`);
  } else {
    try {
      const aggregate = rules.aggregate(setting, models, accepted);
      const version = parseCid(state.finalCid).version === 0 ? 0 : 1;
      result.globalCidRecomputed = (await updateCid(encodeUpdate(aggregate, spec), version)).toString();
      if (result.globalCidRecomputed !== state.finalCid) {
        differences.push(`final global model: on chain ${state.finalCid}, recomputed ${result.globalCidRecomputed}`);
      }
    } catch (error) {
      differences.push(`aggregation of the accepted set failed: ${errorText(error)}`);
    }
  }
  result.ok = differences.length === 0;
  return result;
}
