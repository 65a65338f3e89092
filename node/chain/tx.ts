import type { Contract, NonceManager, Provider, Signer, TransactionReceipt, TransactionRequest, TransactionResponse } from "ethers";
import type { Logger } from "../lib/log.ts";

/** A transaction the contract refused; `errorName` is the decoded custom error. */
export class TxRevertedError extends Error {
  constructor(readonly method: string, readonly errorName: string, readonly errorArgs: unknown[]) {
    super(`${method} reverted: ${errorName}(${errorArgs.map((a) => String(a)).join(", ")})`);
    this.name = "TxRevertedError";
  }
}

/** The sender cannot pay for the transaction. Not retried: only a transfer to `address` helps. */
export class InsufficientFundsError extends Error {
  constructor(readonly method: string, readonly address: string, readonly balanceWei: bigint | undefined, readonly neededWei?: bigint) {
    super(`insufficient funds for ${method}: ${address} has ${balanceWei === undefined ? "an unknown balance" : `${formatEth(balanceWei)} ETH`}`
      + `${neededWei !== undefined ? `, the transaction needs up to ${formatEth(neededWei)} ETH` : ""}; fund this address and restart`);
    this.name = "InsufficientFundsError";
  }
}

/** Neither the transaction nor any of its fee-bumped replacements was mined in time. */
export class TxNotMinedError extends Error {
  constructor(readonly method: string, readonly nonce: number, readonly hashes: readonly string[], readonly waitedMs: number) {
    super(`${method} (nonce ${nonce}) was not mined after ${hashes.length} attempt${hashes.length === 1 ? "" : "s"} over ${Math.round(waitedMs / 1000)} s `
      + `(last hash ${hashes[hashes.length - 1]}); is the chain node mining, or did it restart?`);
    this.name = "TxNotMinedError";
  }
}

/** Our nonce was used by a transaction that is none of ours (another process with the same key). */
export class NonceConsumedError extends Error {
  constructor(readonly method: string, readonly nonce: number) {
    super(`${method}: nonce ${nonce} was used by another transaction of this account (nonce has already been used)`);
    this.name = "NonceConsumedError";
  }
}

/** Waits up to `timeoutMs` for a receipt of any of `hashes` (all share one nonce); null when none came. */
export type ReceiptWaiter = (provider: Provider, hashes: readonly string[], timeoutMs: number) => Promise<TransactionReceipt | null>;

export interface SendTxOptions {
  /** wei sent with the call (payable methods) */
  value?: bigint;
  /** attempts for transport failures and nonce races (default 5) */
  attempts?: number;
  /** how long to wait for a receipt before resending with higher fees (default 30 s) */
  waitTimeoutMs?: number;
  /** fee-bumped resends with the same nonce before giving up with TxNotMinedError (default 3) */
  resends?: number;
  /** fee increase per resend, in percent; at least 12.5 (nodes refuse smaller replacements) */
  feeBumpPercent?: number;
  /** receipt polling interval of the default waiter (default 250 ms) */
  pollMs?: number;
  /** replaces the receipt wait (tests of the timeout path) */
  waitForReceipt?: ReceiptWaiter;
}

export const TX_DEFAULTS = { attempts: 5, waitTimeoutMs: 30_000, resends: 3, feeBumpPercent: 12.5, pollMs: 250 } as const;

function formatEth(wei: bigint): string {
  const whole = wei / 10n ** 18n;
  const frac = (wei % 10n ** 18n).toString().padStart(18, "0").slice(0, 6).replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : String(whole);
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

function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string; shortMessage?: string; info?: unknown; error?: unknown };
  let nested = "";
  try { nested = JSON.stringify(e?.info ?? e?.error ?? "", (_k, v) => (typeof v === "bigint" ? v.toString() : v)); } catch { /* cyclic */ }
  return `${e?.code ?? ""} ${e?.shortMessage ?? ""} ${e?.message ?? ""} ${nested}`;
}

function isTransient(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  const msg = `${e?.code ?? ""} ${e?.message ?? ""}`;
  return /NETWORK_ERROR|SERVER_ERROR|TIMEOUT|ECONNREFUSED|ECONNRESET|socket hang up|fetch failed|UND_ERR|ran out of gas/i.test(msg);
}

