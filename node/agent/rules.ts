/**
 * The agent's view of the task's robust rule: the on-chain rule id + param turned into a verdict
 * (verifier) and an aggregate (aggregator). Both use the exact functions the audit recomputes.
 */
import { createRule, judgeUpdates, ruleParamFromChain } from "../aggregation/rules.ts";
import type { Logger } from "../lib/log.ts";

export interface VerdictResult {
  ruleName: string;
  accepted: boolean[];
  /** index into `updates` -> why it was rejected */
  reasons: Map<number, string>;
}

export function ruleVerdict(o: {
  ruleId: number; ruleParam: number; global: Float32Array; updates: Float32Array[]; numSamples: number[]; log?: Logger;
}): VerdictResult {
  const rule = createRule(o.ruleId);
  const j = judgeUpdates(rule, o.updates, o.global, { numSamples: o.numSamples, param: ruleParamFromChain(o.ruleId, o.ruleParam), globalWeights: o.global });
  const reasons = new Map<number, string>();
  j.problems.forEach((p, i) => { if (p.length) reasons.set(i, p.map((x) => x.message).join("; ")); });
  return { ruleName: rule.name, accepted: j.accepted, reasons };
}

export function ruleAggregate(o: {
  ruleId: number; ruleParam: number; global: Float32Array; updates: Float32Array[]; numSamples: number[];
}): Float32Array {
  const rule = createRule(o.ruleId);
  return rule.aggregate(o.updates, o.numSamples, { numSamples: o.numSamples, param: ruleParamFromChain(o.ruleId, o.ruleParam), globalWeights: o.global });
}
