// Coordinate-wise median (Yin et al. 2018, ICML). Verdict: close to the median and aligned with the others.
import { coordinateMedian } from "../median.ts";
import { checkInputs, closeAndAligned, finiteParam, resolveOptions } from "./shared.ts";
import type { RobustRule, RuleOptions } from "./types.ts";

export function medianRule(options: RuleOptions = {}): RobustRule {
  const o = resolveOptions(options);
  const name = "median";
  const validateParam = finiteParam(name);
  return {
    name,
    validateParam,
    verdict(deltas, ctx) {
      checkInputs(name, validateParam, deltas, ctx.numSamples, ctx, "verdict");
      return deltas.length === 0 ? [] : closeAndAligned(deltas, coordinateMedian(deltas), o.distanceFactor);
    },
    aggregate(weights, numSamples, ctx) {
      checkInputs(name, validateParam, weights, numSamples, ctx, "aggregate");
      return coordinateMedian(weights);
    },
  };
}
