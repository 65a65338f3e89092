/**
 * `npm run bench:secagg`: private rounds (secure aggregation) against plain rounds, same peers, same
 * data, same seeds. For 5, 10 and 20 peers, with 0 % and 30 % of the trainers vanishing right after
 * they commit (before anything is unmasked).
 *
 * What runs: the real role code (node/roles + node/secagg/roles.ts) against the real FederatedTask and
 * SecureAggregation contracts on Hardhat's in-process EDR chain, an in-memory content store, and real
 * tfjs training on MNIST shards (the agents' own Learner). All peers run in ONE process, so
 * `roundSeconds` / `plainRoundSeconds` are the wall time of a round with every peer's work done on
 * this machine one after another (training dominates both; the private overhead is setup, masking,
 * reveals and each committee member's unmasking). Committees of 3 verifiers and 3 aggregators in both
 * modes; the vanishing peers are trainers only.
 *
 *   expansion     = bytes a trainer publishes in a private round (masked update + setup bundle +
 *                   reveal bundle) / bytes it publishes in a plain round (its float32 update)
 *   accuracy      = MNIST test accuracy of the private task's final global model; plainAccuracy the same
 *
 * Writes bench/results/secagg.json exactly as {"rows": [...]} and bench/results/secagg-detail.json
 * (method, parameters, per-mode bytes, load average). `--quick`: 1 round and 300 samples per peer;
 * `--peers 5,10`: a subset of the peer counts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { BrowserProvider, ContractFactory, NonceManager, Wallet, type Contract } from "ethers";
import hre from "hardhat";
import { CID } from "multiformats/cid";
import { x25519 } from "@noble/curves/ed25519.js";
import { TASK_DEFAULTS } from "../ignition/modules/federatedTaskModule.ts";
import { MemoryModelStore } from "../ipfs/memory-store.ts";
import type { ModelStore } from "../ipfs/model-store.ts";
import { hardhatAccount, loadTaskArtifact, type TaskConnection } from "../node/chain/connect.ts";
import { taskChain, type RoundState, type TaskChain } from "../node/chain/task-chain.ts";
import { createLogger } from "../node/lib/log.ts";
import { encodeModelSpec, flattenWeights, unflattenWeights } from "../node/ml/codec.ts";
import { loadDataset } from "../node/ml/datasets.ts";
import { createLearner, learnerSeed, type Learner } from "../node/ml/learner.ts";
import { createModel, initialWeights, modelSpecFor } from "../node/ml/models.ts";
import { evaluate, setWeights } from "../node/ml/train.ts";
import { decodeUpdate, encodeUpdate, Phase } from "../node/protocol/index.ts";
import { revealAggregator, runAggregator } from "../node/roles/aggregator.ts";
import type { RoleContext } from "../node/roles/context.ts";
import { modelFetcher } from "../node/roles/models.ts";
import { RevealStore } from "../node/roles/reveals.ts";
import { runTrainer } from "../node/roles/trainer.ts";
import { revealVerifier, runVerifier } from "../node/roles/verifier.ts";
import { deploySecureAggregation, secAggWriter } from "../node/secagg/chain.ts";
import { privateDemoConfig } from "../node/secagg/demo-config.ts";
import { revealPrivateShares, runPrivateTrainer, type SecAggRoleContext } from "../node/secagg/roles.ts";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 1 : 2;
const MAX_SAMPLES = quick ? 300 : 1000;
const peersFlag = process.argv.indexOf("--peers");
const PEERS = peersFlag > 0 ? process.argv[peersFlag + 1].split(",").map(Number) : [5, 10, 20];
const DROPOUTS = [0, 0.3];
const COMMITTEE = 3;
const spec = modelSpecFor("mlp");
const log = createLogger({ name: "bench-secagg", level: "error", write: () => {} });

/** A store view that counts the bytes one peer publishes (what it would upload). */
function countingStore(inner: MemoryModelStore): { store: ModelStore; published: () => number } {
  let bytes = 0;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "put") return async (b: Uint8Array, o?: unknown) => { bytes += b.length; return target.put(b, o as never); };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as unknown as ModelStore;
  return { store, published: () => bytes };
}

const test = loadDataset("mnist", "test");
const evalModel = createModel(spec, 0);
const accuracyOf = async (w: Float32Array) => { setWeights(evalModel, unflattenWeights(w, spec)); return evaluate(evalModel, test).accuracy; };

interface RunResult { roundSeconds: number; accuracy: number; trainerBytes: number; finalized: number }

