// Distributed DP (node/privacy/skellam.ts, node/secagg/distributed-dp.ts): the CSPRNG Poisson and
// Skellam samplers against their distributions (moment bounds and chi-square fits on large,
// seed-free samples: a wrong sampler fails them, a right one fails with probability ~1e-4 per
// check), the Skellam RDP bound against a hand-computed value and against the Gaussian accountant
// in the limit where they coincide, the trainer's clip + quantize + noise step, and the rules
// that tie a private task's noise to its privacy ledger.
import { expect } from "chai";
import { computeRdp, rdpToEpsilon } from "../../node/privacy/accountant.ts";
import { PrivacyParameterError } from "../../node/privacy/errors.ts";
import { auditPeerEpsilon, decodeLedgerParams, encodeLedgerParams, epsilonToMilli, type LedgerParams } from "../../node/privacy/ledger.ts";
import {
  SKELLAM_ORDERS, SecureUniform, addSkellamNoise, distributedEpsilon, distributedNoiseMultiplierFor, distributedRoundRdp,
  logPoissonPmf, preRoundingClip, securePoisson, secureSkellam, skellamRdp, skellamShareLambda,
} from "../../node/privacy/skellam.ts";
import { validateSecAggConfig, worstCaseSum, type SecAggConfig } from "../../node/secagg/config.ts";
import { SecAggConfigError } from "../../node/secagg/errors.ts";
import { ledgerMismatch, privatizeForSum } from "../../node/secagg/distributed-dp.ts";
import { toSigned } from "../../node/secagg/quantize.ts";

/** Wilson–Hilferty upper quantile of chi-square with k degrees of freedom at tail 1e-4 (z = 3.719). */
const chi2Critical = (k: number) => k * (1 - 2 / (9 * k) + 3.719 * Math.sqrt(2 / (9 * k))) ** 3;

/** Sample mean and variance, accumulated around `center` (no cancellation for huge λ). */
function moments(n: number, draw: () => number, center: number): { mean: number; variance: number } {
  let s = 0, s2 = 0;
  for (let i = 0; i < n; i++) { const x = draw() - center; s += x; s2 += x * x; }
  const m = s / n;
  return { mean: m + center, variance: s2 / n - m * m };
}

