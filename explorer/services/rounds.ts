/** Rounds: the list and one round's view, built from events and refreshed with the contract's live phase and committees. */
import { Phase, phaseName } from "../abi.ts";
import { allRounds, buildChallenges, buildRound, roundNumbers, summarizeRound, type ChallengeView, type RoundSummary, type RoundView } from "../rounds.ts";
import { contractView, type ExplorerContext } from "./context.ts";
import { NotFoundError } from "./errors.ts";
import { dpEnabled } from "./task.ts";

export type RoundDetail = RoundView & {
  /** The open window's end; for a finalized round the end of its challenge window. */
  phaseDeadline: number | null;
  /** What phaseDeadline closes ("challenge window" once finalized). */
  phaseDeadlineLabel: string | null;
  lastRound: number;
  /** False when the task runs without DP (epsilon is then meaningless); null before TaskConfigured. */
  dpEnabled: boolean | null;
};

export class RoundService {
  constructor(private readonly ctx: ExplorerContext) {}

  rounds(): RoundSummary[] {
    return allRounds(this.ctx.index).map(summarizeRound).reverse();
  }

  /** Every challenge of the task (raised, open, upheld or rejected). */
  challenges(): ChallengeView[] {
    return buildChallenges(this.ctx.index);
  }

  async round(r: number): Promise<RoundDetail> {
    if (!Number.isSafeInteger(r) || r < 1) throw new NotFoundError("round", `"${r}" is not a round number (rounds start at 1)`);
    let view = buildRound(this.ctx.index, r);
    if (!view) {
      const current = await contractView(this.ctx, async (t) => Number(await t.currentRound()));
      throw new NotFoundError("round", `round ${r} has no events on chain${current !== null ? ` (current round is ${current})` : ""}`);
    }
    const live = await contractView(this.ctx, async (t) => t.getRound(r));
    const phase = live ? phaseName(Number(live.phase)) : view.phase;
    // Committees not drawn yet: the getCommittees view computes them once the seed block's hash exists.
    if (view.committees && !view.committees.selected && phase !== phaseName(Phase.Failed)) {
      const preview = await contractView(this.ctx, async (t) => {
        const c = await t.getCommittees(r);
        return { verifierCommittee: BigInt(c.verifierCommittee), aggregatorCommittee: BigInt(c.aggregatorCommittee) };
      });
      if (preview) view = buildRound(this.ctx.index, r, preview) ?? view;
    }
    const known = roundNumbers(this.ctx.index);
    const phaseDeadline = live ? Number(live.phaseDeadline) || null : null;
    return {
      ...view,
      phase,
      phaseDeadline,
      phaseDeadlineLabel: phaseDeadline === null ? null : phase === phaseName(Phase.Finalized) ? "challenge window" : `${phase} window`,
      lastRound: known[known.length - 1] ?? r,
      dpEnabled: dpEnabled(this.ctx.index),
    };
  }
}
