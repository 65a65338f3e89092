/**
 * A verifier against hostile commits, on the in-process chain with an in-memory store: 30 commits of
 * garbage bytes and one of 50 MB beside two honest updates. Hostile content must cost the verifier at
 * most the model's encoded size per fetch (the 50 MB one is refused before it is buffered) and must
 * not keep it from voting: every hostile commit is rejected with its reason, the honest ones accepted.
 */
import { expect } from "chai";
import { BrowserProvider, ContractFactory, NonceManager, Wallet, type Contract } from "ethers";
import hre from "hardhat";
import { CID } from "multiformats/cid";
import { TASK_DEFAULTS } from "../../ignition/modules/federatedTaskModule.ts";
import { MemoryModelStore } from "../../ipfs/memory-store.ts";
import { hardhatAccount, loadTaskArtifact, type TaskConnection } from "../../node/chain/connect.ts";
import { taskChain, type TaskChain } from "../../node/chain/task-chain.ts";
import { createLogger } from "../../node/lib/log.ts";
import { encodeModelSpec, flattenWeights } from "../../node/ml/codec.ts";
import { initialWeights, modelSpecFor } from "../../node/ml/models.ts";
import { encodeUpdate, maskHas, Phase } from "../../node/protocol/index.ts";
import type { RoleContext } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { computeVerdict } from "../../node/roles/verifier.ts";

const spec = modelSpecFor("mlp");
const log = createLogger({ name: "hostile-test", level: "error", write: () => {} });
const GARBAGE = 30;

class CountingStore extends MemoryModelStore {
  maxReturned = 0;
  override async get(cid: string, options: Parameters<MemoryModelStore["get"]>[1] = {}): Promise<Uint8Array> {
    const bytes = await super.get(cid, options);
    this.maxReturned = Math.max(this.maxReturned, bytes.length);
    return bytes;
  }
}

describe("verifier budget against hostile commits (in-process chain, in-memory store)", function () {
  this.timeout(300_000);
  let provider: BrowserProvider;
  let contract: Contract;
  const chains: TaskChain[] = [];
  const store = new CountingStore();

  const chainFor = async (account: number): Promise<TaskChain> => {
    const signer = new NonceManager(new Wallet(hardhatAccount(account).privateKey, provider));
    const conn: TaskConnection = { provider: provider as never, signer, address: await signer.getAddress(), task: contract.connect(signer) as Contract, chainId: 31337n };
    const chain = taskChain(conn, log);
    chains.push(chain);
    return chain;
  };

  after(() => { for (const c of chains) c.close(); });

  it("rejects 30 garbage commits and a 50 MB commit with their reasons, accepts the honest ones, and buffers at most the model's size", async () => {
    const connection = await hre.network.create();
    provider = new BrowserProvider(connection.provider);
    const global = flattenWeights(initialWeights(spec, 7));
    const specCid = await store.put(encodeModelSpec(spec));
    const initialCid = await store.put(encodeUpdate(global, spec));
    const { abi, bytecode } = loadTaskArtifact();
    const deployer = new NonceManager(new Wallet(hardhatAccount(0).privateKey, provider));
    contract = (await new ContractFactory(abi, bytecode, deployer).deploy(await deployer.getAddress())) as unknown as Contract;
    await contract.waitForDeployment();
    await (await contract.getFunction("configureTask")({
      ...TASK_DEFAULTS, rounds: 1, minTrainers: 2, modelSpecCid: CID.parse(specCid).bytes, initialModelCid: CID.parse(initialCid).bytes,
      trainingDuration: 3600, verificationDuration: 3600, aggregationDuration: 3600, revealDuration: 3600,
    })).wait();
    const accounts = Array.from({ length: GARBAGE + 3 }, (_, i) => i + 1);
    // Hardhat funds its first 20 accounts; fund the rest from the deployer.
    for (const a of accounts.filter((a) => a >= 20)) await (await deployer.sendTransaction({ to: hardhatAccount(a).address, value: 10n ** 19n })).wait();
    await (await contract.getFunction("admit")(accounts.map((a) => hardhatAccount(a).address))).wait();
    const honest = [await chainFor(1), await chainFor(2)];
    for (const [i, c] of honest.entries()) await c.registerPeer(["trainer", "verifier", "aggregator"], `/ip4/127.0.0.1/tcp/${4101 + i}`, "0x" + "11".repeat(32));
    const hostile: TaskChain[] = [];
    for (const a of accounts.slice(2)) {
      const c = await chainFor(a);
      await c.registerPeer(["trainer"], "/ip4/127.0.0.1/tcp/9", "0x" + "22".repeat(32));
      hostile.push(c);
    }
    await (await contract.getFunction("startTask")()).wait();

    // two honest updates, 30 garbage byte strings, one 50 MB blob
    for (const [i, c] of honest.entries()) {
      const w = Float32Array.from(global, (g, k) => g + ((k * 7 + i) % 13 - 6) * 1e-3 + 1e-3);
      await c.commitUpdate(1, CID.parse(await store.put(encodeUpdate(w, spec))), 100);
    }
    for (let g = 0; g < GARBAGE; g++) {
      await hostile[g].commitUpdate(1, CID.parse(await store.put(new TextEncoder().encode(`garbage ${g} `.repeat(1 + g * 50)))), 100);
    }
    const huge = new Uint8Array(50 << 20);
    await hostile[GARBAGE].commitUpdate(1, CID.parse(await store.put(huge)), 100);

    const round = await honest[0].round(1);
    expect(round.phase).to.equal(Phase.VerifyCommit);
    expect(round.commitCount).to.equal(GARBAGE + 3);
    const task = await honest[0].taskConfig();
    const models = modelFetcher({ store, spec, log, concurrency: 4 });
    const ctx: RoleContext = {
      chain: honest[0], store, log, task, spec, dataIndex: 0, numPeers: 2, models,
      learner: async () => { throw new Error("a verifier needs no learner"); }, now: () => Date.now() / 1000,
    };
    const verdict = await computeVerdict(ctx, round, 5000);
    const commits = await honest[0].commits(1, round.commitCount);
    for (const c of commits) {
      const isHonest = c.trainer === honest[0].account || c.trainer === honest[1].account;
      expect(maskHas(verdict.mask, c.index), `commit ${c.index}`).to.equal(isHonest);
    }
    const codes = verdict.rejections.map((r) => r.code);
    expect(codes.filter((c) => c === "bad-encoding")).to.have.length(GARBAGE + 1);
    expect(verdict.rejections.find((r) => /larger than the model/.test(r.message)), "the 50 MB commit refused by size").to.not.equal(undefined);
    // The cap: nothing larger than the model's exact encoded size was ever handed to the verifier.
    expect(store.maxReturned).to.equal(models.maxBytes);
    // Only what decodes is cached: the global model and the two honest updates.
    expect(models.cachedCount).to.equal(3);
  });
});
