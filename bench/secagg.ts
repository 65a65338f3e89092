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
 *
 * `--dp` (distributed DP, issue 18): instead of the table above, 10 peers (or `--peers N`), 3 rounds
 * (`--dp-rounds R`), private rounds whose trainers L2-clip their weighted delta to C = 3000 and add
 * Skellam noise (node/privacy/skellam.ts), for each noise multiplier z of `--dp-z 0.003,0.01,0.03,0.1` (default):
 *   - distributed: each peer adds 1/n of the variance (z·C)² (n_min = n), so only the sum carries it;
 *   - local: each peer adds the full (z·C)² (n_min = 1), so every single update is protected alone.
 * Both give every peer the same peer-level ε (printed, from the Skellam accountant at δ = 1e-5); the
 * local sum carries √n times the noise. Plus one noise-free private run with the same clip. Merged
 * into bench/results/secagg-detail.json under "distributedDp"; secagg.json is left as it is.
 *
 * `--profile` (round-time ratio, issue 18): the private steps ONE peer does in a round, timed alone
 * on the MLP's 101,770 parameters for 5, 10 and 20 peers (setup, masking, Skellam noise, its reveal,
 * one full unmask as a verifier/aggregator does), median of 5. With peers running in parallel these,
 * not the bench's serialized sum over all peers, are what a private round adds to the critical path
 * (plus the two side-contract transactions). Merged into secagg-detail.json under "cryptoProfile".
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
import { validateSecAggConfig, type SecAggConfig } from "../node/secagg/config.ts";
import { distributedEpsilon } from "../node/privacy/skellam.ts";

