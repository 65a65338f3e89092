/** Rounds: the list and one round's view, built from events and refreshed with the contract's live phase. */
import { phaseName } from "../abi.ts";
import { allRounds, buildRound, roundNumbers, summarizeRound, type RoundSummary, type RoundView } from "../rounds.ts";
import { contractView, type ExplorerContext } from "./context.ts";
import { NotFoundError } from "./errors.ts";
import { dpEnabled } from "./task.ts";

export type RoundDetail = RoundView & {
  phaseDeadline: number | null;
  lastRound: number;
  /** False when the task runs without DP (epsilon is then meaningless); null before TaskConfigured. */
  dpEnabled: boolean | null;
};

export class RoundService {
  constructor(private readonly ctx: ExplorerContext) {}

  rounds(): RoundSummary[] {
    return allRounds(this.ctx.index).map(summarizeRound).reverse();
  }

  async round(r: number): Promise<RoundDetail> {
    if (!Number.isSafeInteger(r) || r < 1) throw new NotFoundError("round", `"${r}" is not a round number (rounds start at 1)`);
    const view = buildRound(this.ctx.index, r);
    if (!view) {
      const current = await contractView(this.ctx, async (t) => Number(await t.currentRound()));
      throw new NotFoundError("round", `round ${r} has no events on chain${current !== null ? ` (current round is ${current})` : ""}`);
    }
    const live = await contractView(this.ctx, async (t) => t.getRound(r));
    const known = roundNumbers(this.ctx.index);
    return {
      ...view,
      phase: live ? phaseName(Number(live.phase)) : view.phase,
      phaseDeadline: live ? Number(live.phaseDeadline) || null : null,
      lastRound: known[known.length - 1] ?? r,
      dpEnabled: dpEnabled(this.ctx.index),
    };
  }
}
