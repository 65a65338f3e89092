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
 * The time budget for fetching in a phase: stop fetching early enough to still send the
 * transaction before the deadline (a quarter of the window, at least 5 s, at most 20 s of margin).
 */
export function phaseBudget(ctx: RoleContext, round: RoundState, windowSeconds: number, fetchTimeoutMs: number): FetchBudget {
  const margin = Math.min(20, Math.max(5, windowSeconds / 4));
  const deadlineMs = (round.phaseDeadline - margin) * 1000;
  return { timeoutMs: fetchTimeoutMs, deadlineMs: Math.max(deadlineMs, ctx.now() * 1000 + 2000) };
}
