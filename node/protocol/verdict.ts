/**
 * The verifier's decision over a round's updates and the aggregate of the accepted set: one
 * definition for the agents, the simulator, the audit and the explorer.
 *
 * Rule context is built here and nowhere else: the deltas are taken against the round's global
 * model, and centered clipping starts from the previous round's global delta (global_r − global_{r−1};
 * zeros in round 1), which any party can rebuild from the chain's RoundStarted CIDs.
 * Updates are judged and aggregated in canonical order (by content digest, see codecs.ts), so the
 * result depends on the set of updates, never on the order transactions were mined in.
 */
import type { CID } from "multiformats/cid";
import { createRule, judgeUpdates, type RuleContext } from "../aggregation/rules.ts";
import { canonicalOrder, maskFrom } from "./codecs.ts";
import type { RejectionCode, RuleName } from "./ids.ts";
import { delta } from "./local-update.ts";

/** One committed update as a verifier or auditor sees it after fetching. */
export interface RoundUpdate {
  cid: CID;
  numSamples: number;
  /** Decoded weights, or null when the update could not be fetched or decoded. */
  weights: Float32Array | null;
  /** Why `weights` is null. */
  unusable?: { code: RejectionCode; message: string };
}

export interface RuleSetting {
  rule: RuleName;
  /** In natural units (see task-config.ts ruleParamFromChain). */
  ruleParam: number;
}

export interface RoundModels {
  /** The global model the round started from. */
  global: Float32Array;
  /** The previous round's starting global model; null in round 1. */
  previousGlobal: Float32Array | null;
}

export function ruleContext(setting: RuleSetting, models: RoundModels, numSamples: readonly number[]): RuleContext {
  return {
    numSamples,
    param: setting.ruleParam,
    globalWeights: models.global,
    referenceDelta: models.previousGlobal ? delta(models.global, models.previousGlobal) : undefined,
  };
}

export interface Rejection {
  index: number;
  code: RejectionCode;
  message: string;
}

export interface RoundVerdict {
  /** One flag per update, in the order given (commit order). */
  accepted: boolean[];
  mask: bigint;
  rejections: Rejection[];
}

/** Which of the round's updates an honest verifier accepts. */
export function roundVerdict(setting: RuleSetting, models: RoundModels, updates: readonly RoundUpdate[]): RoundVerdict {
  const rejections: Rejection[] = [];
  updates.forEach((u, index) => {
    if (!u.weights) rejections.push({ index, code: u.unusable?.code ?? "unavailable", message: u.unusable?.message ?? "not fetched" });
  });
  const usable = canonicalOrder(updates.map((u) => u.cid)).filter((i) => updates[i].weights !== null);
  const accepted = updates.map(() => false);
  if (usable.length > 0) {
    const rule = createRule(setting.rule);
    const numSamples = usable.map((i) => updates[i].numSamples);
    const judged = judgeUpdates(rule, usable.map((i) => updates[i].weights!), models.global, ruleContext(setting, models, numSamples));
    usable.forEach((i, k) => {
      accepted[i] = judged.accepted[k];
      for (const p of judged.problems[k]) rejections.push({ index: i, code: p.code, message: p.message });
    });
  }
  rejections.sort((a, b) => a.index - b.index);
  return { accepted, mask: maskFrom(accepted), rejections };
}

export class NothingToAggregateError extends Error {
  override name = "NothingToAggregateError";
  constructor() { super("the accepted set is empty: nothing to aggregate"); }
}

/** The next global model from the accepted updates (all must carry weights). */
export function aggregateAccepted(setting: RuleSetting, models: RoundModels, accepted: readonly RoundUpdate[]): Float32Array {
  if (accepted.length === 0) throw new NothingToAggregateError();
  const missing = accepted.find((u) => !u.weights);
  if (missing) throw new Error(`accepted update ${missing.cid.toString()} has no weights: ${missing.unusable?.message ?? "not fetched"}`);
  const order = canonicalOrder(accepted.map((u) => u.cid));
  const numSamples = order.map((i) => accepted[i].numSamples);
  const rule = createRule(setting.rule);
  return rule.aggregate(order.map((i) => accepted[i].weights!), numSamples, ruleContext(setting, models, numSamples));
}
