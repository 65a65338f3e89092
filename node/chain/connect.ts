import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import {
  Contract, HDNodeWallet, JsonRpcProvider, Network, NonceManager, Wallet, type InterfaceAbi, type Signer,
} from "ethers";

export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
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

/** A provider that does not cache calls (ethers' 250 ms cache reuses stale nonces under automine). */
export function makeProvider(rpcUrl: string, chainId: bigint): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1, pollingInterval: 250 });
}

/** Hardhat's well-known development account `index` (never a real secret). */
export function hardhatAccount(index: number): HDNodeWallet {
  return HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
}

export interface TaskConnection {
  provider: JsonRpcProvider;
  signer: NonceManager;
  address: string;
  task: Contract;
  chainId: bigint;
}

export async function connectTask(opts: {
  rpcUrl: string; contract?: string; privateKey?: string; accountIndex?: number;
}): Promise<TaskConnection> {
  const chainId = await probeChainId(opts.rpcUrl);
  const provider = makeProvider(opts.rpcUrl, chainId);
  const contractAddress = opts.contract ?? ignitionAddress(chainId);
  if (!contractAddress) {
    throw new ChainSetupError(`no contract address: pass --contract or deploy with Ignition (ignition/deployments/chain-${chainId}/deployed_addresses.json not found)`);
  }
  const code = await provider.getCode(contractAddress);
  if (code === "0x") throw new ChainSetupError(`no contract deployed at ${contractAddress} on chain ${chainId}`);
  const base: Signer = opts.privateKey
    ? new Wallet(opts.privateKey, provider)
    : hardhatAccount(opts.accountIndex ?? 1).connect(provider);
  const signer = new NonceManager(base);
  const { abi } = loadTaskArtifact();
  const task = new Contract(contractAddress, abi, signer);
  return { provider, signer, address: await base.getAddress(), task, chainId };
}
