/**
 * The fixture every role test starts from: the real FederatedTask on Hardhat's in-process EDR chain,
 * its model spec and seeded initial weights in an in-memory content store, Hardhat accounts 1..n
 * admitted and registered as peers. Windows are long (600 s) unless a test says otherwise, so the
 * tests drive every phase change themselves. `start()` is separate because some tests deploy a side
 * contract (PrivacyLedger, SecureAggregation) between registration and the first round.
 */
import { BrowserProvider, ContractFactory, NonceManager, Wallet, type Contract } from "ethers";
import hre from "hardhat";
import { CID } from "multiformats/cid";
import { TASK_DEFAULTS } from "../../ignition/modules/federatedTaskModule.ts";
import type { MemoryModelStore } from "../../ipfs/memory-store.ts";
import { hardhatAccount, loadTaskArtifact, type TaskConnection } from "../../node/chain/connect.ts";
import { taskChain, type TaskChain } from "../../node/chain/task-chain.ts";
import type { Logger } from "../../node/lib/log.ts";
import { encodeModelSpec, flattenWeights } from "../../node/ml/codec.ts";
import { initialWeights } from "../../node/ml/models.ts";
import type { ModelSpec } from "../../node/ml/types.ts";
import type { Learner } from "../../node/ml/learner.ts";
import { deriveSeed, mulberry32 } from "../../node/ml/random.ts";
import { encodeUpdate } from "../../node/protocol/index.ts";
import type { RoleName } from "../../node/protocol/ids.ts";

export interface InProcessTask {
  provider: BrowserProvider;
  contract: Contract;
  deployer: NonceManager;
  /** A connection signing as Hardhat development account `account`. */
  connFor(account: number): Promise<TaskConnection>;
  /** Register accounts 1..count as peers (peer i = account i + 1) and return their TaskChains. */
  registerPeers(count: number, log: Logger, o?: { roles?: RoleName[]; firstPort?: number; publicKeyOf?: (i: number) => string }): Promise<TaskChain[]>;
  start(): Promise<void>;
}

/** Deploy and configure the task (TASK_DEFAULTS + `config`) and admit accounts 1..admitted. */
export async function deployInProcessTask(
  store: MemoryModelStore,
  spec: ModelSpec,
  admitted: number,
  config: Record<string, unknown> & { rounds: number },
): Promise<InProcessTask> {
  const connection = await hre.network.create();
  const provider = new BrowserProvider(connection.provider);
  const specCid = await store.put(encodeModelSpec(spec));
  const initialCid = await store.put(encodeUpdate(flattenWeights(initialWeights(spec, 7)), spec));
  const { abi, bytecode } = loadTaskArtifact();
  const deployer = new NonceManager(new Wallet(hardhatAccount(0).privateKey, provider));
  const contract = (await new ContractFactory(abi, bytecode, deployer).deploy(await deployer.getAddress())) as unknown as Contract;
  await contract.waitForDeployment();
  await (await contract.getFunction("configureTask")({
    ...TASK_DEFAULTS, modelSpecCid: CID.parse(specCid).bytes, initialModelCid: CID.parse(initialCid).bytes,
    trainingDuration: 600, verificationDuration: 600, aggregationDuration: 600, revealDuration: 600,
    ...config,
  })).wait();
  await (await contract.getFunction("admit")(Array.from({ length: admitted }, (_, i) => hardhatAccount(i + 1).address))).wait();

  const connFor = async (account: number): Promise<TaskConnection> => {
    const signer = new NonceManager(new Wallet(hardhatAccount(account).privateKey, provider));
    return { provider: provider as never, signer, address: await signer.getAddress(), task: contract.connect(signer) as Contract, chainId: 31337n };
  };
  return {
    provider, contract, deployer, connFor,
    async registerPeers(count, log, o = {}) {
      const chains: TaskChain[] = [];
      for (let i = 0; i < count; i++) {
        const chain = taskChain(await connFor(i + 1), log);
        const publicKey = o.publicKeyOf?.(i) ?? "0x" + String(i + 1).padStart(64, "0");
        await chain.registerPeer(o.roles ?? ["trainer", "verifier", "aggregator"], `/ip4/127.0.0.1/tcp/${(o.firstPort ?? 4001) + i}`, publicKey);
        chains.push(chain);
      }
      return chains;
    },
    async start() {
      await (await contract.getFunction("startTask")()).wait();
    },
  };
}

/**
 * A deterministic learner without tfjs: each round moves every weight by a small seeded drift.
 * `fail` makes the peer drop out after setup (its train() throws).
 */
export function driftLearner(peer: number, dim: number, o: { samples: number; fail?: boolean }): Learner {
  return {
    backend: "none", trainSamples: o.samples, validationSamples: 10,
    async train(global, opts) {
      if (o.fail) throw new Error("this peer dropped out");
      const rng = mulberry32(deriveSeed(peer, opts.round));
      const w = new Float32Array(dim);
      for (let k = 0; k < dim; k++) w[k] = global[k] + (rng() - 0.5) * 0.02;
      return { weights: w, samples: o.samples, seconds: 0, loss: 0 };
    },
    async evaluate() { return { accuracy: 0.5, loss: 1 }; },
    dispose() {},
  };
}
