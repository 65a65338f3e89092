// The verifier's whole decision for one round over a rule unit (node/aggregation/rules/*): structural
// checks, a norm screen, then the rule's own verdict. The round loop receives a RobustRule value and
// never branches on which rule it is (Flower's strategy idea); ids live in node/protocol/ids.ts.
import { AggregationInputError } from "./errors.ts";
import type { RobustRule, RuleContext } from "./rules/index.ts";
import {
  DEFAULT_NORM_SCREEN, assertNormScreen, normBounds, validateUpdate,
  type NormScreenOptions, type UpdateProblem,
} from "./validate.ts";
import { subtract } from "./vectors.ts";

export * from "./rules/index.ts";

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
  screen: NormScreenOptions | null = rule.name === "fedavg" ? null : DEFAULT_NORM_SCREEN,
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

