/**
 * EXPERIMENTS ONLY: how a malicious agent (`--attack KIND`) changes what it sends. The attacks
 * themselves live in node/attacks/ (shared with the simulator); this binds one to an agent.
 * A lone agent has no colluders: ALIE/IPM estimate the honest statistics from its own update.
 */
import { applyAttack, labelFlip, parseAttack, type AttackKind } from "../attacks/index.ts";

export interface Attack {
  kind: AttackKind;
  /** data-level attacks poison labels at training time */
  labelTransform?: (y: number) => number;
  /** update-level attacks rewrite the weights after honest training */
  transform?: (o: { round: number; globalWeights: Float32Array; honestWeights: Float32Array }) => Float32Array;
}

export async function createAttackFor(name: string, o: { scale?: number; seed: number; numPeers: number }): Promise<Attack> {
  const kind = parseAttack(name);
  if (kind === "label-flip") return { kind, labelTransform: (y) => labelFlip([y])[0] };
  const params = o.scale !== undefined ? { scale: o.scale, sigma: o.scale, z: o.scale, epsilon: o.scale } : undefined;
  return {
    kind,
    transform: ({ round, globalWeights, honestWeights }) => applyAttack(kind, {
      globalWeights, honestWeights, numPeers: o.numPeers, numAttackers: 1, seed: o.seed * 7919 + round, params,
    }),
  };
}
