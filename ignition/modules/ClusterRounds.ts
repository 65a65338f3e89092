// Deploys the ClusterRounds side contract of an existing, configured FederatedTask and sets its
// clustered-mode parameters (contracts/ClusterRounds.sol, docs/d2d-clusters.md). Send it from the
// task's initiator (account 0 here), before startTask. Parameters (module "ClusterRoundsModule"):
// task (address, required), scenarioCid (bytes of the binary CID of the scenario JSON on IPFS,
// required) and the fields of CLUSTER_DEFAULTS.
//   npx hardhat ignition deploy ignition/modules/ClusterRounds.ts --network localhost \
//     --parameters '{"ClusterRoundsModule":{"task":"0x…","scenarioCid":"0x0155…"}}'
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Defaults: clusters of up to 8 peers (node/links/clusters.ts), heads at >= 30 % battery; of the
 * verify-commit window, the first 40 % for head records, the next 30 % for checkers' challenges, the
 * last 30 % for the votes; each cluster checked in full, with a seed drawn after the records, by 1
 * committee verifier among its own members (sidelink, no Uu bytes) and, in 40 % of the rounds, by 1
 * committee verifier from outside it (docs/d2d-clusters.md "Cheaper checks").
 */
export const CLUSTER_DEFAULTS = {
  maxClusterSize: 8,
  minHeadBatteryBps: 3000,
  recordWindowBps: 4000,
  challengeWindowBps: 3000,
  insideCheckers: 1,
  outsideCheckBps: 4000,
} as const;

export default buildModule("ClusterRoundsModule", (m) => {
  const task = m.getParameter<string>("task");
  const scenarioCid = m.getParameter<string>("scenarioCid");
  const clusters = m.contract("ClusterRounds", [task], { id: "ClusterRounds" });
  const config = { scenarioCid, ...Object.fromEntries(Object.entries(CLUSTER_DEFAULTS).map(([field, value]) => [field, m.getParameter<number>(field, value)])) };
  m.call(clusters, "configure", [config], { id: "configureClusterRounds", from: m.getAccount(0) });
  return { clusters };
});
