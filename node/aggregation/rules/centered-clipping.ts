// Centered clipping (Karimireddy, He & Jaggi 2021, ICML): clip deltas around the previous round's global
// delta; the default rule of private (secure-aggregation) rounds and of the Ignition module. Radius tau from the parameter, or automatic (median distance).
import { centeredClippingF64 } from "../centeredClipping.ts";
import { AggregationInputError, AggregationParameterError } from "../errors.ts";
import { l2Distance, medianOf, subtract } from "../vectors.ts";
import { checkInputs, closeAndAligned, resolveOptions } from "./shared.ts";
import type { RobustRule, RuleOptions } from "./types.ts";

/** Auto radius: the median distance of the deltas to the reference, so honest deltas are mostly unclipped. */
function radius(deltas: readonly Float32Array[], param: number, reference?: Float32Array): number {
  if (param > 0) return param;
  const ref = reference ?? new Float32Array(deltas[0].length);
  const tau = medianOf(deltas.map((x) => l2Distance(x, ref)));
  return tau > 0 ? tau : Number.MIN_VALUE;
}

export function centeredClippingRule(options: RuleOptions = {}): RobustRule {
  const o = resolveOptions(options);
  const name = "centered-clipping";
  const validateParam = (p: number) => {
    if (!Number.isFinite(p) || p < 0) throw new AggregationParameterError(`${name}: param (radius tau, 0 = auto) must be a finite number >= 0, got ${p}`);
  };
  const clip = (deltas: readonly Float32Array[], param: number, reference?: Float32Array) =>
    centeredClippingF64(deltas, { tau: radius(deltas, param, reference), iterations: o.ccIterations, reference });
  return {
    name,
    validateParam,
    verdict(deltas, ctx) {
      checkInputs(name, validateParam, deltas, ctx.numSamples, ctx, "verdict");
      return deltas.length === 0 ? [] : closeAndAligned(deltas, clip(deltas, ctx.param, ctx.referenceDelta), o.distanceFactor);
    },
    aggregate(weights, numSamples, ctx) {
      checkInputs(name, validateParam, weights, numSamples, ctx, "aggregate");
      const g = ctx.globalWeights;
      if (!g) throw new AggregationInputError("centered-clipping aggregate needs ctx.globalWeights to form deltas");
      const v = clip(weights.map((w) => subtract(w, g)), ctx.param, ctx.referenceDelta);
      const out = new Float32Array(g.length);
      for (let k = 0; k < g.length; k++) out[k] = g[k] + v[k];
      return out;
    },
  };
}
