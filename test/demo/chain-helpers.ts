// A real `hardhat node` on a free loopback port for the demo/agent tests (not a test file itself),
// started and stopped through the demo's own process management (own process group, killed by group).
import path from "node:path";
import { ContractFactory, type Contract } from "ethers";
import { connectTask, hardhatAccount, loadTaskArtifact, makeProvider, probeChainId, PROJECT_ROOT, type TaskConnection } from "../../node/chain/connect.ts";
import { startProcess, freePort, waitFor, type ManagedProcess } from "../../node/lib/processes.ts";
import { TASK_DEFAULTS } from "../../ignition/modules/federatedTaskModule.ts";

export interface TestChain {
  rpcUrl: string;
  process: ManagedProcess;
  rpc(method: string, params?: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startTestChain(): Promise<TestChain> {
  const port = await freePort(0);
  const rpcUrl = `http://127.0.0.1:${port}`;
  const p = startProcess({
    name: "hardhat-node", cmd: "npx", args: ["hardhat", "node", "--hostname", "127.0.0.1", "--port", String(port)], cwd: PROJECT_ROOT,
    env: { CI: "true", HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0" },
  });
  try {
    await waitFor("the Hardhat node", async () => {
      if (p.child.exitCode !== null) throw new Error(`hardhat node exited: ${p.tail().join("\n")}`);
      return probeChainId(rpcUrl, 1000);
    }, 90_000, 250);
  } catch (err) { await p.stop(); throw err; }
  let id = 0;
  return {
    rpcUrl, process: p,
    async rpc(method, params = []) {
      const res = await fetch(rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }) });
      const body = (await res.json()) as { result?: unknown; error?: { message: string } };
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result;
    },
    stop: () => p.stop(5000),
  };
}

/** Deploys and configures a FederatedTask from account 0 (registration open, task not started). */
export async function deployConfiguredTask(rpcUrl: string): Promise<{ address: string; initiator: TaskConnection }> {
  const chainId = await probeChainId(rpcUrl);
  const provider = makeProvider(rpcUrl, chainId);
  const deployer = hardhatAccount(0).connect(provider);
  const { abi, bytecode } = loadTaskArtifact();
  const task = (await (await new ContractFactory(abi, bytecode, deployer).deploy(deployer.address)).waitForDeployment()) as unknown as Contract;
  const address = await task.getAddress();
  const digest = "12".repeat(32); // binary CIDs (raw CIDv1 and CIDv0) of a dummy digest: the agent never fetches them here
  const config = { ...TASK_DEFAULTS, modelSpecCid: `0x01551220${digest}`, initialModelCid: `0x1220${digest}` };
  await (await task.getFunction("configureTask")(config)).wait();
  provider.destroy();
  return { address, initiator: await connectTask({ rpcUrl, contract: address, accountIndex: 0 }) };
}

export const ROOT = PROJECT_ROOT;
export const CLI = path.join(PROJECT_ROOT, "node/cli.ts");
