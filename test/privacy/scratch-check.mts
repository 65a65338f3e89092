import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../node/ml/backend.ts";
import { createModel, modelSpecFor } from "../../node/ml/models.ts";
import { ghostClippedGradientSum, bruteForceGradientNorms, perExampleClippedGradientSum } from "../../node/privacy/dpsgd-step.ts";
await initBackend("wasm");
const model = createModel(modelSpecFor("mlp"), 3);
const n = 8;
const xs = tf.randomUniform([n, 28, 28, 1]);
const ys = tf.oneHot(tf.tensor1d([0,1,2,3,4,5,6,7], "int32"), 10) as tf.Tensor2D;
const g = ghostClippedGradientSum(model, xs, ys, 0.5);
const bf = bruteForceGradientNorms(model, xs, ys);
console.log(Array.from(g.norms.dataSync()), Array.from(bf));
const s = perExampleClippedGradientSum(model, xs, ys, 0.5);
for (let k = 0; k < 4; k++) { const a = g.sums[k].dataSync(), b = s.sums[k].dataSync(); let m = 0, mx=0; for (let i = 0; i < a.length; i++) { m = Math.max(m, Math.abs(a[i]-b[i])); mx=Math.max(mx,Math.abs(b[i])); } console.log(k, m, mx); }
console.log(tf.memory().numTensors);
// throughput
const N = 256; const X = tf.randomUniform([N, 28, 28, 1]); const Y = tf.oneHot(tf.randomUniform([N], 0, 10, "int32"), 10) as tf.Tensor2D;
for (const rep of [0,1]) { const t0 = performance.now(); for (let i = 0; i < 20; i++) { const r = ghostClippedGradientSum(model, X, Y, 1); r.sums.forEach(t=>t.dataSync()); tf.dispose([...r.sums, r.norms, r.lossSum]); } console.log("ghost samples/s", (20*N)/((performance.now()-t0)/1000)); }
const opt = tf.train.sgd(0.1); const vars = model.trainableWeights.map(v=>v.read() as tf.Variable);
for (const rep of [0,1]) { const t0 = performance.now(); for (let i = 0; i < 20; i++) { tf.tidy(()=>{ const c = opt.minimize(() => tf.losses.softmaxCrossEntropy(Y, model.apply(X, {training:true}) as tf.Tensor) as tf.Scalar, true, vars); c!.dataSync(); }); } console.log("plain samples/s", (20*N)/((performance.now()-t0)/1000)); }
console.log(tf.memory().numTensors);
