import { readFileSync, existsSync, statSync } from "node:fs";
import path from "node:path";
import {
  Contract, HDNodeWallet, JsonRpcProvider, Network, NonceManager, Wallet, type FeeData, type InterfaceAbi, type JsonRpcPayload, type JsonRpcResult,
  Transaction, type Signer, type TransactionRequest, type TransactionResponse, type TransactionResponseParams,
} from "ethers";

export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
import { PROJECT_ROOT } from "../lib/paths.ts";
export { PROJECT_ROOT };
const ARTIFACT = path.join(PROJECT_ROOT, "artifacts/contracts/FederatedTask.sol/FederatedTask.json");
const DEPLOYMENTS = path.join(PROJECT_ROOT, "ignition/deployments");
export const IGNITION_FUTURE = "FederatedTaskModule#FederatedTask";

export class ChainSetupError extends Error {
  constructor(message: string) { super(message); this.name = "ChainSetupError"; }
}

/** ABI of FederatedTask from Hardhat's artifacts (built by `./peerfl setup` / `hardhat compile`). */
export function loadTaskArtifact(): { abi: InterfaceAbi; bytecode: string } {
  if (!existsSync(ARTIFACT)) {
    throw new ChainSetupError(`contract artifact missing (${path.relative(process.cwd(), ARTIFACT)}): run "./peerfl setup" or "npx hardhat compile"`);
  }
  const json = JSON.parse(readFileSync(ARTIFACT, "utf8")) as { abi: InterfaceAbi; bytecode: string };
  return { abi: json.abi, bytecode: json.bytecode };
}

/** Contract address recorded by Ignition for `chainId`, or undefined. */
export function ignitionAddress(chainId: bigint | number, deploymentsDir = DEPLOYMENTS): string | undefined {
  const file = path.join(deploymentsDir, `chain-${chainId}`, "deployed_addresses.json");
  if (!existsSync(file)) return undefined;
  const map = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  return map[IGNITION_FUTURE];
}

/** Asks the node for its chain id with a plain fetch, so a dead node gives one clear error. */
export async function probeChainId(rpcUrl: string, timeoutMs = 5000): Promise<bigint> {
  let res: Response;
  try {
    res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new ChainSetupError(`chain node unreachable at ${rpcUrl}: ${err instanceof Error ? (err.cause as Error | undefined)?.message ?? err.message : String(err)}`);
  }
  const body = (await res.json()) as { result?: string; error?: { message: string } };
  if (!body.result) throw new ChainSetupError(`chain node at ${rpcUrl} answered eth_chainId with an error: ${body.error?.message ?? res.status}`);
  return BigInt(body.result);
}

/** A JSON-RPC provider that counts what it sends: every call (batch entries each) and every HTTP request. */
export class CountingJsonRpcProvider extends JsonRpcProvider {
  private calls = 0;
  private httpRequests = 0;
  private readonly byMethod: Record<string, number> = {};

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    this.httpRequests++;
    for (const p of Array.isArray(payload) ? payload : [payload]) {
      this.calls++;
      this.byMethod[p.method] = (this.byMethod[p.method] ?? 0) + 1;
    }
    return super._send(payload);
  }

  private fees?: { at: number; data: Promise<FeeData> };

  /**
   * Fee data (3 calls: latest block, gas price, priority fee) is reused for FEE_DATA_TTL_MS (a
   * minute): ethers prices maxFeePerGas at twice the base fee, which a base fee rising 12.5 % per
   * full block takes 6 full blocks in a row to outgrow; a transaction that is not mined anyway is
   * resent with higher fees (chain/tx.ts).
   */
  override getFeeData(): Promise<FeeData> {
    if (this.fees && Date.now() - this.fees.at < FEE_DATA_TTL_MS) return this.fees.data;
    const data = super.getFeeData();
    const entry = { at: Date.now(), data };
    this.fees = entry;
    data.catch(() => { if (this.fees === entry) this.fees = undefined; });
    return data;
  }

  private lastBlockNumber?: number;

  override async getBlockNumber(): Promise<number> {
    const n = await super.getBlockNumber();
    this.lastBlockNumber = n;
    return n;
  }

  /**
   * ethers asks the node for the block number on every broadcast, only as the block from which
   * TransactionResponse.wait() would look for a replacement; the last block number this provider
   * saw serves that purpose (peerfl waits for receipts itself: chain/tx.ts).
   */
  override async broadcastTransaction(signedTx: string): Promise<TransactionResponse> {
    const network = await this.getNetwork();
    const hash = String(await this._perform({ method: "broadcastTransaction", signedTransaction: signedTx }));
    const tx = Transaction.from(signedTx);
    if (tx.hash !== hash) throw new Error(`the node returned hash ${hash} for transaction ${tx.hash}`);
    const from = this.lastBlockNumber ?? (await this.getBlockNumber());
    return this._wrapTransactionResponse(tx as unknown as TransactionResponseParams, network).replaceableTransaction(from);
  }

  /** Totals since this provider was made (callers diff two readings for a period). */
  rpcStats(): { calls: number; httpRequests: number; byMethod: Record<string, number> } {
    return { calls: this.calls, httpRequests: this.httpRequests, byMethod: { ...this.byMethod } };
  }
}

const FEE_DATA_TTL_MS = 60_000;

/**
 * ethers' NonceManager lets the wallet fill in a nonce from the node (eth_getTransactionCount), then
 * overwrites it with its own count: this one hands the wallet its own count first, saving the call.
 */
export class LeanNonceManager extends NonceManager {
  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    return super.sendTransaction(tx.nonce == null ? { ...tx, nonce: await this.getNonce("pending") } : tx);
  }
}

