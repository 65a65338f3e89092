import type { RoundState } from "../chain/task-chain.ts";
import { verdictCommitment } from "../protocol/commitments.ts";
import { roundRulesOf } from "../protocol/task-config.ts";
import { createRule, hasPrivateVote } from "../aggregation/rules.ts";
import { rootVerdict, votedVerdict, type RoundVerdict } from "../protocol/verdict.ts";
import { roundRootLoss } from "./root-set.ts";
import { fetchHealth, type FetchHealth } from "../protocol/availability.ts";
import type { RoleContext } from "./context.ts";
import type { RevealStore } from "./reveals.ts";
import { fetchUpdates, phaseBudget, roundModels } from "./round-inputs.ts";
import { privateVerdict } from "../secagg/roles.ts";
import { clusteredVerdict } from "./cluster-roles.ts";

/**
 * This verifier could not fetch enough of the round's updates to tell a withholding trainer from its
 * own trouble (protocol/availability.ts): it commits no verdict. The agent logs it and moves on; the
 * contract settles the missing verdict against this verifier, not against the trainers.
 */
export class VerifierAbstainedError extends Error {
  override name = "VerifierAbstainedError";
  constructor(readonly round: number, readonly health: FetchHealth) {
    super(`round ${round}: fetched ${health.fetched} of ${health.total} updates (${health.unavailable} never arrived): abstaining instead of voting them "unavailable"`);
  }
}

/**
 * The order this verifier fetches the round's commits in: commit order rotated by an offset taken
 * from its address, so that the committee's verifiers do not all ask the same trainer first (and
 * those that already hold an update serve it to the others).
 */
export function fetchOrder(account: string, count: number): number[] {
  if (count === 0) return [];
  const offset = Number(BigInt(account) % BigInt(count));
  return Array.from({ length: count }, (_, k) => (k + offset) % count);
}

/**
 * Fetch every committed update within the budget (byte cap = model size, bounded concurrency),
 * judge them with protocol/verdict.ts. Fetching runs until the verify-commit window's end minus the
 * time to judge and commit (phaseBudget), retrying what did not come: an update is judged
 * "unavailable" only when its bytes never arrived by then, not because one attempt was slow.
 * Content that decodes badly is rejected at once. Throws VerifierAbstainedError (judging nothing) when
 * this verifier fetched too few updates to tell withholding trainers from its own trouble.
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
  const fetchStart = Date.now();
  const order = fetchOrder(ctx.chain.account, commits.length);
  const fetched = await fetchUpdates(ctx, order.map((i) => commits[i]), { ...budget, base: { cid: round.globalModelCid!.toString(), weights: models.global } });
  const updates = new Array<(typeof fetched)[number]>(commits.length);
  order.forEach((i, k) => { updates[i] = fetched[k]; });
  const health = fetchHealth(updates);
  // Too few updates came to judge the round fairly: commit nothing, and skip judging it.
  if (health.abstain) {
    log.info("verdict-computed", { round: round.round, fetchMs: Date.now() - fetchStart, judgeMs: 0, ...health });
    throw new VerifierAbstainedError(round.round, health);
  }
  const judgeStart = Date.now();
  const rules = roundRulesOf(task);
  // A rule with a private vote (validation-vote) scores the updates on this verifier's held-out split:
  // that score is this verifier's vote; the audit checks the committee majority, not each score.
  const learner = hasPrivateVote(createRule(rules.rule)) ? await ctx.learner() : null;
  // root-validation scores on the task's PUBLIC root set (IPFS, CID in the model spec): the same for every
  // honest verifier and recomputed by the audit. Without it (not fetched, invalid) this verifier commits
  // the public pre-filter and says why; the audit then reports its mask as differing.
  const loaded = await roundRootLoss(ctx, round.round, fetchTimeoutMs);
  const rootLoss = loaded === "unavailable" ? null : loaded;
  const verdict = rootLoss
    ? await rootVerdict(rules, models, updates, rootLoss)
    : await votedVerdict(rules, models, updates, learner ? async (w) => (await learner.evaluate(w)).loss : undefined);
  if ("rootScores" in verdict && verdict.rootScores) log.info("root-validation", { round: round.round, scores: verdict.rootScores.map((v) => `${v.index}:${v.score.toFixed(4)}`).join(" ") });
  if ("voteScores" in verdict && verdict.voteScores) log.info("validation-vote", { round: round.round, scores: verdict.voteScores.map((v) => `${v.index}:${v.score.toFixed(4)}`).join(" ") });
  // Where the verify window goes (docs/scale.md): fetching the updates, then judging them.
  log.info("verdict-computed", { round: round.round, fetchMs: judgeStart - fetchStart, judgeMs: Date.now() - judgeStart, ...health });
  for (const r of verdict.rejections) {
    log.info(r.code === "unavailable" || r.code === "bad-encoding" || r.code === "non-finite" ? "update-rejected-invalid" : "update-rejected", {
      round: round.round, commit: r.index, trainer: commits[r.index].trainer, code: r.code, reason: r.message,
    });
  }
  return verdict;
}

/**
 * VerifyCommit: judge the round and commit to the mask (nobody can copy it before the reveal window).
 * computeVerdict throws VerifierAbstainedError, and nothing is committed, when this verifier fetched
 * too few updates.
 */
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
