// In-process federated simulation for benchmarks and tests: the same rules, attacks, codec and DP
// hook the agents use, with every peer's training run on one reused tfjs model.
import { createRule, judgeUpdates, subtract, type RuleId } from "../aggregation/index.ts";
import { applyAttack, labelFlip, type AttackKind } from "../attacks/index.ts";
import { initBackend, type BackendPreference } from "../ml/backend.ts";
import { decodeWeights, encodeWeights, flattenWeights, unflattenWeights } from "../ml/codec.ts";
import { loadDataset, selectSamples, type Dataset } from "../ml/datasets.ts";
import { createModel, modelSpecFor } from "../ml/models.ts";
import { partition, type PartitionScheme } from "../ml/partition.ts";
import { deriveSeed, mulberry32, permutation } from "../ml/random.ts";
import { evaluate, getWeights, setWeights, trainLocal } from "../ml/train.ts";
import { privatizeUpdate, seededGaussianSource } from "../privacy/gaussian.ts";

export class SimulationParameterError extends Error {
  override name = "SimulationParameterError";
}

export interface SimulationOptions {
  dataset: "mnist" | "fashion-mnist";
  model: "mlp" | "cnn";
  numPeers: number;
  rounds: number;
  partition: PartitionScheme;
  /** Indices of the Byzantine peers. */
  attackers: number[];
  attack?: AttackKind;
  /** Extra attack knobs (sigma, scale, z, epsilon). */
  attackParams?: Partial<Record<"sigma" | "scale" | "z" | "epsilon", number>>;
  rule: RuleId;
  ruleParam: number;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Each trainer clips its delta and adds Gaussian noise (seeded source: simulation only). */
  dp?: { clipNorm: number; noiseMultiplier: number };
  /** Cap on each peer's shard (a seeded random subset keeps its label mix). */
  maxSamplesPerPeer?: number;
  /** Test samples used for evaluation (a seeded random subset of the 10k test split). */
  testSamples?: number;
  backend?: BackendPreference;
  onRound?: (r: SimulationRound) => void;
}

export interface SimulationRound {
  round: number;
  accuracy: number;
  loss: number;
  acceptedAttackers: number;
  rejectedAttackers: number;
  acceptedHonest: number;
  rejectedHonest: number;
  seconds: number;
}

export interface SimulationResult {
  rounds: SimulationRound[];
  backend: string;
  parameters: number;
  samplesPerPeer: number[];
}

const datasetCache = new Map<string, Dataset>();
function cachedDataset(name: string, split: "train" | "test"): Dataset {
  const key = `${name}/${split}`;
  let d = datasetCache.get(key);
  if (!d) { d = loadDataset(name, split); datasetCache.set(key, d); }
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

/** Runs `rounds` federated rounds and reports accuracy and verdict counts per round. */
export async function simulate(opts: SimulationOptions): Promise<SimulationResult> {
  check(opts);
  const backend = await initBackend(opts.backend ?? "wasm");
  const spec = modelSpecFor(opts.model);
  const rule = createRule(opts.rule);
  const train = cachedDataset(opts.dataset, "train");
  const testFull = cachedDataset(opts.dataset, "test");
  const test = opts.testSamples && opts.testSamples < testFull.count
    ? selectSamples(testFull, permutation(testFull.count, mulberry32(deriveSeed(opts.seed, 0x7e57))).slice(0, opts.testSamples))
    : testFull;
  const shards = partition(train.labels, opts.numPeers, opts.partition, opts.seed).map((idx, p) => {
    if (!opts.maxSamplesPerPeer || idx.length <= opts.maxSamplesPerPeer) return idx;
    const order = permutation(idx.length, mulberry32(deriveSeed(opts.seed, 0xca9, p)));
    return order.slice(0, opts.maxSamplesPerPeer).sort((a, b) => a - b).map((i) => idx[i]);
  });
  const isAttacker = new Set(opts.attackers);
  const peerData = shards.map((idx, p) => {
    const data = selectSamples(train, idx);
    return isAttacker.has(p) && opts.attack === "label-flip" ? { ...data, labels: labelFlip(data.labels) } : data;
  });

  const model = createModel(spec, deriveSeed(opts.seed, 0x1417));
  const rounds: SimulationRound[] = [];
  try {
    let global = flattenWeights(getWeights(model));
    let referenceDelta: Float32Array | undefined;
    for (let r = 1; r <= opts.rounds; r++) {
      const t0 = performance.now();
      const honest: Float32Array[] = [];
      for (let p = 0; p < opts.numPeers; p++) {
        setWeights(model, unflattenWeights(global, spec));
        trainLocal(model, peerData[p], {
          epochs: opts.localEpochs, batchSize: opts.batchSize, learningRate: opts.learningRate,
          optimizer: "sgd", seed: deriveSeed(opts.seed, r, p),
        });
        let w = flattenWeights(getWeights(model));
        if (opts.dp) {
          const { noised } = privatizeUpdate(subtract(w, global), opts.dp.clipNorm, opts.dp.noiseMultiplier, seededGaussianSource(deriveSeed(opts.seed, 0xd9, r, p)));
          w = Float32Array.from(global, (g, k) => g + noised[k]);
        }
        honest.push(w);
      }
      const colluderHonestDeltas = opts.attackers.map((a) => subtract(honest[a], global));
      // What arrives from IPFS: every update goes through the canonical codec, in commit (peer) order.
      const received = honest.map((w, p) => {
        const sent = isAttacker.has(p) && opts.attack
          ? applyAttack(opts.attack, {
            globalWeights: global, honestWeights: w, colluderHonestDeltas, numPeers: opts.numPeers,
            numAttackers: opts.attackers.length, seed: deriveSeed(opts.seed, 0xa77, r, p), params: opts.attackParams,
          })
          : w;
        return flattenWeights(decodeWeights(encodeWeights(unflattenWeights(sent, spec)), spec));
      });
      const numSamples = peerData.map((d) => d.count);
      const ctx = { numSamples, param: opts.ruleParam, globalWeights: global, referenceDelta };
      const { accepted } = judgeUpdates(rule, received, global, ctx);
      const keep = received.map((_, i) => i).filter((i) => accepted[i]);
      let next = global;
      if (keep.length > 0) {
        next = rule.aggregate(keep.map((i) => received[i]), keep.map((i) => numSamples[i]), { ...ctx, numSamples: keep.map((i) => numSamples[i]) });
      }
      referenceDelta = subtract(next, global);
      global = next;
      setWeights(model, unflattenWeights(global, spec));
      const { accuracy, loss } = evaluate(model, test);
      let acceptedAttackers = 0, acceptedHonest = 0;
      accepted.forEach((ok, p) => { if (ok) { if (isAttacker.has(p)) acceptedAttackers++; else acceptedHonest++; } });
      const round: SimulationRound = {
        round: r, accuracy, loss,
        acceptedAttackers, rejectedAttackers: opts.attackers.length - acceptedAttackers,
        acceptedHonest, rejectedHonest: opts.numPeers - opts.attackers.length - acceptedHonest,
        seconds: (performance.now() - t0) / 1000,
      };
      rounds.push(round);
      opts.onRound?.(round);
    }
  } finally {
    model.dispose();
  }
  return { rounds, backend, parameters: spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0), samplesPerPeer: peerData.map((d) => d.count) };
}