function isNonceProblem(err: unknown): boolean {
  if (err instanceof NonceConsumedError) return true;
  const e = err as { code?: string; message?: string };
  return e?.code === "NONCE_EXPIRED" || /nonce (too low|too high|has already been used)|replacement transaction underpriced/i.test(e?.message ?? "");
}

function isNonceTooLow(err: unknown): boolean {
  return /NONCE_EXPIRED|nonce too low|nonce has already been used|already known/i.test(errorText(err));
}

/** Geth and ethers say "insufficient funds"; Hardhat/EDR says "Sender doesn't have enough funds". */
export function isInsufficientFunds(err: unknown): boolean {
  const text = errorText(err);
  return /INSUFFICIENT_FUNDS|insufficient funds|doesn'?t have enough funds/i.test(text) && !/execution reverted/i.test(text);
}

async function insufficientFunds(method: string, signer: Signer, provider: Provider | null, err: unknown): Promise<InsufficientFundsError> {
  const address = await signer.getAddress();
  const balance = provider ? await provider.getBalance(address).catch(() => undefined) : undefined;
  const needed = /upfront cost is:?\s*(\d+)/i.exec(errorText(err))?.[1];
  return new InsufficientFundsError(method, address, balance, needed ? BigInt(needed) : undefined);
}

/** Polls for a receipt of any of `hashes`. */
export function pollingReceiptWaiter(pollMs: number = TX_DEFAULTS.pollMs): ReceiptWaiter {
  return async (provider, hashes, timeoutMs) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const h of hashes) {
        const r = await provider.getTransactionReceipt(h).catch(() => null);
        if (r) return r;
      }
      if (Date.now() >= end) return null;
      await new Promise((res) => setTimeout(res, Math.min(pollMs, Math.max(1, end - Date.now()))));
    }
  };
}

/** `x` raised by at least `percent` %, and by at least 1 wei (a 0 tip must grow too). */
export function bumpFee(x: bigint, percent: number): bigint {
  const permille = BigInt(Math.ceil(percent * 10));
  const raised = x + (x * permille + 999n) / 1000n;
  return raised > x ? raised : x + 1n;
}

type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint };

function feesOf(tx: TransactionResponse): Fees {
  if (tx.maxFeePerGas !== null && tx.maxPriorityFeePerGas !== null) return { maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas };
  return { gasPrice: tx.gasPrice };
}

/** The next fees: `percent` above the last ones, and not below what the node asks for now. */
async function bumpedFees(provider: Provider, last: Fees, percent: number): Promise<Fees> {
  const now = await provider.getFeeData().catch(() => undefined);
  const max = (a: bigint, b: bigint | null | undefined) => (b !== null && b !== undefined && b > a ? b : a);
  if ("gasPrice" in last) return { gasPrice: max(bumpFee(last.gasPrice, percent), now?.gasPrice) };
  const maxPriorityFeePerGas = max(bumpFee(last.maxPriorityFeePerGas, percent), now?.maxPriorityFeePerGas);
  let maxFeePerGas = max(bumpFee(last.maxFeePerGas, percent), now?.maxFeePerGas);
  if (maxFeePerGas < maxPriorityFeePerGas) maxFeePerGas = maxPriorityFeePerGas;
  return { maxFeePerGas, maxPriorityFeePerGas };
}

function feeFields(f: Fees): Record<string, string> {
  return "gasPrice" in f ? { gasPrice: f.gasPrice.toString() } : { maxFeePerGas: f.maxFeePerGas.toString(), maxPriorityFeePerGas: f.maxPriorityFeePerGas.toString() };
}

/**
 * Waits for `tx` to be mined. When no receipt comes within the timeout (the node dropped it, e.g. it
 * restarted, or fees rose), the same transaction is re-signed with the SAME nonce and higher fees, so
 * at most one of the copies can ever be mined. Gives up with TxNotMinedError after `resends` copies.
 */
