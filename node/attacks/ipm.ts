// Inner-product manipulation: send -epsilon x the honest mean delta (Xie, Koyejo & Gupta 2020, UAI).
import { knownHonestDeltas, meanAndStd, positive, type AttackContext } from "./context.ts";

export const DEFAULT_IPM_EPSILON = 0.5;

/** global - epsilon * mean(colluders' honest deltas), epsilon = params.epsilon (default 0.5). */
export function ipm(ctx: AttackContext): Float32Array {
  const epsilon = positive("epsilon", ctx.params?.epsilon ?? DEFAULT_IPM_EPSILON);
  const { mean } = meanAndStd(knownHonestDeltas(ctx));
  const g = ctx.globalWeights;
  const out = new Float32Array(g.length);
  for (let k = 0; k < g.length; k++) out[k] = g[k] - epsilon * mean[k];
  return out;
}
