import type { Contract, NonceManager, TransactionReceipt } from "ethers";
import type { Logger } from "../lib/log.ts";

/** A transaction the contract refused; `errorName` is the decoded custom error. */
export class TxRevertedError extends Error {
  constructor(readonly method: string, readonly errorName: string, readonly errorArgs: unknown[]) {
    super(`${method} reverted: ${errorName}(${errorArgs.map((a) => String(a)).join(", ")})`);
    this.name = "TxRevertedError";
  }
}

/** Decodes an ethers error into the contract's custom error, when there is one. */
export function decodeRevert(contract: Contract, err: unknown): { name: string; args: unknown[] } | undefined {
  const e = err as { revert?: { name: string; args: unknown[] }; data?: string; info?: { error?: { data?: string } }; error?: { data?: string } };
  if (e?.revert?.name) return { name: e.revert.name, args: [...e.revert.args] };
  const data = e?.data ?? e?.info?.error?.data ?? e?.error?.data;
  if (typeof data === "string" && data.length >= 10) {
    try {
      const parsed = contract.interface.parseError(data);
      if (parsed) return { name: parsed.name, args: [...parsed.args] };
    } catch { /* not one of ours */ }
  }
  return undefined;
}

function isTransient(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  const msg = `${e?.code ?? ""} ${e?.message ?? ""}`;
  return /NETWORK_ERROR|SERVER_ERROR|TIMEOUT|ECONNREFUSED|ECONNRESET|socket hang up|fetch failed|UND_ERR|ran out of gas/i.test(msg);
}

function isNonceProblem(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === "NONCE_EXPIRED" || /nonce (too low|has already been used)|replacement transaction underpriced/i.test(e?.message ?? "");
}

/**
 * Sends `contract[method](...args)` and waits for its receipt.
 * Reverts (custom errors) are decoded and thrown as TxRevertedError without retry: retrying a
 * refused state change cannot help. Transport failures and nonce races are retried with backoff.
 */
export async function sendTx(
  contract: Contract,
  signer: NonceManager,
  method: string,
  args: unknown[],
  log: Logger,
  opts: { attempts?: number } = {},
): Promise<TransactionReceipt> {
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      const fn = contract.getFunction(method);
      // Head-room: a vote or submission estimated as "not the last one" may be mined as the one that
      // closes the phase (tally, finalization, reputation), which costs more than its estimate.
      const estimate = await fn.estimateGas(...args);
      const gasLimit = estimate * 2n + 400_000n;
      const tx = await fn.send(...args, { gasLimit: gasLimit > 15_000_000n ? 15_000_000n : gasLimit });
      const receipt = await tx.wait();
      if (!receipt) throw new Error(`${method}: no receipt`);
      log.debug("tx-mined", { method, hash: receipt.hash, gas: receipt.gasUsed });
      return receipt;
    } catch (err) {
      const revert = decodeRevert(contract, err);
      if (revert) {
        signer.reset();
        throw new TxRevertedError(method, revert.name, revert.args);
      }
      if (attempt >= attempts || (!isTransient(err) && !isNonceProblem(err))) throw err;
      signer.reset();
      const waitMs = Math.min(4000, 250 * 2 ** (attempt - 1));
      log.warn("tx-retry", { method, attempt, waitMs, reason: (err as Error).message?.slice(0, 160) });
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}