describe("Skellam / Poisson sampler (CSPRNG)", () => {
  it("computes log P(k) of a Poisson exactly as the direct formula for small k (Loader's saddle-point form)", () => {
    let logFact = 0;
    for (let k = 1; k <= 300; k++) {
      logFact += Math.log(k);
      for (const lambda of [0.5, 3, 12, 150, 280]) {
        expect(logPoissonPmf(k, lambda)).to.be.closeTo(-lambda + k * Math.log(lambda) - logFact, 1e-9 * Math.max(1, Math.abs(logFact)));
      }
    }
    expect(logPoissonPmf(0, 7)).to.equal(-7);
    expect(logPoissonPmf(-1, 7)).to.equal(-Infinity);
  });

  it("draws Poisson(λ) with the right mean and variance, from tiny λ to 10^12 (both sampler branches)", () => {
    const u = new SecureUniform();
    const n = 60_000;
    for (const lambda of [0.2, 3, 9.5, 10, 40, 1e4, 1e8, 1e12]) {
      const { mean, variance } = moments(n, () => securePoisson(lambda, u), lambda);
      // Standard errors: mean √(λ/n); variance √((λ + 2λ²)/n) (Poisson 4th central moment λ(1+3λ)). 5 SE bounds.
      expect(Math.abs(mean - lambda), `mean at λ=${lambda}`).to.be.below(5 * Math.sqrt(lambda / n));
      expect(Math.abs(variance - lambda), `variance at λ=${lambda}`).to.be.below(5 * Math.sqrt((lambda + 2 * lambda * lambda) / n));
    }
  });

  it("fits the Poisson distribution (chi-square) in the inversion and in the PTRS regime", () => {
    const u = new SecureUniform();
    const n = 200_000;
    for (const lambda of [4, 30, 500]) {
      const lo = Math.max(0, Math.floor(lambda - 4 * Math.sqrt(lambda))), hi = Math.ceil(lambda + 4 * Math.sqrt(lambda));
      const counts = new Map<number, number>();
      for (let i = 0; i < n; i++) { const k = Math.min(hi + 1, Math.max(lo - 1, securePoisson(lambda, u))); counts.set(k, (counts.get(k) ?? 0) + 1); }
      // Bins lo..hi, plus the two tails; merge bins with expected < 20 into their neighbour.
      const expected: number[] = [], observed: number[] = [];
      let cdfBelow = 0;
      for (let k = 0; k < lo; k++) cdfBelow += Math.exp(logPoissonPmf(k, lambda));
      let e = cdfBelow * n, o = counts.get(lo - 1) ?? 0, inside = cdfBelow;
      for (let k = lo; k <= hi; k++) {
        const p = Math.exp(logPoissonPmf(k, lambda));
        inside += p;
        e += p * n; o += counts.get(k) ?? 0;
        if (e >= 20) { expected.push(e); observed.push(o); e = 0; o = 0; }
      }
      e += (1 - inside) * n; o += counts.get(hi + 1) ?? 0;
      expected[expected.length - 1] += e; observed[observed.length - 1] += o;
      const stat = expected.reduce((s, ex, i) => s + (observed[i] - ex) ** 2 / ex, 0);
      expect(stat, `chi-square at λ=${lambda} over ${expected.length} bins`).to.be.below(chi2Critical(expected.length - 1));
    }
  });

  it("a sampler with a shifted mean or the wrong spread fails these checks (the checks can fail)", () => {
    const u = new SecureUniform();
    const lambda = 1e4, n = 60_000;
    const shifted = moments(n, () => securePoisson(lambda, u) + 5, lambda); // 12 standard errors
    expect(Math.abs(shifted.mean - lambda)).to.be.above(5 * Math.sqrt(lambda / n));
    const normalApproxTooWide = moments(n, () => securePoisson(lambda, u) + securePoisson(lambda, u) - lambda, lambda);
    expect(Math.abs(normalApproxTooWide.variance - lambda)).to.be.above(5 * Math.sqrt((lambda + 2 * lambda * lambda) / n));
  });

  it("Sk(λ) is symmetric with variance 2λ; n peers' Sk(λ/n) shares add up to Sk(λ) in Z_(2^32)", () => {
    const u = new SecureUniform();
    const sk = moments(100_000, () => secureSkellam(50, u), 0);
    expect(Math.abs(sk.mean)).to.be.below(5 * Math.sqrt(100 / 100_000));
    expect(sk.variance).to.be.closeTo(100, 5 * Math.sqrt((100 + 2 * 100 * 100) / 100_000));
    // 10 peers × 40,000 coordinates, each peer adds Sk(λ/10) with λ = 2.5e9 in uint32 words (wrapping negatives).
    const peers = 10, d = 40_000, lambda = 2.5e9;
    const sum = new Int32Array(d);
    for (let p = 0; p < peers; p++) {
      const w = new Uint32Array(d);
      addSkellamNoise(w, lambda / peers);
      const s = toSigned(w);
      for (let k = 0; k < d; k++) sum[k] += s[k];
    }
    let s2 = 0, s1 = 0;
    for (let k = 0; k < d; k++) { s1 += sum[k]; s2 += sum[k] * sum[k]; }
    const variance = s2 / d - (s1 / d) ** 2;
    // Var = 2λ; relative SE of a variance estimate from d normal-like draws: √(2/d) ≈ 0.7 %.
    expect(variance / (2 * lambda)).to.be.within(1 - 5 * Math.sqrt(2 / d), 1 + 5 * Math.sqrt(2 / d));
    expect(() => securePoisson(-1)).to.throw(PrivacyParameterError);
    expect(() => securePoisson(2 ** 51)).to.throw(PrivacyParameterError);
  });
});

