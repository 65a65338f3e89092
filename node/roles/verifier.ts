import { readCommits, maskFrom, type RoundView } from "../chain/task.ts";
import type { RoleContext } from "./context.ts";
import { ruleVerdict } from "../agent/rules.ts";

/**
 * Fetch every committed update, validate it (decodes against the task's model spec, finite, sane
 * norm), score the valid ones with the task's robust rule, and submit the verdict mask.
 * An update that cannot be fetched within the timeout is rejected, not waited on.
 */
export async function runVerifier(ctx: RoleContext, round: RoundView): Promise<bigint> {
  const { log, task } = ctx;
  const commits = await readCommits(ctx.conn.task, round.round, round.commitCount);
  const global = await ctx.fetchWeights(round.globalModelCid);
  const fetched = await Promise.all(commits.map(async (c) => {
    try {
      return { commit: c, weights: await ctx.fetchWeights(c.cid) };
    } catch (err) {
      log.warn("update-rejected-invalid", { round: round.round, commit: c.index, trainer: c.trainer, cid: c.cid, reason: (err as Error).message });
      return { commit: c, weights: undefined };
    }
  }));
  const valid = fetched.filter((f): f is { commit: typeof f.commit; weights: Float32Array } => f.weights !== undefined);
  const verdict = ruleVerdict({
    ruleId: task.robustRule,
    ruleParam: task.ruleParam,
    global,
    updates: valid.map((v) => v.weights),
    numSamples: valid.map((v) => v.commit.numSamples),
    log,
  });
  const accepted = commits.map(() => false);
  valid.forEach((v, i) => { accepted[v.commit.index] = verdict.accepted[i]; });
  for (const [i, reason] of verdict.reasons) log.info("update-rejected", { round: round.round, commit: valid[i].commit.index, trainer: valid[i].commit.trainer, reason });
  const mask = maskFrom(accepted);
  const receipt = await ctx.send("submitVerdict", [round.round, mask]);
  log.info("verdict", {
    round: round.round, rule: verdict.ruleName, accepted: accepted.map((a, i) => (a ? i : -1)).filter((i) => i >= 0),
    rejected: accepted.map((a, i) => (a ? -1 : i)).filter((i) => i >= 0), gas: receipt.gasUsed,
  });
  return mask;
}
