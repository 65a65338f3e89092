/**
 * The round protocol driven in one process, for benchmarks and tests. It runs the very same
 * protocol code as the agents: each peer is a real Learner on its own shard (ml/learner.ts, the
 * agents' learner), its update comes from protocol/local-update.ts, goes through the canonical
 * codec and gets its CID; the verdict and the aggregate come from protocol/verdict.ts. What the
 * simulator leaves out is only the I/O: the chain, IPFS and separate processes. With the same
 * seeds it reproduces an agent run's masks and global CIDs bit for bit (bench:equivalence).
 */
import type { AttackKind } from "../attacks/index.ts";
import { createLogger } from "../lib/log.ts";
import { initBackend, type BackendPreference } from "../ml/backend.ts";
import { loadDataset, selectSamples, type Dataset } from "../ml/datasets.ts";
import { createLearner, learnerSeed, type Learner } from "../ml/learner.ts";
import { createModel, initialWeights, modelSpecFor } from "../ml/models.ts";
import type { PartitionScheme } from "../ml/partition.ts";
import { deriveSeed, mulberry32, permutation } from "../ml/random.ts";
import { evaluate, setWeights, type OptimizerName } from "../ml/train.ts";
import { flattenWeights, unflattenWeights } from "../ml/codec.ts";
import { seededGaussianSource } from "../privacy/gaussian.ts";
import { maskHex } from "../protocol/codecs.ts";
import { ruleNameOf, type RuleName } from "../protocol/ids.ts";
import { craftUpdate, delta, honestUpdate, type AttackPlan } from "../protocol/local-update.ts";
import { decodeUpdate, encodeUpdate, updateCid } from "../protocol/model-bytes.ts";
import { aggregateAccepted, rootVerdict, roundVerdict, votedVerdict, type RoundUpdate } from "../protocol/verdict.ts";
import { loadLabels } from "../ml/datasets.ts";
import { rootSetIndices } from "../ml/root-set.ts";
import { rootLossDetail } from "../ml/root-loss.ts";
import { maskFrom } from "../protocol/codecs.ts";
import { DEFAULT_BACKDOOR_TARGET, attackSuccessRate, dataAttacks } from "../attacks/index.ts";
import { historySuspects, type RoundVotes, type VoteHistoryPolicy } from "../aggregation/rules/vote-history.ts";
import { createRule, hasRootVote } from "../aggregation/rules.ts";
import * as tf from "@tensorflow/tfjs";

export class SimulationParameterError extends Error {
  override name = "SimulationParameterError";
}

export interface SimulationOptions {
  dataset: "mnist" | "fashion-mnist";
  model: "mlp" | "cnn";
  numPeers: number;
  rounds: number;
  partition: PartitionScheme;
  /** Seed of the partition (the agents' --partition-seed); defaults to `seed`. */
  partitionSeed?: number;
  /** Indices of the Byzantine peers. */
  attackers: number[];
  attack?: AttackKind;
  /** Extra attack knobs (sigma, scale, z, epsilon). */
  attackParams?: Partial<Record<"sigma" | "scale" | "z" | "epsilon" | "targetLabel" | "poisonFraction", number>>;
  /** The task's robust rule, by name (or its on-chain id). */
  rule: RuleName | number;
  /** The rule parameter in natural units. */
  ruleParam: number;
  /** Verifiers reject near-copies at this cosine similarity (default 0.999 as the task default; 0 = off). */
  copyCosineThreshold?: number;
  /** FedAvg weights clipped at this x the median sample count (default 3 as the task default; 0 = off). */
  sampleWeightClip?: number;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  /** Local optimizer; "sgd" unless given (the agents default to adam). */
  optimizer?: OptimizerName;
  seed: number;
  /** Seed of the initial global model (the task creator's); defaults to a value derived from `seed`. */
  initialModelSeed?: number;
  /** Each honest trainer clips its delta and adds Gaussian noise (seeded source: simulation only). */
  dp?: { clipNorm: number; noiseMultiplier: number };
  /**
   * Each honest trainer runs example-level DP-SGD locally (seeded noise and sampling: simulation only).
   * Each peer's epsilon: Learner.exampleEpsilon, or dpSgdEpsilon over rounds × localEpochs × round(N / expectedBatchSize) steps.
   */
  exampleDp?: { clipNorm: number; noiseMultiplier: number; expectedBatchSize: number };
  /**
   * Verifier committee size for a rule with a private vote (validation-vote): each round that many
   * peers, drawn by a seeded permutation, vote with their own held-out split (an attacker on the
   * committee votes the public pre-filter, accepting every update that passed it); an update is
   * accepted by a strict majority, as the contract tallies revealed masks. Default 5.
   */
  verifiers?: number;
  /**
   * A rule with a private vote: honest verifiers also reject peers whose past updates drew persistent
   * reject votes (aggregation/rules/vote-history.ts), from the committees' revealed votes of earlier
   * rounds (what the agents could read from the chain: the VerdictRevealed masks). Off unless given
   * (DEFAULT_VOTE_HISTORY is the measured setting); the agents do not run it (docs/robustness.md).
   */
  voteHistory?: VoteHistoryPolicy | false;
  /** Cap on each peer's shard (its first samples, as the agents' --max-samples). */
  maxSamplesPerPeer?: number;
  /**
   * root-validation: samples per class of the task's public root set, drawn (seeded) from training samples
   * no peer holds, filled up from peers' samples only when too few are free (ml/root-set.ts). Default 50.
   */
  rootPerClass?: number;
  /** Test samples used for evaluation (a seeded random subset of the 10k test split). */
  testSamples?: number;
  backend?: BackendPreference;
  onRound?: (r: SimulationRound) => void;
  /**
   * Also measure the backdoor's attack-success rate when no backdoor runs (the clean model's own rate
   * of sending triggered images to the target class: the floor a backdoor's ASR is read against).
   */
  measureBackdoorAsr?: boolean;
  /** Called each round with the round's global model and the weights every peer sent (peer order), for studies. */
  onUpdates?: (round: number, global: Float32Array, sent: readonly Float32Array[]) => void;
}

