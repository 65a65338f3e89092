import type { RoundState } from "../chain/task-chain.ts";
import { roundVerdict } from "../protocol/verdict.ts";
import type { RoleContext } from "./context.ts";
import { fetchUpdates, phaseBudget, roundModels } from "./round-inputs.ts";

/**
 * Fetch every committed update within the budget (byte cap = model size, bounded concurrency, a
 * deadline that leaves time to vote), judge them with protocol/verdict.ts and submit the mask.
 * An update that cannot be fetched or decoded in time is rejected, not waited on.
 */
export async function runVerifier(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<bigint> {
  const { log, task } = ctx;
  const budget = phaseBudget(ctx, round, task.verificationDuration, fetchTimeoutMs);
  const commits = await ctx.chain.commits(round.round, round.commitCount);
  const models = await roundModels(ctx, round, budget);
  const updates = await fetchUpdates(ctx, commits, budget);
  const verdict = roundVerdict({ rule: task.rule, ruleParam: task.ruleParam }, models, updates);
  for (const r of verdict.rejections) {
    log.info(r.code === "unavailable" || r.code === "bad-encoding" || r.code === "non-finite" ? "update-rejected-invalid" : "update-rejected", {
      round: round.round, commit: r.index, trainer: commits[r.index].trainer, code: r.code, reason: r.message,
    });
  }
  const sent = await ctx.chain.submitVerdict(round.round, verdict.mask);
  log.info("verdict", {
    round: round.round, rule: task.rule,
    accepted: verdict.accepted.flatMap((a, i) => (a ? [i] : [])), rejected: verdict.accepted.flatMap((a, i) => (a ? [] : [i])), gas: sent.gasUsed,
  });
  return verdict.mask;
}
