/** A DP parameter (clip norm, noise multiplier, delta, sample rate, orders, budget) is out of range. */
export class PrivacyParameterError extends Error {
  override name = "PrivacyParameterError";
}

/** The update handed to the mechanism contains NaN or an infinity, so its norm is meaningless. */
export class NonFiniteUpdateError extends Error {
  override name = "NonFiniteUpdateError";
  constructor(
    readonly index: number,
    readonly value: number,
  ) {
    super(`update coordinate ${index} is not finite (${value}): cannot clip or privatize it`);
  }
}

/** A caller that must publish an update was handed a noise source that is not cryptographically secure. */
export class InsecureNoiseSourceError extends Error {
  override name = "InsecureNoiseSourceError";
  constructor(readonly sourceName: string) {
    super(`noise source "${sourceName}" is not secure: a published update must be noised with secureGaussianSource()`);
  }
}

/** No noise multiplier up to the search limit meets the requested (epsilon, delta) over that many steps. */
export class BudgetUnreachableError extends Error {
  override name = "BudgetUnreachableError";
  constructor(
    readonly targetEpsilon: number,
    readonly delta: number,
    readonly steps: number,
    readonly sampleRate: number,
    readonly maxNoiseMultiplier: number,
  ) {
    super(
      `epsilon ${targetEpsilon} at delta ${delta} is not reachable in ${steps} steps at sample rate ${sampleRate} ` +
        `with a noise multiplier <= ${maxNoiseMultiplier}`,
    );
  }
}
