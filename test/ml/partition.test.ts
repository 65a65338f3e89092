import { expect } from "chai";
import { loadLabels } from "../../node/ml/datasets.ts";
import { holdout, labelHistogram, partition, PartitionError, type PartitionScheme } from "../../node/ml/partition.ts";
import { deriveSeed, mulberry32, randomDirichlet, randomGamma } from "../../node/ml/random.ts";

const labels = loadLabels("mnist", "train");

function checkDisjointNonEmpty(shards: number[][], n: number): number {
  const seen = new Uint8Array(n);
  let total = 0;
  const problems: string[] = [];
  shards.forEach((s, p) => {
    if (s.length === 0) problems.push(`shard ${p} is empty`);
    for (const i of s) {
      if (!(i >= 0 && i < n)) problems.push(`shard ${p} holds out-of-range index ${i}`);
      else if (seen[i]) problems.push(`sample ${i} is in two shards`);
      seen[i] = 1;
      total++;
    }
  });
  expect(problems.slice(0, 5)).to.deep.equal([]);
  return total;
}

const same = (a: number[][], b: number[][]) => JSON.stringify(a) === JSON.stringify(b);

/** Mean total-variation distance between each shard's label distribution and the global one. */
function labelSkew(shards: number[][]): number {
  const global = labelHistogram(labels, Array.from(labels.keys())).map((c) => c / labels.length);
  const tv = shards.map((s) => {
    const h = labelHistogram(labels, s).map((c) => c / s.length);
    return 0.5 * h.reduce((acc, p, k) => acc + Math.abs(p - global[k]), 0);
  });
  return tv.reduce((a, b) => a + b, 0) / tv.length;
}