const quick = process.argv.includes("--quick");
const dpMode = process.argv.includes("--dp");
const flagValue = (name: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const ROUNDS = dpMode ? Number(flagValue("--dp-rounds") ?? 3) : quick ? 1 : 2;
const MAX_SAMPLES = quick ? 300 : 1000;
const peersFlag = process.argv.indexOf("--peers");
const PEERS = peersFlag > 0 ? process.argv[peersFlag + 1].split(",").map(Number) : dpMode ? [10] : [5, 10, 20];
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

async function run(peers: number, dropout: number, mode: "plain" | "private", learners: Learner[], privateConfig?: SecAggConfig): Promise<RunResult> {
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
    const config = privateConfig ?? privateDemoConfig(peers);
    const address = await deploySecureAggregation(await contract.getAddress(), config, 5000, deployer, log);
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

/**
 * `--dp`: distributed vs local Skellam noise at the same peer-level ε (see the header). The DP
 * config keeps range 8000 and k = 8 and uses 9 fractional bits, so 256 peers at ±8000 plus 8σ of
 * local noise (σ = z·C <= 3000, n_min = 1) still fit in int32.
 */
async function runDistributedDp(): Promise<void> {
  const peers = PEERS[0];
  const clip = 3000;
  const zs = (flagValue("--dp-z") ?? "0.003,0.01,0.03,0.1").split(",").map(Number);
  const base = privateDemoConfig(peers);
  const learners: Learner[] = [];
  for (let i = 0; i < peers; i++) {
    learners.push(await createLearner({
      dataset: "mnist", partition: { kind: "iid" } as never, partitionSeed: 1, peers, peerIndex: i, maxSamples: MAX_SAMPLES,
      epochs: 1, batchSize: 32, learningRate: 0.003, optimizer: "adam", backend: "wasm", spec, seed: learnerSeed(i), log,
    }));
  }
  const cfg = (z: number, noisePeers: number): SecAggConfig => validateSecAggConfig({ ...base, scaleBits: 9, clipL2: clip, noiseStd: z * clip, noisePeers: z > 0 ? noisePeers : 0 });
  const dpRows: unknown[] = [];
  const loadStart = os.loadavg();
  process.stdout.write(`distributed DP: ${peers} peers, ${ROUNDS} rounds, ${MAX_SAMPLES} samples per peer, L2 clip ${clip} of numSamples × delta
`);
  const clean = await run(peers, 0, "private", learners, cfg(0, 0));
  process.stdout.write(`  no noise (clip only): accuracy ${clean.accuracy.toFixed(4)}
`);
  for (const z of zs) {
    const epsilon = distributedEpsilon({ clipNorm: clip, noiseMultiplier: z, noisePeers: peers, scaleBits: 9, delta: 1e-5 }, new Array(ROUNDS).fill(peers));
    const dist = await run(peers, 0, "private", learners, cfg(z, peers));
    const local = await run(peers, 0, "private", learners, cfg(z, 1));
    const row = {
      noiseMultiplier: z, epsilon: Number(epsilon.toPrecision(5)), delta: 1e-5, rounds: ROUNDS,
      sumNoiseStdDistributed: z * clip, sumNoiseStdLocal: Number((z * clip * Math.sqrt(peers)).toFixed(1)),
      accuracyDistributed: Number(dist.accuracy.toFixed(4)), accuracyLocal: Number(local.accuracy.toFixed(4)), accuracyNoNoise: Number(clean.accuracy.toFixed(4)),
      finalizedDistributed: dist.finalized, finalizedLocal: local.finalized,
      roundSecondsDistributed: Number(dist.roundSeconds.toFixed(2)), roundSecondsLocal: Number(local.roundSeconds.toFixed(2)), roundSecondsNoNoise: Number(clean.roundSeconds.toFixed(2)),
    };
    dpRows.push(row);
    process.stdout.write(`  ${JSON.stringify(row)}
`);
  }
  const file = "bench/results/secagg-detail.json";
  const detail = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  detail.distributedDp = {
    method: "in-process (as the main table): real roles and contracts, real tfjs MNIST training, all peers serialized; every round private; test accuracy of the final global model on all 10,000 MNIST test images",
    peers, rounds: ROUNDS, maxSamplesPerPeer: MAX_SAMPLES, clipL2OfWeightedDelta: clip, scaleBits: 9,
    mechanism: "Skellam (Agarwal, Kairouz, Liu 2021), CSPRNG, exact Poisson; epsilon = peer-level, RDP of the Skellam sum composed over the rounds, Balle et al. 2020 conversion",
    distributed: "each peer adds Sk of 1/n of the variance (z·C)^2: the sum carries (z·C)^2",
    local: "each peer adds Sk of the full variance (z·C)^2 (n_min = 1): every update alone is z-protected, the sum carries n·(z·C)^2",
    loadAverageAtStart: loadStart, loadAverageAtEnd: os.loadavg(), rows: dpRows,
  };
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(file, JSON.stringify(detail, null, 2) + "\n");
  process.stdout.write(`merged distributedDp into ${file}\n`);
  for (const l of learners) l.dispose?.();
}

/** `--profile`: one peer's private steps, timed alone (see the header). */
async function profileCrypto(): Promise<void> {
  const { createReveal, createSetup, maskUpdate, unmaskSum } = await import("../node/secagg/protocol.ts");
  const { neighboursOf } = await import("../node/secagg/neighbours.ts");
  const { addSkellamNoise } = await import("../node/privacy/skellam.ts");
  const d = spec.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const time = (fn: () => unknown, reps = 5) => median(Array.from({ length: reps }, () => { const t0 = performance.now(); fn(); return performance.now() - t0; }));
  const out: unknown[] = [];
  const loadStart = os.loadavg();
  for (const n of PEERS) {
    const config = privateDemoConfig(n);
    const ctx = { task: "0x" + "ab".repeat(20), round: 1 };
    const keys = Array.from({ length: n }, () => x25519.utils.randomSecretKey());
    const registry = new Map(keys.map((k, i) => [i, { index: i, address: "0x" + String(i + 1).padStart(40, "0"), publicKey: x25519.getPublicKey(k) }]));
    const me = (i: number) => ({ ...registry.get(i)!, secretKey: keys[i] });
    const setups = keys.map((_, i) => createSetup(ctx, me(i), n, config, registry));
    const posted = setups.map((st, i) => ({ index: i, address: registry.get(i)!.address, ephemeralPk: st.secrets.ephemeralPublic }));
    const words = new Uint32Array(d).map((_, k) => (k * 2654435761) >>> 0);
    const masked = keys.map((_, i) => maskUpdate(ctx, me(i), setups[i].secrets, words, neighboursOf(i, n, config.neighbours).map((v) => posted[v])));
    const reveals = keys.map((_, v) => ({ posterIndex: v, bundle: createReveal(ctx, me(v), neighboursOf(v, n, config.neighbours).map((u) => ({ owner: registry.get(u)!, bundle: setups[u].bundle, committed: true }))).bundle }));
    const input = {
      ctx, posted: posted.map((p, i) => ({ ...p, bundle: setups[i].bundle })), committed: masked.map((w, i) => ({ index: i, numSamples: 1000, words: w })),
      reveals, neighbours: config.neighbours, population: n,
    };
    const row = {
      peers: n, parameters: d,
      setupMs: time(() => createSetup(ctx, me(0), n, config, registry)),
      maskMs: time(() => maskUpdate(ctx, me(0), setups[0].secrets, words, neighboursOf(0, n, config.neighbours).map((v) => posted[v]))),
      skellamNoiseMs: time(() => addSkellamNoise(new Uint32Array(d), 1e11)),
      revealMs: time(() => createReveal(ctx, me(0), neighboursOf(0, n, config.neighbours).map((u) => ({ owner: registry.get(u)!, bundle: setups[u].bundle, committed: true })))),
      unmaskMs: time(() => unmaskSum(input), 3),
    };
    out.push(row);
    process.stdout.write(`  ${JSON.stringify(row)}\n`);
  }
  const file = "bench/results/secagg-detail.json";
  const detail = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  detail.cryptoProfile = {
    method: "one peer's private steps timed alone in this process (median of 5; unmask median of 3), MLP parameters, demo config (k = 8, t = majority); no chain, no IPFS, no training",
    loadAverageAtStart: loadStart, loadAverageAtEnd: os.loadavg(), rows: out,
  };
  writeFileSync(file, JSON.stringify(detail, null, 2) + "\n");
  process.stdout.write(`merged cryptoProfile into ${file}\n`);
}

if (dpMode) {
  await runDistributedDp();
  process.exit(0);
}
if (process.argv.includes("--profile")) {
  await profileCrypto();
  process.exit(0);
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
  // The `--dp` and `--profile` parts of an earlier run are kept.
  ...(existsSync("bench/results/secagg-detail.json") ? (({ distributedDp, cryptoProfile }) => ({ distributedDp, cryptoProfile }))(JSON.parse(readFileSync("bench/results/secagg-detail.json", "utf8"))) : {}),
}, null, 2) + "\n");
process.stdout.write("wrote bench/results/secagg.json\n");
process.exit(0);