export interface SimulationRound {
  round: number;
  accuracy: number;
  loss: number;
  acceptedAttackers: number;
  rejectedAttackers: number;
  acceptedHonest: number;
  rejectedHonest: number;
  /** Accepted mask in peer order (bit p = peer p's update accepted). */
  mask: string;
  /** Each peer's update CID, in peer order. */
  updateCids: string[];
  /** The next global model's CID; null when nothing was accepted (the round fails, the global stays). */
  globalCid: string | null;
  /** A rule with a private vote: the peers rejected for their vote history this round. */
  historySuspects?: number[];
  /** A rule with a private vote: reject votes each peer's update drew from the committee. */
  votesAgainst?: number[];
  /** root-validation: each peer's leave-one-out score on the root set (null when the pre-filter rejected it). */
  rootScores?: (number | null)[];
  /** Backdoor runs only: share of triggered test images (true label not the target) classified as the target. */
  backdoorAsr?: number;
  seconds: number;
}

export interface SimulationResult {
  rounds: SimulationRound[];
  backend: string;
  parameters: number;
  samplesPerPeer: number[];
}

const testCache = new Map<string, Dataset>();
function testSet(name: string): Dataset {
  let d = testCache.get(name);
  if (!d) { d = loadDataset(name, "test"); testCache.set(name, d); }
  return d;
}

function check(opts: SimulationOptions): void {
  const bad = (msg: string) => { throw new SimulationParameterError(msg); };
  if (!Number.isInteger(opts.numPeers) || opts.numPeers < 1) bad(`numPeers must be an integer >= 1, got ${opts.numPeers}`);
  if (!Number.isInteger(opts.rounds) || opts.rounds < 1) bad(`rounds must be an integer >= 1, got ${opts.rounds}`);
  const seen = new Set<number>();
  for (const a of opts.attackers) {
    if (!Number.isInteger(a) || a < 0 || a >= opts.numPeers) bad(`attacker index ${a} is not a peer in 0..${opts.numPeers - 1}`);
    if (seen.has(a)) bad(`attacker index ${a} is listed twice`);
    seen.add(a);
  }
  if (opts.attackers.length > 0 && !opts.attack) bad(`${opts.attackers.length} attackers given but no attack kind`);
}

/** The class the model predicts for each 28 x 28 image (for the backdoor's attack-success rate). */
function predictClasses(model: tf.LayersModel, images: Float32Array): Int32Array {
  const n = images.length / (28 * 28);
  return tf.tidy(() => (model.predict(tf.tensor(images, [n, 28, 28, 1])) as tf.Tensor).argMax(-1).dataSync() as Int32Array);
}

/** root-validation's per-update scores, when the verdict carries them. */
const rootScoresOf = (v: object): { index: number; score: number }[] | undefined => (v as { rootScores?: { index: number; score: number }[] }).rootScores;

const silent = createLogger({ name: "sim", level: "error", write: () => {} });

