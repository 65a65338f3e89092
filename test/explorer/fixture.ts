/**
 * A real chain + real IPFS fixture for the explorer tests: `hardhat node` in its own process group,
 * FederatedTask deployed from its artifact, three peers, and two rounds driven by hand with real
 * content on an embedded IPFS node:
 *   round 1 — honest: everything accepted, two aggregators agree on the honest FedAvg -> audit passes;
 *   round 2 — corrupted: a lying verifier majority rejects commit 0 and the aggregator quorum
 *             finalizes a wrong CID -> audit must report both differences.
 * Plus one mined, reverted transaction (a late aggregate) for the decoded-revert view.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {
  ContractFactory, HDNodeWallet, JsonRpcProvider, Mnemonic, Contract, Transaction, keccak256, zeroPadValue, toBeHex,
  type ContractTransactionResponse, type TransactionReceipt,
} from "ethers";
import { createEmbeddedStore, type EmbeddedStore } from "../../ipfs/embedded-store.ts";
import { encodeModelSpec, encodeWeights, flattenWeights, unflattenWeights } from "../../node/ml/codec.ts";
import type { ModelSpec, ModelWeights } from "../../node/ml/types.ts";
import { CID } from "multiformats/cid";
import { aggregateAccepted, ruleNameOf } from "../../node/protocol/index.ts";
import { federatedTaskArtifact, REPO_ROOT } from "../../explorer/abi.ts";
import { cidToBytes } from "../../explorer/cid.ts";

export const SPEC: ModelSpec = {
  model: "mlp",
  inputShape: [4],
  numClasses: 3,
  tensors: [
    { name: "dense/kernel", shape: [4, 3] },
    { name: "dense/bias", shape: [3] },
  ],
};

export const RULE_ID = 2; // Multi-Krum
export const RULE_PARAM = 1;
const MNEMONIC = "test test test test test test test test test test test junk";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Chain {
  rpcUrl: string;
  provider: JsonRpcProvider;
  stop(): Promise<void>;
}

/** `npx hardhat node` on a free loopback port, in its own process group (stopped by group). */
export async function startHardhatNode(): Promise<Chain> {
  const port = await freePort();
  const rpcUrl = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn("npx", ["hardhat", "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "true", HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0" },
  });
  let output = "";
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once("exit", () => { exited = true; resolve(); }));
  child.stdout?.on("data", (d) => (output += d.toString()));
  child.stderr?.on("data", (d) => (output += d.toString()));
  const stop = async (): Promise<void> => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5000);
    await exitedPromise;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) throw new Error(`hardhat node exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`hardhat node did not answer on ${rpcUrl} within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, staticNetwork: true });
  return {
    rpcUrl,
    provider,
    async stop() {
      provider.destroy();
      await stop();
    },
  };
}

function wallet(index: number, provider: JsonRpcProvider): HDNodeWallet {
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(MNEMONIC), `m/44'/60'/0'/0/${index}`).connect(provider);
}

/** Small deterministic weights: global + scale * pattern(seed). */
export function makeWeights(seed: number, base?: Float32Array, scale = 1): ModelWeights {
  const flat = new Float32Array(15);
  for (let i = 0; i < flat.length; i++) {
    const pattern = Math.sin(seed * 12.9898 + i * 78.233) * 0.5;
    flat[i] = (base ? base[i] : 0) + scale * pattern;
  }
  return unflattenWeights(flat, SPEC);
}

export interface RoundRecord {
  round: number;
  commitCids: string[];
  numSamples: number[];
  finalCid: string;
  honestCid: string;
  txs: { commit: string[]; verdict: string[]; aggregate: string[] };
}

export interface Fixture {
  chain: Chain;
  store: EmbeddedStore;
  contractAddress: string;
  deployer: HDNodeWallet;
  peers: HDNodeWallet[];
  specCid: string;
  initialCid: string;
  rounds: RoundRecord[];
  failedTxHash: string;
  peerMultiaddr: string;
  stop(): Promise<void>;
}

async function mined(tx: Promise<ContractTransactionResponse>): Promise<TransactionReceipt> {
  const receipt = await (await tx).wait();
  if (!receipt || receipt.status !== 1) throw new Error("transaction failed");
  return receipt;
}

