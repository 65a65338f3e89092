import { CID } from "multiformats/cid";
import { cumulativeEpsilonMilli, maxCommitsWithinBudget } from "../privacy/config.ts";
import { secureGaussianSource } from "../privacy/gaussian.ts";
import { attackActive, craftUpdate, delta, honestUpdate, localUpdate } from "../protocol/local-update.ts";
import { dataAttacks } from "../attacks/index.ts";
import type { RoundState } from "../chain/task-chain.ts";
import type { RoleContext, TrainerState } from "./context.ts";

/** Train on the round's global model and commit the update (protocol/local-update.ts). Returns true when committed. */
export async function runTrainer(ctx: RoleContext, round: RoundState, state: TrainerState): Promise<boolean> {
  const { task, log } = ctx;
  const dp = task.dp;
  if (dp && state.dpRoundsSpent + 1 > maxCommitsWithinBudget(dp)) {
    if (!state.budgetExhaustedLogged) {
      const next = cumulativeEpsilonMilli(state.dpRoundsSpent + 1, dp) / 1000;
      log.warn("privacy-budget-exhausted", { round: round.round, spentRounds: state.dpRoundsSpent, nextEpsilon: next.toFixed(3), budget: dp.epsilonBudget });
      state.budgetExhaustedLogged = true;
    }
    return false;
  }
  if (!round.globalModelCid) throw new Error(`round ${round.round} has no global model CID`);
  const global = await ctx.models.get(round.globalModelCid, { timeoutMs: 60_000, deadlineMs: round.phaseDeadline * 1000 });
  const learner = await ctx.learner();
  const o = {
    round: round.round, peerIndex: ctx.dataIndex, numPeers: ctx.numPeers, attack: state.attack,
    privacy: dp ? { clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, noise: secureGaussianSource() } : null,
  };
  let update;
  if (state.colluders && attackActive(state.attack, round.round) && !dataAttacks.includes(state.attack.kind)) {
    // Colluders share their honest deltas first, so the attack uses the group's real statistics.
    const honest = await honestUpdate(global, learner, o);
    const group = await state.colluders.exchange(round.round, delta(honest.weights, global), { deadlineMs: Math.min(Date.now() + 60_000, (round.phaseDeadline - 10) * 1000) });
    log.info("colluded", { round: round.round, colluders: group.length });
    update = { ...honest, weights: craftUpdate(state.attack, { ...o, global, honest: honest.weights, colluderHonestDeltas: group }), attack: state.attack.kind };
  } else {
    update = await localUpdate(global, learner, o);
  }
  if (update.dp) {
    state.dpRoundsSpent++;
    log.info("dp-applied", { round: round.round, preClipNorm: update.dp.preClipNorm.toFixed(3), clipped: update.dp.clipped });
  }
  const cid = CID.parse(await ctx.models.put(update.weights));
  // Example-level DP-SGD (--dp example): this peer's cumulative epsilon over every local step so far.
  const exampleEpsilon = learner.exampleEpsilon?.(task.dp?.delta ?? 1e-5) ?? null;
  const sent = await ctx.chain.commitUpdate(round.round, cid, update.samples);
  log.info("committed", {
    round: round.round, cid: cid.toString(), samples: update.samples, trainSeconds: update.seconds.toFixed(2),
    loss: update.loss.toFixed(4), gas: sent.gasUsed, ...(update.attack ? { attack: update.attack } : {}),
    ...(exampleEpsilon !== null ? { exampleEpsilon: exampleEpsilon.toFixed(3) } : {}),
  });
  return true;
}
