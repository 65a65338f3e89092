/** A robust-rule parameter is out of its valid range (e.g. Krum with n <= 2f + 2). */
export class AggregationParameterError extends Error {
  override name = "AggregationParameterError";
}

/** The updates handed to a rule do not fit together (empty set, lengths differ, bad sample counts). */
export class AggregationInputError extends Error {
  override name = "AggregationInputError";
}