/** Deploy, configure, register three peers and run the honest and the corrupted round. */
export async function createFixture(): Promise<Fixture> {
  const artifact = federatedTaskArtifact();
  if (!artifact) throw new Error("artifacts/contracts/FederatedTask.sol/FederatedTask.json is missing: run `npx hardhat compile` first");
  const chain = await startHardhatNode();
  const repoDir = await mkdtemp(path.join(os.tmpdir(), "peerfl-explorer-test-peers-"));
  let store: EmbeddedStore | null = null;
  try {
    store = await createEmbeddedStore({ repoDir, listenPort: 0 });
    const peerMultiaddr = (await store.multiaddrs())[0];
    const deployer = wallet(0, chain.provider);
    const peers = [1, 2, 3].map((i) => wallet(i, chain.provider));

    const factory = new ContractFactory(artifact.abi, artifact.bytecode, deployer);
    const deployed = await factory.deploy(deployer.address);
    await deployed.waitForDeployment();
    const contractAddress = await deployed.getAddress();
    const asPeer = (i: number) => new Contract(contractAddress, artifact.abi, peers[i]);
    const task = new Contract(contractAddress, artifact.abi, deployer);

    const specCid = await store.put(encodeModelSpec(SPEC));
    const initial = makeWeights(1);
    const initialCid = await store.put(encodeWeights(initial));
    await mined(
      task.configureTask({
        modelSpecCid: cidToBytes(specCid),
        initialModelCid: cidToBytes(initialCid),
        rounds: 2,
        trainingDuration: 3600,
        verificationDuration: 3600,
        aggregationDuration: 3600,
        minTrainers: 3,
        aggregatorQuorum: 2,
        robustRule: RULE_ID,
        ruleParam: RULE_PARAM,
        dpClipNormMilli: 0,
        dpNoiseMultiplierMilli: 0,
        dpDeltaExponent: 5,
        dpEpsilonBudgetMilli: 0,
        reputationInitial: 10,
        reputationReward: 1,
        reputationPenalty: 3,
        reputationThreshold: 0,
        reputationMax: 100,
      }),
    );
    for (let i = 0; i < 3; i++) {
      await mined(asPeer(i).registerPeer(7, peerMultiaddr, zeroPadValue(toBeHex(i + 1), 32)));
    }
    await mined(task.startTask());

    const rounds: RoundRecord[] = [];
    let global = flattenWeights(initial);
    let previousGlobal: Float32Array | null = null;
    for (const round of [1, 2]) {
      const corrupted = round === 2;
      const numSamples = [100, 200, 300];
      const updates = [0, 1, 2].map((i) => flattenWeights(makeWeights(10 * round + i, global, 0.02 * (i + 1))));
      const commitCids: string[] = [];
      const txs: RoundRecord["txs"] = { commit: [], verdict: [], aggregate: [] };
      for (let i = 0; i < 3; i++) {
        const cid = await store.put(encodeWeights(unflattenWeights(updates[i], SPEC)));
        commitCids.push(cid);
        txs.commit.push((await mined(asPeer(i).commitUpdate(round, cidToBytes(cid), numSamples[i]))).hash);
      }
      // Honest verifiers accept all three (Multi-Krum with f lowered to 0 for n = 3); in round 2
      // two lying verifiers reject commit 0 and carry the majority.
      const masks = corrupted ? [0b110n, 0b110n, 0b111n] : [0b111n, 0b111n, 0b111n];
      for (let i = 0; i < 3; i++) txs.verdict.push((await mined(asPeer(i).submitVerdict(round, masks[i]))).hash);
      const acceptedOnChain = corrupted ? [1, 2] : [0, 1, 2];
      // The aggregate exactly as the agents and the audit compute it (node/protocol).
      const aggregateOf = (indices: number[]) => aggregateAccepted(
        { rule: ruleNameOf(RULE_ID), ruleParam: RULE_PARAM }, { global, previousGlobal },
        indices.map((i) => ({ cid: CID.parse(commitCids[i]), numSamples: numSamples[i], weights: updates[i] })),
      );
      const honest = aggregateOf(acceptedOnChain);
      const honestCid = await store.put(encodeWeights(unflattenWeights(honest, SPEC)));
      let finalFlat = honest;
      let finalCid = honestCid;
      if (corrupted) {
        // The colluding aggregators average ALL updates, ignoring the accepted mask.
        finalFlat = aggregateOf([0, 1, 2]);
        finalCid = await store.put(encodeWeights(unflattenWeights(finalFlat, SPEC)));
      }
      for (let i = 0; i < 2; i++) {
        txs.aggregate.push((await mined(asPeer(i).submitAggregate(round, cidToBytes(finalCid), 9000 + 100 * round + i, 0))).hash);
      }
      rounds.push({ round, commitCids, numSamples, finalCid, honestCid, txs });
      previousGlobal = global;
      global = finalFlat;
    }

    // A transaction that is mined and reverts: the third aggregator submits after round 1 closed.
    const late = asPeer(2);
    const data = late.interface.encodeFunctionData("submitAggregate", [1, cidToBytes(rounds[0].finalCid), 9000, 0]);
    const nonce = await chain.provider.getTransactionCount(peers[2].address, "pending");
    const fee = await chain.provider.getFeeData();
    const signed = await peers[2].signTransaction(
      Transaction.from({
        to: contractAddress,
        data,
        nonce,
        gasLimit: 300_000n,
        chainId: (await chain.provider.getNetwork()).chainId,
        maxFeePerGas: fee.maxFeePerGas ?? 2_000_000_000n,
        maxPriorityFeePerGas: fee.maxPriorityFeePerGas ?? 1_000_000n,
        type: 2,
      }),
    );
    const failedTxHash = keccak256(signed);
    await chain.provider.send("eth_sendRawTransaction", [signed]).catch(() => undefined);
    const receipt = await chain.provider.getTransactionReceipt(failedTxHash);
    if (!receipt || receipt.status !== 0) throw new Error(`expected a mined, reverted tx ${failedTxHash}, got ${receipt ? `status ${receipt.status}` : "no receipt"}`);

    const s = store;
    return {
      chain,
      store: s,
      contractAddress,
      deployer,
      peers,
      specCid,
      initialCid,
      rounds,
      failedTxHash,
      peerMultiaddr,
      async stop() {
        await s.stop().catch(() => undefined);
        await chain.stop();
        await rm(repoDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await store?.stop().catch(() => undefined);
    await chain.stop();
    await rm(repoDir, { recursive: true, force: true });
    throw error;
  }
}
