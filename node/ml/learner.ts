/**
 * A peer's private learning state: its own shard (train + local validation split) and one tfjs
 * model reused across rounds. Everything tfjs stays behind this interface, so verifiers that do
 * not train never load it.
 */
import type { Logger } from "../lib/log.ts";
import type { LocalLearner } from "../protocol/local-update.ts";
import type { BackendPreference } from "./backend.ts";
import { flattenWeights, unflattenWeights } from "./codec.ts";
import type { PartitionScheme } from "./partition.ts";
import { deriveSeed } from "./random.ts";
import type { OptimizerName } from "./train.ts";
import type { ModelSpec } from "./types.ts";
import type { GaussianSource } from "../privacy/gaussian.ts";
import type { ExampleDpOptions, UniformSource } from "../privacy/dpsgd.ts";

/** A peer's learner: trains from a global model, and scores a model on the peer's own validation split. */
export interface Learner extends LocalLearner {
  readonly backend: string;
  readonly trainSamples: number;
  readonly validationSamples: number;
  evaluate(weights: Float32Array): Promise<{ accuracy: number; loss: number }>;
  /**
   * Example-level epsilon at `delta` spent by all DP-SGD steps of all `train` calls so far
   * (Poisson-subsampled Gaussian, RDP); null when the learner does not run DP-SGD.
   */
  exampleEpsilon?(delta: number): number | null;
  dispose(): void;
}

/**
 * Example-level DP-SGD in the local trainer (privacy unit: one example of this peer's shard).
 * Sources default to the CSPRNG (secureGaussianSource / secureUniformSource); seeded ones are for simulations only.
 */
export interface LearnerExampleDp extends ExampleDpOptions {
  noise?: GaussianSource;
  sampler?: UniformSource;
}

/** The learner's seed for a peer: the agents and the simulator derive it the same way. */
export function learnerSeed(dataIndex: number): number {
  return 1000 + dataIndex;
}

/** What a learner needs: the data shard's coordinates, the local training settings and the task's model spec. */
export interface LearnerOptions {
  dataset: string;
  partition: PartitionScheme;
  partitionSeed: number;
  peers: number;
  peerIndex: number;
  maxSamples?: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: OptimizerName;
  backend: BackendPreference;
  spec: ModelSpec;
  validationFraction?: number;
  /** Train with example-level DP-SGD (per-example clipping + Gaussian noise, Poisson sampling) instead of plain mini-batches. */
  exampleDp?: LearnerExampleDp;
  seed: number;
  log: Logger;
}

export async function createLearner(o: LearnerOptions): Promise<Learner> {
  const { initBackend } = await import("./backend.ts");
  const { loadDataset, loadLabels } = await import("./datasets.ts");
  const { peerShard } = await import("./partition.ts");
  const { createModel } = await import("./models.ts");
  const { trainLocalAsync, evaluate, getWeights, setWeights } = await import("./train.ts");
  const { RdpAccountant } = await import("../privacy/accountant.ts");
  const { poisonShard } = await import("../attacks/backdoor.ts");
  const pick = (p: { images: Float32Array; labels: Uint8Array }) => ({ images: p.images, labels: p.labels });
  const { secureGaussianSource } = await import("../privacy/gaussian.ts");
  const { assertExampleDpOptions, dpSgdSampleRate, secureUniformSource } = await import("../privacy/dpsgd.ts");

  const backend = await initBackend(o.backend);
  // Every peer computes the same seeded partition from the labels alone, then materializes only its shard.
  const { train: trainIdx, validation: valIdx } = peerShard(loadLabels(o.dataset, "train"), o);
  const trainSet = loadDataset(o.dataset, "train", trainIdx);
  const valSet = loadDataset(o.dataset, "train", valIdx);
  const model = createModel(o.spec, o.seed);
  const dp = o.exampleDp
    ? (assertExampleDpOptions(o.exampleDp), {
        clipNorm: o.exampleDp.clipNorm, noiseMultiplier: o.exampleDp.noiseMultiplier, expectedBatchSize: o.exampleDp.expectedBatchSize,
        noise: o.exampleDp.noise ?? secureGaussianSource(), sampler: o.exampleDp.sampler ?? secureUniformSource(),
      })
    : undefined;
  const accountant = dp
    ? new RdpAccountant({ noiseMultiplier: dp.noiseMultiplier, sampleRate: dpSgdSampleRate(dp.expectedBatchSize, trainIdx.length) })
    : null;
  o.log.info("learner-ready", { backend, dataset: o.dataset, shard: trainIdx.length + valIdx.length, train: trainIdx.length, validation: valIdx.length, model: o.spec.model });

  return {
    backend,
    trainSamples: trainIdx.length,
    validationSamples: valIdx.length,
    async train(global, opts) {
      setWeights(model, unflattenWeights(global, o.spec));
      // EXPERIMENTS ONLY: a backdoor attacker trains on a poisoned copy of its shard (node/attacks/backdoor.ts).
      const data = opts.backdoor
        ? { ...trainSet, ...pick(poisonShard(trainSet.images, trainSet.labels, { ...opts.backdoor, numClasses: trainSet.numClasses })) }
        : trainSet;
      const r = await trainLocalAsync(model, data, {
        epochs: o.epochs, batchSize: o.batchSize, learningRate: o.learningRate, optimizer: o.optimizer,
        seed: deriveSeed(o.seed, opts.round), labelTransform: opts.labelTransform, dp,
      });
      if (accountant && r.dp) accountant.step(r.dp.steps);
      return { weights: flattenWeights(getWeights(model)), samples: trainIdx.length, seconds: r.seconds, loss: r.loss };
    },
    async evaluate(weights) {
      setWeights(model, unflattenWeights(weights, o.spec));
      const r = await evaluate(model, valSet);
      return { accuracy: r.accuracy, loss: r.loss };
    },
    exampleEpsilon(delta) {
      return accountant ? accountant.epsilon(delta).epsilon : null;
    },
    dispose() {
      model.dispose();
    },
  };
}
