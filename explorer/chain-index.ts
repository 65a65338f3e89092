/**
 * An incremental, in-memory index of the chain as far as the explorer needs it: block summaries,
 * every transaction's header, the task contract's transactions (with receipts) and its decoded
 * events. `sync()` catches up from the last indexed block; a restarted chain (head below the index,
 * or a different hash at the last indexed height) resets the index.
 */
import { getAddress, getCreateAddress, type Interface, type JsonRpcProvider, type Log, type TransactionResponse } from "ethers";
import { ChainClient, errorMessage } from "./chain-client.ts";
import { namedArgs, type Plain } from "./values.ts";

export interface BlockSummary {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
  miner: string;
  gasUsed: bigint;
  gasLimit: bigint;
  txHashes: string[];
}

export interface TxSummary {
  hash: string;
  blockNumber: number;
  index: number;
  from: string;
  to: string | null;
  /** Decoded method name when the tx calls the task contract. */
  method: string | null;
}

export interface ContractTx extends TxSummary {
  status: number;
  gasUsed: bigint;
  args: { [key: string]: Plain } | null;
  /** Round the tx acted on: its `round` argument, else the round of its first round event. */
  round: number | null;
  timestamp: number;
}

export interface ContractEvent {
  name: string;
  args: { [key: string]: Plain };
  blockNumber: number;
  txHash: string;
  logIndex: number;
  timestamp: number;
  round: number | null;
}

export interface IndexStatus {
  head: number | null;
  indexedTo: number;
  contractDeployed: boolean;
  lastError: string | null;
}

export class ChainIndex {
  readonly blocks = new Map<number, BlockSummary>();
  readonly txs = new Map<string, TxSummary>();
  readonly contractTxs = new Map<string, ContractTx>();
  events: ContractEvent[] = [];
  private indexedTo = -1;
  private head: number | null = null;
  private contractDeployed = false;
  private lastError: string | null = null;
  private syncing: Promise<void> | null = null;
  private readonly contractLower: string | null;

  constructor(
    readonly client: ChainClient,
    readonly iface: Interface,
    readonly contractAddress: string | null,
    private readonly options: { fromBlock?: number; maxBlocksPerSync?: number } = {},
  ) {
    this.contractLower = contractAddress ? contractAddress.toLowerCase() : null;
  }

  status(): IndexStatus {
    return { head: this.head, indexedTo: this.indexedTo, contractDeployed: this.contractDeployed, lastError: this.lastError };
  }

  /** Catch up with the chain. Never throws: failures are recorded in status() / client.status(). */
  sync(): Promise<void> {
    if (!this.syncing) {
      this.syncing = this.doSync()
        .catch((error) => {
          this.lastError = errorMessage(error);
        })
        .finally(() => {
          this.syncing = null;
        });
    }
    return this.syncing;
  }

  private reset(): void {
    this.blocks.clear();
    this.txs.clear();
    this.contractTxs.clear();
    this.events = [];
    this.indexedTo = -1;
  }

  private async doSync(): Promise<void> {
    await this.client.use(async (provider) => {
      const head = await provider.getBlockNumber();
      this.head = head;
      if (this.indexedTo >= 0) {
        const known = this.blocks.get(this.indexedTo);
        const current = head >= this.indexedTo ? await provider.getBlock(this.indexedTo) : null;
        if (!known || !current || current.hash !== known.hash) this.reset();
      }
      if (this.contractAddress) {
        const code = await provider.getCode(this.contractAddress);
        this.contractDeployed = code !== "0x";
      }
      const start = Math.max(this.indexedTo + 1, this.options.fromBlock ?? 0);
      const maxPerSync = this.options.maxBlocksPerSync ?? 2000;
      const end = Math.min(head, start + maxPerSync - 1);
      const chunk = 25;
      for (let from = start; from <= end; from += chunk) {
        const to = Math.min(end, from + chunk - 1);
        await this.indexRange(provider, from, to);
        this.indexedTo = to;
      }
      this.lastError = null;
    });
  }

