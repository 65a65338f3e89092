// Gaussian Byzantine update: replace the delta by N(0, sigma^2 I) (Blanchard et al. 2017, NeurIPS).
import { mulberry32, randomNormal } from "../ml/random.ts";
import { positive, type AttackContext } from "./context.ts";

export const DEFAULT_GAUSSIAN_SIGMA = 0.1;

/** global + N(0, sigma^2 I), sigma = params.sigma (default 0.1 per coordinate). */
export function gaussianNoise(ctx: AttackContext): Float32Array {
  const sigma = positive("sigma", ctx.params?.sigma ?? DEFAULT_GAUSSIAN_SIGMA);
  const rng = mulberry32(ctx.seed);
  const g = ctx.globalWeights;
  const out = new Float32Array(g.length);
  for (let k = 0; k < g.length; k++) out[k] = g[k] + sigma * randomNormal(rng);
  return out;
}
