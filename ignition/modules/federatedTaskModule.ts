// Builds the Ignition module that deploys one FederatedTask (one federated-learning task).
// Both module files use the module id "FederatedTaskModule" and the future id "FederatedTask", so
// the address lands under "FederatedTaskModule#FederatedTask" in deployed_addresses.json either way,
// and deploying the unconfigured variant first and the configuring one later (same deployment id)
// reuses the contract and only runs configureTask.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Defaults of every TaskConfig field except the two CIDs (which are required parameters).
 * The defaults suit the 5-peer local demo: allow-list admission (the module admits accounts
 * 1..DEMO_ADMITTED_ACCOUNTS), committees of everyone eligible (0), a 2/3 aggregator quorum.
 */
export const TASK_DEFAULTS = {
  rounds: 5,
  trainingDuration: 120,
  verificationDuration: 60, // verdict commit window
  aggregationDuration: 60, // aggregate commit window
  revealDuration: 30, // each reveal window
  challengeDuration: 120,
  minTrainers: 2,
  verifierCommitteeSize: 0, // 0 = every eligible verifier
  aggregatorCommitteeSize: 0, // 0 = every eligible aggregator
  aggregatorQuorumBps: 6666, // at least two thirds of the aggregator committee reveal the same CID (2 of 3, 4 of 6: 6667 would demand 3 of 3)
  robustRule: 5, // centered clipping (Karimireddy et al. 2021): chosen from bench:robustness, see README
  ruleParam: 0, // 0 = automatic clipping radius (median distance)
  admissionMode: 0, // 0 allow-list (initiator admits), 1 ETH bond
  bondWei: 0, // bond mode: minimum bond and challenge bond, in wei
  maxSamplesPerPeer: 60_000, // the whole MNIST training set
  copyCosineThresholdBps: 9_990, // verifiers reject near-copies (cosine >= 0.999)
  sampleWeightClipMilli: 3_000, // FedAvg weights clipped at 3 x median(numSamples)
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

/** Allow-list mode: accounts 1..DEMO_ADMITTED_ACCOUNTS of the deploying network are admitted. */
export const DEMO_ADMITTED_ACCOUNTS = 10;

/**
 * @param configure when true the module also calls configureTask and admits accounts
 * 1..DEMO_ADMITTED_ACCOUNTS (the local demo's peers). Those calls are sent
 * from account 0, so with `configure` the `initiator` parameter must be account 0 (its default);
 * otherwise deploy the unconfigured variant and let the initiator configure the task itself.
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
      const configured = m.call(task, "configureTask", [config], { id: "configureTask", from: m.getAccount(0) });
      // Admitting is harmless in bond mode (registration then only looks at the bond).
      const accounts = Array.from({ length: DEMO_ADMITTED_ACCOUNTS }, (_, i) => m.getAccount(i + 1));
      m.call(task, "admit", [accounts], { id: "admitDemoAccounts", from: m.getAccount(0), after: [configured] });
    }
    return { task };
  });
}