  private async indexRange(provider: JsonRpcProvider, from: number, to: number): Promise<void> {
    const numbers = Array.from({ length: to - from + 1 }, (_, i) => from + i);
    const blocks = await Promise.all(numbers.map((n) => provider.getBlock(n, true)));
    const contractTxHashes = new Set<string>();
    for (const block of blocks) {
      if (!block) throw new Error("block vanished while indexing");
      this.blocks.set(block.number, {
        number: block.number,
        hash: block.hash ?? "",
        parentHash: block.parentHash,
        timestamp: block.timestamp,
        miner: block.miner,
        gasUsed: block.gasUsed,
        gasLimit: block.gasLimit,
        txHashes: [...block.transactions],
      });
      block.prefetchedTransactions.forEach((tx, index) => {
        const summary = this.txSummary(tx, index);
        this.txs.set(tx.hash, summary);
        if (this.isContract(tx.to)) contractTxHashes.add(tx.hash);
        if (tx.to === null && this.contractLower) {
          const created = getCreateAddressSafe(tx);
          if (created === this.contractLower) contractTxHashes.add(tx.hash);
        }
      });
    }
    let logs: Log[] = [];
    if (this.contractAddress) {
      logs = await provider.getLogs({ address: this.contractAddress, fromBlock: from, toBlock: to });
      for (const log of logs) contractTxHashes.add(log.transactionHash);
    }
    const receipts = await Promise.all([...contractTxHashes].map((h) => provider.getTransactionReceipt(h)));
    const newEvents: ContractEvent[] = [];
    for (const log of logs) {
      const parsed = this.safeParseLog(log);
      if (!parsed) continue;
      const block = this.blocks.get(log.blockNumber);
      const args = namedArgs(parsed.fragment.inputs, parsed.args);
      newEvents.push({
        name: parsed.name,
        args,
        blockNumber: log.blockNumber,
        txHash: log.transactionHash,
        logIndex: log.index,
        timestamp: block?.timestamp ?? 0,
        round: typeof args.round === "number" ? args.round : null,
      });
    }
    newEvents.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    this.events.push(...newEvents);
    for (const receipt of receipts) {
      if (!receipt) continue;
      const summary = this.txs.get(receipt.hash);
      if (!summary) continue;
      const decoded = summary.to && this.isContract(summary.to) ? this.decodeCallOf(receipt.hash) : null;
      const firstRoundEvent = newEvents.find((e) => e.txHash === receipt.hash && e.round !== null);
      const argRound = decoded && typeof decoded.args.round === "number" ? decoded.args.round : null;
      this.contractTxs.set(receipt.hash, {
        ...summary,
        status: receipt.status ?? 0,
        gasUsed: receipt.gasUsed,
        args: decoded?.args ?? null,
        round: argRound ?? firstRoundEvent?.round ?? null,
        timestamp: this.blocks.get(receipt.blockNumber)?.timestamp ?? 0,
      });
    }
  }

  private readonly rawTxData = new Map<string, string>();

  private txSummary(tx: TransactionResponse, index: number): TxSummary {
    let method: string | null = null;
    if (this.isContract(tx.to)) {
      this.rawTxData.set(tx.hash, tx.data);
      method = this.safeParseTx(tx.data)?.name ?? null;
    }
    return { hash: tx.hash, blockNumber: tx.blockNumber ?? 0, index, from: tx.from, to: tx.to, method };
  }

  private decodeCallOf(hash: string): { name: string; args: { [key: string]: Plain } } | null {
    const data = this.rawTxData.get(hash);
    if (!data) return null;
    const parsed = this.safeParseTx(data);
    return parsed ? { name: parsed.name, args: namedArgs(parsed.fragment.inputs, parsed.args) } : null;
  }

  isContract(address: string | null | undefined): boolean {
    return !!address && !!this.contractLower && address.toLowerCase() === this.contractLower;
  }

  safeParseTx(data: string) {
    try {
      return this.iface.parseTransaction({ data });
    } catch {
      return null;
    }
  }

  safeParseLog(log: { topics: readonly string[]; data: string }) {
    try {
      return this.iface.parseLog({ topics: [...log.topics], data: log.data });
    } catch {
      return null;
    }
  }

  // ------------------------------------------------------------------ queries over the index

  eventsNamed(name: string): ContractEvent[] {
    return this.events.filter((e) => e.name === name);
  }

  eventsOfRound(round: number): ContractEvent[] {
    return this.events.filter((e) => e.round === round);
  }

  latestBlocks(count: number, before?: number): BlockSummary[] {
    const top = Math.min(before ?? Infinity, this.indexedTo + 1) - 1;
    const out: BlockSummary[] = [];
    for (let n = top; n >= 0 && out.length < count; n--) {
      const b = this.blocks.get(n);
      if (b) out.push(b);
    }
    return out;
  }

  contractTxList(): ContractTx[] {
    return [...this.contractTxs.values()].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
  }

  txsOfAddress(address: string): TxSummary[] {
    const lower = address.toLowerCase();
    return [...this.txs.values()]
      .filter((t) => t.from.toLowerCase() === lower || (t.to ?? "").toLowerCase() === lower)
      .sort((a, b) => b.blockNumber - a.blockNumber || b.index - a.index);
  }
}

function getCreateAddressSafe(tx: TransactionResponse): string | null {
  try {
    // Deployed address = keccak(rlp(sender, nonce)); ethers computes it for us.
    return getAddress(getCreateAddress({ from: tx.from, nonce: tx.nonce })).toLowerCase();
  } catch {
    return null;
  }
}

