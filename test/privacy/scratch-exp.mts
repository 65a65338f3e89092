import { simulate } from "../../node/sim/index.ts";
import { dpSgdNoiseMultiplierFor } from "../../node/privacy/dpsgd.ts";
const avg = process.argv[9] === "avg";
const [eps, rounds, epochs, B, C, opt, lr] = process.argv.slice(2, 9).map((x, i) => (i === 5 ? x : Number(x)));
const sigma = dpSgdNoiseMultiplierFor(eps as number, 1e-5, { rounds: rounds as number, epochs: epochs as number, expectedBatchSize: B as number, datasetSize: 5400 });
const t0 = performance.now();
const res = await simulate({
  dataset: "mnist", model: "mlp", numPeers: 10, rounds: rounds as number, partition: { kind: "iid" }, attackers: [], rule: "fedavg", ruleParam: 0,
  localEpochs: epochs as number, batchSize: 32, learningRate: lr as number, optimizer: opt as "sgd", seed: 1, testSamples: 2000,
  exampleDp: { clipNorm: C as number, noiseMultiplier: sigma, expectedBatchSize: B as number, averageLastEpoch: avg },
  onRound: (r) => console.log(`  r${r.round} acc ${(100 * r.accuracy).toFixed(1)} ${r.seconds.toFixed(0)}s`),
});
console.log(`avg ${avg} eps ${eps} R${rounds}xE${epochs} B${B} C${C} ${opt} lr${lr} sigma ${sigma.toFixed(3)}: final ${(100 * res.rounds.at(-1)!.accuracy).toFixed(2)} in ${((performance.now() - t0) / 1000).toFixed(0)} s, samples/peer ${res.samplesPerPeer[0]}`);
