// FedAvg (McMahan et al. 2017, AISTATS): accept everything, average weighted by sample count. The undefended baseline.
import { fedAvg } from "../fedavg.ts";
import { checkInputs, finiteParam } from "./shared.ts";
import type { RobustRule } from "./types.ts";

export function fedAvgRule(): RobustRule {
  const name = "fedavg";
  const validateParam = finiteParam(name);
  return {
    name,
    validateParam,
    verdict(deltas, ctx) {
      checkInputs(name, validateParam, deltas, ctx.numSamples, ctx, "verdict");
      return deltas.map(() => true);
    },
    aggregate(weights, numSamples, ctx) {
      checkInputs(name, validateParam, weights, numSamples, ctx, "aggregate");
      return fedAvg(weights, numSamples);
    },
  };
}
