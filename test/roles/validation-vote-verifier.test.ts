/**
 * The agents' verifier role with validation-vote on an in-process chain (Hardhat's EDR, the real
 * FederatedTask contract) and an in-memory content store: the verifier scores the committed updates
 * on its learner's held-out split and votes out the one that raises its loss, while the public
 * verdict (what the audit recomputes) still accepts it.
 * The task on chain stores robust rule 7 (validation-vote). Lives under test/roles because importing
 * Hardhat loads a chai plugin that breaks float assertions in the unit group (scripts/run-tests.mjs).
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
import type { Learner } from "../../node/ml/learner.ts";
import { initialWeights, modelSpecFor } from "../../node/ml/models.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";
import { encodeUpdate, Phase, roundRulesOf, roundVerdict } from "../../node/protocol/index.ts";
import type { RoleContext } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { fetchUpdates, phaseBudget, roundModels } from "../../node/roles/round-inputs.ts";
import { computeVerdict } from "../../node/roles/verifier.ts";

const spec = modelSpecFor("mlp");
const D = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
const PEERS = 6; // peer 5 sends a sign-flipped update

describe("verifier role with validation-vote (real contract, in-process chain)", function () {
  this.timeout(120_000);
  const lines: string[] = [];
  const log = createLogger({ name: "vote-test", level: "info", write: (l: string) => lines.push(l) });
  let provider: BrowserProvider;
  let chains: TaskChain[];
  let store: MemoryModelStore;
  let global: Float32Array;
  const rng = mulberry32(5);
  const direction = Float32Array.from({ length: D }, () => 0.002 * randomNormal(rng));
  const poison = Float32Array.from({ length: D }, () => randomNormal(rng));
  const poisonNorm = Math.hypot(...poison.subarray(0, 1000)) * Math.sqrt(D / 1000);

  before(async () => {
    const connection = await hre.network.create();
    provider = new BrowserProvider(connection.provider);
    store = new MemoryModelStore();
    global = flattenWeights(initialWeights(spec, 7));
    const specCid = await store.put(encodeModelSpec(spec));
    const initialCid = await store.put(encodeUpdate(global, spec));
    const { abi, bytecode } = loadTaskArtifact();
    const deployer = new NonceManager(new Wallet(hardhatAccount(0).privateKey, provider));
    const contract = (await new ContractFactory(abi, bytecode, deployer).deploy(await deployer.getAddress())) as unknown as Contract;
    await contract.waitForDeployment();
    await (await contract.getFunction("configureTask")({
      ...TASK_DEFAULTS, robustRule: 7, ruleParam: 0, rounds: 1, modelSpecCid: CID.parse(specCid).bytes, initialModelCid: CID.parse(initialCid).bytes,
      trainingDuration: 600, verificationDuration: 600, aggregationDuration: 600, revealDuration: 600,
    })).wait();
    await (await contract.getFunction("admit")(Array.from({ length: PEERS }, (_, i) => hardhatAccount(i + 1).address))).wait();
    chains = [];
    for (let i = 0; i < PEERS; i++) {
      const signer = new NonceManager(new Wallet(hardhatAccount(i + 1).privateKey, provider));
      const conn = { provider: provider as never, signer, address: await signer.getAddress(), task: contract.connect(signer) as Contract, chainId: 31337n };
      const chain = taskChain(conn, log);
      await chain.registerPeer(["trainer", "verifier", "aggregator"], `/ip4/127.0.0.1/tcp/${4101 + i}`, "0x" + String(i + 1).padStart(64, "0"));
      chains.push(chain);
    }
    await (await contract.getFunction("startTask")()).wait();
    // Honest updates: the shared direction plus each peer's own spread (label skew makes it wide);
    // the attacker's spread is a poisoned direction the verifier's held-out data punishes, which
    // geometry alone cannot tell from an honest spread.
    for (let i = 0; i < PEERS; i++) {
      const w = Float32Array.from(global, (g, k) => g + direction[k] + 0.0015 * (i === PEERS - 1 ? poison[k] : randomNormal(rng)));
      await chains[i].commitUpdate(1, CID.parse(await store.put(encodeUpdate(w, spec))), 100);
    }
  });

  after(() => { for (const c of chains ?? []) c.close(); });

  it("votes out the update that raises its held-out loss; the public verdict (the audit's bound) keeps it", async () => {
    const task = await chains[0].taskConfig();
    expect(task.rule).to.equal("validation-vote");
    const round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.VerifyCommit);
    // The verifier's held-out data prefers models that moved along the direction.
    let evaluations = 0;
    const learner: Learner = {
      backend: "none", trainSamples: 90, validationSamples: 10,
      async train() { throw new Error("a verifier does not train here"); },
      async evaluate(w) {
        evaluations++;
        let s = 0, along = 0;
        for (let k = 0; k < D; k++) { s += (w[k] - global[k] - 2 * direction[k]) ** 2; along += ((w[k] - global[k]) * poison[k]) / poisonNorm; }
        return { accuracy: 0, loss: s + 20 * along * along };
      },
      dispose() {},
    };
    const ctx: RoleContext = {
      chain: chains[0], store, log, task, spec, dataIndex: 0, numPeers: PEERS,
      models: modelFetcher({ store, spec, log }), learner: async () => learner, now: () => Date.now() / 1000,
    };
    const verdict = await computeVerdict(ctx, round, 5000);
    const commits = await chains[0].commits(1, PEERS);
    const attacker = commits.findIndex((c) => c.trainer === chains[PEERS - 1].account);
    expect(verdict.privateVote).to.equal(true);
    expect(evaluations).to.equal(PEERS + 1); // the aggregate of all, then one leave-one-out per update
    expect(verdict.accepted[attacker]).to.equal(false);
    expect(verdict.accepted.filter(Boolean)).to.have.length(PEERS - 1);
    expect(verdict.rejections.find((r) => r.index === attacker)?.message).to.match(/validation vote/);
    expect(lines.some((l) => l.includes("validation-vote"))).to.equal(true);

    // What the audit recomputes without private data: the public pre-filter accepts all six.
    const budget = phaseBudget(ctx, round, task.verificationDuration, 5000);
    const publicVerdict = roundVerdict(roundRulesOf(task), await roundModels(ctx, round, budget), await fetchUpdates(ctx, commits, budget));
    expect(publicVerdict.accepted.every(Boolean)).to.equal(true);

    // A verifier running a geometric rule never loads its learner.
    evaluations = 0;
    await computeVerdict({ ...ctx, task: { ...task, rule: "centered-clipping" } }, round, 5000);
    expect(evaluations).to.equal(0);
  });
});
