/**
 * EXPERIMENTS ONLY: how a malicious agent (`--attack KIND`) changes what it sends. The attacks
 * themselves live in node/attacks/ (shared with the simulator); this binds one to an agent.
 * A lone agent has no colluders: ALIE/IPM estimate the honest statistics from its own update.
 */
import { applyAttack, labelFlip, parseAttack, type AttackKind } from "../attacks/index.ts";

export interface Attack {
  kind: AttackKind;
  /** rounds in which the attack is active; undefined = every round */
  rounds?: ReadonlySet<number>;
  /** data-level attacks poison labels at training time */
  labelTransform?: (y: number) => number;
  /** update-level attacks rewrite the weights after honest training */
  transform?: (o: { round: number; globalWeights: Float32Array; honestWeights: Float32Array }) => Float32Array;
}

/** The attack if it is active in `round`, else undefined (an honest round). */
export function activeAttack(attack: Attack | undefined, round: number): Attack | undefined {
  return attack && (!attack.rounds || attack.rounds.has(round)) ? attack : undefined;
}

export async function createAttackFor(name: string, o: { scale?: number; seed: number; numPeers: number; rounds?: number[] }): Promise<Attack> {
  const kind = parseAttack(name);
  const rounds = o.rounds ? new Set(o.rounds) : undefined;
  if (kind === "label-flip") return { kind, rounds, labelTransform: (y) => labelFlip([y])[0] };
  const params = o.scale !== undefined ? { scale: o.scale, sigma: o.scale, z: o.scale, epsilon: o.scale } : undefined;
  return {
    kind,
    rounds,
    transform: ({ round, globalWeights, honestWeights }) => applyAttack(kind, {
      globalWeights, honestWeights, numPeers: o.numPeers, numAttackers: 1, seed: o.seed * 7919 + round, params,
    }),
  };
}
