// Builds the Ignition module that deploys one FederatedTask (one federated-learning task).
// Both module files use the module id "FederatedTaskModule" and the future id "FederatedTask", so
// the address lands under "FederatedTaskModule#FederatedTask" in deployed_addresses.json either way,
// and deploying the unconfigured variant first and the configuring one later (same deployment id)
// reuses the contract and only runs configureTask.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** Defaults of every TaskConfig field except the two CIDs (which are required parameters). */
export const TASK_DEFAULTS = {
  rounds: 5,
  trainingDuration: 120,
  verificationDuration: 60,
  aggregationDuration: 60,
  minTrainers: 2,
  aggregatorQuorum: 2,
  robustRule: 5, // centered clipping (Karimireddy et al. 2021): chosen from bench:robustness, see README
  ruleParam: 0, // 0 = automatic clipping radius (median distance)
  dpClipNormMilli: 0, // DP off
  dpNoiseMultiplierMilli: 0,
  dpDeltaExponent: 5,
  dpEpsilonBudgetMilli: 0,
  reputationInitial: 10,
  reputationReward: 1,
  reputationPenalty: 4,
  reputationThreshold: 0,
  reputationMax: 20,
} as const;

/**
 * @param configure when true the module also calls configureTask. That call is sent from account 0,
 * so with `configure` the `initiator` parameter must be account 0 (its default); otherwise deploy the
 * unconfigured variant and let the initiator configure the task itself.
 */
export function buildFederatedTaskModule(configure: boolean) {
  return buildModule("FederatedTaskModule", (m) => {
    const initiator = m.getParameter("initiator", m.getAccount(0));
    const task = m.contract("FederatedTask", [initiator], { id: "FederatedTask" });
    if (configure) {
      const config = {
        modelSpecCid: m.getParameter<string>("modelSpecCid"),
        initialModelCid: m.getParameter<string>("initialModelCid"),
        ...Object.fromEntries(
          Object.entries(TASK_DEFAULTS).map(([field, value]) => [field, m.getParameter<number>(field, value)]),
        ),
      };
      m.call(task, "configureTask", [config], { id: "configureTask", from: m.getAccount(0) });
    }
    return { task };
  });
}
