// The optimized rules against straightforward reference implementations, bit for bit.
import { expect } from "chai";
import {
  GRAM_RECOMPUTE_RELATIVE, directSquaredDistance, distancesFromGram, gram, gramReference, gramUsesWasm,
} from "../../node/aggregation/gram.ts";
import { coordinateMedian, fedAvg, krum, pairwiseSquaredDistances, trimmedMean } from "../../node/aggregation/index.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");
function randomVectors(n: number, d: number, seed: number, spread = 1): Float32Array[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => spread * randomNormal(rng)));
}

// Straightforward references: the pre-optimization code paths.
function fedAvgReference(updates: Float32Array[], ns: number[]): Float32Array {
  const d = updates[0].length;
  const total = ns.reduce((a, b) => a + b, 0);
  const acc = new Float64Array(d);
  updates.forEach((u, i) => {
    if (ns[i] === 0) return;
    for (let k = 0; k < d; k++) acc[k] += ns[i] * u[k];
  });
  return Float32Array.from(acc, (x) => x / total);
}
function stableSortedColumn(updates: Float32Array[], k: number): Float64Array {
  const col = Float64Array.from(updates, (u) => u[k]);
  for (let a = 1; a < col.length; a++) { // insertion sort: stable, the old code's order
    const v = col[a];
    let b = a - 1;
    while (b >= 0 && col[b] > v) { col[b + 1] = col[b]; b--; }
    col[b + 1] = v;
  }
  return col;
}
function medianReference(updates: Float32Array[]): Float32Array {
  const n = updates.length, h = n >> 1;
  return Float32Array.from({ length: updates[0].length }, (_, k) => {
    const c = stableSortedColumn(updates, k);
    return n % 2 ? c[h] : (c[h - 1] + c[h]) / 2;
  });
}
function trimmedReference(updates: Float32Array[], beta: number): Float32Array {
  const n = updates.length;
  return Float32Array.from({ length: updates[0].length }, (_, k) => {
    const c = stableSortedColumn(updates, k);
    let s = 0;
    for (let i = beta; i < n - beta; i++) s += c[i];
    return s / (n - 2 * beta);
  });
}
function krumReference(updates: Float32Array[], f: number, m: number): number[] {
  const n = updates.length;
  const scores = updates.map((x, i) => {
    const row = updates.filter((_, j) => j !== i).map((y) => directSquaredDistance(x, y)).sort((a, b) => a - b);
    return row.slice(0, n - f - 2).reduce((a, b) => a + b, 0);
  });
  return scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b).slice(0, m).sort((a, b) => a - b);
}
/** Values with many exact ties and signed zeros, to stress selection against the stable sort. */
function tiedVectors(n: number, d: number, seed: number): Float32Array[] {
  const rng = mulberry32(seed);
  const pool = [0, -0, 1, -1, 0.5, 2, -3, 1e-30, -1e-30];
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => pool[Math.floor(rng() * pool.length)]));
}

describe("Gram matrix (fixed-order float64 dot products)", () => {
  it("uses the WebAssembly SIMD kernel on Node 22", () => {
    expect(gramUsesWasm()).to.equal(true);
  });

  it("kernel and JS reference agree bit for bit (odd lengths, block edges, n not a multiple of 4)", () => {
    for (const [n, d, seed] of [[1, 1, 1], [2, 3, 2], [5, 1023, 3], [6, 1024, 4], [7, 2049, 5], [13, 3001, 6]]) {
      const ups = randomVectors(n, d, seed, 3);
      const a = gram(ups), b = gramReference(ups);
      for (let i = 0; i < n; i++) for (let j = i; j < n; j++) {
        expect(Object.is(a.dots[i * a.stride + j], b.dots[i * b.stride + j]), `n=${n} d=${d} (${i},${j})`).to.equal(true);
      }
    }
  });

  it("is stable across calls of different sizes (kernel memory reuse)", () => {
    const big = randomVectors(11, 1500, 7), small = randomVectors(3, 700, 8);
    const first = bytes(gram(small).dots);
    gram(big);
    expect(bytes(gram(small).dots)).to.equal(first);
  });

  it("recomputes near-identical pairs directly instead of trusting the cancelling identity", () => {
    const base = randomVectors(1, 5000, 9, 10)[0];
    const near = base.map((x, k) => (k === 17 ? x + 1e-3 : x));
    const far = randomVectors(1, 5000, 10, 10)[0];
    const ups = [base, Float32Array.from(base), near, far];
    const dist = distancesFromGram(ups);
    expect(dist[0 * 4 + 1]).to.equal(0); // identical: exactly 0, never negative noise
    expect(dist[0 * 4 + 2]).to.equal(directSquaredDistance(base, near)); // recomputed: exact small distance
    const g = gram(ups);
    const viaIdentity = g.dots[0] + g.dots[2 * g.stride + 2] - 2 * g.dots[2];
    expect(viaIdentity).to.be.at.most(GRAM_RECOMPUTE_RELATIVE * (g.dots[0] + g.dots[2 * g.stride + 2]));
    expect(dist[0 * 4 + 3]).to.be.closeTo(directSquaredDistance(base, far), 1e-9 * dist[3]);
  });
});

