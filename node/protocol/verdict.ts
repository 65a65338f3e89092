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
import { gram } from "../aggregation/gram.ts";
import { createRule, hasPrivateVote, hasRootVote, judgeUpdates, type RuleContext } from "../aggregation/rules.ts";
import type { RootLossDetail } from "../aggregation/rules.ts";
import { medianOf } from "../aggregation/vectors.ts";
import { canonicalOrder, maskFrom } from "./codecs.ts";
import type { RejectionCode } from "./ids.ts";
import { delta } from "./local-update.ts";
import type { RoundRules } from "./task-config.ts";

/** One committed update as a verifier or auditor sees it after fetching. */
export interface RoundUpdate {
  cid: CID;
  numSamples: number;
  /** Decoded weights, or null when the update could not be fetched or decoded. */
  weights: Float32Array | null;
  /** Why `weights` is null. */
  unusable?: { code: RejectionCode; message: string };
}

/** The rule settings of a round (task-config.ts roundRulesOf builds them from the task). */
export type RuleSetting = RoundRules;

export interface RoundModels {
  /** The global model the round started from. */
  global: Float32Array;
  /** The previous round's starting global model; null in round 1. */
  previousGlobal: Float32Array | null;
}

/**
 * FedAvg weights: the claimed sample counts, each clipped at `clip` x their median (0 = no clip).
 * A peer cannot make its update the global model by claiming a huge count; the on-chain
 * maxSamplesPerPeer caps the claim itself.
 */
export function sampleWeights(numSamples: readonly number[], clip = 0): number[] {
  if (!(clip > 0) || numSamples.length === 0) return [...numSamples];
  const limit = clip * medianOf([...numSamples]);
  return numSamples.map((n) => Math.min(n, limit));
}

