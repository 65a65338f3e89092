import { expect } from "chai";
import {
  AggregationInputError, AggregationParameterError, centeredClipping, coordinateMedian, fedAvg, krum,
  leaveOneOutMedianDots, pairwiseSquaredDistances, trimmedMean,
} from "../../node/aggregation/index.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";

const v = (...xs: number[]) => Float32Array.from(xs);
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");
function randomVectors(n: number, d: number, seed: number, spread = 1): Float32Array[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => spread * randomNormal(rng)));
}

describe("fedAvg (McMahan et al. 2017)", () => {
  it("weights updates by their sample counts (hand-computed)", () => {
    expect(Array.from(fedAvg([v(1, 2), v(3, 4)], [1, 3]))).to.deep.equal([2.5, 3.5]);
  });

  it("accumulates in float64 and rounds once (float32 accumulation would give a different value)", () => {
    const updates = [v(16777216), v(1), v(1)];
    let f32 = 0;
    for (const u of updates) f32 = Math.fround(f32 + u[0]);
    const float32Path = Math.fround(f32 / 3);
    const out = fedAvg(updates, [1, 1, 1]);
    expect(out[0]).to.equal(5592406);
    expect(float32Path).to.not.equal(out[0]);
  });

  it("is bit-identical across runs", () => {
    const ups = randomVectors(7, 1000, 1);
    const ns = [10, 20, 30, 5, 7, 1000, 3];
    expect(bytes(fedAvg(ups, ns))).to.equal(bytes(fedAvg(ups, ns)));
  });

  it("does not depend on arrival order once callers sort by commit index", () => {
    const commits = randomVectors(9, 500, 2).map((w, commitIndex) => ({ commitIndex, w, n: 10 + commitIndex * 7 }));
    const reference = fedAvg(commits.map((c) => c.w), commits.map((c) => c.n));
    const rng = mulberry32(3);
    for (let trial = 0; trial < 5; trial++) {
      const arrived = [...commits].sort(() => rng() - 0.5);
      const sorted = [...arrived].sort((a, b) => a.commitIndex - b.commitIndex);
      expect(bytes(fedAvg(sorted.map((c) => c.w), sorted.map((c) => c.n)))).to.equal(bytes(reference));
    }
  });

  it("rejects empty input, mismatched lengths and bad sample counts with the offending values", () => {
    expect(() => fedAvg([], [])).to.throw(AggregationInputError, /at least one/);
    expect(() => fedAvg([v(1, 2), v(1)], [1, 1])).to.throw(AggregationInputError, /vector 1 has length 1/);
    expect(() => fedAvg([v(1)], [1, 2])).to.throw(AggregationInputError, /1 updates but 2 sample counts/);
    expect(() => fedAvg([v(1)], [-1])).to.throw(AggregationInputError, /-1/);
    expect(() => fedAvg([v(1), v(2)], [0, 0])).to.throw(AggregationInputError, /total sample count is 0/);
  });
});

describe("krum (Blanchard et al. 2017)", () => {
  const line = [v(0), v(1), v(2), v(3), v(100)];

  it("scores each update by its n - f - 2 nearest squared distances (hand-computed)", () => {
    const { scores, selected } = krum(line, 1);
    expect(scores).to.deep.equal([5, 2, 2, 5, 97 * 97 + 98 * 98]);
    expect(selected).to.deep.equal([1]); // tie 1/2 broken by the lower index
  });

  it("Multi-Krum selects the m best, ties by index, returned in index order", () => {
    expect(krum(line, 1, 3).selected).to.deep.equal([0, 1, 2]);
  });

  it("selects the outlier-free set in high dimension", () => {
    const honest = randomVectors(8, 2000, 4, 0.1);
    const outliers = [randomVectors(1, 2000, 5, 5)[0], honest[0].map((x) => -x * 20)];
    const all = [honest[0], honest[1], outliers[0], honest[2], honest[3], outliers[1], honest[4], honest[5], honest[6], honest[7]];
    expect(krum(all, 2, all.length - 2).selected).to.deep.equal([0, 1, 3, 4, 6, 7, 8, 9]);
  });

  it("computes the distance identity in float64 to match direct differences", () => {
    const ups = randomVectors(6, 300, 6);
    const dist = pairwiseSquaredDistances(ups);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) {
      let direct = 0;
      for (let k = 0; k < 300; k++) direct += (ups[i][k] - ups[j][k]) ** 2;
      expect(dist[i * 6 + j]).to.be.closeTo(direct, 1e-9 * Math.max(1, direct));
    }
  });

  it("requires n > 2f + 2 and 1 <= m <= n - f, naming n and f", () => {
    expect(() => krum(line, 2)).to.throw(AggregationParameterError, /n > 2f \+ 2, got n = 5 and f = 2/);
    expect(() => krum(line, -1)).to.throw(AggregationParameterError, /f must be an integer >= 0, got -1/);
    expect(() => krum(line, 1, 5)).to.throw(AggregationParameterError, /\[1, 4\], got 5/);
  });
});

