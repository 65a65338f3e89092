/**
 * What a trainer sends: one definition used by the agents' trainer role and by the simulator.
 *
 * The order is fixed:
 *   1. train on the peer's shard from the round's global model (a data-level attack such as
 *      label flipping poisons the labels here; a backdoor trains on a triggered copy of the shard);
 *   2. privacy: clip the delta to C and add N(0, (sigma C)^2) noise — what an honest peer publishes;
 *   3. attack: a Byzantine peer rewrites the update it would have published (model-level attacks).
 *
 * Why the attack comes after the noise: an attacker is not bound by the protocol's DP, so its update
 * is neither clipped nor noised; and colluders estimate the honest statistics (ALIE, IPM) from the
 * updates honest peers actually publish. This is the worst case for the defence, and the one the
 * robustness and privacy benchmarks measure.
 */
import {
  DEFAULT_BACKDOOR_TARGET, DEFAULT_POISON_FRACTION, applyAttack, dataAttacks, labelFlip, parseAttack, poisonedDataAttacks,
  type AttackKind, type BackdoorTraining,
} from "../attacks/index.ts";
import type { AttackContext } from "../attacks/context.ts";
import { deriveSeed } from "../ml/random.ts";
import { privatizeUpdate, type GaussianSource } from "../privacy/gaussian.ts";

export interface TrainOutcome {
  weights: Float32Array;
  /** Samples trained on: the peer's FedAvg weight, committed on chain. */
  samples: number;
  seconds: number;
  loss: number;
}

/** The peer's private learning state, behind an interface so roles and tests need no tfjs. */
export interface LocalLearner {
  /** `backdoor`: train on a poisoned copy of the shard (trigger + target label, node/attacks/backdoor.ts). */
  train(global: Float32Array, opts: { round: number; labelTransform?: (y: number) => number; backdoor?: BackdoorTraining }): Promise<TrainOutcome>;
}

/** EXPERIMENTS ONLY: a Byzantine behaviour bound to a peer. */
export interface AttackPlan {
  kind: AttackKind;
  /** Rounds in which it is active; undefined = every round. */
  rounds?: ReadonlySet<number>;
  params?: AttackContext["params"];
}

export interface LocalPrivacy {
  clipNorm: number;
  noiseMultiplier: number;
  /** The peer's own CSPRNG in deployments; a seeded source in simulations only. */
  noise: GaussianSource;
}

/** An attack plan from a name and the `--attack-scale` knob (it sets the kind's own parameter). */
export function attackPlan(name: string, o: { scale?: number; rounds?: readonly number[] } = {}): AttackPlan {
  const kind = parseAttack(name);
  const params = o.scale === undefined ? undefined : { scale: o.scale, sigma: o.scale, z: o.scale, epsilon: o.scale };
  return { kind, rounds: o.rounds ? new Set(o.rounds) : undefined, params };
}

export function attackActive(plan: AttackPlan | undefined, round: number): plan is AttackPlan {
  return plan !== undefined && (!plan.rounds || plan.rounds.has(round));
}

/** The attack's seed for a peer in a round: the same in the agents and the simulator. */
export function attackSeed(peerIndex: number, round: number): number {
  return deriveSeed(0xa77, peerIndex, round);
}

export function delta(weights: Float32Array, global: Float32Array): Float32Array {
  const out = new Float32Array(global.length);
  for (let k = 0; k < global.length; k++) out[k] = weights[k] - global[k];
  return out;
}

export interface HonestUpdate extends TrainOutcome {
  /** Set when DP was applied. */
  dp?: { preClipNorm: number; clipped: boolean };
}

/** The backdoor's data part for a peer in a round: the poisoned samples are seeded by attackSeed. */
export function backdoorTraining(plan: AttackPlan, peerIndex: number, round: number): BackdoorTraining {
  return {
    targetLabel: plan.params?.targetLabel ?? DEFAULT_BACKDOOR_TARGET,
    fraction: plan.params?.poisonFraction ?? DEFAULT_POISON_FRACTION,
    seed: attackSeed(peerIndex, round),
  };
}

/**
 * Steps 1 and 2: what this peer would publish if it followed the protocol (after any data attack:
 * label flipping, or the backdoor's poisoned shard; `peerIndex` seeds the latter).
 */
export async function honestUpdate(
  global: Float32Array,
  learner: LocalLearner,
  o: { round: number; peerIndex?: number; attack?: AttackPlan; privacy?: LocalPrivacy | null },
): Promise<HonestUpdate> {
  const active = attackActive(o.attack, o.round);
  const poisonLabels = active && dataAttacks.includes(o.attack!.kind);
  const backdoor = active && poisonedDataAttacks.includes(o.attack!.kind) ? backdoorTraining(o.attack!, o.peerIndex ?? 0, o.round) : undefined;
  const trained = await learner.train(global, { round: o.round, labelTransform: poisonLabels ? (y) => labelFlip([y])[0] : undefined, backdoor });
  if (!o.privacy) return trained;
  const p = privatizeUpdate(delta(trained.weights, global), o.privacy.clipNorm, o.privacy.noiseMultiplier, o.privacy.noise);
  const weights = new Float32Array(global.length);
  for (let k = 0; k < global.length; k++) weights[k] = global[k] + p.noised[k];
  return { ...trained, weights, dp: { preClipNorm: p.preClipNorm, clipped: p.clipped } };
}

/**
 * Step 3: the update a Byzantine peer sends instead of `honest`. `colluderHonestDeltas` are the
 * honest deltas the colluding group shares (this peer's own included); a lone attacker passes none.
 */
export function craftUpdate(
  plan: AttackPlan,
  o: { round: number; peerIndex: number; numPeers: number; global: Float32Array; honest: Float32Array; colluderHonestDeltas?: readonly Float32Array[] },
): Float32Array {
  return applyAttack(plan.kind, {
    globalWeights: o.global, honestWeights: o.honest, colluderHonestDeltas: o.colluderHonestDeltas,
    numPeers: o.numPeers, numAttackers: Math.max(1, o.colluderHonestDeltas?.length ?? 1),
    seed: attackSeed(o.peerIndex, o.round), params: plan.params,
  });
}

export interface LocalUpdate extends HonestUpdate {
  /** The attack that rewrote this update, if any. */
  attack: AttackKind | null;
}

/** Steps 1-3 for one peer: the update it commits in `round`. */
export async function localUpdate(
  global: Float32Array,
  learner: LocalLearner,
  o: { round: number; peerIndex: number; numPeers: number; attack?: AttackPlan; privacy?: LocalPrivacy | null; colluderHonestDeltas?: readonly Float32Array[] },
): Promise<LocalUpdate> {
  const honest = await honestUpdate(global, learner, o);
  if (!attackActive(o.attack, o.round)) return { ...honest, attack: null };
  if (dataAttacks.includes(o.attack.kind)) return { ...honest, attack: o.attack.kind };
  const weights = craftUpdate(o.attack, { ...o, global, honest: honest.weights });
  return { ...honest, weights, attack: o.attack.kind };
}
