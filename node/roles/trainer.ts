import { cidToBytes } from "../chain/cid.ts";
import type { RoundView } from "../chain/task.ts";
import type { RoleContext } from "./context.ts";
import { activeAttack, type Attack } from "../agent/attack.ts";
import { privatizeUpdate, secureGaussianSource } from "../privacy/gaussian.ts";
import { cumulativeEpsilonMilli, maxCommitsWithinBudget } from "../privacy/config.ts";
import { dpConfigOf } from "./dp.ts";

export interface TrainerState {
  attack?: Attack;
  /** rounds this peer has contributed a DP-noised update to (its own privacy spend) */
  dpRoundsSpent: number;
  budgetExhaustedLogged: boolean;
}

/** Train on the round's global model and commit the update. Returns true when committed. */
export async function runTrainer(ctx: RoleContext, round: RoundView, state: TrainerState): Promise<boolean> {
  const { task, log } = ctx;
  const dp = dpConfigOf(task);
  if (dp && state.dpRoundsSpent + 1 > maxCommitsWithinBudget(dp)) {
    if (!state.budgetExhaustedLogged) {
      const next = cumulativeEpsilonMilli(state.dpRoundsSpent + 1, dp) / 1000;
      log.warn("privacy-budget-exhausted", { round: round.round, spentRounds: state.dpRoundsSpent, nextEpsilon: next.toFixed(3), budget: dp.epsilonBudget });
      state.budgetExhaustedLogged = true;
    }
    return false;
  }
  const global = await ctx.fetchWeights(round.globalModelCid);
  const learner = await ctx.learner();
  const attack = activeAttack(state.attack, round.round);
  const trained = await learner.train(global, { labelTransform: attack?.labelTransform });
  let weights = trained.weights;
  if (attack?.transform) weights = attack.transform({ round: round.round, globalWeights: global, honestWeights: weights });
  if (dp) {
    const delta = new Float32Array(weights.length);
    for (let i = 0; i < weights.length; i++) delta[i] = weights[i] - global[i];
    const p = privatizeUpdate(delta, dp.clipNorm, dp.noiseMultiplier, secureGaussianSource());
    weights = new Float32Array(weights.length);
    for (let i = 0; i < weights.length; i++) weights[i] = global[i] + p.noised[i];
    state.dpRoundsSpent++;
    log.info("dp-applied", { round: round.round, preClipNorm: p.preClipNorm.toFixed(3), clipped: p.clipped });
  }
  const cid = await ctx.putWeights(weights);
  const receipt = await ctx.send("commitUpdate", [round.round, cidToBytes(cid), trained.samples]);
  log.info("committed", {
    round: round.round, cid, samples: trained.samples, trainSeconds: trained.seconds.toFixed(2),
    loss: trained.loss.toFixed(4), gas: receipt.gasUsed, ...(attack ? { attack: attack.kind } : {}),
  });
  return true;
}
