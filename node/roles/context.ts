import type { TransactionReceipt } from "ethers";
import type { TaskConnection } from "../chain/connect.ts";
import type { TaskConfigView } from "../chain/task.ts";
import type { ModelSpec } from "../ml/types.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";
import type { Logger } from "../lib/log.ts";
import type { Learner } from "../agent/learner.ts";

/** What a role needs from its agent for one round. Injected, so roles stay small and testable. */
export interface RoleContext {
  conn: TaskConnection;
  store: ModelStore;
  log: Logger;
  task: TaskConfigView;
  spec: ModelSpec;
  peerIndex: number;
  /** Fetch + decode + validate a weights CID (cached). Throws with the reason on failure. */
  fetchWeights(cid: string): Promise<Float32Array>;
  /** Encode canonically, add + pin on IPFS, return the CID. */
  putWeights(flat: Float32Array): Promise<string>;
  send(method: string, args: unknown[]): Promise<TransactionReceipt>;
  learner(): Promise<Learner>;
}