export async function waitMinedOrResend(
  tx: TransactionResponse, method: string, baseSigner: Signer, log: Logger, opts: SendTxOptions = {},
): Promise<TransactionReceipt> {
  const provider = baseSigner.provider;
  if (!provider) throw new Error(`${method}: the signer has no provider`);
  const timeoutMs = opts.waitTimeoutMs ?? TX_DEFAULTS.waitTimeoutMs;
  const resends = opts.resends ?? TX_DEFAULTS.resends;
  const percent = Math.max(12.5, opts.feeBumpPercent ?? TX_DEFAULTS.feeBumpPercent);
  const wait = opts.waitForReceipt ?? pollingReceiptWaiter(opts.pollMs);
  const hashes = [tx.hash];
  let fees = feesOf(tx);
  const started = Date.now();
  for (let resent = 0; ; resent++) {
    const receipt = await wait(provider, hashes, timeoutMs);
    if (receipt) return receipt;
    if (resent >= resends) throw new TxNotMinedError(method, tx.nonce, hashes, Date.now() - started);
    fees = await bumpedFees(provider, fees, percent);
    const replacement: TransactionRequest = {
      to: tx.to, data: tx.data, value: tx.value, gasLimit: tx.gasLimit, nonce: tx.nonce, chainId: tx.chainId, type: tx.type, ...fees,
    };
    try {
      const sent = await baseSigner.sendTransaction(replacement);
      hashes.push(sent.hash);
      log.warn("tx-resent", { method, nonce: tx.nonce, attempt: resent + 1, waitedMs: timeoutMs, hash: sent.hash, ...feeFields(fees) });
    } catch (err) {
      if (isInsufficientFunds(err)) throw await insufficientFunds(method, baseSigner, provider, err);
      if (isNonceTooLow(err)) {
        // One of our copies was mined just now, or someone else used the nonce.
        const late = await wait(provider, hashes, Math.min(timeoutMs, 3000));
        if (late) return late;
        throw new NonceConsumedError(method, tx.nonce);
      }
      log.warn("tx-resend-failed", { method, nonce: tx.nonce, attempt: resent + 1, reason: (err as Error).message?.slice(0, 160) });
    }
  }
}

/**
 * Sends `contract[method](...args)` and waits for its receipt.
 * Reverts (custom errors) are decoded and thrown as TxRevertedError without retry: retrying a
 * refused state change cannot help. An empty wallet throws InsufficientFundsError, also without
 * retry. Transport failures and nonce races are retried with backoff. A transaction that is not
 * mined in `waitTimeoutMs` is resent with the same nonce and higher fees (see waitMinedOrResend).
 */
export async function sendTx(
  contract: Contract,
  signer: NonceManager,
  method: string,
  args: unknown[],
  log: Logger,
  opts: SendTxOptions = {},
): Promise<TransactionReceipt> {
  const attempts = opts.attempts ?? TX_DEFAULTS.attempts;
  for (let attempt = 1; ; attempt++) {
    try {
      const fn = contract.getFunction(method);
      // Head-room: a vote or submission estimated as "not the last one" may be mined as the one that
      // closes the phase (tally, finalization, reputation), which costs more than its estimate.
      const value = opts.value ? { value: opts.value } : {};
      const estimate = await fn.estimateGas(...args, value);
      const gasLimit = estimate * 2n + 400_000n;
      const tx = await fn.send(...args, { ...value, gasLimit: gasLimit > 15_000_000n ? 15_000_000n : gasLimit });
      const receipt = await waitMinedOrResend(tx, method, signer.signer, log, opts);
      if (receipt.status === 0) {
        // Estimated fine but reverted when mined (another transaction changed the state first).
        // Re-run the call to learn the custom error; if it passes now, a plain error lets the caller retry.
        const why = await fn.staticCall(...args, value).then(() => undefined, (err: unknown) => decodeRevert(contract, err));
        if (why) throw new TxRevertedError(method, why.name, why.args);
        throw new Error(`${method} reverted when mined (tx ${receipt.hash}) but would pass now`);
      }
      log.debug("tx-mined", { method, hash: receipt.hash, gas: receipt.gasUsed });
      return receipt;
    } catch (err) {
      if (err instanceof TxRevertedError || err instanceof TxNotMinedError) { signer.reset(); throw err; }
      if (err instanceof InsufficientFundsError) { signer.reset(); throw err; }
      if (isInsufficientFunds(err)) { signer.reset(); throw await insufficientFunds(method, signer, signer.provider, err); }
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
