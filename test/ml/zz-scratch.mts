import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../node/ml/backend.ts";
import { loadDataset } from "../../node/ml/datasets.ts";
import { createModel, modelSpecFor } from "../../node/ml/models.ts";
import { trainLocal, evaluate, getWeights } from "../../node/ml/train.ts";
await initBackend();
let t = performance.now();
const train = loadDataset("mnist", "train", Array.from({ length: 6000 }, (_, i) => i));
const test = loadDataset("mnist", "test");
console.log("load", performance.now() - t);
for (const m of ["mlp", "cnn"] as const) {
  const model = createModel(modelSpecFor(m), 1);
  const r = trainLocal(model, train, { epochs: 1, batchSize: 32, learningRate: 1e-3, optimizer: "adam", seed: 1 });
  t = performance.now();
  const e = evaluate(model, test);
  console.log(m, r, "samples/s", r.samples / r.seconds, e, "eval s", (performance.now() - t) / 1000, getWeights(model).tensors.map((x) => x.name), tf.memory().numTensors);
}
