import { expect } from "chai";
import {
  l2Norm,
  privatizeUpdate,
  requireSecureSource,
  secureGaussianSource,
  seededGaussianSource,
  type GaussianSource,
} from "../../node/privacy/gaussian.ts";
import { InsecureNoiseSourceError, NonFiniteUpdateError, PrivacyParameterError } from "../../node/privacy/errors.ts";

/** A reproducible update with coordinates in [-scale, scale). */
function fixedUpdate(n: number, scale: number, seed = 7): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

function stats(values: ArrayLike<number>): { mean: number; std: number; within1: number; within2: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i] - mean) ** 2;
  const std = Math.sqrt(ss / (values.length - 1));
  let w1 = 0;
  let w2 = 0;
  for (let i = 0; i < values.length; i++) {
    const z = Math.abs(values[i] - mean) / std;
    if (z <= 1) w1++;
    if (z <= 2) w2++;
  }
  return { mean, std, within1: w1 / values.length, within2: w2 / values.length };
}

const noNoise = seededGaussianSource(1);

describe("privacy: privatizeUpdate clipping", () => {
  it("scales an update above the clip norm down to norm C", () => {
    const delta = fixedUpdate(5000, 1);
    const before = l2Norm(delta);
    expect(before).to.be.greaterThan(10);
    const { noised, preClipNorm, clipped } = privatizeUpdate(delta, 2, 0, noNoise);
    expect(clipped).to.equal(true);
    expect(preClipNorm).to.be.closeTo(before, 1e-9);
    const after = l2Norm(noised);
    expect(after).to.be.at.most(2 * (1 + 1e-6));
    expect(after).to.be.closeTo(2, 1e-5);
  });

  it("leaves an update below the clip norm unchanged", () => {
    const delta = fixedUpdate(1000, 0.001);
    const { noised, preClipNorm, clipped } = privatizeUpdate(delta, 5, 0, noNoise);
    expect(clipped).to.equal(false);
    expect(preClipNorm).to.be.lessThan(5);
    expect(Array.from(noised)).to.deep.equal(Array.from(delta));
  });

  it("preserves the direction: every coordinate is scaled by the same factor C / ||delta||", () => {
    const delta = Float32Array.from([3, -4, 0, 12]); // norm 13
    const { noised, preClipNorm } = privatizeUpdate(delta, 1, 0, noNoise);
    expect(preClipNorm).to.equal(13);
    const expected = [3 / 13, -4 / 13, 0, 12 / 13];
    for (let i = 0; i < 4; i++) expect(noised[i]).to.be.closeTo(expected[i], 1e-7);
    let dot = 0;
    for (let i = 0; i < 4; i++) dot += noised[i] * delta[i];
    expect(dot / (l2Norm(noised) * 13)).to.be.closeTo(1, 1e-7);
  });

  it("computes the norm in float64 (no float32 overflow for large coordinates)", () => {
    const delta = new Float32Array(4).fill(3e38); // squares overflow float32, not float64
    const { preClipNorm, noised } = privatizeUpdate(delta, 1, 0, noNoise);
    expect(preClipNorm).to.be.closeTo(6e38, 1e32);
    for (const v of noised) expect(v).to.be.closeTo(0.5, 1e-6);
  });

  it("does not modify its input", () => {
    const delta = fixedUpdate(3000, 1);
    const copy = Float32Array.from(delta);
    privatizeUpdate(delta, 1, 1, seededGaussianSource(3));
    expect(Array.from(delta)).to.deep.equal(Array.from(copy));
  });

  it("handles an empty update and a zero update", () => {
    expect(privatizeUpdate(new Float32Array(0), 1, 1, seededGaussianSource(1)).noised.length).to.equal(0);
    const zero = privatizeUpdate(new Float32Array(10), 1, 0, noNoise);
    expect(zero.preClipNorm).to.equal(0);
    expect(zero.clipped).to.equal(false);
    expect(Array.from(zero.noised)).to.deep.equal(new Array(10).fill(0));
  });
});

