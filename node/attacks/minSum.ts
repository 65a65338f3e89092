// Min-sum (Shejwalkar & Houmansadr 2021, NDSS): the largest gamma such that the malicious delta's sum of
// squared distances to the benign deltas is at most the largest such sum of a benign delta.
import { agrAgnosticSearch, pairwiseSquaredDistances, type AgrAgnosticOptions, type AgrAgnosticResult } from "./agrAgnostic.ts";
import { addScaledDelta, knownHonestDeltas, type AttackContext } from "./context.ts";
import { AttackParameterError } from "./errors.ts";

export interface MinSumOptions extends AgrAgnosticOptions {
  /**
   * Which benign sum bounds the malicious one: "max" as the paper's constraint states (the default),
   * or "min", the stricter bound the authors' reference code uses.
   */
  bound?: "max" | "min";
}

export function minSumDelta(benign: readonly Float32Array[], o: MinSumOptions = {}): AgrAgnosticResult {
  if (benign.length === 0) throw new AttackParameterError("min-sum: need at least one benign delta");
  const which = o.bound ?? "max";
  if (which !== "max" && which !== "min") throw new AttackParameterError(`min-sum: bound must be "max" or "min", got "${String(which)}"`);
  const n = benign.length;
  const dist = pairwiseSquaredDistances(benign);
  const sums = Array.from({ length: n }, (_, i) => { let s = 0; for (let j = 0; j < n; j++) s += dist[i * n + j]; return s; });
  const bound = which === "max" ? Math.max(...sums) : Math.min(...sums);
  const sumDistance = (a: Float64Array, b: Float64Array, c: number, g: number) => {
    let s = 0;
    for (let j = 0; j < a.length; j++) s += a[j] + 2 * g * b[j] + g * g * c;
    return s;
  };
  return agrAgnosticSearch(benign, o, sumDistance, bound);
}

/** global + min-sum delta over the colluders' honest deltas (a lone attacker knows only its own: it sends it). */
export function minSum(ctx: AttackContext): Float32Array {
  const { delta } = minSumDelta(knownHonestDeltas(ctx), { gammaInit: ctx.params?.gammaInit, tolerance: ctx.params?.tolerance });
  return addScaledDelta(ctx.globalWeights, delta, 1);
}
