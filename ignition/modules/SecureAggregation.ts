// Deploys the SecureAggregation side contract of an existing, configured FederatedTask and sets its
// private-mode parameters (docs/secure-aggregation.md). Parameters (module "SecureAggregationModule"):
// task (address, required) and every field of SECAGG_DEFAULTS. The configure call is sent from
// account 0, which must hold the task's INITIATOR_ROLE (the demo's deployer does).
//   npx hardhat ignition deploy ignition/modules/SecureAggregation.ts --network localhost \
//     --parameters '{"SecureAggregationModule":{"task":"0x…"}}'
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Defaults for the local demo (MNIST MLP, shards of up to ~6,000 samples): each coordinate of
 * numSamples × delta clipped to ±8000, 10 fractional bits (256 peers × 8000 × 2^10 < 2^31), a ring
 * of 8 neighbours (the complete graph up to 9 peers), threshold 4, no distributed noise (noiseStdMilli,
 * clipL2Milli and noisePeers turn on distributed DP, docs/secure-aggregation.md), setup in
 * the first half of the training window.
 */
export const SECAGG_DEFAULTS = {
  rangeMilli: 8_000_000,
  scaleBits: 10,
  neighbours: 8,
  threshold: 4,
  noiseStdMilli: 0,
  setupWindowBps: 5000,
  clipL2Milli: 0,
  noisePeers: 0,
} as const;

export default buildModule("SecureAggregationModule", (m) => {
  const task = m.getParameter<string>("task");
  const secagg = m.contract("SecureAggregation", [task], { id: "SecureAggregation" });
  const config = Object.fromEntries(Object.entries(SECAGG_DEFAULTS).map(([field, value]) => [field, m.getParameter<number>(field, value)]));
  m.call(secagg, "configure", [config], { id: "configureSecAgg", from: m.getAccount(0) });
  return { secagg };
});