describe("optimized rules match straightforward references bit for bit", () => {
  it("fedAvg on random inputs (incl. zero sample counts and n not a multiple of 4)", () => {
    const rng = mulberry32(11);
    for (const [n, d] of [[1, 10], [3, 5000], [7, 4097], [10, 9000], [23, 3000]]) {
      const ups = randomVectors(n, d, n * 100 + d, 0.3);
      const ns = ups.map((_, i) => (i === 1 ? 0 : 1 + Math.floor(rng() * 1000)));
      expect(bytes(fedAvg(ups, ns)), `n=${n}`).to.equal(bytes(fedAvgReference(ups, ns)));
    }
  });

  it("coordinate median, random and heavily tied/signed-zero inputs, odd and even n", () => {
    for (const n of [1, 2, 3, 4, 9, 10, 31, 64]) {
      for (const ups of [randomVectors(n, 400, n, 2), tiedVectors(n, 400, n + 50)]) {
        expect(bytes(coordinateMedian(ups)), `n=${n}`).to.equal(bytes(medianReference(ups)));
      }
    }
  });

  it("coordinate median with NaN coordinates keeps the old sorting behaviour", () => {
    const ups = randomVectors(6, 50, 12);
    ups[2][3] = NaN; ups[4][7] = NaN;
    expect(bytes(coordinateMedian(ups))).to.equal(bytes(medianReference(ups)));
  });

  it("trimmed mean, random and tied inputs, several beta", () => {
    for (const n of [3, 4, 10, 31, 50]) {
      for (const beta of [0, 1, Math.floor((n - 1) / 2)]) {
        for (const ups of [randomVectors(n, 300, n * 7 + beta, 2), tiedVectors(n, 300, n + beta)]) {
          expect(bytes(trimmedMean(ups, beta)), `n=${n} beta=${beta}`).to.equal(bytes(trimmedReference(ups, beta)));
        }
      }
    }
  });

  it("Krum / Multi-Krum select the same set as direct distances", () => {
    for (const [n, d, seed] of [[5, 100, 1], [10, 2000, 2], [17, 3000, 3], [30, 1500, 4]]) {
      const ups = randomVectors(n, d, seed, 0.1);
      ups[n - 1] = ups[n - 1].map((x) => x * 30); // an outlier
      ups[1] = Float32Array.from(ups[0]); // a duplicate (cancellation case)
      const f = Math.floor((n - 3) / 2);
      for (const m of [1, n - f]) expect(krum(ups, f, m).selected, `n=${n} m=${m}`).to.deep.equal(krumReference(ups, f, m));
    }
  });

  it("pairwise distances are symmetric, zero on the diagonal and never negative", () => {
    const ups = randomVectors(9, 777, 13);
    ups[4] = Float32Array.from(ups[2]);
    const dist = pairwiseSquaredDistances(ups);
    for (let i = 0; i < 9; i++) {
      expect(dist[i * 9 + i]).to.equal(0);
      for (let j = 0; j < 9; j++) {
        expect(dist[i * 9 + j]).to.equal(dist[j * 9 + i]);
        expect(dist[i * 9 + j]).to.be.at.least(0);
      }
    }
    expect(dist[2 * 9 + 4]).to.equal(0);
  });
});
