/**
 * The last step every aggregator shares (plain, clustered and private rounds): pin the aggregate,
 * evaluate it on the aggregator's own validation data, and build what the aggregator commits to
 * (CID, accuracy in basis points, cumulative epsilon), kept until it reveals.
 */
import { CID } from "multiformats/cid";
import { cumulativeEpsilonMilli } from "../privacy/config.ts";
import type { TaskConfig } from "../protocol/task-config.ts";
import type { RoleContext } from "./context.ts";
import type { PendingAggregate } from "./reveals.ts";

/**
 * Cumulative epsilon after `rounds` rounds, in milli-units, as every honest aggregator computes it
 * (rounded up; 2^32-1 = unbounded, e.g. clipping without noise; 0 = DP off). Conservative: it counts
 * every round so far, whether or not a given peer committed in all of them.
 */
export function cumulativeEpsilonMilliFor(task: TaskConfig, rounds: number): number {
  return task.dp ? cumulativeEpsilonMilli(rounds, task.dp) : 0;
}

export async function publishAggregate(ctx: RoleContext, round: number, aggregate: Float32Array): Promise<PendingAggregate> {
  const cid = CID.parse(await ctx.models.put(aggregate));
  let accuracyBps = 0;
  try {
    const { accuracy } = await (await ctx.learner()).evaluate(aggregate);
    accuracyBps = Math.max(0, Math.min(10000, Math.round(accuracy * 10000)));
  } catch (err) {
    ctx.log.warn("evaluate-failed", { round, reason: (err as Error).message });
  }
  return { kind: "aggregate", cid: cid.toString(), accuracyBps, cumulativeEpsilonMilli: cumulativeEpsilonMilliFor(ctx.task, round) };
}