async function run(peers: number, dropout: number, mode: "plain" | "private", learners: Learner[]): Promise<RunResult> {
  const provider = new BrowserProvider((await hre.network.create()).provider);
  const shared = new MemoryModelStore();
  const specCid = await shared.put(encodeModelSpec(spec));
  const initialCid = await shared.put(encodeUpdate(flattenWeights(initialWeights(spec, 7)), spec));
  const { abi, bytecode } = loadTaskArtifact();
  const deployer = new NonceManager(new Wallet(hardhatAccount(0).privateKey, provider));
  const contract = (await new ContractFactory(abi, bytecode, deployer).deploy(await deployer.getAddress())) as unknown as Contract;
  await contract.waitForDeployment();
  await (await contract.getFunction("configureTask")({
    ...TASK_DEFAULTS, rounds: ROUNDS, modelSpecCid: CID.parse(specCid).bytes, initialModelCid: CID.parse(initialCid).bytes,
    trainingDuration: 3600, verificationDuration: 3600, aggregationDuration: 3600, revealDuration: 3600,
    robustRule: 0, ruleParam: 0, verifierCommitteeSize: COMMITTEE, aggregatorCommitteeSize: COMMITTEE, minTrainers: 2,
  })).wait();
  await (await contract.getFunction("admit")(Array.from({ length: peers }, (_, i) => hardhatAccount(i + 1).address))).wait();
  const drops = Math.floor(dropout * peers);
  // Vanishing peers spread evenly over the ring (every neighbourhood keeps a majority).
  const dropped = new Set(Array.from({ length: drops }, (_, j) => Math.floor(((j + 0.5) * peers) / drops)));
  const signers = Array.from({ length: peers }, (_, i) => new NonceManager(new Wallet(hardhatAccount(i + 1).privateKey, provider)));
  // The in-process chain funds only its first 20 accounts: fund the others from the deployer.
  for (let i = 19; i < peers; i++) await (await deployer.sendTransaction({ to: await signers[i].getAddress(), value: 10n ** 19n })).wait();
  const chains: TaskChain[] = [];
  const keys: Uint8Array[] = [];
  for (let i = 0; i < peers; i++) {
    const conn: TaskConnection = { provider: provider as never, signer: signers[i], address: await signers[i].getAddress(), task: contract.connect(signers[i]) as Contract, chainId: 31337n };
    const chain = taskChain(conn, log);
    const sk = x25519.utils.randomSecretKey();
    keys.push(sk);
    await chain.registerPeer(dropped.has(i) ? ["trainer"] : ["trainer", "verifier", "aggregator"], `/ip4/127.0.0.1/tcp/${4001 + i}`, "0x" + Buffer.from(x25519.getPublicKey(sk)).toString("hex"));
    chains.push(chain);
  }
  const secagg: (SecAggRoleContext | undefined)[] = Array(peers).fill(undefined);
  if (mode === "private") {
    const address = await deploySecureAggregation(await contract.getAddress(), privateDemoConfig(peers), 5000, deployer, log);
    const config = privateDemoConfig(peers);
    for (let i = 0; i < peers; i++) secagg[i] = { chain: secAggWriter(address, signers[i], log), config, secretKey: keys[i] };
  }
  await (await contract.getFunction("startTask")()).wait();
  const task = await chains[0].taskConfig();
  const counters = Array.from({ length: peers }, () => countingStore(shared));
  const ctx = (i: number): RoleContext => ({
    chain: chains[i], store: counters[i].store, log, task, spec, dataIndex: i, numPeers: peers, secagg: secagg[i],
    models: modelFetcher({ store: counters[i].store, spec, log }), learner: async () => learners[i], now: () => Date.now() / 1000,
  });
  const ctxs = Array.from({ length: peers }, (_, i) => ctx(i));
  const survivors = Array.from({ length: peers }, (_, i) => i).filter((i) => !dropped.has(i));
  const closeIf = async (r: number, phase: number): Promise<RoundState> => {
    let round = await chains[0].round(r);
    if (round.phase === phase) {
      await provider.send("evm_increaseTime", [3601]);
      await chains[0].advancePhase(r);
      round = await chains[0].round(r);
    }
    return round;
  };
  let seconds = 0;
  let trainerBytes = 0;
  let finalized = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    const before = counters.map((c) => c.published());
    const t0 = performance.now();
    let round = await chains[0].round(r);
    const trainerState = () => ({ dpRoundsSpent: 0, budgetExhaustedLogged: false });
    if (mode === "private") await Promise.all(ctxs.map((c) => runPrivateTrainer(c, round, trainerState())));
    else for (const c of ctxs) await runTrainer(c, round, trainerState());
    const afterTraining = counters.map((c) => c.published());
    round = await chains[0].round(r);
    if (mode === "private") for (const i of survivors) await revealPrivateShares(ctxs[i], round, 10_000);
    const trainerPublished = survivors.map((i) => counters[i].published() - before[i]);
    void afterTraining;
    await chains[0].selectCommittees(r);
    const pendingOf = Array.from({ length: peers }, () => new RevealStore());
    for (const i of survivors) if (await chains[i].isVerifier(r, chains[i].account)) await runVerifier(ctxs[i], round, 10_000, pendingOf[i]);
    round = await closeIf(r, Phase.VerifyCommit);
    for (const i of survivors) if ((await chains[i].verdictOf(r, chains[i].account)).committed) await revealVerifier(ctxs[i], round, 10_000, pendingOf[i]);
    round = await closeIf(r, Phase.VerifyReveal);
    if (round.phase === Phase.AggregateCommit) {
      for (const i of survivors) if (await chains[i].isAggregator(r, chains[i].account)) await runAggregator(ctxs[i], round, 10_000, pendingOf[i]);
      round = await closeIf(r, Phase.AggregateCommit);
      for (const i of survivors) if ((await chains[i].aggregateOf(r, chains[i].account)).committed) await revealAggregator(ctxs[i], round, 10_000, pendingOf[i]);
      round = await closeIf(r, Phase.AggregateReveal);
    }
    seconds += (performance.now() - t0) / 1000;
    trainerBytes += trainerPublished.reduce((a, b) => a + b, 0) / trainerPublished.length;
    if (round.phase === Phase.Finalized) finalized++;
    process.stdout.write(`    ${mode} round ${r}: ${round.phase === Phase.Finalized ? "finalized" : `phase ${round.phase}`} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const last = await chains[0].round(ROUNDS);
  const finalCid = last.finalCid ?? last.globalModelCid!;
  const accuracy = await accuracyOf(decodeUpdate(await shared.get(finalCid.toString()), spec));
  for (const c of chains) c.close();
  return { roundSeconds: seconds / ROUNDS, accuracy, trainerBytes: trainerBytes / ROUNDS, finalized };
}

const rows: { peers: number; dropoutFraction: number; expansion: number; roundSeconds: number; plainRoundSeconds: number; accuracy: number; plainAccuracy: number }[] = [];
const detail: unknown[] = [];
const load = os.loadavg();
for (const peers of PEERS) {
  const learners: Learner[] = [];
  for (let i = 0; i < peers; i++) {
    learners.push(await createLearner({
      dataset: "mnist", partition: { kind: "iid" } as never, partitionSeed: 1, peers, peerIndex: i, maxSamples: MAX_SAMPLES,
      epochs: 1, batchSize: 32, learningRate: 0.003, optimizer: "adam", backend: "wasm", spec, seed: learnerSeed(i), log,
    }));
  }
  for (const dropout of DROPOUTS) {
    process.stdout.write(`${peers} peers, ${dropout * 100} % vanish after committing (${ROUNDS} round(s), ${MAX_SAMPLES} samples per peer)\n`);
    const plain = await run(peers, dropout, "plain", learners);
    const priv = await run(peers, dropout, "private", learners);
    const row = {
      peers, dropoutFraction: dropout, expansion: Number((priv.trainerBytes / plain.trainerBytes).toFixed(4)),
      roundSeconds: Number(priv.roundSeconds.toFixed(2)), plainRoundSeconds: Number(plain.roundSeconds.toFixed(2)),
      accuracy: Number(priv.accuracy.toFixed(4)), plainAccuracy: Number(plain.accuracy.toFixed(4)),
    };
    rows.push(row);
    detail.push({ ...row, privateTrainerBytes: Math.round(priv.trainerBytes), plainTrainerBytes: Math.round(plain.trainerBytes), privateFinalized: priv.finalized, plainFinalized: plain.finalized });
    process.stdout.write(`  ${JSON.stringify(row)}\n`);
    mkdirSync("bench/results", { recursive: true });
    writeFileSync("bench/results/secagg.json", JSON.stringify({ rows }, null, 2) + "\n"); // what is done so far survives a crash
  }
  for (const l of learners) l.dispose?.();
}
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/secagg.json", JSON.stringify({ rows }, null, 2) + "\n");
writeFileSync("bench/results/secagg-detail.json", JSON.stringify({
  quick, rounds: ROUNDS, maxSamplesPerPeer: MAX_SAMPLES, committee: COMMITTEE, method: "in-process: real roles, real contracts on Hardhat EDR, in-memory store, real tfjs MNIST training; all peers' work serialized in one process",
  config: { plain: "robust rule none (FedAvg)", private: "node/secagg/demo-config.ts: range 8000, 10 bits, k 8, t = majority of neighbours" },
  loadAverageAtStart: load, loadAverageAtEnd: os.loadavg(), rows: detail,
}, null, 2) + "\n");
process.stdout.write("wrote bench/results/secagg.json\n");
process.exit(0);
