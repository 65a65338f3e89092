/**
 * JSON-RPC access for the explorer: an ethers JsonRpcProvider created once the node answers
 * (so a node that is down at start-up does not make ethers retry forever), with short request
 * timeouts, and a reachability flag the pages show as a banner.
 */
import { FetchRequest, JsonRpcProvider, Network } from "ethers";

export class ChainUnreachableError extends Error {
  constructor(readonly rpcUrl: string, cause: unknown) {
    super(`chain unreachable at ${rpcUrl}: ${errorMessage(cause)}`);
    this.name = "ChainUnreachableError";
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return (error as { shortMessage?: string }).shortMessage ?? error.message;
  return String(error);
}

export interface ChainStatus {
  reachable: boolean;
  rpcUrl: string;
  chainId: number | null;
  lastError: string | null;
}

export class ChainClient {
  private provider: JsonRpcProvider | null = null;
  private chainId: number | null = null;
  private lastError: string | null = null;
  private reachable = false;

  constructor(readonly rpcUrl: string, private readonly timeoutMs = 5000) {}

  status(): ChainStatus {
    return { reachable: this.reachable, rpcUrl: this.rpcUrl, chainId: this.chainId, lastError: this.lastError };
  }

  /** The provider, connecting first if needed. Throws ChainUnreachableError when the node does not answer. */
  async getProvider(): Promise<JsonRpcProvider> {
    if (this.provider) return this.provider;
    try {
      const chainIdHex = (await this.rawCall("eth_chainId", [])) as string;
      this.chainId = Number(BigInt(chainIdHex));
      const request = new FetchRequest(this.rpcUrl);
      request.timeout = this.timeoutMs;
      this.provider = new JsonRpcProvider(request, Network.from(this.chainId), {
        staticNetwork: true,
        cacheTimeout: -1,
        batchMaxCount: 50,
      });
      this.markReachable();
      return this.provider;
    } catch (error) {
      throw this.markUnreachable(error);
    }
  }

  /** Run `fn` with the provider; connection failures flip the reachability flag. */
  async use<T>(fn: (provider: JsonRpcProvider) => Promise<T>): Promise<T> {
    const provider = await this.getProvider();
    try {
      const result = await fn(provider);
      this.markReachable();
      return result;
    } catch (error) {
      if (isConnectionError(error)) throw this.markUnreachable(error);
      throw error;
    }
  }

  /** A plain JSON-RPC call with a timeout, independent of ethers (used to probe the node). */
  async rawCall(method: string, params: unknown[]): Promise<unknown> {
    const response = await fetch(this.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const body = (await response.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  }

  markReachable(): void {
    this.reachable = true;
    this.lastError = null;
  }

  markUnreachable(error: unknown): ChainUnreachableError {
    this.reachable = false;
    this.lastError = errorMessage(error);
    return error instanceof ChainUnreachableError ? error : new ChainUnreachableError(this.rpcUrl, error);
  }

  async close(): Promise<void> {
    this.provider?.destroy();
    this.provider = null;
  }
}

/** True for errors that mean "the node did not answer" rather than "the call reverted". */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof ChainUnreachableError) return true;
  const e = error as { code?: string; message?: string; cause?: unknown } | null;
  if (!e) return false;
  if (e.code === "TIMEOUT" || e.code === "NETWORK_ERROR" || e.code === "SERVER_ERROR") return true;
  const text = `${e.message ?? ""} ${errorMessage(e.cause ?? "")}`;
  return /ECONNREFUSED|ECONNRESET|fetch failed|socket hang up|EPIPE|ETIMEDOUT|aborted/i.test(text);
}