describe("Skellam accounting", () => {
  const P = { clipNorm: 1000, noiseMultiplier: 1, noisePeers: 10, scaleBits: 10, delta: 1e-5 };

  it("matches the paper's bound computed by hand", () => {
    // α = 2, μ = 100, Δ2 = 3, Δ1 = 5: 2·9/400 + min((3·9 + 30)/(16·100²), 15/400) = 0.045 + 0.00035625.
    expect(skellamRdp(2, 100, 3, 5)).to.be.closeTo(0.04535625, 1e-15);
    // The 3Δ1/(4μ) branch: α = 2, μ = 1, Δ2 = 1, Δ1 = 1: 2/4 + min(9/16, 3/4) = 1.0625; μ = 0.5 → 1 + min(3/4·4, 1.5) = 2.5.
    expect(skellamRdp(2, 1, 1, 1)).to.be.closeTo(1.0625, 1e-15);
    expect(skellamRdp(2, 0.5, 1, 1)).to.be.closeTo(2.5, 1e-15);
    expect(() => skellamRdp(2.5, 1, 1, 1)).to.throw(PrivacyParameterError, /integer order/);
  });

  it("equals a hand-computed epsilon: z = 1, one round, δ = 1e-5 gives 4.7527 (the Gaussian's value, as Δ2 is large)", () => {
    // min over integer α of α/2 + log((α−1)/α) − (log δ + log α)/(α − 1), at α = 5.
    expect(distributedEpsilon(P, [10])).to.be.closeTo(4.752728336819823, 1e-6);
    expect(distributedEpsilon(P, [10, 10, 10])).to.be.closeTo(9.087861628831664, 1e-6);
    // And the existing Gaussian accountant (q = 1) over the same orders agrees.
    const gaussian = rdpToEpsilon(SKELLAM_ORDERS, computeRdp(1, 1, 3, SKELLAM_ORDERS), 1e-5).epsilon;
    expect(distributedEpsilon(P, [10, 10, 10])).to.be.closeTo(gaussian, 1e-6);
  });

  it("grows with rounds, shrinks with noise, and charges rounds with fewer than n_min committers", () => {
    let last = 0;
    for (let r = 1; r <= 6; r++) {
      const e = distributedEpsilon(P, new Array(r).fill(10));
      expect(e).to.be.above(last);
      last = e;
    }
    expect(distributedEpsilon({ ...P, noiseMultiplier: 2 }, [10])).to.be.below(distributedEpsilon(P, [10]));
    // 5 of the planned 10 committers: half the variance, like z/√2.
    expect(distributedEpsilon(P, [5])).to.be.closeTo(distributedEpsilon({ ...P, noiseMultiplier: Math.SQRT1_2 }, [10]), 1e-3);
    // More than n_min committers are not credited.
    expect(distributedEpsilon(P, [30])).to.equal(distributedEpsilon(P, [10]));
    // A small integer sensitivity makes the Skellam term matter: ε is above the Gaussian's.
    expect(distributedEpsilon({ ...P, clipNorm: 1, scaleBits: 0 }, [10])).to.be.above(distributedEpsilon(P, [10]));
    expect(distributedRoundRdp(P, 10)).to.have.length(SKELLAM_ORDERS.length);
  });

  it("calibrates z for a target epsilon (the result reaches it, 1e-3 less does not)", () => {
    const base = { clipNorm: 1000, noisePeers: 10, scaleBits: 10, delta: 1e-5 };
    const z = distributedNoiseMultiplierFor(base, 3, 8);
    expect(distributedEpsilon({ ...base, noiseMultiplier: z }, [10, 10, 10])).to.be.at.most(8);
    expect(distributedEpsilon({ ...base, noiseMultiplier: z - 0.002 }, [10, 10, 10])).to.be.above(8);
    expect(skellamShareLambda({ ...base, noiseMultiplier: 1 })).to.equal((1000 * 1024) ** 2 / 20);
  });
});