describe("coordinate median and trimmed mean (Yin et al. 2018)", () => {
  it("median per coordinate (odd and even n, hand-computed)", () => {
    expect(Array.from(coordinateMedian([v(1, 5, 3), v(2, 2, 9), v(10, 0, 4)]))).to.deep.equal([2, 2, 4]);
    expect(Array.from(coordinateMedian([v(1), v(2), v(3), v(10)]))).to.deep.equal([2.5]);
  });

  it("leave-one-out median dot products (hand-computed, even and odd n)", () => {
    expect(Array.from(leaveOneOutMedianDots([v(1), v(2), v(3), v(10)]))).to.deep.equal([3, 6, 6, 20]);
    expect(Array.from(leaveOneOutMedianDots([v(1), v(2), v(4)]))).to.deep.equal([3, 5, 6]);
  });

  it("trimmed mean drops beta per side (hand-computed)", () => {
    expect(Array.from(trimmedMean([v(1, 0), v(2, 10), v(3, 20), v(100, -50)], 1))).to.deep.equal([2.5, 5]);
    expect(Array.from(trimmedMean([v(1), v(2)], 0))).to.deep.equal([1.5]);
  });

  it("trimmed mean validates n > 2 beta and integer beta", () => {
    expect(() => trimmedMean([v(1), v(2), v(3), v(4)], 2)).to.throw(AggregationParameterError, /n > 2 beta, got n = 4 and beta = 2/);
    expect(() => trimmedMean([v(1), v(2), v(3)], 0.5)).to.throw(AggregationParameterError, /got 0.5/);
  });
});

describe("centered clipping (Karimireddy, He & Jaggi 2021)", () => {
  it("clips around the reference, one and two iterations (hand-computed)", () => {
    const deltas = [v(3, 4), v(0, 0)];
    const one = centeredClipping(deltas, { tau: 1, iterations: 1 });
    expect(one[0]).to.be.closeTo(0.3, 1e-7);
    expect(one[1]).to.be.closeTo(0.4, 1e-7);
    const two = centeredClipping(deltas, { tau: 1, iterations: 2 });
    expect(two[0]).to.be.closeTo(0.45, 1e-7);
    expect(two[1]).to.be.closeTo(0.6, 1e-7);
  });

  it("starts from the reference (previous global delta)", () => {
    const out = centeredClipping([v(1, 1), v(1, 1)], { tau: 10, iterations: 1, reference: v(0.5, 0.5) });
    expect(Array.from(out)).to.deep.equal([1, 1]);
  });

  it("validates tau, iterations and the reference length", () => {
    expect(() => centeredClipping([v(1)], { tau: 0 })).to.throw(AggregationParameterError, /tau must be a finite number > 0, got 0/);
    expect(() => centeredClipping([v(1)], { tau: 1, iterations: 0 })).to.throw(AggregationParameterError, /iterations must be an integer >= 1, got 0/);
    expect(() => centeredClipping([v(1)], { tau: 1, reference: v(1, 2) })).to.throw(AggregationInputError, /reference has length 2/);
  });
});
