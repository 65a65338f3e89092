/**
 * Admits the demo's peers. In allow-list mode (admissionMode 0) only admitted accounts may register;
 * the Ignition module admits the first few development accounts, so a demo with more peers admits
 * every peer account itself, from the initiator, before any agent starts. In bond mode it does nothing.
 */
import type { Contract, TransactionResponse } from "ethers";

export const ADMISSION_ALLOW_LIST = 0;
/** Accounts per admit() transaction: keeps each one far below the block gas limit. */
const ADMIT_BATCH = 64;

/** Admits `addresses` (idempotent on chain) when the task uses an allow list; returns how many were sent. */
export async function admitPeers(task: Contract, addresses: readonly string[], o: { timeoutMs?: number } = {}): Promise<number> {
  if (!task.interface.getFunction("admit")) return 0; // a contract without admission
  const config = (await task.getFunction("taskConfig")()) as { admissionMode?: bigint | number };
  if (config.admissionMode === undefined || Number(config.admissionMode) !== ADMISSION_ALLOW_LIST) return 0;
  const sent: TransactionResponse[] = [];
  for (let k = 0; k < addresses.length; k += ADMIT_BATCH) {
    sent.push(await task.getFunction("admit")(addresses.slice(k, k + ADMIT_BATCH)) as TransactionResponse);
  }
  for (const tx of sent) {
    const r = await tx.wait(1, o.timeoutMs ?? 60_000);
    if (!r || r.status !== 1) throw new Error(`admit() failed (tx ${tx.hash})`);
  }
  return addresses.length;
}
