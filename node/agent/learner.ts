/**
 * A peer's private learning state: its own shard (train + local validation split) and one tfjs
 * model reused across rounds. Everything tfjs stays behind this interface, so verifiers that do
 * not train never load it.
 */
import type { ModelSpec } from "../ml/types.ts";
import type { AgentConfig } from "./config.ts";
import type { Logger } from "../lib/log.ts";
import { flattenWeights, unflattenWeights } from "../ml/codec.ts";

export interface TrainResult { weights: Float32Array; samples: number; seconds: number; loss: number }

export interface Learner {
  readonly backend: string;
  readonly trainSamples: number;
  readonly validationSamples: number;
  train(global: Float32Array, opts?: { labelTransform?: (y: number) => number }): Promise<TrainResult>;
  evaluate(weights: Float32Array): Promise<{ accuracy: number; loss: number }>;
}

/** The agent flags the learner needs, plus the task's model spec. */
export type LearnerOptions = Pick<AgentConfig,
  "dataset" | "partition" | "partitionSeed" | "peers" | "peerIndex" | "maxSamples" | "epochs" | "batchSize" |
  "learningRate" | "optimizer" | "backend"> & {
  spec: ModelSpec;
  validationFraction?: number;
  seed: number;
  log: Logger;
};

export async function createLearner(o: LearnerOptions): Promise<Learner> {
  const { initBackend } = await import("../ml/backend.ts");
  const { loadDataset, loadLabels } = await import("../ml/datasets.ts");
  const { partition } = await import("../ml/partition.ts");
  const { createModel } = await import("../ml/models.ts");
  const { trainLocalAsync, evaluate, getWeights, setWeights } = await import("../ml/train.ts");

  const backend = await initBackend(o.backend);
  // Every peer computes the same seeded partition from the labels alone, then materializes only its shard.
  const shards = partition(loadLabels(o.dataset, "train"), o.peers, o.partition, o.partitionSeed);
  let mine = shards[o.peerIndex];
  if (o.maxSamples && mine.length > o.maxSamples) mine = mine.slice(0, o.maxSamples);
  // A fixed tail of the shard is this peer's validation split: never trained on, used to report accuracy.
  const nVal = Math.max(1, Math.floor(mine.length * (o.validationFraction ?? 0.1)));
  const trainIdx = mine.slice(0, mine.length - nVal);
  const valIdx = mine.slice(mine.length - nVal);
  const trainSet = loadDataset(o.dataset, "train", trainIdx);
  const valSet = loadDataset(o.dataset, "train", valIdx);
  const model = createModel(o.spec, o.seed);
  o.log.info("learner-ready", { backend, dataset: o.dataset, shard: mine.length, train: trainIdx.length, validation: valIdx.length, model: o.spec.model });
  let round = 0;

  return {
    backend,
    trainSamples: trainIdx.length,
    validationSamples: valIdx.length,
    async train(global, opts = {}) {
      setWeights(model, unflattenWeights(global, o.spec));
      const r = await trainLocalAsync(model, trainSet, {
        epochs: o.epochs, batchSize: o.batchSize, learningRate: o.learningRate, optimizer: o.optimizer,
        seed: o.seed + ++round, labelTransform: opts.labelTransform,
      });
      return { weights: flattenWeights(getWeights(model)), samples: trainIdx.length, seconds: r.seconds, loss: r.loss };
    },
    async evaluate(weights) {
      setWeights(model, unflattenWeights(weights, o.spec));
      const r = await evaluate(model, valSet);
      return { accuracy: r.accuracy, loss: r.loss };
    },
  };
}
