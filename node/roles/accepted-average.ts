/**
 * The accepted-set average both aggregators share (flat rounds over committed updates, clustered
 * rounds over cluster aggregates and lone updates): every accepted input must have come, or the
 * aggregator submits nothing (AcceptedUpdateUnavailableError: the round then fails with its reason
 * rather than finalizing a wrong aggregate); else the rule's aggregate of the accepted inputs.
 */
import { aggregateAccepted, type RoundModels, type RoundUpdate, type RuleSetting } from "../protocol/verdict.ts";

export class AcceptedUpdateUnavailableError extends Error {
  override name = "AcceptedUpdateUnavailableError";
  constructor(readonly round: number, readonly missing: { index: number | string; cid: string; reason: string }[]) {
    super(`round ${round}: accepted update(s) ${missing.map((m) => `${m.index} (${m.cid}: ${m.reason})`).join(", ")} could not be fetched before the deadline; submitting nothing`);
  }
}

/** One accepted input: a commit (its index) or a cluster aggregate (a label such as "cluster 0: commits 0+1"). */
export interface AcceptedInput {
  label: number | string;
  update: RoundUpdate;
}

/** The rule's average of the accepted inputs; throws AcceptedUpdateUnavailableError when any has no weights. */
export function averageAccepted(round: number, setting: RuleSetting, models: RoundModels, inputs: readonly AcceptedInput[]): Float32Array {
  const missing = inputs.flatMap((x) => (x.update.weights ? [] : [{ index: x.label, cid: x.update.cid.toString(), reason: x.update.unusable?.message ?? "not fetched" }]));
  if (missing.length > 0) throw new AcceptedUpdateUnavailableError(round, missing);
  return aggregateAccepted(setting, models, inputs.map((x) => x.update));
}