export function ruleContext(setting: RuleSetting, models: RoundModels, numSamples: readonly number[]): RuleContext {
  return {
    numSamples: sampleWeights(numSamples, setting.sampleWeightClip),
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
  /**
   * Set when the rule also takes a private vote (validation-vote): `accepted` is then the public
   * pre-filter, an upper bound of any verifier's mask; the committee majority may reject more.
   */
  privateVote?: boolean;
  /**
   * Set when the rule judges with the task's public root set (root-validation): `accepted` is then only
   * the public pre-filter; rootVerdict gives the full (deterministic) verdict.
   */
  rootVote?: boolean;
}

/**
 * Near-copies in commit order: update j is a copy when its delta's cosine similarity to an earlier
 * commit's delta is at least `threshold` (the first committer keeps its update; a copier cannot
 * commit before the update it copies exists). Returns j -> the earlier index it copies.
 */
export function nearCopies(deltas: readonly (Float32Array | null)[], threshold: number): Map<number, number> {
  const copies = new Map<number, number>();
  if (!(threshold > 0)) return copies;
  const live = deltas.flatMap((d, i) => (d ? [i] : []));
  if (live.length < 2) return copies;
  const g = gram(live.map((i) => deltas[i]!));
  const dot = (a: number, b: number) => g.dots[Math.min(a, b) * g.stride + Math.max(a, b)];
  for (let b = 1; b < live.length; b++) {
    for (let a = 0; a < b; a++) {
      const denom = Math.sqrt(dot(a, a) * dot(b, b));
      const cos = denom > 0 ? dot(a, b) / denom : dot(a, a) === dot(b, b) ? 1 : 0;
      if (cos >= threshold) { copies.set(live[b], live[a]); break; }
    }
  }
  return copies;
}

/** Which of the round's updates an honest verifier accepts. `updates` are in commit order. */
export function roundVerdict(setting: RuleSetting, models: RoundModels, updates: readonly RoundUpdate[]): RoundVerdict {
  const rejections: Rejection[] = [];
  updates.forEach((u, index) => {
    if (!u.weights) rejections.push({ index, code: u.unusable?.code ?? "unavailable", message: u.unusable?.message ?? "not fetched" });
  });
  const structurallyValid = (w: Float32Array | null): w is Float32Array => w !== null && w.length === models.global.length && w.every(Number.isFinite);
  const copies = nearCopies(updates.map((u) => (structurallyValid(u.weights) ? delta(u.weights, models.global) : null)), setting.copyCosineThreshold ?? 0);
  for (const [j, i] of copies) {
    rejections.push({ index: j, code: "near-copy", message: `cosine similarity with commit ${i}'s update is at least ${setting.copyCosineThreshold}` });
  }
  const usable = canonicalOrder(updates.map((u) => u.cid)).filter((i) => updates[i].weights !== null && !copies.has(i));
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
  const rule = createRule(setting.rule);
  return { accepted, mask: maskFrom(accepted), rejections, ...(hasPrivateVote(rule) ? { privateVote: true } : {}), ...(hasRootVote(rule) ? { rootVote: true } : {}) };
}

/**
 * The loss of the given model weights on the task's public root set (root-validation): a number, or the
 * total and per-class losses (node/ml/root-loss.ts), which turn on the rule's per-class gate. Every
 * verifier and the audit must use the same form (both load it through node/roles/root-set.ts).
 */
export type RootLoss = (weights: Float32Array) => Promise<number | RootLossDetail>;

/**
 * The full verdict of a root-validation round: the public pre-filter, then the leave-one-out vote on the
 * task's PUBLIC root set over the updates the pre-filter accepted (canonical order). Deterministic: every
 * honest verifier and the audit compute the same mask from the same root set. For other rules it is
 * roundVerdict.
 */
export async function rootVerdict(setting: RuleSetting, models: RoundModels, updates: readonly RoundUpdate[], rootLoss: RootLoss): Promise<RoundVerdict & { rootScores?: { index: number; score: number }[] }> {
  const publicVerdict = roundVerdict(setting, models, updates);
  const rule = createRule(setting.rule);
  if (!hasRootVote(rule)) return publicVerdict;
  const kept = canonicalOrder(updates.map((u) => u.cid)).filter((i) => publicVerdict.accepted[i]);
  if (kept.length === 0) return publicVerdict;
  const ctx = ruleContext(setting, models, kept.map((i) => updates[i].numSamples));
  const g = models.global;
  const vote = await rule.rootVote(kept.map((i) => delta(updates[i].weights!, g)), ctx, (d) => {
    const w = new Float32Array(g.length);
    for (let k = 0; k < g.length; k++) w[k] = g[k] + d[k];
    return rootLoss(w);
  });
  const accepted = [...publicVerdict.accepted];
  const rejections = [...publicVerdict.rejections];
  kept.forEach((i, t) => {
    if (vote.accepted[t]) return;
    accepted[i] = false;
    const found = vote.gate?.[t];
    const perClass = found ? `; per class it raises class ${found.worstClass}'s loss by ${found.harm.toFixed(4)} (the round's owner size ${found.ownerSize.toFixed(4)}) and raises ${found.harmSum.toFixed(4)} in all against ${found.helpSum.toFixed(4)} lowered` : "";
    rejections.push({ index: i, code: "rejected-by-rule", message: `root validation: dropping it lowers the root-set loss by ${vote.scores[t].toFixed(4)} of ${vote.base.toFixed(4)}${perClass}` });
  });
  rejections.sort((a, b) => a.index - b.index);
  return { accepted, mask: maskFrom(accepted), rejections, rootVote: true, rootScores: kept.map((i, t) => ({ index: i, score: vote.scores[t] })) };
}

/** A verifier's private validation: the loss of the given model weights on its own held-out data. */
export type ValidationLoss = (weights: Float32Array) => Promise<number>;

/**
 * The verdict a verifier commits: the public verdict, then, for a rule with a private vote
 * (validation-vote), this verifier's vote over the updates the public verdict accepted, scored on its
 * own held-out data. Without `validationLoss` (a verifier with no data, the audit) it is the public verdict.
 * `historySuspects` (indices into `updates`): updates of peers the vote history marks; every honest
 * verifier rejects them (public: recomputable from the past rounds' revealed masks, see vote-history.ts).
 */
export async function votedVerdict(setting: RuleSetting, models: RoundModels, updates: readonly RoundUpdate[], validationLoss?: ValidationLoss, historySuspects: ReadonlySet<number> = new Set()): Promise<RoundVerdict & { voteScores?: { index: number; score: number }[] }> {
  const publicVerdict = roundVerdict(setting, models, updates);
  const rule = createRule(setting.rule);
  if (!hasPrivateVote(rule) || (!validationLoss && historySuspects.size === 0)) return publicVerdict;
  // Updates of peers the vote history marks (aggregation/rules/vote-history.ts, public and the same
  // for every honest verifier) are rejected before the vote, so they do not sway the leave-one-out scores.
  const bySuspicion = [...historySuspects].filter((i) => publicVerdict.accepted[i]).sort((a, b) => a - b);
  const kept = canonicalOrder(updates.map((u) => u.cid)).filter((i) => publicVerdict.accepted[i] && !historySuspects.has(i));
  if (kept.length === 0 && bySuspicion.length === 0) return publicVerdict;
  const ctx = ruleContext(setting, models, kept.map((i) => updates[i].numSamples));
  const g = models.global;
  const vote = kept.length === 0 || !validationLoss ? { accepted: [], scores: [], base: 0 } : await rule.privateVote(kept.map((i) => delta(updates[i].weights!, g)), ctx, (d) => {
    const w = new Float32Array(g.length);
    for (let k = 0; k < g.length; k++) w[k] = g[k] + d[k];
    return validationLoss(w);
  });
  const accepted = [...publicVerdict.accepted];
  const rejections = [...publicVerdict.rejections];
  for (const i of bySuspicion) {
    accepted[i] = false;
    rejections.push({ index: i, code: "rejected-by-rule", message: "vote history: its updates drew persistent reject votes in past rounds" });
  }
  kept.forEach((i, t) => {
    if (vote.accepted[t] !== false) return; // no vote without validation data
    accepted[i] = false;
    rejections.push({ index: i, code: "rejected-by-rule", message: `validation vote: dropping it lowers this verifier's held-out loss by ${vote.scores[t].toFixed(4)} of ${vote.base.toFixed(4)}` });
  });
  rejections.sort((a, b) => a.index - b.index);
  return { accepted, mask: maskFrom(accepted), rejections, privateVote: true, ...(validationLoss ? { voteScores: kept.map((i, t) => ({ index: i, score: vote.scores[t] })) } : {}) };
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
  const ctx = ruleContext(setting, models, order.map((i) => accepted[i].numSamples));
  const rule = createRule(setting.rule);
  return rule.aggregate(order.map((i) => accepted[i].weights!), ctx.numSamples, ctx);
}
