import { CID } from "multiformats/cid";
import { cumulativeEpsilonMilli, maxCommitsWithinBudget } from "../privacy/config.ts";
import { secureGaussianSource } from "../privacy/gaussian.ts";
import { attackActive, craftUpdate, delta, honestUpdate, localUpdate } from "../protocol/local-update.ts";
import { dataAttacks } from "../attacks/index.ts";
import type { RoundState } from "../chain/task-chain.ts";
import type { RoleContext, TrainerState } from "./context.ts";
import { packUpdate } from "../compression/trainer-side.ts";
import { bookRound, mayTrain, throttleToTier } from "../devices/trainer-side.ts";
import { examplePrivacyGate, reportExampleEpsilon } from "./example-privacy.ts";

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
  // Example-level DP task (privacy ledger): the epsilon this round would bring, checked against the budget BEFORE training.
  const examplePlan = await examplePrivacyGate(ctx, round.round, (state.examplePrivacy ??= {}));
  if (examplePlan === false) return false;
  // Device profile (node/devices): a peer low on battery and not charging, or too hot, sits the round out.
  if (!mayTrain(state.device, round.round, ctx.now(), log)) return false;
  const fetchStart = Date.now();
  const global = await ctx.models.get(round.globalModelCid, { timeoutMs: 60_000, deadlineMs: round.phaseDeadline * 1000 });
  const globalFetchMs = Date.now() - fetchStart;
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
  // The device tier's speed: sleep until the tier's modeled training time (deadlines absorb slow tiers).
  const sleptS = await throttleToTier(state.device, update.samples, update.seconds, round.phaseDeadline - 15, ctx.now());
  // Update compression (node/compression): the task's format, or this device tier's override.
  const packed = packUpdate({
    spec: ctx.spec, task: ctx.chain.contractAddress, round: round.round, trainer: ctx.chain.account,
    base: { cid: round.globalModelCid.toString(), weights: global }, weights: update.weights,
    state: (state.compression ??= {}), warn: (e, f) => log.warn(e, f),
  });
  const cid = CID.parse(packed.bytes ? await ctx.models.putBytes(packed.bytes, packed.decoded) : await ctx.models.put(update.weights));
  // Example-level DP-SGD (--dp example): this peer's cumulative epsilon over every local step so far.
  const exampleEpsilon = learner.exampleEpsilon?.(task.dp?.delta ?? 1e-5) ?? null;
  const txStart = Date.now();
  const sent = await ctx.chain.commitUpdate(round.round, cid, update.samples);
  const commitTxMs = Date.now() - txStart;
  packed.commitResidual();
  if (examplePlan) await reportExampleEpsilon(ctx, round.round, state.examplePrivacy!, examplePlan);
  const updateBytes = packed.bytes?.length ?? ctx.models.maxBytes;
  // The agent books one upload of its update over Uu (the simulator accounts each link: node/sim/hierarchy.ts).
  const energy = bookRound(state.device, round.round, ctx.now(), { samples: update.samples, uuBytes: updateBytes, sidelinkBytes: 0 });
  log.info("committed", {
    round: round.round, cid: cid.toString(), samples: update.samples, trainSeconds: update.seconds.toFixed(2),
    loss: update.loss.toFixed(4), gas: sent.gasUsed, globalFetchMs, commitTxMs, ...(update.attack ? { attack: update.attack } : {}),
    ...(exampleEpsilon !== null ? { exampleEpsilon: exampleEpsilon.toFixed(3) } : {}),
    ...(packed.format !== "none" ? { compression: packed.format, bytes: updateBytes } : {}),
    ...(energy ? { tier: energy.tier, energyJ: energy.totalJ.toFixed(2), battery: energy.batteryPercent.toFixed(1) + "%", temperatureC: energy.temperatureC.toFixed(1), throttleSleepS: sleptS.toFixed(1) } : {}),
  });
  return true;
}
