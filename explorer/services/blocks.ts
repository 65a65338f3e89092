/** Blocks and transactions: listings from the index, details (decoded call, events, revert) from the node. */
import { isHexString, type TransactionResponse } from "ethers";
import { ChainUnreachableError, errorMessage } from "../chain-client.ts";
import type { BlockSummary, ContractTx, TxSummary } from "../chain-index.ts";
import { namedArgs, type Plain } from "../values.ts";
import { withCidStrings } from "./cid-args.ts";
import type { ExplorerContext } from "./context.ts";
import { NotFoundError } from "./errors.ts";

export interface DecodedError {
  name: string;
  signature: string;
  args: { [key: string]: Plain };
}

export interface TxDetail {
  hash: string;
  blockNumber: number | null;
  timestamp: number | null;
  from: string;
  to: string | null;
  toIsTask: boolean;
  nonce: number;
  value: string;
  gasLimit: string;
  gasPrice: string | null;
  gasUsed: string | null;
  status: "success" | "failed" | "pending";
  method: string | null;
  args: { [key: string]: Plain } | null;
  events: { name: string; args: { [key: string]: Plain }; logIndex: number }[];
  revert: DecodedError | { raw: string } | { message: string } | null;
  input: string;
  round: number | null;
}

export type BlockDetail = BlockSummary & { txs: TxSummary[] };

export class BlockService {
  constructor(private readonly ctx: ExplorerContext) {}

  latestBlocks(count = 20, before?: number): BlockSummary[] {
    return this.ctx.index.latestBlocks(count, before);
  }

  latestContractTxs(count = 15): ContractTx[] {
    return this.ctx.index.contractTxList().slice(-count).reverse();
  }

  /** A block by number or hash: from the index, else from the node. */
  async block(id: string): Promise<BlockDetail> {
    const { index, client } = this.ctx;
    let summary: BlockSummary | undefined;
    if (/^\d+$/.test(id)) summary = index.blocks.get(Number(id));
    else if (isHexString(id, 32)) summary = [...index.blocks.values()].find((b) => b.hash.toLowerCase() === id.toLowerCase());
    else throw new NotFoundError("block", `"${id}" is neither a block number nor a block hash`);
    if (!summary) {
      const fetched = await client.use((p) => p.getBlock(/^\d+$/.test(id) ? Number(id) : id)).catch(() => null);
      if (!fetched) throw new NotFoundError("block", `no block ${id} on this chain (head is ${index.status().head ?? "unknown"})`);
      summary = {
        number: fetched.number,
        hash: fetched.hash ?? "",
        parentHash: fetched.parentHash,
        timestamp: fetched.timestamp,
        miner: fetched.miner,
        gasUsed: fetched.gasUsed,
        gasLimit: fetched.gasLimit,
        txHashes: [...fetched.transactions],
      };
    }
    const found = summary;
    const txs = found.txHashes.map(
      (h, i) => index.txs.get(h) ?? { hash: h, blockNumber: found.number, index: i, from: "", to: null, method: null },
    );
    return { ...found, txs };
  }

  async tx(hash: string): Promise<TxDetail> {
    const { index, client } = this.ctx;
    if (!isHexString(hash, 32)) throw new NotFoundError("transaction", `"${hash}" is not a 32-byte transaction hash`);
    let tx: TransactionResponse | null;
    try {
      tx = await client.use((p) => p.getTransaction(hash));
    } catch (error) {
      if (error instanceof ChainUnreachableError) throw error;
      tx = null;
    }
    if (!tx) throw new NotFoundError("transaction", `no transaction ${hash} on this chain`);
    const receipt = await client.use((p) => p.getTransactionReceipt(hash));
    const toIsTask = index.isContract(tx.to);
    const parsed = toIsTask || this.ctx.contractAddress === null ? index.safeParseTx(tx.data) : null;
    const events = (receipt?.logs ?? [])
      .filter((log) => index.isContract(log.address))
      .map((log) => {
        const p = index.safeParseLog(log);
        return p ? { name: p.name, args: withCidStrings(namedArgs(p.fragment.inputs, p.args)), logIndex: log.index } : null;
      })
      .filter((e): e is { name: string; args: { [key: string]: Plain }; logIndex: number } => e !== null);
    const status = receipt === null ? "pending" : receipt.status === 1 ? "success" : "failed";
    const revert: TxDetail["revert"] = status === "failed" ? await this.replayRevert(tx) : null;
    const block = tx.blockNumber !== null ? index.blocks.get(tx.blockNumber) : undefined;
    const args = parsed ? withCidStrings(namedArgs(parsed.fragment.inputs, parsed.args)) : null;
    return {
      hash: tx.hash,
      blockNumber: tx.blockNumber,
      timestamp: block?.timestamp ?? null,
      from: tx.from,
      to: tx.to,
      toIsTask,
      nonce: tx.nonce,
      value: tx.value.toString(),
      gasLimit: tx.gasLimit.toString(),
      gasPrice: tx.gasPrice?.toString() ?? null,
      gasUsed: receipt?.gasUsed.toString() ?? null,
      status,
      method: parsed?.name ?? null,
      args,
      events,
      revert,
      input: tx.data,
      round: args && typeof args.round === "number" ? args.round : null,
    };
  }

  /** Replays a failed tx with eth_call on the state before its block and decodes the revert data. */
  private async replayRevert(tx: TransactionResponse): Promise<TxDetail["revert"]> {
    const blockTag = tx.blockNumber !== null ? Math.max(0, tx.blockNumber - 1) : "latest";
    try {
      await this.ctx.client.use((p) => p.call({ from: tx.from, to: tx.to, data: tx.data, value: tx.value, gasLimit: tx.gasLimit, blockTag }));
      return { message: "the replay did not revert (the failure depended on state inside its block, or ran out of gas)" };
    } catch (error) {
      const data = revertData(error);
      if (!data || data === "0x") return { message: errorMessage(error) };
      try {
        const decoded = this.ctx.iface.parseError(data);
        if (decoded) return { name: decoded.name, signature: decoded.signature, args: withCidStrings(namedArgs(decoded.fragment.inputs, decoded.args)) };
      } catch {
        // fall through to raw data
      }
      return { raw: data };
    }
  }
}

function revertData(error: unknown): string | null {
  const e = error as { data?: unknown; info?: { error?: { data?: unknown } }; error?: { data?: unknown } } | null;
  const candidates = [e?.data, e?.info?.error?.data, e?.error?.data];
  for (const c of candidates) {
    if (typeof c === "string" && c.startsWith("0x")) return c;
    if (c && typeof c === "object" && typeof (c as { data?: unknown }).data === "string") return (c as { data: string }).data;
  }
  return null;
}
