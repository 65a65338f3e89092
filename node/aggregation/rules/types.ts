// What a robust rule is to the round: a verdict over deltas and an aggregate of accepted weights.
// The round loop never branches on which rule it runs (Flower's strategy idea).

export interface RuleContext {
  /** Sample counts claimed by the updates, same order as the updates. */
  numSamples: readonly number[];
  /** Rule parameter in natural units: Krum's f, trim count beta, radius tau (0 = auto). Unused by FedAvg and median. */
  param: number;
  /** The round's global weights; centered clipping's `aggregate` needs them to form deltas. */
  globalWeights?: Float32Array;
  /** Centered clipping's starting point: the previous round's global delta (zeros when absent). */
  referenceDelta?: Float32Array;
}

export interface RobustRule {
  readonly name: string;
  /** Throws AggregationParameterError unless `param` is valid for this rule. */
  validateParam(param: number): void;
  /** Which updates a verifier accepts, judged on deltas (update - global). Deterministic. */
  verdict(deltas: readonly Float32Array[], ctx: RuleContext): boolean[];
  /** The next global weights from the accepted updates' weights (in the order given). */
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