describe("ml/partition", function () {
  this.timeout(20000);
  const schemes: PartitionScheme[] = [
    { kind: "iid" },
    { kind: "dirichlet", alpha: 0.5 },
    { kind: "shards", classesPerPeer: 2 },
    { kind: "quantity", alpha: 1 },
  ];

  for (const scheme of schemes) {
    it(`${scheme.kind}: deterministic per seed, disjoint, no empty shard, sorted`, () => {
      const a = partition(labels, 10, scheme, 42);
      const b = partition(labels, 10, scheme, 42);
      const c = partition(labels, 10, scheme, 43);
      expect(same(a, b)).to.equal(true);
      expect(same(a, c)).to.equal(false);
      expect(a).to.have.length(10);
      const total = checkDisjointNonEmpty(a, labels.length);
      if (scheme.kind !== "shards") expect(total).to.equal(labels.length); // full coverage
      expect(a.every((s) => s.every((v, i) => i === 0 || v > s[i - 1]))).to.equal(true);
    });
  }

  it("iid: equal sizes (±1) and near-global label mix", () => {
    const shards = partition(labels, 7, { kind: "iid" }, 1);
    const sizes = shards.map((s) => s.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).to.be.at.most(1);
    expect(labelSkew(shards)).to.be.below(0.03);
  });

  it("dirichlet: skew grows as alpha shrinks (measurably above iid)", () => {
    const iid = labelSkew(partition(labels, 10, { kind: "iid" }, 5));
    const a10 = labelSkew(partition(labels, 10, { kind: "dirichlet", alpha: 10 }, 5));
    const a05 = labelSkew(partition(labels, 10, { kind: "dirichlet", alpha: 0.5 }, 5));
    const a01 = labelSkew(partition(labels, 10, { kind: "dirichlet", alpha: 0.1 }, 5));
    expect(a05).to.be.greaterThan(0.25);
    expect(iid).to.be.below(a10);
    expect(a10).to.be.below(a05);
    expect(a05).to.be.below(a01);
  });

  it("dirichlet: honours minSamplesPerPeer and errors when impossible", () => {
    const shards = partition(labels, 20, { kind: "dirichlet", alpha: 0.3, minSamplesPerPeer: 200 }, 3);
    expect(Math.min(...shards.map((s) => s.length))).to.be.at.least(200);
    expect(() => partition(labels.subarray(0, 50), 10, { kind: "dirichlet", alpha: 0.5, minSamplesPerPeer: 10 }, 1)).to.throw(PartitionError, /10 peers × 10 samples minimum exceeds the 50 samples/);
    expect(() => partition(labels.subarray(0, 30), 25, { kind: "dirichlet", alpha: 0.01 }, 1)).to.throw(PartitionError, /no draw in 100 attempts/);
    expect(() => partition(labels, 10, { kind: "dirichlet", alpha: 0 }, 1)).to.throw(PartitionError, /alpha must be a positive/);
  });

  it("shards: every peer holds exactly k classes, and classes are spread evenly", () => {
    for (const k of [1, 2, 3]) {
      const shards = partition(labels, 10, { kind: "shards", classesPerPeer: k }, 9);
      for (const s of shards) expect(labelHistogram(labels, s).filter((c) => c > 0)).to.have.length(k);
      checkDisjointNonEmpty(shards, labels.length);
    }
    // 10 peers × 2 classes over 10 classes: each class held by exactly 2 peers, all samples used.
    const total = partition(labels, 10, { kind: "shards", classesPerPeer: 2 }, 9).reduce((a, s) => a + s.length, 0);
    expect(total).to.equal(labels.length);
    expect(() => partition(labels, 10, { kind: "shards", classesPerPeer: 11 }, 1)).to.throw(PartitionError, /classesPerPeer must be an integer in 1..10/);
  });

  it("quantity: sizes vary with small alpha while labels stay mixed", () => {
    const shards = partition(labels, 10, { kind: "quantity", alpha: 0.5 }, 4);
    const sizes = shards.map((s) => s.length);
    expect(Math.max(...sizes) / Math.min(...sizes)).to.be.greaterThan(3);
    const big = shards.filter((s) => s.length > 2000);
    expect(labelSkew(big)).to.be.below(0.05);
  });

  it("errors on more peers than samples or a bad peer count", () => {
    expect(() => partition(labels.subarray(0, 5), 6, { kind: "iid" }, 1)).to.throw(PartitionError, /6 peers .* from 5 samples/);
    expect(() => partition(labels, 0, { kind: "iid" }, 1)).to.throw(PartitionError, /positive integer, got 0/);
  });

  it("holdout: seeded, disjoint, covers the shard, fraction respected", () => {
    const shard = partition(labels, 10, { kind: "iid" }, 2)[3];
    const a = holdout(shard, 0.1, 11);
    expect(JSON.stringify(holdout(shard, 0.1, 11))).to.equal(JSON.stringify(a));
    expect(a.validation.length).to.equal(Math.round(shard.length * 0.1));
    expect(JSON.stringify([...a.train, ...a.validation].sort((x, y) => x - y))).to.equal(JSON.stringify(shard));
    expect(holdout([1, 2], 0.01, 1).validation).to.have.length(1);
    expect(() => holdout(shard, 1, 1)).to.throw(PartitionError, /\[0, 1\)/);
  });

  it("random: seeded streams are reproducible; gamma/dirichlet have the right means", () => {
    const r1 = mulberry32(deriveSeed(1, 2, 3));
    const r2 = mulberry32(deriveSeed(1, 2, 3));
    expect(Array.from({ length: 5 }, r1)).to.deep.equal(Array.from({ length: 5 }, r2));
    expect(deriveSeed(1, 2, 3)).to.not.equal(deriveSeed(1, 3, 2));
    const rng = mulberry32(99);
    for (const shape of [0.3, 2.5]) {
      const mean = Array.from({ length: 20000 }, () => randomGamma(shape, rng)).reduce((a, b) => a + b, 0) / 20000;
      expect(mean).to.be.closeTo(shape, shape * 0.05);
    }
    const d = randomDirichlet(0.5, 4, rng);
    expect(d.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
  });
});
