// "A little is enough": mean - z * std of the honest deltas, coordinate-wise (Baruch, Baruch & Goldberg 2019, NeurIPS).
import { inverseNormalCdf } from "./normal.ts";
import { knownHonestDeltas, meanAndStd, type AttackContext } from "./context.ts";
import { AttackParameterError } from "./errors.ts";

/** Baruch et al.'s z: s = floor(n/2 + 1) - f supporters needed, z = Phi^{-1}((n - s) / n). */
export function alieZ(numPeers: number, numAttackers: number): number {
  if (!Number.isInteger(numPeers) || !Number.isInteger(numAttackers) || numAttackers < 0 || numAttackers >= numPeers) {
    throw new AttackParameterError(`ALIE: need integers 0 <= numAttackers < numPeers, got ${numAttackers} of ${numPeers}`);
  }
  const s = Math.floor(numPeers / 2 + 1) - numAttackers;
  const p = (numPeers - s) / numPeers;
  // With many attackers s <= 0 and p >= 1: cap z (the attack is then not "a little" any more).
  return p >= 1 ? inverseNormalCdf(1 - 1e-3) : p <= 0 ? 0 : Math.max(0, inverseNormalCdf(p));
}

/** global + mean - z * std of the colluders' honest deltas (z = params.z or alieZ(numPeers, numAttackers)). */
export function alie(ctx: AttackContext): Float32Array {
  const z = ctx.params?.z ?? alieZ(ctx.numPeers, ctx.numAttackers);
  if (!Number.isFinite(z)) throw new AttackParameterError(`ALIE: z must be finite, got ${z}`);
  const { mean, std } = meanAndStd(knownHonestDeltas(ctx));
  const g = ctx.globalWeights;
  const out = new Float32Array(g.length);
  for (let k = 0; k < g.length; k++) out[k] = g[k] + mean[k] - z * std[k];
  return out;
}
