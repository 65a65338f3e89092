/** The task's on-chain DP parameters as the privacy module's DpConfig (null when DP is off). */
import type { TaskConfigView } from "../chain/task.ts";
import type { DpConfig } from "../privacy/config.ts";

export function dpConfigOf(task: TaskConfigView): DpConfig | null {
  if (task.dpClipNorm <= 0) return null;
  return {
    clipNorm: task.dpClipNorm,
    noiseMultiplier: task.dpNoiseMultiplier,
    delta: task.dpDelta,
    epsilonBudget: task.dpEpsilonBudget > 0 ? task.dpEpsilonBudget : Infinity,
  };
}
