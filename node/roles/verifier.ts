import type { RoundState } from "../chain/task-chain.ts";
import { verdictCommitment } from "../protocol/commitments.ts";
import { roundRulesOf } from "../protocol/task-config.ts";
import { createRule, hasPrivateVote } from "../aggregation/rules.ts";
import { votedVerdict, type RoundVerdict } from "../protocol/verdict.ts";
import type { RoleContext } from "./context.ts";
import type { RevealStore } from "./reveals.ts";
import { fetchUpdates, phaseBudget, roundModels } from "./round-inputs.ts";
import { privateVerdict } from "../secagg/roles.ts";
import { clusteredVerdict } from "./cluster-roles.ts";

/**
 * Fetch every committed update within the budget (byte cap = model size, bounded concurrency),
 * judge them with protocol/verdict.ts. Fetching runs until the verify-commit window's end minus the
 * time to judge and commit (phaseBudget), retrying what did not come: an update is judged
 * "unavailable" only when its bytes never arrived by then, not because one attempt was slow.
 * Content that decodes badly is rejected at once.
 */
export async function computeVerdict(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<RoundVerdict> {
  // Private mode: judge the unmasked candidate aggregate, not single (masked) updates.
  if (ctx.secagg) return privateVerdict(ctx, round, fetchTimeoutMs);
  // Clustered rounds: judge cluster aggregates (recomputed from the members' CIDs) and lone updates.
  if (ctx.clusters) return clusteredVerdict(ctx, round, fetchTimeoutMs);
  const { log, task } = ctx;
  const budget = phaseBudget(ctx, round, task.verificationDuration, fetchTimeoutMs, round.commitCount);
  const commits = await ctx.chain.commits(round.round, round.commitCount);
  const models = await roundModels(ctx, round, budget);
  // Trainers' updates may be compressed deltas against this round's global model (node/compression).
  const updates = await fetchUpdates(ctx, commits, { ...budget, base: { cid: round.globalModelCid!.toString(), weights: models.global } });
  const rules = roundRulesOf(task);
  // A rule with a private vote (validation-vote) scores the updates on this verifier's held-out split:
  // that score is this verifier's vote; the audit checks the committee majority, not each score.
  const learner = hasPrivateVote(createRule(rules.rule)) ? await ctx.learner() : null;
  const verdict = await votedVerdict(rules, models, updates, learner ? async (w) => (await learner.evaluate(w)).loss : undefined);
  if (verdict.voteScores) log.info("validation-vote", { round: round.round, scores: verdict.voteScores.map((v) => `${v.index}:${v.score.toFixed(4)}`).join(" ") });
  for (const r of verdict.rejections) {
    log.info(r.code === "unavailable" || r.code === "bad-encoding" || r.code === "non-finite" ? "update-rejected-invalid" : "update-rejected", {
      round: round.round, commit: r.index, trainer: commits[r.index].trainer, code: r.code, reason: r.message,
    });
  }
  return verdict;
}

/** VerifyCommit: judge the round and commit to the mask (nobody can copy it before the reveal window). */
export async function runVerifier(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number, pending: RevealStore): Promise<bigint> {
  const verdict = await computeVerdict(ctx, round, fetchTimeoutMs);
  const salt = await ctx.chain.saltFor(round.round, "verdict");
  pending.set(ctx.chain.contractAddress, round.round, { kind: "verdict", mask: verdict.mask.toString() });
  const sent = await ctx.chain.commitVerdict(round.round, verdictCommitment(ctx.chain.contractAddress, round.round, ctx.chain.account, verdict.mask, salt));
  ctx.log.info("verdict-committed", {
    round: round.round, rule: ctx.task.rule,
    accepted: verdict.accepted.flatMap((a, i) => (a ? [i] : [])), rejected: verdict.accepted.flatMap((a, i) => (a ? [] : [i])), gas: sent.gasUsed,
  });
  return verdict.mask;
}

/** VerifyReveal: reveal the committed mask (recomputed when this process lost it). */
export async function revealVerifier(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number, pending: RevealStore): Promise<bigint> {
  const kept = pending.get(ctx.chain.contractAddress, round.round, "verdict");
  const mask = kept ? BigInt(kept.mask) : (await computeVerdict(ctx, round, fetchTimeoutMs)).mask;
  const sent = await ctx.chain.revealVerdict(round.round, mask, await ctx.chain.saltFor(round.round, "verdict"));
  ctx.log.info("verdict", { round: round.round, mask: "0x" + mask.toString(16), recomputed: !kept, gas: sent.gasUsed });
  return mask;
}
