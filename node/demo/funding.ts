/**
 * Gives the demo's peer accounts gas money. Hardhat's node funds only its first 20 development
 * accounts; the demo derives peer i's account from the same public mnemonic and, before any agent
 * starts, sends each account that has less than `minBalanceWei` an `amountWei` transfer from the
 * initiator (account 0).
 */
import { NonceManager, formatEther, parseEther, type Signer, type TransactionResponse } from "ethers";

export const DEFAULT_PEER_FUNDING_WEI = parseEther("10");

/** The initiator cannot pay for the transfers it was asked to make. */
export class FunderTooPoorError extends Error {
  constructor(readonly funder: string, readonly balanceWei: bigint, readonly neededWei: bigint) {
    super(`the funder ${funder} has ${formatEther(balanceWei)} ETH but the peer accounts need ${formatEther(neededWei)} ETH (plus gas)`);
    this.name = "FunderTooPoorError";
  }
}

export interface FundingResult {
  /** accounts that received a transfer */
  funded: string[];
  /** accounts that already had enough */
  alreadyFunded: string[];
  amountWei: bigint;
}

/**
 * Tops up every address whose balance is below `minBalanceWei` (default: `amountWei` / 2) with
 * `amountWei`, from `funder`, and returns once every transfer is mined. Transfers are sent one
 * after another with consecutive nonces (a NonceManager), then all receipts are awaited.
 */
export async function fundAccounts(o: {
  funder: Signer;
  addresses: readonly string[];
  amountWei?: bigint;
  minBalanceWei?: bigint;
  /** per-transfer wait for its receipt (default 60 s) */
  timeoutMs?: number;
}): Promise<FundingResult> {
  const provider = o.funder.provider;
  if (!provider) throw new Error("fundAccounts: the funder signer has no provider");
  const amountWei = o.amountWei ?? DEFAULT_PEER_FUNDING_WEI;
  if (amountWei <= 0n) throw new RangeError(`fundAccounts: amountWei must be > 0, got ${amountWei}`);
  const minBalanceWei = o.minBalanceWei ?? amountWei / 2n;
  const unique = [...new Map(o.addresses.map((a) => [a.toLowerCase(), a])).values()];
  const balances = await Promise.all(unique.map((a) => provider.getBalance(a)));
  const needy = unique.filter((_, k) => balances[k] < minBalanceWei);
  const alreadyFunded = unique.filter((_, k) => balances[k] >= minBalanceWei);
  if (needy.length === 0) return { funded: [], alreadyFunded, amountWei };

  const funderAddress = await o.funder.getAddress();
  const funderBalance = await provider.getBalance(funderAddress);
  const needed = amountWei * BigInt(needy.length);
  if (funderBalance < needed) throw new FunderTooPoorError(funderAddress, funderBalance, needed);

  const signer = o.funder instanceof NonceManager ? o.funder : new NonceManager(o.funder);
  const sent: TransactionResponse[] = [];
  try {
    // Awaiting each send keeps them in nonce order at the node; receipts are awaited together.
    for (const to of needy) sent.push(await signer.sendTransaction({ to, value: amountWei }));
    const timeoutMs = o.timeoutMs ?? 60_000;
    const receipts = await Promise.all(sent.map((tx) => tx.wait(1, timeoutMs)));
    receipts.forEach((r, k) => {
      if (!r || r.status !== 1) throw new Error(`funding transfer to ${needy[k]} failed (tx ${sent[k].hash})`);
    });
  } catch (err) {
    signer.reset();
    throw err;
  }
  return { funded: needy, alreadyFunded, amountWei };
}