/** A provider that does not cache calls (ethers' 250 ms cache reuses stale nonces under automine). */
export function makeProvider(rpcUrl: string, chainId: bigint): CountingJsonRpcProvider {
  // polling: subscriptions poll eth_getLogs instead of installing eth_newFilter filters, which a
  // restarted node forgets (every event listener would then fail until the process restarts).
  // Agents use it only while their pushed event stream (chain/event-stream.ts) is down.
  return new CountingJsonRpcProvider(rpcUrl, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1, pollingInterval: 1000, polling: true });
}

/** Chain id of Hardhat's and Anvil's local development chains: the only one the public dev keys may sign for. */
export const DEV_CHAIN_ID = 31337n;
/** The contract's peer limit (PeerRegistry.MAX_PEERS). */
export const MAX_PEERS = 256;

let hardhatRoot: HDNodeWallet | undefined;
/** Hardhat's well-known development account `index` (never a real secret). */
export function hardhatAccount(index: number): HDNodeWallet {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`Hardhat account index must be an integer >= 0, got ${index}`);
  // Derive the parent once: fromPhrase runs PBKDF2, deriving a child is cheap.
  hardhatRoot ??= HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, "m/44'/60'/0'/0");
  return hardhatRoot.deriveChild(index);
}

let devAddresses: Set<string> | undefined;
/** Is `address` one of the first MAX_PEERS + 1 accounts of the public Hardhat mnemonic? */
export function isHardhatDevAddress(address: string): boolean {
  devAddresses ??= new Set(Array.from({ length: MAX_PEERS + 1 }, (_, i) => hardhatAccount(i).address.toLowerCase()));
  return devAddresses.has(address.toLowerCase());
}

/** Where a signing key came from (the key policy and the log name it by this). */
export type KeySource = "hardhat-account" | "private-key-flag" | "env" | "key-file";

/** A key that must not sign on this chain, or a key file others can read. */
export class KeyPolicyError extends Error {
  constructor(message: string) { super(message); this.name = "KeyPolicyError"; }
}

/**
 * Refuses the public Hardhat development keys (by --account, or a private key that is one of them)
 * on any chain but the local development chain 31337: everyone knows them, funds sent there are lost.
 */
export function checkKeyPolicy(o: { chainId: bigint | number; source: KeySource; address: string }): void {
  const chainId = BigInt(o.chainId);
  if (chainId === DEV_CHAIN_ID) return;
  if (o.source === "hardhat-account") {
    throw new KeyPolicyError(`refusing the public Hardhat development account ${o.address} on chain ${chainId}: `
      + `its key is published (mnemonic "test test ... junk") and is only allowed on a local chain (id ${DEV_CHAIN_ID}); `
      + `give this peer its own key with --key-file PATH or PEERFL_PRIVATE_KEY`);
  }
  if (isHardhatDevAddress(o.address)) {
    throw new KeyPolicyError(`refusing key of ${o.address} on chain ${chainId}: it is a public Hardhat development key, `
      + `only allowed on a local chain (id ${DEV_CHAIN_ID})`);
  }
}

/**
 * Reads a private key (64 hex digits, optional 0x, surrounding whitespace ignored) from `file`.
 * Refuses a file that group or others may read or write: chmod 600 it.
 */
export function readKeyFile(file: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    throw new KeyPolicyError(`--key-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if ((mode & 0o077) !== 0) {
    throw new KeyPolicyError(`--key-file ${file} has mode ${(mode & 0o777).toString(8).padStart(4, "0")}: group and others must have no access; run "chmod 600 ${file}"`);
  }
  const key = readFileSync(file, "utf8").trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) throw new KeyPolicyError(`--key-file ${file} must hold one private key: 64 hex digits, optionally 0x-prefixed`);
  return key.startsWith("0x") ? key : `0x${key}`;
}

export interface TaskConnection {
  provider: JsonRpcProvider;
  signer: NonceManager;
  address: string;
  task: Contract;
  chainId: bigint;
  /** The node's JSON-RPC URL: when set, the TaskChain subscribes to pushed events over its ws:// twin. */
  rpcUrl?: string;
}

/**
 * Connects a signer to the task contract. Without `privateKey` the signer is Hardhat development
 * account `accountIndex` (default 1), which checkKeyPolicy allows on chain 31337 only.
 */
export async function connectTask(opts: {
  rpcUrl: string; contract?: string; privateKey?: string; accountIndex?: number;
  /** where `privateKey` came from (default "private-key-flag"), for the key policy */
  keySource?: Exclude<KeySource, "hardhat-account">;
}): Promise<TaskConnection> {
  const chainId = await probeChainId(opts.rpcUrl);
  const keyWallet = opts.privateKey ? new Wallet(opts.privateKey) : hardhatAccount(opts.accountIndex ?? 1);
  checkKeyPolicy({ chainId, source: opts.privateKey ? opts.keySource ?? "private-key-flag" : "hardhat-account", address: keyWallet.address });
  const provider = makeProvider(opts.rpcUrl, chainId);
  const contractAddress = opts.contract ?? ignitionAddress(chainId);
  if (!contractAddress) {
    throw new ChainSetupError(`no contract address: pass --contract or deploy with Ignition (ignition/deployments/chain-${chainId}/deployed_addresses.json not found)`);
  }
  const code = await provider.getCode(contractAddress);
  if (code === "0x") throw new ChainSetupError(`no contract deployed at ${contractAddress} on chain ${chainId}`);
  const base: Signer = keyWallet.connect(provider);
  const signer = new LeanNonceManager(base);
  const { abi } = loadTaskArtifact();
  const task = new Contract(contractAddress, abi, signer);
  return { provider, signer, address: await base.getAddress(), task, chainId, rpcUrl: opts.rpcUrl };
}