describe("privacy: privatizeUpdate noise", () => {
  it("adds noise with mean ~0 and std ~ sigma * C (seeded, 200k coordinates)", () => {
    const n = 200_000;
    const C = 2;
    const sigma = 1.5;
    const { noised } = privatizeUpdate(new Float32Array(n), C, sigma, seededGaussianSource(42));
    const s = stats(noised);
    // Standard error of the mean is sigma*C/sqrt(n) = 0.0067; 5 standard errors.
    expect(s.mean).to.be.closeTo(0, 5 * (sigma * C) / Math.sqrt(n));
    // Relative standard error of the sample std is ~1/sqrt(2n) = 0.16 %; allow 1 %.
    expect(s.std).to.be.closeTo(sigma * C, 0.01 * sigma * C);
    // Normal shape: P(|Z| <= 1) = 0.6827, P(|Z| <= 2) = 0.9545.
    expect(s.within1).to.be.closeTo(0.6827, 0.005);
    expect(s.within2).to.be.closeTo(0.9545, 0.003);
  });

  it("draws are uncorrelated between neighbouring coordinates (Box-Muller pairs are independent)", () => {
    for (const src of [seededGaussianSource(77), secureGaussianSource()]) {
      const z = privatizeUpdate(new Float32Array(100_000), 1, 1, src).noised;
      let lag1 = 0;
      let lag2 = 0;
      let sq = 0;
      for (let i = 0; i < z.length - 2; i++) {
        lag1 += z[i] * z[i + 1];
        lag2 += z[i] * z[i + 2];
        sq += z[i] * z[i];
      }
      // Standard error of a sample correlation is 1/sqrt(n) = 0.0032; allow 6 of them.
      expect(Math.abs(lag1 / sq), src.name).to.be.lessThan(0.019);
      expect(Math.abs(lag2 / sq), src.name).to.be.lessThan(0.019);
    }
  });

  it("noise is centred on the clipped update, not on the raw one", () => {
    const n = 50_000;
    const delta = new Float32Array(n).fill(1); // norm sqrt(n) -> clipped to C = 1: every coordinate 1/sqrt(n)
    const { noised, clipped } = privatizeUpdate(delta, 1, 0.5, seededGaussianSource(5));
    expect(clipped).to.equal(true);
    const s = stats(noised);
    expect(s.mean).to.be.closeTo(1 / Math.sqrt(n), 5 * 0.5 / Math.sqrt(n));
    expect(s.std).to.be.closeTo(0.5, 0.01);
  });

  it("noises every coordinate when the length is not a multiple of the batch size", () => {
    const n = 8192 * 2 + 3;
    const { noised } = privatizeUpdate(new Float32Array(n), 1, 1, seededGaussianSource(11));
    let zeros = 0;
    for (const v of noised) if (v === 0) zeros++;
    expect(zeros).to.equal(0);
    expect(stats(noised.subarray(n - 5000)).std).to.be.closeTo(1, 0.05);
  });

  it("sigma = 0 adds no noise", () => {
    const delta = fixedUpdate(100, 0.01);
    const { noised } = privatizeUpdate(delta, 10, 0, seededGaussianSource(9));
    expect(Array.from(noised)).to.deep.equal(Array.from(delta));
  });

  it("a seeded source is reproducible and different seeds differ", () => {
    const a = privatizeUpdate(new Float32Array(1000), 1, 1, seededGaussianSource(123)).noised;
    const b = privatizeUpdate(new Float32Array(1000), 1, 1, seededGaussianSource(123)).noised;
    const c = privatizeUpdate(new Float32Array(1000), 1, 1, seededGaussianSource(124)).noised;
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    expect(Array.from(a)).to.not.deep.equal(Array.from(c));
  });
});

describe("privacy: noise sources", () => {
  it("the secure source gives different draws on every call and every instance", () => {
    const src = secureGaussianSource();
    const x = new Float64Array(64);
    const y = new Float64Array(64);
    src.fillStandardNormal(x);
    src.fillStandardNormal(y);
    const z = new Float64Array(64);
    secureGaussianSource().fillStandardNormal(z);
    expect(Array.from(x)).to.not.deep.equal(Array.from(y));
    expect(Array.from(x)).to.not.deep.equal(Array.from(z));
    expect(new Set([...x, ...y, ...z]).size).to.equal(192);
  });

  it("the secure source draws standard normals (200k draws)", () => {
    const out = new Float64Array(200_001);
    secureGaussianSource().fillStandardNormal(out);
    const s = stats(out);
    // Random, but failing bounds are > 5 standard errors away (probability < 1e-6).
    expect(s.mean).to.be.closeTo(0, 5 / Math.sqrt(out.length));
    expect(s.std).to.be.closeTo(1, 0.01);
    expect(s.within1).to.be.closeTo(0.6827, 0.006);
    expect(s.within2).to.be.closeTo(0.9545, 0.003);
    expect(out.every((v) => Number.isFinite(v))).to.equal(true);
  });

  it("only the secure source passes requireSecureSource", () => {
    expect(secureGaussianSource().secure).to.equal(true);
    expect(() => requireSecureSource(secureGaussianSource())).to.not.throw();
    const seeded = seededGaussianSource(1);
    expect(seeded.secure).to.equal(false);
    expect(seeded.name).to.match(/NOT SECURE/);
    expect(() => requireSecureSource(seeded)).to.throw(InsecureNoiseSourceError, /not secure/);
  });

  it("privatizeUpdate uses the source it is given", () => {
    let calls = 0;
    const counting: GaussianSource = {
      name: "constant",
      secure: false,
      fillStandardNormal(out) {
        calls++;
        out.fill(1);
      },
    };
    const { noised } = privatizeUpdate(new Float32Array(3), 2, 0.5, counting);
    expect(calls).to.equal(1);
    expect(Array.from(noised)).to.deep.equal([1, 1, 1]); // 0 + sigma * C * 1
  });
});

describe("privacy: privatizeUpdate parameter validation", () => {
  const d = new Float32Array(4);
  const rng = seededGaussianSource(0);
  for (const bad of [0, -1, NaN, Infinity]) {
    it(`rejects clipNorm ${bad}`, () => {
      expect(() => privatizeUpdate(d, bad, 1, rng)).to.throw(PrivacyParameterError, new RegExp(`clipNorm.*${bad}`));
    });
  }
  for (const bad of [-0.1, NaN, Infinity]) {
    it(`rejects noiseMultiplier ${bad}`, () => {
      expect(() => privatizeUpdate(d, 1, bad, rng)).to.throw(PrivacyParameterError, new RegExp(`noiseMultiplier.*${bad}`));
    });
  }
  it("rejects an update with a NaN coordinate and names it", () => {
    const bad = Float32Array.from([0, 1, NaN, 2]);
    expect(() => privatizeUpdate(bad, 1, 1, rng)).to.throw(NonFiniteUpdateError, /coordinate 2 .*NaN/);
  });
});
