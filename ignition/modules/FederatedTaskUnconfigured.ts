// Deploys a FederatedTask WITHOUT configuring it (configure: false), for when the initial model CID
// is only known later. Same module and future ids as FederatedTask.ts: deploying that module later
// with the same deployment id keeps this contract and only sends configureTask.
//   npx hardhat ignition deploy ignition/modules/FederatedTaskUnconfigured.ts --network localhost
import { buildFederatedTaskModule } from "./federatedTaskModule.ts";

export default buildFederatedTaskModule(false);
