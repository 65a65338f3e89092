import { cidToBytes } from "../chain/cid.ts";
import { readCommits, maskHas, type RoundView } from "../chain/task.ts";
import type { RoleContext } from "./context.ts";
import { ruleAggregate } from "../agent/rules.ts";
import { cumulativeEpsilonMilli } from "../privacy/config.ts";
import { dpConfigOf } from "./dp.ts";

/**
 * Cumulative epsilon after `rounds` rounds, in milli-units, as every honest aggregator computes it
 * (rounded up; 2^32-1 = unbounded, e.g. clipping without noise; 0 = DP off). Conservative: it counts
 * every round so far, whether or not a given peer committed in all of them.
 */
export function cumulativeEpsilonMilliFor(ctx: RoleContext, rounds: number): number {
  const dp = dpConfigOf(ctx.task);
  return dp ? cumulativeEpsilonMilli(rounds, dp) : 0;
}

/**
 * Deterministic aggregation over the on-chain majority-accepted set (commit-index order), pinned on
 * IPFS; the aggregate is evaluated on this peer's validation split and submitted with its CID.
 */
export async function runAggregator(ctx: RoleContext, round: RoundView): Promise<string> {
  const { log } = ctx;
  const commits = await readCommits(ctx.conn.task, round.round, round.commitCount);
  const accepted = commits.filter((c) => maskHas(round.acceptedMask, c.index));
  const global = await ctx.fetchWeights(round.globalModelCid);
  const weights = await Promise.all(accepted.map((c) => ctx.fetchWeights(c.cid)));
  const aggregate = ruleAggregate({
    ruleId: ctx.task.robustRule, ruleParam: ctx.task.ruleParam, global,
    updates: weights, numSamples: accepted.map((c) => c.numSamples),
  });
  const cid = await ctx.putWeights(aggregate);
  let accuracyBps = 0;
  try {
    const learner = await ctx.learner();
    const { accuracy } = await learner.evaluate(aggregate);
    accuracyBps = Math.max(0, Math.min(10000, Math.round(accuracy * 10000)));
  } catch (err) {
    log.warn("evaluate-failed", { round: round.round, reason: (err as Error).message });
  }
  const epsMilli = cumulativeEpsilonMilliFor(ctx, round.round);
  const receipt = await ctx.send("submitAggregate", [round.round, cidToBytes(cid), accuracyBps, epsMilli]);
  log.info("aggregated", { round: round.round, cid, accepted: accepted.map((c) => c.index), accuracy: (accuracyBps / 100).toFixed(2) + "%", gas: receipt.gasUsed });
  return cid;
}
