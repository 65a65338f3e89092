import { dpSgdNoiseMultiplierFor } from "../../node/privacy/dpsgd.ts";
for (const E of [10, 15, 20]) for (const eps of [0.5, 1, 2, 8]) {
  const row: string[] = [];
  for (const B of [64, 128, 256, 512, 1024]) {
    const s = dpSgdNoiseMultiplierFor(eps, 1e-5, { rounds: E, epochs: 1, expectedBatchSize: B, datasetSize: 5400 });
    row.push(`B${B}: s=${s.toFixed(2)} sqrtB/s=${(Math.sqrt(B)/s).toFixed(2)} std/B=${(s/B).toFixed(4)}`);
  }
  console.log(`E=${E} eps=${eps} | ${row.join(" | ")}`);
}
