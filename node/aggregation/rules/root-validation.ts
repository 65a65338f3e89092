// Root validation: a public pre-filter, then each surviving update's leave-one-out effect on a small,
// class-balanced PUBLIC root set the task initiator publishes, then FLAME's adaptive clipping.
//
// Papers:
// - FLTrust (Cao, Fang, Liu & Gong 2021, NDSS, "FLTrust: Byzantine-robust Federated Learning via Trust
//   Bootstrapping"): the service provider holds a small clean root dataset and judges every client update
//   against it. Here the root set is not the server's secret but a file on IPFS named by the task's
//   model spec, so every verifier (and the audit) scores with the same data.
// - Zeno (Xie, Koyejo & Gupta 2019, ICML): score a candidate update by how much it lowers a validation loss.
// - FLAME (Nguyen et al. 2022, USENIX Security): deltas clipped to the median norm before averaging.
//
// The round:
// 1. `verdict` (public, deterministic): validation-vote's pre-filter (the norm screen of judgeUpdates and a
//    generous 3x-median distance test to the coordinate-wise median). Gaussian, scaled and free-riding
//    updates fail it.
// 2. `rootVote` (public, deterministic given the root set): s_i = L_root(aggregate of all) − L_root(aggregate
//    without i). Reject i when s_i is an upper outlier of the round's scores (median + ROOT_OUTLIER_FACTOR = 1.0 x the lower-half
//    spread) AND exceeds rho x L_root(aggregate of all), AND (when the loss gives per-class losses, as every
//    verifier's does: node/ml/root-loss.ts) the per-class gate confirms it: the update hurts some class by at
//    least 0.7 x the round's "owner size" (the median over updates of their largest per-class help), or its
//    per-class harms add up to over 2 x its helps (perClassGate below). Why this separates where the private vote could not:
//    under Dirichlet 0.1 a sign-flipped update from a peer holding classes {3, 7} hurts the balanced root
//    set's 3s and 7s, so dropping it lowers the root loss; an honest update from the same kind of peer helps
//    them, so dropping it raises the loss (a negative score). A verifier's private data at Dirichlet 0.1
//    usually lack the attacker's classes and cannot see either effect.
// 3. `aggregate` (public): FLAME clipping to the median norm, sample-weighted mean (validation-vote's).
//
// Auditability: all three steps are deterministic functions of the round's updates, the global model and
// the root set's bytes (content-addressed by its CID), so the audit recomputes the whole verdict, not only
// the majority. (Floating-point evaluation on another backend may differ in the last bits; a score that
// sits on the threshold could flip. The outlier margin makes that rare; the audit reports it as a mismatch.)
//
// The attacker's view (docs/robustness.md "Root validation"):
// - The root set is public: an adaptive attacker can craft an update that keeps the root loss flat (e.g.
//   harm only inputs the root set does not cover, or optimise a backdoor to leave the root loss unchanged).
//   FLTrust's root set is private to the server; publishing it trades that secrecy for a verdict anyone can
//   recompute. The norm screen and clipping still bound what a single passing update can do per round.
// - The initiator picks the root set (the same trust FLTrust puts in its server). A poisoned root set (wrong
//   labels, one class missing) makes honest updates look harmful; anyone can inspect it (it is public) and
//   its class histogram is checked on load (node/ml/root-set.ts).
import { AggregationParameterError } from "../errors.ts";
import { medianOf } from "../vectors.ts";
import { checkInputs } from "./shared.ts";
import type { RobustRule, RuleContext } from "./types.ts";
import { clippedMean, validationVoteRule, voteFromScores, type DeltaLoss } from "./validation-vote.ts";

