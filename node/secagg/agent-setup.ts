/**
 * `peerfl agent --secagg <address>`: opens the task's SecureAggregation side contract, checks that
 * it belongs to the connected task and is configured, and loads this peer's long-term X25519 key
 * (x25519.pem in its data directory, whose public half the agent registers on the task).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { TaskConnection } from "../chain/connect.ts";
import type { Logger } from "../lib/log.ts";
import { secAggWriter } from "./chain.ts";
import { secretKeyFromPem } from "./keys.ts";
import type { SecAggRoleContext } from "./roles.ts";

/** The side contract is missing, belongs to another task, or is not configured: private mode cannot run. */
export class SecAggSetupError extends Error {
  override name = "SecAggSetupError";
}

export async function openSecureAggregation(address: string, conn: TaskConnection, dataDir: string, log: Logger): Promise<SecAggRoleContext> {
  if ((await conn.provider.getCode(address)) === "0x") throw new SecAggSetupError(`no contract at --secagg ${address}`);
  const chain = secAggWriter(address, conn.signer, log);
  const task = await chain.taskAddress();
  if (task.toLowerCase() !== String(conn.task.target).toLowerCase()) {
    throw new SecAggSetupError(`the SecureAggregation contract at ${address} belongs to task ${task}, not to ${String(conn.task.target)}`);
  }
  const config = await chain.config();
  if (!config) throw new SecAggSetupError(`the SecureAggregation contract at ${address} is not configured yet (the task's initiator calls configure)`);
  const secretKey = secretKeyFromPem(readFileSync(path.join(dataDir, "x25519.pem"), "utf8"));
  log.info("secagg", { address, range: config.range, scaleBits: config.scaleBits, neighbours: config.neighbours, threshold: config.threshold, noiseStd: config.noiseStd, clipL2: config.clipL2, noisePeers: config.noisePeers });
  return { chain, config, secretKey, stateDir: dataDir };
}
