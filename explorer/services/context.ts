/**
 * What every explorer service shares: the chain client, the task ABI and address, the event index
 * and IPFS access. Built once by the composition root (../service.ts) and injected.
 */
import { Contract, type Interface } from "ethers";
import type { ChainClient } from "../chain-client.ts";
import type { ChainIndex } from "../chain-index.ts";
import type { ExplorerContent } from "../content.ts";

export interface ExplorerContext {
  readonly client: ChainClient;
  readonly iface: Interface;
  readonly contractAddress: string | null;
  readonly index: ChainIndex;
  readonly content: ExplorerContent;
  /** How long one IPFS fetch may take (ms). */
  readonly cidTimeoutMs: number;
}

/** A contract view call; null when there is no contract, it is not deployed, or the chain fails. */
export async function contractView<T>(ctx: ExplorerContext, fn: (task: Contract) => Promise<T>): Promise<T | null> {
  if (!ctx.contractAddress) return null;
  try {
    const provider = await ctx.client.getProvider();
    if (!ctx.index.status().contractDeployed) return null;
    const task = new Contract(ctx.contractAddress, ctx.iface, provider);
    return await ctx.client.use(() => fn(task));
  } catch {
    return null;
  }
}
