import { CID } from "multiformats/cid";
import type { RoundState } from "../chain/task-chain.ts";
import { maskHas } from "../protocol/codecs.ts";
import { aggregateCommitment } from "../protocol/commitments.ts";
import { roundRulesOf } from "../protocol/task-config.ts";
import { AcceptedUpdateUnavailableError, averageAccepted } from "./accepted-average.ts";
import type { RoleContext } from "./context.ts";
import type { PendingAggregate, RevealStore } from "./reveals.ts";
import { fetchUpdates, phaseBudget, roundModels } from "./round-inputs.ts";
import { privateAggregateFor } from "../secagg/roles.ts";
import { clusteredAggregate } from "./cluster-roles.ts";
import { publishAggregate } from "./publish-aggregate.ts";

export { AcceptedUpdateUnavailableError };

/**
 * Aggregate the on-chain majority-accepted set with protocol/verdict.ts, pin it and score it on this
 * peer's validation split. An accepted update that cannot be fetched is retried (every provider,
 * re-dialing) until the phase's fetch deadline; then it throws AcceptedUpdateUnavailableError and the
 * agent commits nothing, so the round fails with its reason rather than finalizing a wrong aggregate.
 */
export async function computeAggregate(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<PendingAggregate> {
  // Private mode: the aggregate is the unmasked sum (node/secagg/roles.ts).
  if (ctx.secagg) return privateAggregateFor(ctx, round, fetchTimeoutMs);
  // Clustered rounds: FedAvg over the accepted cluster aggregates and lone updates.
  if (ctx.clusters) return clusteredAggregate(ctx, round, fetchTimeoutMs);
  const { log, task } = ctx;
  const budget = phaseBudget(ctx, round, task.aggregationDuration, fetchTimeoutMs, round.commitCount);
  const commits = (await ctx.chain.commits(round.round, round.commitCount)).filter((c) => maskHas(round.acceptedMask, c.index));
  const models = await roundModels(ctx, round, budget);
  const updateBudget = { ...budget, base: { cid: round.globalModelCid!.toString(), weights: models.global } };
  let updates = await fetchUpdates(ctx, commits, updateBudget);
  while (updates.some((u) => !u.weights) && Date.now() < (budget.deadlineMs ?? 0) - 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    updates = await fetchUpdates(ctx, commits, updateBudget);
  }
  return publishAggregate(ctx, round.round, averageAccepted(round.round, roundRulesOf(task), models, updates.map((update, i) => ({ label: commits[i].index, update }))));
}

/** AggregateCommit: compute, pin and commit to the aggregate. Returns its CID. */
export async function runAggregator(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number, pending: RevealStore): Promise<string> {
  const a = await computeAggregate(ctx, round, fetchTimeoutMs);
  const salt = await ctx.chain.saltFor(round.round, "aggregate");
  pending.set(ctx.chain.contractAddress, round.round, a);
  const commitment = aggregateCommitment(ctx.chain.contractAddress, round.round, ctx.chain.account, CID.parse(a.cid), a.accuracyBps, a.cumulativeEpsilonMilli, salt);
  const sent = await ctx.chain.commitAggregate(round.round, commitment);
  ctx.log.info("aggregate-committed", { round: round.round, cid: a.cid, accuracy: (a.accuracyBps / 100).toFixed(2) + "%", gas: sent.gasUsed });
  return a.cid;
}

/** AggregateReveal: reveal what was committed (recomputed when this process lost it). */
export async function revealAggregator(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number, pending: RevealStore): Promise<string> {
  const kept = pending.get(ctx.chain.contractAddress, round.round, "aggregate");
  const a = kept ?? (await computeAggregate(ctx, round, fetchTimeoutMs));
  const sent = await ctx.chain.revealAggregate(round.round, CID.parse(a.cid), a.accuracyBps, a.cumulativeEpsilonMilli, await ctx.chain.saltFor(round.round, "aggregate"));
  ctx.log.info("aggregated", { round: round.round, cid: a.cid, accuracy: (a.accuracyBps / 100).toFixed(2) + "%", recomputed: !kept, gas: sent.gasUsed });
  return a.cid;
}
