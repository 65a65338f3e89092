/**
 * A trainer's side of the privacy ledger (contracts/PrivacyLedger.sol) in an example-level DP task:
 * before training a round it computes the epsilon it would reach (node/privacy/ledger.ts, from its
 * own commits on chain, so a restarted agent counts every round it ever published), and stops
 * committing, saying so, when that would exceed the task's budget; after its commit it reports the
 * new cumulative epsilon. It keeps its other roles (verifier, aggregator) after a budget stop.
 */
import type { PrivacyLedgerWriter } from "../chain/privacy-ledger.ts";
import { TxRevertedError } from "../chain/tx.ts";
import { auditPeerEpsilon, planNextRound, type LedgerParams, type NextRoundPlan } from "../privacy/ledger.ts";
import type { RoleContext } from "./context.ts";

/** The task's ledger as a role sees it. */
export interface ExamplePrivacy {
  ledger: PrivacyLedgerWriter;
  params: LedgerParams;
}

/** What the trainer remembers between rounds (its own commits' sample counts, read once from chain). */
export interface ExamplePrivacyState {
  ownSamples?: Map<number, number>;
  budgetStopLogged?: boolean;
}

/** numSamples of each of this peer's commits in rounds 1..before-1 (read from chain, cached). */
async function ownCommittedSamples(ctx: RoleContext, before: number, state: ExamplePrivacyState): Promise<number[]> {
  const known = (state.ownSamples ??= new Map());
  for (let r = 1; r < before; r++) {
    if (known.has(r)) continue;
    const index = await ctx.chain.commitIndexOf(r, ctx.chain.account);
    known.set(r, index === null ? 0 : (await ctx.chain.commits(r, index + 1))[index].numSamples);
  }
  return [...known].filter(([r, n]) => r < before && n > 0).map(([, n]) => n);
}

/**
 * The budget test before training `round`: the plan (epsilon after this round) when the peer may
 * train, `false` when the next round would exceed the budget (logged once), null when the task has
 * no example-level ledger.
 */
export async function examplePrivacyGate(ctx: RoleContext, round: number, state: ExamplePrivacyState): Promise<NextRoundPlan | null | false> {
  const privacy = ctx.privacy;
  if (!privacy || privacy.params.unit !== "example") return null;
  const learner = await ctx.learner();
  if (learner.trainSamples < privacy.params.expectedBatchSize) {
    if (!state.budgetStopLogged) {
      state.budgetStopLogged = true;
      ctx.log.warn("privacy-shard-too-small", { round, trainSamples: learner.trainSamples, batch: privacy.params.expectedBatchSize, reason: "the task's expected batch exceeds this peer's shard (q > 1): it cannot run the task's DP-SGD and does not commit" });
    }
    return false;
  }
  const previous = await ownCommittedSamples(ctx, round, state);
  const plan = planNextRound(privacy.params, previous, learner.trainSamples);
  if (plan.withinBudget) return plan;
  if (!state.budgetStopLogged) {
    state.budgetStopLogged = true;
    ctx.log.warn("privacy-budget-exhausted", {
      unit: "example", round, committedRounds: previous.length, nextEpsilon: plan.epsilonAfter.toFixed(3), budget: plan.budget,
      reason: `committing round ${round} would raise this peer's example-level epsilon to ${plan.epsilonAfter.toFixed(3)} > budget ${plan.budget}: it stops committing updates (other roles continue)`,
    });
  }
  return false;
}

/** After the commit of `round`: report the cumulative epsilon (recomputed from chain when no plan is given, e.g. after a restart). */
export async function reportExampleEpsilon(ctx: RoleContext, round: number, state: ExamplePrivacyState, plan?: NextRoundPlan): Promise<boolean> {
  const privacy = ctx.privacy;
  if (!privacy || privacy.params.unit !== "example") return false;
  if ((await privacy.ledger.epsilonOf(round, ctx.chain.account)) !== null) return false;
  let milli = plan?.epsilonAfterMilli;
  if (milli === undefined) {
    const index = await ctx.chain.commitIndexOf(round, ctx.chain.account);
    if (index === null) return false;
    const now = (await ctx.chain.commits(round, index + 1))[index].numSamples;
    const rows = auditPeerEpsilon(privacy.params, [
      ...(await ownCommittedSamples(ctx, round, state)).map((n, i) => ({ round: i + 1, numSamples: n, reportedMilli: null })),
      { round, numSamples: now, reportedMilli: null },
    ]);
    const last = rows[rows.length - 1];
    if (last.expectedMilli === null) throw new Error(`cannot account round ${round}: numSamples ${now} is below the task's batch ${privacy.params.expectedBatchSize}`);
    milli = last.expectedMilli;
  }
  try {
    const sent = await privacy.ledger.report(round, milli);
    ctx.log.info("epsilon-reported", { round, epsilon: (milli / 1000).toFixed(3), budget: privacy.params.epsilonBudget, gas: sent.gasUsed });
    return true;
  } catch (err) {
    if (!(err instanceof TxRevertedError)) throw err;
    ctx.log.warn("epsilon-report-refused", { round, epsilonMilli: milli, error: err.errorName, args: err.errorArgs.map(String) });
    return false;
  }
}
