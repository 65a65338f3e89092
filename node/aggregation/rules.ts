// Registry of the robust rules a task may name on chain (IFederatedTask.TaskConfig.robustRule), in
// the strategy style of Flower: the round loop receives a RobustRule value and never branches on ids.
import { centeredClippingF64, assertCenteredClippingParameters } from "./centeredClipping.ts";
import { AggregationInputError, AggregationParameterError } from "./errors.ts";
import { fedAvg } from "./fedavg.ts";
import { krum } from "./krum.ts";
import { coordinateMedian, leaveOneOutMedianDots } from "./median.ts";
import { trimmedMean } from "./trimmedMean.ts";
import {
  DEFAULT_NORM_SCREEN, assertNormScreen, normBounds, validateUpdate,
  type NormScreenOptions, type UpdateProblem,
} from "./validate.ts";
import { commonLength, l2Distance, medianOf, subtract } from "./vectors.ts";

export const RULE_IDS = { none: 0, krum: 1, multiKrum: 2, median: 3, trimmedMean: 4, centeredClipping: 5 } as const;
export type RuleId = (typeof RULE_IDS)[keyof typeof RULE_IDS];
export const RULE_NAMES: Record<RuleId, string> = {
  0: "fedavg", 1: "krum", 2: "multi-krum", 3: "median", 4: "trimmed-mean", 5: "centered-clipping",
};

export interface RuleContext {
  /** Sample counts claimed by the updates, same order as the updates. */
  numSamples: readonly number[];
  /** Rule parameter in natural units: Krum's f (1, 2), trim count beta (4), radius tau (5; 0 = auto). Unused by 0 and 3. */
  param: number;
  /** The round's global weights; centered clipping's `aggregate` needs them to form deltas. */
  globalWeights?: Float32Array;
  /** Centered clipping's starting point: the previous round's global delta (zeros when absent). */
  referenceDelta?: Float32Array;
}

export interface RobustRule {
  readonly id: RuleId;
  readonly name: string;
  /** Which updates a verifier accepts, judged on deltas (update - global). Deterministic. */
  verdict(deltas: readonly Float32Array[], ctx: RuleContext): boolean[];
  /** The next global weights from the accepted updates' weights (commit order). */
  aggregate(weights: readonly Float32Array[], numSamples: readonly number[], ctx: RuleContext): Float32Array;
}

export interface RuleOptions {
  /**
   * Median, trimmed mean, centered clipping: accept an update when its distance to the rule's robust
   * aggregate is at most `distanceFactor` x the median such distance. High-dimensional honest deltas
   * concentrate tightly around that median, so a small factor separates outliers cleanly.
   */
  distanceFactor?: number;
  /** Centered clipping iterations L. */
  ccIterations?: number;
}

export const DEFAULT_RULE_OPTIONS: Required<RuleOptions> = { distanceFactor: 1.5, ccIterations: 3 };