/** Runs `rounds` federated rounds and reports accuracy, verdicts and CIDs per round. */
export async function simulate(opts: SimulationOptions): Promise<SimulationResult> {
  check(opts);
  const backend = await initBackend(opts.backend ?? "wasm");
  const spec = modelSpecFor(opts.model);
  const rule: RuleName = typeof opts.rule === "number" ? ruleNameOf(opts.rule) : opts.rule;
  // The task defaults for the near-copy check and the sample-weight clip (ignition TASK_DEFAULTS).
  const setting = { rule, ruleParam: opts.ruleParam, copyCosineThreshold: opts.copyCosineThreshold ?? 0.999, sampleWeightClip: opts.sampleWeightClip ?? 3 };
  const testFull = testSet(opts.dataset);
  const test = opts.testSamples && opts.testSamples < testFull.count
    ? selectSamples(testFull, permutation(testFull.count, mulberry32(deriveSeed(opts.seed, 0x7e57))).slice(0, opts.testSamples))
    : testFull;
  const isAttacker = new Set(opts.attackers);
  const plan: AttackPlan | undefined = opts.attack ? { kind: opts.attack, params: opts.attackParams } : undefined;

  const learners: Learner[] = [];
  const evalModel = createModel(spec, 0);
  const rounds: SimulationRound[] = [];
  try {
    for (let p = 0; p < opts.numPeers; p++) {
      learners.push(await createLearner({
        dataset: opts.dataset, partition: opts.partition, partitionSeed: opts.partitionSeed ?? opts.seed,
        peers: opts.numPeers, peerIndex: p, maxSamples: opts.maxSamplesPerPeer,
        epochs: opts.localEpochs, batchSize: opts.batchSize, learningRate: opts.learningRate, optimizer: opts.optimizer ?? "sgd",
        backend: opts.backend ?? "wasm", spec, seed: learnerSeed(p), log: silent,
        exampleDp: opts.exampleDp && {
          ...opts.exampleDp,
          noise: seededGaussianSource(deriveSeed(opts.seed, 0xe9, p)), sampler: mulberry32(deriveSeed(opts.seed, 0xe5, p)),
        },
      }));
    }
    // The committees' revealed votes so far, per round (updates are in peer order here).
    const voteHistory: RoundVotes[] = [];
    const historyPolicy = opts.voteHistory ?? false;
    // root-validation: the task's public root set, and the loss of a model on it (the same for every verifier).
    const rootModel = hasRootVote(createRule(rule)) ? createModel(spec, 0) : null;
    const rootSet = rootModel
      ? loadDataset(opts.dataset, "train", rootSetIndices(loadLabels(opts.dataset, "train"), {
        peers: opts.numPeers, partition: opts.partition, partitionSeed: opts.partitionSeed ?? opts.seed,
        maxSamples: opts.maxSamplesPerPeer, perClass: opts.rootPerClass, seed: deriveSeed(opts.seed, 0x2007),
        // Peers holding the whole training split (full shards) leave no free samples: the root set then
        // fills up from their samples, as FLTrust samples its root set from the clients' data.
        allowHeld: true,
      }))
      : null;
    // Total and per-class losses (the rule's per-class gate), as the verifiers' loader computes them.
    const rootLoss = async (w: Float32Array) => { setWeights(rootModel!, unflattenWeights(w, spec)); return rootLossDetail(rootModel!, rootSet!, rootSet!.numClasses); };
    /** The round's verdict: public for geometric rules; the committee's per-update majority for a private vote. */
    const committeeVerdict = async (setting: Parameters<typeof roundVerdict>[0], models: Parameters<typeof roundVerdict>[1], updates: RoundUpdate[], r: number) => {
      const publicVerdict = roundVerdict(setting, models, updates);
      if (publicVerdict.rootVote) return rootVerdict(setting, models, updates, rootLoss);
      if (!publicVerdict.privateVote) return publicVerdict;
      const size = Math.min(opts.verifiers ?? 5, opts.numPeers);
      const committee = permutation(opts.numPeers, mulberry32(deriveSeed(opts.seed, 0xc0, r))).slice(0, size);
      const suspects = new Set(historyPolicy ? historySuspects(voteHistory, r, historyPolicy) : []);
      const votes = updates.map(() => 0);
      const revealed: RoundVotes["votes"][number][] = [];
      for (const v of committee) {
        const mine = isAttacker.has(v)
          ? publicVerdict
          : await votedVerdict(setting, models, updates, async (w) => (await learners[v].evaluate(w)).loss, suspects);
        mine.accepted.forEach((ok, i) => { if (ok) votes[i]++; });
        revealed.push({ verifier: v, accepted: mine.accepted });
      }
      voteHistory.push({ round: r, peers: updates.map((_, p) => p), judged: publicVerdict.accepted.map((ok, p) => ok && !suspects.has(p)), votes: revealed });
      const accepted = votes.map((n) => n >= Math.floor(size / 2) + 1);
      return {
        ...publicVerdict, accepted, mask: maskFrom(accepted),
        historySuspects: [...suspects].sort((a, b) => a - b), votesAgainst: votes.map((n) => size - n),
      };
    };
    let global = flattenWeights(initialWeights(spec, opts.initialModelSeed ?? deriveSeed(opts.seed, 0x1417)));
    let previousGlobal: Float32Array | null = null;
    for (let r = 1; r <= opts.rounds; r++) {
      const t0 = performance.now();
      // 1-2. every peer's honest update (an attacker's data attack poisons its training here)
      const honest: Awaited<ReturnType<typeof honestUpdate>>[] = [];
      for (let p = 0; p < opts.numPeers; p++) {
        honest.push(await honestUpdate(global, learners[p], {
          round: r, peerIndex: p, attack: isAttacker.has(p) ? plan : undefined,
          privacy: opts.dp ? { ...opts.dp, noise: seededGaussianSource(deriveSeed(opts.seed, 0xd9, r, p)) } : null,
        }));
      }
      // 3. the colluders share their honest deltas and rewrite their updates
      const colluderHonestDeltas = opts.attackers.map((a) => delta(honest[a].weights, global));
      const sent = honest.map((h, p) =>
        isAttacker.has(p) && plan && !dataAttacks.includes(plan.kind)
          ? craftUpdate(plan, { round: r, peerIndex: p, numPeers: opts.numPeers, global, honest: h.weights, colluderHonestDeltas })
          : h.weights);
      opts.onUpdates?.(r, global, sent);
      // What arrives from IPFS: canonical bytes, decoded, under their CID.
      const updates: RoundUpdate[] = [];
      for (let p = 0; p < opts.numPeers; p++) {
        const bytes = encodeUpdate(sent[p], spec);
        updates.push({ cid: await updateCid(bytes), numSamples: honest[p].samples, weights: decodeUpdate(bytes, spec) });
      }
      const models = { global, previousGlobal };
      const verdict = await committeeVerdict(setting, models, updates, r);
      const accepted = updates.filter((_, p) => verdict.accepted[p]);
      let next = global;
      let globalCid: string | null = null;
      if (accepted.length > 0) {
        next = aggregateAccepted(setting, models, accepted);
        globalCid = (await updateCid(encodeUpdate(next, spec))).toString();
      }
      previousGlobal = global;
      global = next;
      setWeights(evalModel, unflattenWeights(global, spec));
      const { accuracy, loss } = evaluate(evalModel, test);
      const backdoorAsr = (plan?.kind === "backdoor" && opts.attackers.length > 0) || opts.measureBackdoorAsr
        ? attackSuccessRate((x) => predictClasses(evalModel, x), test.images, test.labels, plan?.params?.targetLabel ?? DEFAULT_BACKDOOR_TARGET)
        : undefined;
      let acceptedAttackers = 0, acceptedHonest = 0;
      verdict.accepted.forEach((ok, p) => { if (ok) { if (isAttacker.has(p)) acceptedAttackers++; else acceptedHonest++; } });
      const round: SimulationRound = {
        round: r, accuracy, loss,
        acceptedAttackers, rejectedAttackers: opts.attackers.length - acceptedAttackers,
        acceptedHonest, rejectedHonest: opts.numPeers - opts.attackers.length - acceptedHonest,
        mask: maskHex(verdict.mask), updateCids: updates.map((u) => u.cid.toString()), globalCid,
        seconds: (performance.now() - t0) / 1000,
        ...(backdoorAsr !== undefined ? { backdoorAsr } : {}),
        ...("historySuspects" in verdict ? { historySuspects: verdict.historySuspects, votesAgainst: verdict.votesAgainst } : {}),
        ...(rootScoresOf(verdict) ? { rootScores: updates.map((_, p) => rootScoresOf(verdict)!.find((x) => x.index === p)?.score ?? null) } : {}),
      };
      rounds.push(round);
      opts.onRound?.(round);
    }
  } finally {
    evalModel.dispose();
    for (const l of learners) l.dispose();
  }
  return { rounds, backend, parameters: spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0), samplesPerPeer: learners.map((l) => l.trainSamples) };
}
