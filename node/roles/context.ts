import type { ModelStore } from "../../ipfs/model-store.ts";
import type { TaskChain } from "../chain/task-chain.ts";
import type { Logger } from "../lib/log.ts";
import type { ModelSpec } from "../ml/types.ts";
import type { Learner } from "../ml/learner.ts";
import type { CollusionChannel } from "../attacks/collusion.ts";
import type { AttackPlan } from "../protocol/local-update.ts";
import type { TaskConfig } from "../protocol/task-config.ts";
import type { ModelFetcher } from "./models.ts";
import type { TrainerCompressionState } from "../compression/trainer-side.ts";
import type { TrainerDeviceState } from "../devices/trainer-side.ts";
import type { ExamplePrivacy, ExamplePrivacyState } from "./example-privacy.ts";
import type { SecAggRoleContext } from "../secagg/roles.ts";
import type { ClusterRoleContext } from "./cluster-roles.ts";

export type { Learner } from "../ml/learner.ts";

/**
 * What a role needs for one round, injected: the typed chain, the content store, the model fetcher
 * (byte and time budgets, per-round cache), the learner and a clock. Roles hold no other state, so
 * they run the same against `hardhat node` + Helia or an in-process chain + an in-memory store.
 */
export interface RoleContext {
  chain: TaskChain;
  store: ModelStore;
  models: ModelFetcher;
  log: Logger;
  task: TaskConfig;
  spec: ModelSpec;
  /** This peer's data shard index and the number of shards (the simulator's peer index). */
  dataIndex: number;
  numPeers: number;
  learner(): Promise<Learner>;
  /** Seconds since the epoch, as the chain's deadlines count them. */
  now(): number;
  /** The task's privacy ledger and its parameters, when the task has one (example-level DP budget and reports). */
  privacy?: ExamplePrivacy;
  /** Private mode (--secagg): the task's SecureAggregation side contract and this peer's keys (node/secagg/roles.ts). */
  secagg?: SecAggRoleContext;
  /** Clustered rounds (--cluster-rounds): the task's ClusterRounds side contract and scenario (node/roles/cluster-roles.ts). */
  clusters?: ClusterRoleContext;
}

export interface TrainerState {
  attack?: AttackPlan;
  /** EXPERIMENTS ONLY: the colluding group's side channel (node/attacks/collusion.ts). */
  colluders?: CollusionChannel;
  /** rounds this peer has contributed a DP-noised update to (its own privacy spend) */
  dpRoundsSpent: number;
  budgetExhaustedLogged: boolean;
  /** update compression: device tier (format override) and the top-k residual (node/compression) */
  compression?: TrainerCompressionState;
  /** device profile: battery/thermal gate, tier speed, energy per round (node/devices) */
  device?: TrainerDeviceState;
  /** example-level DP: own commits' sample counts and whether the budget stop was logged (node/roles/example-privacy.ts) */
  examplePrivacy?: ExamplePrivacyState;
}