describe("the trainer's step: clip, quantize, add its Skellam share", () => {
  const config = (o: Partial<SecAggConfig> = {}): SecAggConfig => validateSecAggConfig({ range: 50, scaleBits: 8, neighbours: 4, threshold: 3, noiseStd: 0, clipL2: 20, noisePeers: 0, ...o });

  it("keeps the rounded integer vector within C·2^s even when rounding pushes every coordinate outward", () => {
    const d = 10_000;
    const v = new Float64Array(d).fill(1); // norm 100 > C = 20
    const out = privatizeForSum(v, config());
    expect(out.l2Clipped).to.equal(true);
    expect(out.normBefore).to.equal(100);
    const q = toSigned(out.values);
    let sq = 0;
    for (let k = 0; k < d; k++) sq += q[k] * q[k];
    expect(Math.sqrt(sq)).to.be.at.most(20 * 2 ** 8);
    expect(() => preRoundingClip({ clipNorm: 0.1, scaleBits: 0 }, d)).to.throw(PrivacyParameterError, /rounding slack/);
  });

  it("adds noise of variance σ²·4^s / n_min per coordinate, and refuses noise without a clip", () => {
    const d = 50_000;
    const c = config({ noiseStd: 30, clipL2: 20, noisePeers: 4 });
    const out = privatizeForSum(new Float64Array(d), c);
    const q = toSigned(out.values);
    let sq = 0;
    for (let k = 0; k < d; k++) sq += q[k] * q[k];
    const planned = (30 * 256) ** 2 / 4;
    expect(out.lambda).to.equal(planned / 2);
    expect(sq / d / planned).to.be.within(1 - 5 * Math.sqrt(2 / d), 1 + 5 * Math.sqrt(2 / d));
    expect(() => config({ noiseStd: 30, clipL2: 0, noisePeers: 4 })).to.throw(SecAggConfigError, /L2 clip/);
    expect(() => config({ noiseStd: 30, noisePeers: 0 })).to.throw(SecAggConfigError, /noisePeers/);
    expect(() => config({ noisePeers: 3 })).to.throw(SecAggConfigError, /noisePeers/);
    // The overflow bound counts 256 peers' shares: 8σ·√(256/n_min).
    expect(worstCaseSum(c)).to.equal((256 * 50 + 8 * 30 * 8) * 256 + 256);
  });

  it("ties the private task's noise to its privacy ledger: a ledger that promises more than the config adds is refused", () => {
    const c = config({ noiseStd: 30, clipL2: 20, noisePeers: 4 });
    const ledger: LedgerParams = { unit: "distributed", clipNorm: 20, noiseMultiplier: 1.5, expectedBatchSize: 0, localEpochs: 0, delta: 1e-5, epsilonBudget: Infinity, noisePeers: 4, scaleBits: 8 };
    expect(ledgerMismatch(c, ledger)).to.equal(null);
    expect(ledgerMismatch(c, { ...ledger, noiseMultiplier: 1.6 })).to.match(/noise/);
    expect(ledgerMismatch(c, { ...ledger, noisePeers: 2 })).to.match(/noisePeers/);
    expect(ledgerMismatch(c, { ...ledger, clipNorm: 10 })).to.match(/clip/);
    expect(ledgerMismatch(c, { ...ledger, scaleBits: 10 })).to.match(/scaleBits/);
    expect(ledgerMismatch(config(), ledger)).to.match(/no noise/);
    expect(ledgerMismatch(c, { ...ledger, unit: "example", expectedBatchSize: 64, localEpochs: 1 })).to.match(/unit is example/);
  });
});

describe("privacy ledger: the distributed unit", () => {
  const P: LedgerParams = { unit: "distributed", clipNorm: 4000, noiseMultiplier: 0.8, expectedBatchSize: 0, localEpochs: 0, delta: 1e-5, epsilonBudget: 12, noisePeers: 3, scaleBits: 8 };

  it("encodes and decodes the unit, n_min and scale", () => {
    const raw = encodeLedgerParams(P);
    expect([raw.unit, raw.noisePeers, raw.scaleBits, raw.clipNormMilli, raw.noiseMultiplierMilli]).to.deep.equal([3, 3, 8, 4_000_000, 800]);
    expect(decodeLedgerParams(raw)).to.deep.include({ unit: "distributed", noisePeers: 3, scaleBits: 8, clipNorm: 4000 });
    expect(() => encodeLedgerParams({ ...P, noisePeers: 0 })).to.throw(PrivacyParameterError, /noisePeers/);
    expect(() => encodeLedgerParams({ ...P, clipNorm: null })).to.throw(PrivacyParameterError, /clip/);
  });

  it("audits each trainer's reports against its rounds' committed counts", () => {
    const dp = { clipNorm: 4000, noiseMultiplier: 0.8, noisePeers: 3, scaleBits: 8, delta: 1e-5 };
    const one = epsilonToMilli(distributedEpsilon(dp, [3]));
    const two = epsilonToMilli(distributedEpsilon(dp, [3, 2]));
    const rows = auditPeerEpsilon(P, [
      { round: 1, numSamples: 900, roundCommits: 3, reportedMilli: one },
      { round: 2, numSamples: 900, roundCommits: 2, reportedMilli: one }, // round 2 had only 2 committers: ε grew more than a full round
    ]);
    expect(rows.map((r) => r.status)).to.deep.equal(["ok", "under-reported"]);
    expect(rows[1].expectedMilli).to.equal(two);
    expect(auditPeerEpsilon(P, [{ round: 1, numSamples: 900, reportedMilli: one }])[0].status).to.equal("invalid-samples");
    const many = auditPeerEpsilon(P, Array.from({ length: 8 }, (_, i) => ({ round: i + 1, numSamples: 900, roundCommits: 3, reportedMilli: null })));
    expect(many.some((r) => r.status === "over-budget")).to.equal(true);
    expect(many[0].status).to.equal("missing");
  });
});
