/**
 * Many view calls to one contract in one JSON-RPC request: the creation code of
 * contracts/lens/DeploylessMulticall.sol is sent as an eth_call without `to`, its constructor makes
 * the calls and returns their results (nothing is deployed). An agent reads its whole round state
 * (task state, round, its own commit / verdict / aggregate, committees, standing) with one call
 * instead of ten, and a round's commits or the peer list with one call instead of one per entry.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { AbiCoder, concat, type Interface, type Provider, type Result } from "ethers";
import { PROJECT_ROOT } from "../lib/paths.ts";

const ARTIFACT = path.join(PROJECT_ROOT, "artifacts/contracts/lens/DeploylessMulticall.sol/DeploylessMulticall.json");

export interface ViewCall {
  /** function name in the target's ABI */
  name: string;
  args: readonly unknown[];
}

export interface MulticallResult {
  blockNumber: number;
  timestamp: number;
  /** decoded outputs (ethers Result) per call; null when that call reverted */
  results: (Result | null)[];
}

let bytecode: string | null | undefined;
/** The lens's creation code, or null when the artifact is not built (callers fall back to single calls). */
export function multicallBytecode(): string | null {
  if (bytecode === undefined) {
    bytecode = existsSync(ARTIFACT) ? (JSON.parse(readFileSync(ARTIFACT, "utf8")) as { bytecode: string }).bytecode : null;
  }
  return bytecode;
}

const coder = AbiCoder.defaultAbiCoder();

/** Runs `calls` on `target` in one eth_call. Throws when the lens is not built or the node refuses. */
export async function multicall(provider: Provider, target: string, iface: Interface, calls: readonly ViewCall[]): Promise<MulticallResult> {
  const code = multicallBytecode();
  if (!code) throw new Error(`multicall lens not built (${path.relative(PROJECT_ROOT, ARTIFACT)}): run "npx hardhat compile"`);
  const encoded = calls.map((c) => iface.encodeFunctionData(c.name, c.args as unknown[]));
  const data = concat([code, coder.encode(["address", "bytes[]"], [target, encoded])]);
  const out = await provider.call({ data });
  const [blockNumber, timestamp, ok, raw] = coder.decode(["uint256", "uint256", "bool[]", "bytes[]"], out);
  return {
    blockNumber: Number(blockNumber), timestamp: Number(timestamp),
    results: calls.map((c, i) => (ok[i] ? iface.decodeFunctionResult(c.name, raw[i]) : null)),
  };
}
