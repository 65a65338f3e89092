// The rule units by name. The on-chain ids for these names live in node/protocol/ids.ts.
import { AggregationParameterError } from "../errors.ts";
import { centeredClippingRule } from "./centered-clipping.ts";
import { fedAvgRule } from "./fedavg.ts";
import { flameRule } from "./flame.ts";
import { krumRule } from "./krum.ts";
import { medianRule } from "./median.ts";
import { multiKrumRule } from "./multi-krum.ts";
import { trimmedMeanRule } from "./trimmed-mean.ts";
import type { RobustRule, RuleOptions } from "./types.ts";
import { validationVoteRule } from "./validation-vote.ts";
import { rootValidationRule } from "./root-validation.ts";

export const RULE_UNITS = {
  fedavg: () => fedAvgRule(),
  krum: () => krumRule(),
  "multi-krum": () => multiKrumRule(),
  median: (o: RuleOptions) => medianRule(o),
  "trimmed-mean": (o: RuleOptions) => trimmedMeanRule(o),
  "centered-clipping": (o: RuleOptions) => centeredClippingRule(o),
  flame: () => flameRule(),
  "validation-vote": () => validationVoteRule(),
  "root-validation": () => rootValidationRule(),
} satisfies Record<string, (o: RuleOptions) => RobustRule>;

export type RuleUnitName = keyof typeof RULE_UNITS;

/** A rule unit by name; options are validated where the rule is built. */
export function createRule(name: RuleUnitName, options: RuleOptions = {}): RobustRule {
  const make = RULE_UNITS[name] as ((o: RuleOptions) => RobustRule) | undefined;
  if (!make) throw new AggregationParameterError(`unknown robust rule "${String(name)}"; known: ${Object.keys(RULE_UNITS).join(", ")}`);
  return make(options);
}

export type { RobustRule, RuleContext, RuleOptions } from "./types.ts";
export { DEFAULT_RULE_OPTIONS } from "./types.ts";
export { centeredClippingRule, fedAvgRule, flameRule, krumRule, medianRule, multiKrumRule, trimmedMeanRule };
export { cosineDistances, flameMinClusterSize, majorityCluster } from "./flame.ts";
export {
  DEFAULT_VOTE_THRESHOLD_MILLI, clippedMean, hasPrivateVote, validationVoteRule, voteFromScores,
  type DeltaLoss, type ValidationVoteRule,
} from "./validation-vote.ts";
export {
  DEFAULT_ROOT_THRESHOLD_MILLI, PER_CLASS_NET_FACTOR, PER_CLASS_OWNER_FACTOR, hasRootVote, perClassGate, rootValidationRule,
  type PerClassGate, type RootDeltaLoss, type RootLossDetail, type RootValidationRule, type RootVote,
} from "./root-validation.ts";
export {
  DEFAULT_VOTE_HISTORY, VoteHistoryError, historySuspects, voteEvidence,
  type PeerEvidence, type RoundVotes, type VoteHistoryPolicy,
} from "./vote-history.ts";
