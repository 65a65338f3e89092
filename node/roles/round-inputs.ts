import type { Commit, RoundState } from "../chain/task-chain.ts";
import type { RoundModels, RoundUpdate } from "../protocol/verdict.ts";
import type { RoleContext } from "./context.ts";
import type { FetchBudget } from "./models.ts";

/** The round's global model and the previous round's (the rule context's reference). */
export async function roundModels(ctx: RoleContext, round: RoundState, budget: FetchBudget): Promise<RoundModels> {
  if (!round.globalModelCid) throw new Error(`round ${round.round} has no global model CID`);
  const global = await ctx.models.get(round.globalModelCid, budget);
  let previousGlobal: Float32Array | null = null;
  if (round.round > 1) {
    const prev = await ctx.chain.round(round.round - 1);
    if (prev.globalModelCid) previousGlobal = await ctx.models.get(prev.globalModelCid, budget);
  }
  return { global, previousGlobal };
}

/** Fetch and decode commits under the budget; failures become unusable updates with their reason. */
export async function fetchUpdates(ctx: RoleContext, commits: readonly Commit[], budget: FetchBudget): Promise<RoundUpdate[]> {
  const fetched = await ctx.models.getAll(commits.map((c) => c.cid), budget);
  return commits.map((c, i) => {
    const f = fetched[i];
    return f instanceof Float32Array
      ? { cid: c.cid, numSamples: c.numSamples, weights: f }
      : { cid: c.cid, numSamples: c.numSamples, weights: null, unusable: { code: f.code, message: f.message } };
  });
}

/**
 * Time a peer keeps after its last fetch to judge (or aggregate) `updates` updates and get its
 * transaction mined before the window closes: a fixed part for the transaction (5 s, as a loaded
 * node may take seconds to answer) plus 100 ms per update, at most 20 s, and never more than a third
 * of the window (short test windows).
 */
export function judgeAndCommitReserveMs(updates: number, windowSeconds: number): number {
  const reserve = Math.min(20_000, 5_000 + 100 * Math.max(0, updates));
  return Math.min(reserve, (windowSeconds * 1000) / 3);
}

/**
 * The time budget for fetching in a phase. Fetching runs until the phase's deadline minus the
 * reserve for judging and committing (judgeAndCommitReserveMs), whatever the per-attempt timeout:
 * a CID whose bytes did not come is retried until then, so "unavailable" means the bytes never
 * arrived in the window, not that one attempt by a loaded peer was slow. At least 2 s from now.
 */
export function phaseBudget(ctx: Pick<RoleContext, "now">, round: Pick<RoundState, "phaseDeadline">, windowSeconds: number, fetchTimeoutMs: number, updates = 0): FetchBudget {
  const deadlineMs = round.phaseDeadline * 1000 - judgeAndCommitReserveMs(updates, windowSeconds);
  return { timeoutMs: fetchTimeoutMs, deadlineMs: Math.max(deadlineMs, ctx.now() * 1000 + 2000) };
}