/** Default rho: reject only when dropping the update lowers the root-set loss by over 1 %. */
export const DEFAULT_ROOT_THRESHOLD_MILLI = 10;
/**
 * Outlier factor on the lower-half spread of the round's root-set scores (validation-vote's uses 1.5).
 * Chosen on logged leave-one-out scores (Fashion-MNIST, 300 samples per peer, 4 rounds; IID / Dirichlet
 * 0.5 / 0.1; none, sign-flip, label-flip, ALIE, IPM, min-max): see docs/robustness.md "Root validation".
 */
export const ROOT_OUTLIER_FACTOR = 1.0;

/** The root-set loss of a candidate model, overall and per class (class c's mean cross-entropy on its root samples). */
export interface RootLossDetail {
  loss: number;
  byClass: number[];
}

/**
 * The loss of global + delta on the task's root set. Returning the per-class losses (node/ml/root-loss.ts)
 * turns on the per-class gate; a bare number (the old form) keeps the total-loss vote alone.
 */
export type RootDeltaLoss = (delta: Float32Array) => Promise<number | RootLossDetail>;

export interface RootVote {
  accepted: boolean[];
  /** Leave-one-out scores on the total root-set loss, s_i = L(all) − L(without i). */
  scores: number[];
  base: number;
  /** Per-class leave-one-out scores s_i^c (positive: update i hurts class c), when the loss gives classes. */
  classScores?: number[][];
  /** Per update: why the per-class gate kept or confirmed it (only for the total-loss outliers). */
  gate?: (PerClassGate | null)[];
}

export interface RootValidationRule extends RobustRule {
  /**
   * The public root-set vote over the updates the public verdict accepted (their deltas, in canonical
   * order): one flag per update, plus the leave-one-out scores and the base loss. `loss` is the loss of
   * global + delta on the task's root set; every honest verifier computes the same flags.
   */
  rootVote(deltas: readonly Float32Array[], ctx: RuleContext, loss: RootDeltaLoss | DeltaLoss): Promise<RootVote>;
}

export function rootValidationRule(): RootValidationRule {
  const name = "root-validation";
  const validateParam = (p: number) => {
    if (!Number.isInteger(p) || p < 0 || p > 1000) {
      throw new AggregationParameterError(`${name}: param (threshold rho in thousandths of the root-set loss, 0 = ${DEFAULT_ROOT_THRESHOLD_MILLI}) must be an integer in [0, 1000], got ${p}`);
    }
  };
  // The public pre-filter and the aggregate are validation-vote's; only the vote's data differ.
  const vv = validationVoteRule();
  const asVv = (ctx: RuleContext): RuleContext => ({ ...ctx, param: 0 });
  return {
    name,
    validateParam,
    verdict(deltas, ctx) {
      checkInputs(name, validateParam, deltas, ctx.numSamples, ctx, "verdict");
      return vv.verdict(deltas, asVv(ctx));
    },
    async rootVote(deltas, ctx, loss) {
      checkInputs(name, validateParam, deltas, ctx.numSamples, ctx, "root vote");
      const m = deltas.length;
      const f32 = (v: Float64Array) => Float32Array.from(v);
      const evaluate = async (d: Float64Array): Promise<RootLossDetail | number> => loss(f32(d));
      const total = (x: RootLossDetail | number) => (typeof x === "number" ? x : x.loss);
      const all = await evaluate(clippedMean(deltas, ctx.numSamples));
      const base = total(all);
      if (m < 3) return { accepted: deltas.map(() => true), scores: deltas.map(() => 0), base };
      const scores: number[] = [];
      const byClass: (number[] | null)[] = [];
      for (let i = 0; i < m; i++) {
        const rest = deltas.filter((_, j) => j !== i);
        const w = ctx.numSamples.filter((_, j) => j !== i);
        const without = await evaluate(clippedMean(rest, w));
        scores.push(base - total(without));
        byClass.push(typeof all === "number" || typeof without === "number" ? null : all.byClass.map((b, c) => b - without.byClass[c]));
      }
      const outliers = voteFromScores(scores, base, ctx.param > 0 ? ctx.param : DEFAULT_ROOT_THRESHOLD_MILLI, ROOT_OUTLIER_FACTOR);
      if (byClass.some((x) => x === null)) return { accepted: outliers, scores, base };
      // The per-class gate only ever keeps a total-loss outlier; it never rejects an update the total vote kept.
      const classScores = byClass as number[][];
      const ownerSize = medianOf(classScores.map((sc) => Math.max(0, -Math.min(...sc))));
      const gate = outliers.map((kept, i) => (kept ? null : perClassGate(classScores[i], ownerSize)));
      return { accepted: outliers.map((kept, i) => kept || !gate[i]!.harmful), scores, base, classScores, gate };
    },
    aggregate(weights, numSamples, ctx) {
      checkInputs(name, validateParam, weights, numSamples, ctx, "aggregate");
      return vv.aggregate(weights, numSamples, asVv(ctx));
    },
  };
}