/** Throws unless `id` names a known rule. */
export function assertRuleId(id: number): asserts id is RuleId {
  if (!Number.isInteger(id) || id < 0 || id > 5) {
    throw new AggregationParameterError(`unknown robust rule id ${id}; known: ${Object.entries(RULE_NAMES).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  }
}

/** Throws unless `param` is valid for rule `id` (f and beta: integers >= 0; tau: finite >= 0). */
export function validateRuleParam(id: RuleId, param: number): void {
  if (id === 1 || id === 2 || id === 4) {
    if (!Number.isInteger(param) || param < 0) {
      throw new AggregationParameterError(`${RULE_NAMES[id]}: param (${id === 4 ? "trim count beta" : "Krum f"}) must be an integer >= 0, got ${param}`);
    }
  } else if (id === 5) {
    if (!Number.isFinite(param) || param < 0) {
      throw new AggregationParameterError(`centered-clipping: param (radius tau, 0 = auto) must be a finite number >= 0, got ${param}`);
    }
  } else if (!Number.isFinite(param)) {
    throw new AggregationParameterError(`${RULE_NAMES[id]}: param must be finite, got ${param}`);
  }
}

/** Converts the on-chain uint16 `ruleParam` to natural units (centered clipping stores tau in milli-units). */
export function ruleParamFromChain(id: number, raw: number): number {
  assertRuleId(id);
  return id === 5 ? raw / 1000 : raw;
}

/** Rule id from a name ("fedavg"/"none", "krum", "multi-krum", "median", "trimmed-mean", "centered-clipping"/"cc") or a numeric string. */
export function parseRule(name: string): RuleId {
  const s = name.trim().toLowerCase();
  const aliases: Record<string, RuleId> = { none: 0, fedavg: 0, krum: 1, multikrum: 2, "multi-krum": 2, median: 3, trimmedmean: 4, "trimmed-mean": 4, "centered-clipping": 5, centeredclipping: 5, cc: 5 };
  if (s in aliases) return aliases[s];
  if (/^\d+$/.test(s)) { const id = Number(s); assertRuleId(id); return id; }
  throw new AggregationParameterError(`unknown robust rule "${name}"; known: ${Object.values(RULE_NAMES).join(", ")} (or ids 0-5)`);
}

/** Largest Krum f usable with n updates (n > 2f + 2), or -1 when n < 3. */
function feasibleKrumF(n: number, f: number): number {
  return Math.min(f, Math.floor((n - 3) / 2));
}

/**
 * Accept updates within `factor` x the median distance to the robust `center` that also point the
 * same way as the coordinate-wise median of the other updates (positive dot product; a direction test
 * in the spirit of FLTrust, Cao et al. 2021, NDSS). In high dimension honest deltas agree with the
 * others' median by a wide margin even when their own noise dominates distances, while sign-flipped
 * and IPM updates point away from it. Leaving the update out keeps its own noise from voting for it.
 */
function closeAndAligned(deltas: readonly Float32Array[], center: ArrayLike<number>, factor: number): boolean[] {
  const dist = deltas.map((x) => l2Distance(x, center));
  const limit = medianOf(dist) * factor;
  const dots = leaveOneOutMedianDots(deltas);
  return deltas.map((_, i) => dist[i] <= limit && dots[i] > 0);
}

function ccTau(deltas: readonly Float32Array[], param: number, reference?: Float32Array): number {
  if (param > 0) return param;
  // Auto radius: the median distance of the deltas to the reference, so honest deltas are mostly
  // unclipped while far-away ones are pulled in.
  const ref = reference ?? new Float32Array(deltas[0].length);
  const tau = medianOf(deltas.map((x) => l2Distance(x, ref)));
  return tau > 0 ? tau : Number.MIN_VALUE;
}

/**
 * A robust rule by id. Verdicts (what verifiers accept):
 *  0 fedavg: everything. 1 krum: only the Krum-selected update (classic Krum; it rejects n - 1 updates
 *  per round by construction, honest ones included). 2 multi-krum: the n - f best Krum scores (m = n - f).
 *  3/4/5: updates whose distance to the rule's own robust aggregate of the deltas is within
 *  `distanceFactor` x the median distance and that point the same way as the median of the others. When fewer than 2f + 3 updates arrived, Krum's f is lowered
 *  to the largest feasible value (with fewer than 3 updates everything is accepted); the trim count
 *  likewise to floor((n - 1) / 2).
 * Aggregates: 0/1/2 FedAvg over the accepted weights; 3 coordinate median, 4 trimmed mean, 5 global +
 * centered clipping of the accepted deltas around `referenceDelta`.
 */
export function createRule(id: number, options: RuleOptions = {}): RobustRule {
  assertRuleId(id);
  const o = { ...DEFAULT_RULE_OPTIONS, ...options };
  if (!Number.isFinite(o.distanceFactor) || o.distanceFactor < 1) {
    throw new AggregationParameterError(`distanceFactor must be a finite number >= 1, got ${o.distanceFactor}`);
  }
  assertCenteredClippingParameters(1, o.ccIterations);
  const name = RULE_NAMES[id];
  const checked = (ctx: RuleContext, n: number): void => {
    validateRuleParam(id, ctx.param);
    if (ctx.numSamples.length !== n) {
      throw new AggregationInputError(`${name}: ${n} updates but ${ctx.numSamples.length} sample counts`);
    }
  };

  const verdict = (deltas: readonly Float32Array[], ctx: RuleContext): boolean[] => {
    checked(ctx, deltas.length);
    const n = deltas.length;
    if (n === 0) return [];
    commonLength(deltas, `${name} verdict`);
    switch (id) {
      case 0:
        return deltas.map(() => true);
      case 1:
      case 2: {
        const f = feasibleKrumF(n, ctx.param);
        if (f < 0) return deltas.map(() => true);
        const { selected } = krum(deltas, f, id === 1 ? 1 : n - f);
        const accepted = deltas.map(() => false);
        for (const i of selected) accepted[i] = true;
        return accepted;
      }
      case 3:
        return closeAndAligned(deltas, coordinateMedian(deltas), o.distanceFactor);
      case 4:
        return closeAndAligned(deltas, trimmedMean(deltas, Math.min(ctx.param, Math.floor((n - 1) / 2))), o.distanceFactor);
      case 5: {
        const tau = ccTau(deltas, ctx.param, ctx.referenceDelta);
        return closeAndAligned(deltas, centeredClippingF64(deltas, { tau, iterations: o.ccIterations, reference: ctx.referenceDelta }), o.distanceFactor);
      }
    }
  };

  const aggregate = (weights: readonly Float32Array[], numSamples: readonly number[], ctx: RuleContext): Float32Array => {
    checked({ ...ctx, numSamples }, weights.length);
    const n = weights.length;
    commonLength(weights, `${name} aggregate`);
    switch (id) {
      case 0:
      case 1:
      case 2:
        return fedAvg(weights, numSamples);
      case 3:
        return coordinateMedian(weights);
      case 4:
        return trimmedMean(weights, Math.min(ctx.param, Math.floor((n - 1) / 2)));
      case 5: {
        const g = ctx.globalWeights;
        if (!g) throw new AggregationInputError("centered-clipping aggregate needs ctx.globalWeights to form deltas");
        const deltas = weights.map((w) => subtract(w, g));
        const tau = ccTau(deltas, ctx.param, ctx.referenceDelta);
        const v = centeredClippingF64(deltas, { tau, iterations: o.ccIterations, reference: ctx.referenceDelta });
        const out = new Float32Array(g.length);
        for (let k = 0; k < g.length; k++) out[k] = g[k] + v[k];
        return out;
      }
    }
  };

  return { id, name, verdict, aggregate };
}

export interface Judgement {
  /** One flag per update, in the order given. */
  accepted: boolean[];
  /** Why each update was rejected (empty when accepted). */
  problems: UpdateProblem[][];
  /** Update - global for each structurally valid update (undefined for malformed ones). */
  deltas: (Float32Array | undefined)[];
}

/**
 * The whole verifier decision for one round: structural checks (length, finite), then a norm screen
 * of the deltas against their median norm (off for rule 0, which is the undefended baseline), then the
 * rule's verdict over the survivors. `updates` must be in commit order.
 */
export function judgeUpdates(
  rule: RobustRule,
  updates: readonly Float32Array[],
  globalWeights: Float32Array,
  ctx: RuleContext,
  screen: NormScreenOptions | null = rule.id === 0 ? null : DEFAULT_NORM_SCREEN,
): Judgement {
  if (ctx.numSamples.length !== updates.length) {
    throw new AggregationInputError(`judgeUpdates: ${updates.length} updates but ${ctx.numSamples.length} sample counts`);
  }
  if (screen) assertNormScreen(screen);
  const problems: UpdateProblem[][] = updates.map((u) => validateUpdate(u, globalWeights.length));
  const deltas = updates.map((u, i) => (problems[i].length === 0 ? subtract(u, globalWeights) : undefined));
  let alive = deltas.map((d, i) => (d ? i : -1)).filter((i) => i >= 0);
  if (screen && alive.length > 0) {
    const { maxNorm, minNorm } = normBounds(alive.map((i) => deltas[i]!), screen);
    for (const i of alive) problems[i].push(...validateUpdate(deltas[i]!, globalWeights.length, maxNorm, screen.minNormRatio > 0 ? minNorm : undefined));
    alive = alive.filter((i) => problems[i].length === 0);
  }
  const verdict = rule.verdict(alive.map((i) => deltas[i]!), { ...ctx, numSamples: alive.map((i) => ctx.numSamples[i]) });
  alive.forEach((i, t) => {
    if (!verdict[t]) problems[i].push({ code: "rejected-by-rule", message: `rejected by ${rule.name} (param ${ctx.param})` });
  });
  return { accepted: problems.map((p) => p.length === 0), problems, deltas };
}

