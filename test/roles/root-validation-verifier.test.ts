/**
 * The agents' verifier role with root-validation on an in-process chain (Hardhat's EDR, the real
 * FederatedTask contract, robust rule 8) and an in-memory content store: the verifier fetches the task's
 * public root set by the CID in the model spec and scores the updates on it; two verifiers reach the same
 * mask (the verdict is deterministic, so the audit can recompute it); a root set that is not one is a
 * clear logged error and the verifier still commits the public pre-filter's verdict (the round goes on).
 * Lives under test/roles because importing Hardhat loads a chai plugin that breaks float assertions in
 * the unit group (scripts/run-tests.mjs).
 */
import { expect } from "chai";
import { BrowserProvider, ContractFactory, NonceManager, Wallet, type Contract } from "ethers";
import hre from "hardhat";
import { CID } from "multiformats/cid";
import { TASK_DEFAULTS } from "../../ignition/modules/federatedTaskModule.ts";
import { MemoryModelStore } from "../../ipfs/memory-store.ts";
import { hardhatAccount, loadTaskArtifact } from "../../node/chain/connect.ts";
import { taskChain, type TaskChain } from "../../node/chain/task-chain.ts";
import { createLogger } from "../../node/lib/log.ts";
import { encodeModelSpec, flattenWeights } from "../../node/ml/codec.ts";
import { initialWeights, modelSpecFor } from "../../node/ml/models.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";
import { buildRootSet } from "../../node/ml/root-set.ts";
import type { ModelSpec } from "../../node/ml/types.ts";
import { encodeUpdate, Phase } from "../../node/protocol/index.ts";
import type { RoleContext } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { computeVerdict } from "../../node/roles/verifier.ts";

const PEERS = 5;

async function taskWithSpec(store: MemoryModelStore, spec: ModelSpec, log: ReturnType<typeof createLogger>): Promise<{ chains: TaskChain[]; global: Float32Array }> {
  const connection = await hre.network.create();
  const provider = new BrowserProvider(connection.provider);
  const global = flattenWeights(initialWeights(spec, 7));
  const specCid = await store.put(encodeModelSpec(spec));
  const initialCid = await store.put(encodeUpdate(global, spec));
  const { abi, bytecode } = loadTaskArtifact();
  const deployer = new NonceManager(new Wallet(hardhatAccount(0).privateKey, provider));
  const contract = (await new ContractFactory(abi, bytecode, deployer).deploy(await deployer.getAddress())) as unknown as Contract;
  await contract.waitForDeployment();
  await (await contract.getFunction("configureTask")({
    ...TASK_DEFAULTS, robustRule: 8, ruleParam: 0, rounds: 1, modelSpecCid: CID.parse(specCid).bytes, initialModelCid: CID.parse(initialCid).bytes,
    trainingDuration: 600, verificationDuration: 600, aggregationDuration: 600, revealDuration: 600,
  })).wait();
  await (await contract.getFunction("admit")(Array.from({ length: PEERS }, (_, i) => hardhatAccount(i + 1).address))).wait();
  const chains: TaskChain[] = [];
  for (let i = 0; i < PEERS; i++) {
    const signer = new NonceManager(new Wallet(hardhatAccount(i + 1).privateKey, provider));
    const conn = { provider: provider as never, signer, address: await signer.getAddress(), task: contract.connect(signer) as Contract, chainId: 31337n };
    const chain = taskChain(conn, log);
    await chain.registerPeer(["trainer", "verifier", "aggregator"], `/ip4/127.0.0.1/tcp/${4201 + i}`, "0x" + String(i + 1).padStart(64, "0"));
    chains.push(chain);
  }
  await (await contract.getFunction("startTask")()).wait();
  const rng = mulberry32(9);
  for (let i = 0; i < PEERS; i++) {
    const w = Float32Array.from(global, (g) => g + 0.002 * randomNormal(rng));
    await chains[i].commitUpdate(1, CID.parse(await store.put(encodeUpdate(w, spec))), 100);
  }
  return { chains, global };
}

describe("verifier role with root-validation (real contract, in-process chain)", function () {
  this.timeout(180_000);
  const lines: string[] = [];
  const log = createLogger({ name: "root-test", level: "info", write: (l: string) => lines.push(l) });
  const opened: TaskChain[] = [];
  after(() => { for (const c of opened) c.close(); });

  const ctxFor = async (chain: TaskChain, store: MemoryModelStore, spec: ModelSpec): Promise<RoleContext> => ({
    chain, store, log, task: await chain.taskConfig(), spec, dataIndex: 0, numPeers: PEERS,
    models: modelFetcher({ store, spec, log }), learner: async () => { throw new Error("root-validation needs no learner"); }, now: () => Date.now() / 1000,
  });

  it("scores on the root set named by the spec, and two verifiers commit the same mask", async () => {
    const store = new MemoryModelStore();
    const root = buildRootSet("mnist", { peers: PEERS, partition: { kind: "dirichlet", alpha: 0.1 }, partitionSeed: 42, maxSamples: 200, perClass: 10, seed: 7 });
    const spec = { ...modelSpecFor("mlp"), rootSet: await store.put(root.bytes) };
    const { chains } = await taskWithSpec(store, spec, log);
    opened.push(...chains);
    const round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.VerifyCommit);
    const ctx0 = await ctxFor(chains[0], store, spec);
    expect(ctx0.task.rule).to.equal("root-validation");
    const a = await computeVerdict(ctx0, round, 5000);
    const b = await computeVerdict(await ctxFor(chains[1], store, spec), round, 5000);
    expect(a.rootVote).to.equal(true);
    expect(b.mask).to.equal(a.mask);
    expect(lines.some((l) => l.includes("root-validation") && l.includes("scores")), lines.join("\n")).to.equal(true);
    expect(lines.some((l) => l.includes("root-set-unavailable"))).to.equal(false);
  });

  it("a root set that is not one: clear logged error, and the verifier still judges with the public pre-filter", async () => {
    const store = new MemoryModelStore();
    const spec = { ...modelSpecFor("mlp"), rootSet: await store.put(new Uint8Array([1, 2, 3, 4])) };
    const { chains } = await taskWithSpec(store, spec, log);
    opened.push(...chains);
    const round = await chains[0].round(1);
    lines.length = 0;
    const verdict = await computeVerdict(await ctxFor(chains[0], store, spec), round, 5000);
    expect(verdict.accepted.every(Boolean), "the pre-filter accepts five similar updates").to.equal(true);
    const error = lines.find((l) => l.includes("root-set-unavailable"));
    expect(error, "logged").to.be.a("string");
    expect(error).to.match(/is invalid: root set: not a peerfl root set \(bad magic\)/);
  });
});
