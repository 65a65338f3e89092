// Boosted (scaled) update: multiply the delta by lambda, by default the peer count (Bhagoji et al. 2019, ICML).
import { addScaledDelta, honestDelta, positive, type AttackContext } from "./context.ts";

/** global + lambda * (honest - global), lambda = params.scale (default numPeers). */
export function scaleAttack(ctx: AttackContext): Float32Array {
  const lambda = positive("scale", ctx.params?.scale ?? ctx.numPeers);
  return addScaledDelta(ctx.globalWeights, honestDelta(ctx), lambda);
}
