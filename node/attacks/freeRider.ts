// Free-riding: resubmit the global model, disguised with tiny noise (Lin, Du & Liu 2019, "Free-riders in Federated Learning").
import { mulberry32, randomNormal } from "../ml/random.ts";
import { AttackParameterError } from "./errors.ts";
import type { AttackContext } from "./context.ts";

export const DEFAULT_FREE_RIDER_SIGMA = 1e-4;

/** global + N(0, sigma^2 I), sigma = params.sigma (default 1e-4; 0 = the global model exactly). */
export function freeRider(ctx: AttackContext): Float32Array {
  const sigma = ctx.params?.sigma ?? DEFAULT_FREE_RIDER_SIGMA;
  if (!Number.isFinite(sigma) || sigma < 0) throw new AttackParameterError(`free-rider: sigma must be a finite number >= 0, got ${sigma}`);
  const g = ctx.globalWeights;
  if (sigma === 0) return Float32Array.from(g);
  const rng = mulberry32(ctx.seed);
  const out = new Float32Array(g.length);
  for (let k = 0; k < g.length; k++) out[k] = g[k] + sigma * randomNormal(rng);
  return out;
}
