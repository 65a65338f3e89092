// Coordinate-wise trimmed mean (Yin et al. 2018, ICML): drop the beta largest and smallest values per coordinate.
import { trimmedMean } from "../trimmedMean.ts";
import { checkInputs, closeAndAligned, feasibleTrim, integerParam, resolveOptions } from "./shared.ts";
import type { RobustRule, RuleOptions } from "./types.ts";

export function trimmedMeanRule(options: RuleOptions = {}): RobustRule {
  const o = resolveOptions(options);
  const name = "trimmed-mean";
  const validateParam = integerParam(name, "trim count beta");
  return {
    name,
    validateParam,
    verdict(deltas, ctx) {
      checkInputs(name, validateParam, deltas, ctx.numSamples, ctx, "verdict");
      const n = deltas.length;
      return n === 0 ? [] : closeAndAligned(deltas, trimmedMean(deltas, feasibleTrim(n, ctx.param)), o.distanceFactor);
    },
    aggregate(weights, numSamples, ctx) {
      checkInputs(name, validateParam, weights, numSamples, ctx, "aggregate");
      return trimmedMean(weights, feasibleTrim(weights.length, ctx.param));
    },
  };
}
