// Multi-Krum (Blanchard et al. 2017; El Mhamdi et al. 2018): accept the n - f best Krum scores, FedAvg over them.
import { krumFamilyRule } from "./krum.ts";
import type { RobustRule } from "./types.ts";

export function multiKrumRule(): RobustRule {
  return krumFamilyRule("multi-krum", (n, f) => n - f);
}
