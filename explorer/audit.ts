/**
 * Re-verifying a finalized round from the chain and IPFS alone. Pure logic: the chain reader,
 * the content fetcher, the CID function and the robust rules are injected (explorer/audit-io.ts
 * wires the real ones), so the same code audits a live task or a test fixture.
 *
 * The audit does what an honest verifier and an honest aggregator would have done:
 *   1. decode every committed update with the task's model spec (invalid or missing -> rejected),
 *      apply the task's robust rule to them (against the round's starting global model) and
 *      compare that verdict with the on-chain majority mask;
 *   2. aggregate the ON-CHAIN accepted set (commit-index order, numSamples weights), encode it
 *      canonically, compute its CID and compare with the on-chain final CID.
 */
import { decodeModelSpec, decodeWeights, encodeWeights, flattenWeights, unflattenWeights } from "../node/ml/codec.ts";
import type { ModelSpec } from "../node/ml/types.ts";
import { phaseName, PHASE_FINALIZED, ROBUST_RULES } from "./abi.ts";
import { parseCid } from "./cid.ts";
import { maskBit } from "./values.ts";

export interface AuditTaskConfig {
  modelSpecCid: string;
  robustRule: number;
  ruleParam: number;
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

export interface RuleInput {
  ruleId: number;
  ruleParam: number;
  global: Float32Array;
  updates: Float32Array[];
  numSamples: number[];
}

/** The robust rules exactly as the agents run them. */
export interface AuditRules {
  verdict(input: RuleInput): { accepted: boolean[] };
  aggregate(input: RuleInput): Float32Array;
}

export interface AuditIO {
  chain: AuditChain;
  /** Bytes behind a CID (throws when unavailable). */
  fetch(cid: string): Promise<Uint8Array>;
  /** The CID `ipfs add` gives these bytes. */
  cidOf(bytes: Uint8Array, cidVersion: 0 | 1): Promise<string>;
  rules: AuditRules;
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

const hexMask = (mask: bigint): string => "0x" + mask.toString(16);

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function cidVersionOf(cid: string): 0 | 1 {
  return parseCid(cid)?.version === 0 ? 0 : 1;
}

export async function auditRound(round: number, io: AuditIO): Promise<AuditResult> {
  const differences: string[] = [];
  const state = await io.chain.round(round);
  const config = await io.chain.taskConfig();
  const result: AuditResult = {
    round,
    ok: false,
    rule: `${ROBUST_RULES[config.robustRule] ?? `rule ${config.robustRule}`} (param ${config.ruleParam})`,
    acceptedMaskOnChain: hexMask(state.acceptedMask),
    acceptedMaskRecomputed: null,
    globalCidOnChain: state.finalCid,
    globalCidRecomputed: null,
    commits: [],
    verifiers: [],
    differences,
  };
  if (state.phase !== PHASE_FINALIZED) {
    differences.push(`round ${round} is not finalized (phase ${phaseName(state.phase)}): there is no final CID to reproduce`);
    return result;
  }

  let spec: ModelSpec;
  let global: Float32Array;
  try {
    spec = decodeModelSpec(await io.fetch(config.modelSpecCid));
  } catch (error) {
    differences.push(`model spec ${config.modelSpecCid} unavailable or invalid: ${errorText(error)}`);
    return result;
  }
  try {
    global = flattenWeights(decodeWeights(await io.fetch(state.globalModelCid), spec));
  } catch (error) {
    differences.push(`round ${round}'s starting global model ${state.globalModelCid} unavailable or invalid: ${errorText(error)}`);
    return result;
  }

  const commits: AuditCommit[] = [];
  for (let i = 0; i < state.commitCount; i++) commits.push(await io.chain.commit(round, i));
  const weights = await Promise.all(
    commits.map(async (c): Promise<Float32Array | string> => {
      try {
        return flattenWeights(decodeWeights(await io.fetch(c.cid), spec));
      } catch (error) {
        return errorText(error);
      }
    }),
  );

  // 1. Verdict, as an honest verifier computes it: invalid updates rejected, the rest scored.
  const validIndices = commits.map((c) => c.index).filter((i) => typeof weights[i] !== "string");
  const recomputed = commits.map(() => false);
  let verdictError: string | null = null;
  if (validIndices.length > 0) {
    try {
      const verdict = io.rules.verdict({
        ruleId: config.robustRule,
        ruleParam: config.ruleParam,
        global,
        updates: validIndices.map((i) => weights[i] as Float32Array),
        numSamples: validIndices.map((i) => commits[i].numSamples),
      });
      validIndices.forEach((commitIndex, k) => {
        recomputed[commitIndex] = verdict.accepted[k] === true;
      });
    } catch (error) {
      verdictError = errorText(error);
      differences.push(`the robust rule failed on this round's updates: ${verdictError}`);
    }
  }
  const recomputedMask = recomputed.reduce((m, a, i) => (a ? m | (1n << BigInt(i)) : m), 0n);
  if (verdictError === null) result.acceptedMaskRecomputed = hexMask(recomputedMask);
  result.commits = commits.map((c) => ({
    index: c.index,
    trainer: c.trainer,
    cid: c.cid,
    numSamples: c.numSamples,
    problem: typeof weights[c.index] === "string" ? (weights[c.index] as string) : null,
    acceptedOnChain: maskBit(state.acceptedMask, c.index),
    acceptedRecomputed: recomputed[c.index],
  }));
  if (verdictError === null) {
    for (const c of result.commits) {
      if (c.acceptedOnChain !== c.acceptedRecomputed) {
        const why = c.problem ? ` (update invalid: ${c.problem})` : "";
        differences.push(
          `commit ${c.index} by ${c.trainer}: ${c.acceptedOnChain ? "accepted" : "rejected"} on chain, ` +
            `${c.acceptedRecomputed ? "accepted" : "rejected"} by the recomputed ${result.rule} verdict${why}`,
        );
      }
    }
    if (state.acceptedMask >> BigInt(commits.length) !== 0n) {
      differences.push(`on-chain accepted mask ${hexMask(state.acceptedMask)} has bits beyond the ${commits.length} commits`);
    }
  }
  if (io.chain.verdicts) {
    for (const v of await io.chain.verdicts(round)) {
      result.verifiers.push({
        verifier: v.verifier,
        acceptedMask: hexMask(v.acceptedMask),
        matchesRecomputed: verdictError === null && v.acceptedMask === recomputedMask,
      });
    }
  }

  // 2. Aggregate over the on-chain accepted set, canonical bytes, CID.
  const accepted = commits.filter((c) => maskBit(state.acceptedMask, c.index));
  const unusable = accepted.filter((c) => typeof weights[c.index] === "string");
  if (accepted.length === 0) {
    differences.push("the on-chain accepted set is empty: nothing to aggregate");
  } else if (unusable.length > 0) {
    for (const c of unusable) differences.push(`accepted commit ${c.index} (${c.cid}) cannot be used: ${weights[c.index] as string}`);
  } else {
    try {
      const aggregate = io.rules.aggregate({
        ruleId: config.robustRule,
        ruleParam: config.ruleParam,
        global,
        updates: accepted.map((c) => weights[c.index] as Float32Array),
        numSamples: accepted.map((c) => c.numSamples),
      });
      const bytes = encodeWeights(unflattenWeights(aggregate, spec));
      result.globalCidRecomputed = await io.cidOf(bytes, cidVersionOf(state.finalCid));
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
