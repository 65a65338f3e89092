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

/** A peer's learner: trains from a global model, and scores a model on the peer's own validation split. */
export interface Learner extends LocalLearner {
  readonly backend: string;
  readonly trainSamples: number;
  readonly validationSamples: number;
  evaluate(weights: Float32Array): Promise<{ accuracy: number; loss: number }>;
  dispose(): void;
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
  seed: number;
  log: Logger;
}

export async function createLearner(o: LearnerOptions): Promise<Learner> {
  const { initBackend } = await import("./backend.ts");
  const { loadDataset, loadLabels } = await import("./datasets.ts");
  const { peerShard } = await import("./partition.ts");
  const { createModel } = await import("./models.ts");
  const { trainLocalAsync, evaluate, getWeights, setWeights } = await import("./train.ts");

  const backend = await initBackend(o.backend);
  // Every peer computes the same seeded partition from the labels alone, then materializes only its shard.
  const { train: trainIdx, validation: valIdx } = peerShard(loadLabels(o.dataset, "train"), o);
  const trainSet = loadDataset(o.dataset, "train", trainIdx);
  const valSet = loadDataset(o.dataset, "train", valIdx);
  const model = createModel(o.spec, o.seed);
  o.log.info("learner-ready", { backend, dataset: o.dataset, shard: trainIdx.length + valIdx.length, train: trainIdx.length, validation: valIdx.length, model: o.spec.model });

  return {
    backend,
    trainSamples: trainIdx.length,
    validationSamples: valIdx.length,
    async train(global, opts) {
      setWeights(model, unflattenWeights(global, o.spec));
      const r = await trainLocalAsync(model, trainSet, {
        epochs: o.epochs, batchSize: o.batchSize, learningRate: o.learningRate, optimizer: o.optimizer,
        seed: deriveSeed(o.seed, opts.round), labelTransform: opts.labelTransform,
      });
      return { weights: flattenWeights(getWeights(model)), samples: trainIdx.length, seconds: r.seconds, loss: r.loss };
    },
    async evaluate(weights) {
      setWeights(model, unflattenWeights(weights, o.spec));
      const r = await evaluate(model, valSet);
      return { accuracy: r.accuracy, loss: r.loss };
    },
    dispose() {
      model.dispose();
    },
  };
}
