// Krum (Blanchard et al. 2017, NeurIPS): accept only the update with the smallest sum of distances to
// its n - f - 2 nearest neighbours. It rejects n - 1 updates per round by construction, honest ones included.
import { fedAvg } from "../fedavg.ts";
import { krum } from "../krum.ts";
import { checkInputs, feasibleKrumF, integerParam } from "./shared.ts";
import type { RobustRule } from "./types.ts";

/** `select` = 1: Krum; `select` = "n - f": Multi-Krum (see multi-krum.ts). */
export function krumFamilyRule(name: "krum" | "multi-krum", select: (n: number, f: number) => number): RobustRule {
  const validateParam = integerParam(name, "Krum f");
  return {
    name,
    validateParam,
    verdict(deltas, ctx) {
      checkInputs(name, validateParam, deltas, ctx.numSamples, ctx, "verdict");
      const n = deltas.length;
      if (n === 0) return [];
      // Fewer than 2f + 3 updates: f is lowered to the largest feasible value; below 3, everything is accepted.
      const f = feasibleKrumF(n, ctx.param);
      if (f < 0) return deltas.map(() => true);
      const { selected } = krum(deltas, f, select(n, f));
      const accepted = deltas.map(() => false);
      for (const i of selected) accepted[i] = true;
      return accepted;
    },
    aggregate(weights, numSamples, ctx) {
      checkInputs(name, validateParam, weights, numSamples, ctx, "aggregate");
      return fedAvg(weights, numSamples);
    },
  };
}

export function krumRule(): RobustRule {
  return krumFamilyRule("krum", () => 1);
}
