/**
 * `--privacy-ledger`: opens the task's PrivacyLedger and turns its parameters into this peer's
 * local training settings. The task's example-level parameters are binding (sigma, batch B, local
 * epochs, delta, budget: they fix the accounting the ledger's reports are audited against); the
 * --dp-example-* flags only fill what the task leaves open (the clip norm C, when it is 0 on chain),
 * and a flag that contradicts the task is overridden with a warning.
 */
import type { TaskConnection } from "../chain/connect.ts";
import { privacyLedger } from "../chain/privacy-ledger.ts";
import type { Logger } from "../lib/log.ts";
import type { ExamplePrivacy } from "../roles/example-privacy.ts";
import type { AgentConfig } from "./config.ts";

/** The ledger does not belong to this task, or is not configured: the agent cannot account its privacy. */
export class PrivacyLedgerSetupError extends Error {
  override name = "PrivacyLedgerSetupError";
}

/** Opens and checks the ledger at `address` for the connected task. */
export async function openPrivacyLedger(address: string, conn: TaskConnection, log: Logger): Promise<ExamplePrivacy> {
  const ledger = privacyLedger(address, conn.signer, log);
  if ((await conn.provider.getCode(address)) === "0x") throw new PrivacyLedgerSetupError(`no contract at --privacy-ledger ${address}`);
  const task = await ledger.taskAddress();
  if (task.toLowerCase() !== String(conn.task.target).toLowerCase()) {
    throw new PrivacyLedgerSetupError(`the privacy ledger at ${address} belongs to task ${task}, not to ${String(conn.task.target)}`);
  }
  const params = await ledger.params();
  if (!params) throw new PrivacyLedgerSetupError(`the privacy ledger at ${address} is not configured yet (the task's initiator calls configure)`);
  log.info("privacy-ledger", {
    address, unit: params.unit, sigma: params.noiseMultiplier, clip: params.clipNorm ?? "open", batch: params.expectedBatchSize,
    localEpochs: params.localEpochs, delta: params.delta, budget: params.epsilonBudget,
  });
  return { ledger, params };
}

/** This peer's learner settings under the ledger: DP-SGD with the task's parameters (example unit); unchanged otherwise. */
export function learnerSettingsUnder(privacy: ExamplePrivacy, cfg: AgentConfig, log: Logger): AgentConfig {
  const p = privacy.params;
  if (p.unit !== "example") return cfg;
  const flags = cfg.exampleDpFlags ?? {};
  const exampleDp = {
    clipNorm: p.clipNorm ?? flags.clipNorm ?? cfg.exampleDp?.clipNorm ?? 1,
    noiseMultiplier: p.noiseMultiplier,
    expectedBatchSize: p.expectedBatchSize,
  };
  const overridden: Record<string, string> = {};
  if (p.clipNorm !== null && flags.clipNorm !== undefined && flags.clipNorm !== p.clipNorm) overridden.clip = `${flags.clipNorm} -> ${p.clipNorm}`;
  if (flags.noiseMultiplier !== undefined && flags.noiseMultiplier !== p.noiseMultiplier) overridden.sigma = `${flags.noiseMultiplier} -> ${p.noiseMultiplier}`;
  if (flags.expectedBatchSize !== undefined && flags.expectedBatchSize !== p.expectedBatchSize) overridden.batch = `${flags.expectedBatchSize} -> ${p.expectedBatchSize}`;
  if (cfg.epochs !== p.localEpochs) overridden.epochs = `${cfg.epochs} -> ${p.localEpochs}`;
  if (Object.keys(overridden).length > 0) log.warn("dp-flags-overridden", { ...overridden, reason: "the task's privacy ledger fixes these (its epsilon reports are audited against them)" });
  if (!cfg.exampleDp) log.info("dp-example-on", { reason: "the task's privacy unit is the example: training with DP-SGD" });
  return { ...cfg, exampleDp, epochs: p.localEpochs };
}
