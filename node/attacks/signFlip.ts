// Sign flipping: send the negated update (Damaskinos et al. 2018, ICML; Allen-Zhu et al. 2021, ICLR).
import { addScaledDelta, honestDelta, type AttackContext } from "./context.ts";

/** global - scale * (honest - global); scale defaults to 1 (params.scale). */
export function signFlip(ctx: AttackContext): Float32Array {
  const scale = ctx.params?.scale ?? 1;
  return addScaledDelta(ctx.globalWeights, honestDelta(ctx), -scale);
}
