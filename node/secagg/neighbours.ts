/**
 * The SecAgg+ communication graph (Bell et al. 2020): peers sit on a ring in the order of their
 * registry index, and each one shares its secrets with the k/2 nearest peers on each side (a
 * k-regular graph). With n-1 <= k it is the complete graph of the original protocol (Bonawitz et al.
 * 2017). The graph is symmetric: v in N(u) <=> u in N(v), which pairwise masks need.
 *
 * The population is fixed per round by the SecureAggregation contract (the first setup posted in a
 * round records the task's peer count), so everyone computes the same graph.
 */
import { SecAggConfigError } from "./errors.ts";

/** Registry indices of the neighbours of `u` among `population` peers (indices 0..population-1), ascending. */
export function neighboursOf(u: number, population: number, k: number): number[] {
  if (!(Number.isInteger(population) && population >= 1)) throw new SecAggConfigError(`population must be >= 1, got ${population}`);
  if (!(Number.isInteger(u) && u >= 0 && u < population)) throw new SecAggConfigError(`peer index ${u} outside the population 0..${population - 1}`);
  if (population - 1 <= k) return Array.from({ length: population }, (_, i) => i).filter((i) => i !== u);
  const half = Math.floor(k / 2);
  const out = new Set<number>();
  for (let d = 1; d <= half; d++) {
    out.add((u + d) % population);
    out.add((u - d + population) % population);
  }
  return [...out].sort((a, b) => a - b);
}

/** The threshold used for a peer with `degree` neighbours: t, or every neighbour when there are fewer than t. */
export function effectiveThreshold(threshold: number, degree: number): number {
  return Math.max(1, Math.min(threshold, degree));
}
