// Deploys a FederatedTask and configures it. Parameters (module "FederatedTaskModule"):
// modelSpecCid, initialModelCid (binary CIDs as 0x-hex, required), initiator (default account 0)
// and every other TaskConfig field (defaults in federatedTaskModule.ts: TASK_DEFAULTS).
//   npx hardhat ignition deploy ignition/modules/FederatedTask.ts --network localhost \
//     --parameters ignition/modules/localhost.parameters.json
import { buildFederatedTaskModule } from "./federatedTaskModule.ts";

export default buildFederatedTaskModule(true);
