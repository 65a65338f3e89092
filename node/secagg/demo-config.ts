/**
 * The private-mode parameters the demo and the benchmark deploy: each coordinate of numSamples ×
 * delta clipped to ±8000 with 10 fractional bits (256 peers × 8000 × 2^10 < 2^31). With Adam at
 * lr 3e-3 a local epoch moves a weight by at most ~lr × steps, so a 6,000-sample shard (188 steps)
 * stays inside ±8000 / 6000 ≈ 1.3 per coordinate; the resolution 2^-10 of numSamples × delta is
 * ~2e-7 per coordinate of the averaged delta at 6,000 samples. A ring of k = 8
 * neighbours (the complete graph up to 9 peers), and a threshold of a majority of each peer's
 * neighbours, t = floor(deg/2) + 1 with deg = min(k, peers − 1): a peer's secrets survive as long
 * as fewer than half of its neighbours vanish, and fewer than t colluding neighbours learn nothing.
 */
import { validateSecAggConfig, type SecAggConfig } from "./config.ts";

export function privateDemoConfig(peers: number, neighbours = 8, threshold?: number): SecAggConfig {
  const degree = Math.min(neighbours, Math.max(1, peers - 1));
  return validateSecAggConfig({ range: 8000, scaleBits: 10, neighbours, threshold: threshold ?? Math.floor(degree / 2) + 1, noiseStd: 0 });
}
