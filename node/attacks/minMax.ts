// Min-max (Shejwalkar & Houmansadr 2021, NDSS): the largest gamma such that the malicious delta's largest
// distance to any benign delta is at most the largest distance between two benign deltas.
import { agrAgnosticSearch, pairwiseSquaredDistances, type AgrAgnosticOptions, type AgrAgnosticResult } from "./agrAgnostic.ts";
import { addScaledDelta, knownHonestDeltas, type AttackContext } from "./context.ts";
import { AttackParameterError } from "./errors.ts";

/** The min-max delta from the benign deltas the colluders know (the paper's default: perturbation -std). */
export function minMaxDelta(benign: readonly Float32Array[], o: AgrAgnosticOptions = {}): AgrAgnosticResult {
  if (benign.length === 0) throw new AttackParameterError("min-max: need at least one benign delta");
  const dist = pairwiseSquaredDistances(benign);
  const bound = dist.reduce((m, x) => Math.max(m, x), 0);
  const maxDistance = (a: Float64Array, b: Float64Array, c: number, g: number) => {
    let m = 0;
    for (let j = 0; j < a.length; j++) m = Math.max(m, a[j] + 2 * g * b[j] + g * g * c);
    return m;
  };
  return agrAgnosticSearch(benign, o, maxDistance, bound);
}

/** global + min-max delta over the colluders' honest deltas (a lone attacker knows only its own: it sends it). */
export function minMax(ctx: AttackContext): Float32Array {
  const { delta } = minMaxDelta(knownHonestDeltas(ctx), { gammaInit: ctx.params?.gammaInit, tolerance: ctx.params?.tolerance });
  return addScaledDelta(ctx.globalWeights, delta, 1);
}