/** The per-class gate's finding on one total-loss outlier: `harmful` confirms the rejection. */
export interface PerClassGate {
  harmful: boolean;
  /** The largest class loss the update raises (dropping it lowers that class's loss by this much), and that class. */
  harm: number;
  worstClass: number;
  /** The largest class loss the update lowers, and that class. */
  help: number;
  bestClass: number;
  /** Sum over classes of the raises, and of the reductions. */
  harmSum: number;
  helpSum: number;
  /** The round's owner size: the median over the vote's updates of their largest help. */
  ownerSize: number;
}

/**
 * The per-class gate confirms an outlier's rejection when its worst harm to one class is at least this
 * share of the round's owner size (a flipped update hurts the classes it holds by about what an honest
 * owner helps them; an honest peer's spill-over onto other classes is smaller)...
 */
export const PER_CLASS_OWNER_FACTOR = 0.7;
/** ...or when the sum of its harms exceeds this multiple of the sum of its helps (diffuse attacks: IPM). */
export const PER_CLASS_NET_FACTOR = 2;

/**
 * The per-class gate for one total-loss outlier. `s[c]` = L_c(all) − L_c(without it) (positive: it hurts
 * class c); `ownerSize` = the round's median over updates of their largest per-class help.
 *
 * Why: under label skew an honest update lowers the loss of the classes its peer holds and, by moving the
 * shared logits towards them, raises every other class's a little. When its classes are already well
 * covered, the raises can outweigh the help on the balanced root set, and the total-loss vote rejects an
 * honest peer. Its per-class profile still differs from an attacker's: the raises are spread thin (each
 * below PER_CLASS_OWNER_FACTOR x what a typical owner does for its class) and do not add up to more than
 * PER_CLASS_NET_FACTOR x its helps. A sign-flipped update hurts the classes its peer holds by an owner's
 * amount (to first order its profile is an honest one negated); an IPM update hurts every class and helps
 * none. Deterministic: a function of the scores alone, so the audit recomputes it.
 */
export function perClassGate(s: readonly number[], ownerSize: number): PerClassGate {
  let worstClass = 0, bestClass = 0, harmSum = 0, helpSum = 0;
  s.forEach((x, c) => {
    if (x > s[worstClass]) worstClass = c;
    if (x < s[bestClass]) bestClass = c;
    if (x > 0) harmSum += x; else helpSum -= x;
  });
  const harm = Math.max(0, s[worstClass]);
  const help = Math.max(0, -s[bestClass]);
  const harmful = !(harm < PER_CLASS_OWNER_FACTOR * ownerSize) || harmSum > PER_CLASS_NET_FACTOR * helpSum;
  return { harmful, harm, worstClass, help, bestClass, harmSum, helpSum, ownerSize };
}

/** Whether a rule unit judges with the task's public root set (verifiers and the audit then need it). */
export function hasRootVote(rule: RobustRule): rule is RootValidationRule {
  return typeof (rule as Partial<RootValidationRule>).rootVote === "function";
}
