// Moved to ipfs/content-cid.ts (the agents, the simulator and the audit share it).
export { contentCid } from "../ipfs/content-cid.ts";
