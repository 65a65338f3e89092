// Deploys the PrivacyLedger of an existing FederatedTask and records the task's DP unit and
// parameters (contracts/PrivacyLedger.sol). Send it from the task's initiator, before startTask.
// Parameters (module "PrivacyLedgerModule"): task (address, required), unit (1 peer, 2 example,
// 3 distributed), clipNormMilli, noiseMultiplierMilli, expectedBatchSize, localEpochs, deltaExponent,
// epsilonBudgetMilli, noisePeers and scaleBits (distributed unit only) (defaults below: example-level DP-SGD, C = 1, sigma = 1.1, B = 64, 1 epoch,
// delta = 1e-5, no budget).
//   npx hardhat ignition deploy ignition/modules/PrivacyLedger.ts --network localhost \
//     --parameters '{"PrivacyLedgerModule":{"task":"0x...","epsilonBudgetMilli":8000}}'
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** Defaults of the example-level parameters (PrivacyLedger.Params). */
export const PRIVACY_DEFAULTS = {
  unit: 2,
  clipNormMilli: 1000,
  noiseMultiplierMilli: 1100,
  expectedBatchSize: 64,
  localEpochs: 1,
  deltaExponent: 5,
  epsilonBudgetMilli: 0,
  noisePeers: 0,
  scaleBits: 0,
} as const;

export default buildModule("PrivacyLedgerModule", (m) => {
  const task = m.getParameter<string>("task");
  const ledger = m.contract("PrivacyLedger", [task], { id: "PrivacyLedger" });
  const params = Object.fromEntries(Object.entries(PRIVACY_DEFAULTS).map(([field, value]) => [field, m.getParameter<number>(field, value)]));
  m.call(ledger, "configure", [params], { id: "configurePrivacy" });
  return { ledger };
});
