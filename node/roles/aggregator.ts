import { CID } from "multiformats/cid";
import type { RoundState } from "../chain/task-chain.ts";
import { cumulativeEpsilonMilli } from "../privacy/config.ts";
import { maskHas } from "../protocol/codecs.ts";
import type { TaskConfig } from "../protocol/task-config.ts";
import { aggregateAccepted } from "../protocol/verdict.ts";
import type { RoleContext } from "./context.ts";
import { fetchUpdates, phaseBudget, roundModels } from "./round-inputs.ts";

/**
 * Cumulative epsilon after `rounds` rounds, in milli-units, as every honest aggregator computes it
 * (rounded up; 2^32-1 = unbounded, e.g. clipping without noise; 0 = DP off). Conservative: it counts
 * every round so far, whether or not a given peer committed in all of them.
 */
export function cumulativeEpsilonMilliFor(task: TaskConfig, rounds: number): number {
  return task.dp ? cumulativeEpsilonMilli(rounds, task.dp) : 0;
}

export class AcceptedUpdateUnavailableError extends Error {
  override name = "AcceptedUpdateUnavailableError";
  constructor(readonly round: number, readonly missing: { index: number; cid: string; reason: string }[]) {
    super(`round ${round}: accepted update(s) ${missing.map((m) => `${m.index} (${m.cid}: ${m.reason})`).join(", ")} could not be fetched before the deadline; submitting nothing`);
  }
}

/**
 * Aggregate the on-chain majority-accepted set with protocol/verdict.ts, pin it, score it on this
 * peer's validation split and submit its CID. An accepted update that cannot be fetched is retried
 * (every provider, re-dialing) until the phase's fetch deadline; then nothing is submitted and the
 * round fails with its reason rather than finalizing on a wrong aggregate.
 */
export async function runAggregator(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<string> {
  const { log, task } = ctx;
  const budget = phaseBudget(ctx, round, task.aggregationDuration, fetchTimeoutMs);
  const commits = (await ctx.chain.commits(round.round, round.commitCount)).filter((c) => maskHas(round.acceptedMask, c.index));
  const models = await roundModels(ctx, round, budget);
  let updates = await fetchUpdates(ctx, commits, budget);
  while (updates.some((u) => !u.weights) && Date.now() < (budget.deadlineMs ?? 0) - 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    updates = await fetchUpdates(ctx, commits, budget);
  }
  const missing = updates.flatMap((u, i) => (u.weights ? [] : [{ index: commits[i].index, cid: u.cid.toString(), reason: u.unusable?.message ?? "not fetched" }]));
  if (missing.length > 0) throw new AcceptedUpdateUnavailableError(round.round, missing);
  const aggregate = aggregateAccepted({ rule: task.rule, ruleParam: task.ruleParam }, models, updates);
  const cid = CID.parse(await ctx.models.put(aggregate));
  let accuracyBps = 0;
  try {
    const { accuracy } = await (await ctx.learner()).evaluate(aggregate);
    accuracyBps = Math.max(0, Math.min(10000, Math.round(accuracy * 10000)));
  } catch (err) {
    log.warn("evaluate-failed", { round: round.round, reason: (err as Error).message });
  }
  const sent = await ctx.chain.submitAggregate(round.round, cid, accuracyBps, cumulativeEpsilonMilliFor(task, round.round));
  log.info("aggregated", { round: round.round, cid: cid.toString(), accepted: commits.map((c) => c.index), accuracy: (accuracyBps / 100).toFixed(2) + "%", gas: sent.gasUsed });
  return cid.toString();
}
