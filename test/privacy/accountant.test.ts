import { expect } from "chai";
import {
  DEFAULT_ORDERS,
  RdpAccountant,
  computeRdp,
  epsilonFromRdp,
  noiseMultiplierFor,
  rdpOfSampledGaussian,
  rdpToEpsilon,
  roundsWithinBudget,
} from "../../node/privacy/accountant.ts";
import { BudgetUnreachableError, PrivacyParameterError } from "../../node/privacy/errors.ts";
import { logErfc } from "../../node/privacy/special.ts";

/** Opacus' RDPAccountant.DEFAULT_ALPHAS (pytorch/opacus, opacus/accountants/rdp.py). */
const OPACUS_ALPHAS = [
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 52 }, (_, i) => 12 + i),
];

describe("privacy: accountant without subsampling (q = 1) vs closed form", () => {
  it("RDP of T Gaussian mechanisms is T * alpha / (2 sigma^2) at every order", () => {
    const orders = [1.5, 2, 3.7, 10, 64, 256];
    const rdp = computeRdp(1, 2.5, 7, orders);
    orders.forEach((a, k) => expect(rdp[k]).to.be.closeTo((7 * a) / (2 * 2.5 * 2.5), 1e-12));
  });

  it("epsilon at one order matches a hand calculation (sigma 2, T 10, alpha 8, delta 1e-5)", () => {
    // RDP = 10 * 8 / (2 * 4) = 10.
    // Balle et al. 2020: 10 + ln(7/8) - (ln 1e-5 + ln 8) / 7 = 10 - 0.133531 + (11.512925 - 2.079442) / 7 = 11.214109
    // Mironov 2017:      10 + ln(1e5) / 7 = 10 + 1.644704 = 11.644704
    const acc = new RdpAccountant({ noiseMultiplier: 2, orders: [8] });
    acc.step(10);
    expect(acc.rdp()[0]).to.equal(10);
    expect(acc.epsilon(1e-5).epsilon).to.be.closeTo(11.214109, 1e-6);
    expect(acc.epsilon(1e-5, "mironov2017").epsilon).to.be.closeTo(11.644704, 1e-6);
  });

  it("the best order approaches the continuous optimum rho + 2 sqrt(rho ln(1/delta)) (Mironov conversion)", () => {
    // sigma 5, T 10: rho = T / (2 sigma^2) = 0.2; optimum alpha = 1 + sqrt(ln(1e5)/0.2) = 8.587, eps = 3.234854.
    const { epsilon, bestOrder } = new RdpAccountant({ noiseMultiplier: 5 }).epsilon(1e-5, "mironov2017");
    expect(epsilon).to.equal(0); // no steps yet
    expect(bestOrder).to.be.a("number");
    const eps = RdpAccountant.epsilonAfter(10, 5, 1, 1e-5, { conversion: "mironov2017" });
    expect(eps).to.be.at.least(3.234854);
    expect(eps).to.be.closeTo(3.234854, 1e-3);
  });
});

describe("privacy: accountant vs published reference values", () => {
  // tensorflow/privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py
  it("TF Privacy test_compute_rdp_no_data / no_sampling: q = 0 gives 0; q = 1, sigma 10, alpha 20 gives 0.1", () => {
    expect(computeRdp(0, 10, 1, [20])[0]).to.equal(0);
    expect(computeRdp(1, 10, 1, [20])[0]).to.be.closeTo(0.1, 1e-15);
  });

  it("TF Privacy test_compute_rdp_scalar: compute_rdp(0.1, 2, 10, 5) = 0.07737", () => {
    expect(computeRdp(0.1, 2, 10, [5])[0]).to.be.closeTo(0.07737, 5e-6);
  });

  it("TF Privacy test_compute_rdp_sequence: q 0.01, sigma 2.5, 50 steps (fractional and integer orders)", () => {
    const rdp = computeRdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100]);
    const expected = [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307];
    expected.forEach((e, k) => expect(rdp[k]).to.be.closeTo(e, 1e-5));
    expect(rdpOfSampledGaussian(0.01, 2.5, Infinity)).to.equal(Infinity);
  });

  it("TF Privacy test_get_privacy_spent_check_target_delta: constant RDP 1.1 over orders 2..32 gives eps 1.32783806176 at order 32", () => {
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const { epsilon, bestOrder } = rdpToEpsilon(orders, orders.map(() => 1.1), 1e-5);
    expect(epsilon).to.be.closeTo(1.32783806176, 1e-9);
    expect(bestOrder).to.equal(32);
  });

  it("TF Privacy test_get_privacy_spent_check_target_delta: Gaussian sigma 4.530877117 is exactly (1, 1e-6)-DP", () => {
    const orders = Array.from({ length: 99000 }, (_, i) => 0.001 * (i + 1000)).filter((a) => a > 1);
    const { epsilon } = rdpToEpsilon(orders, computeRdp(1, 4.530877117, 1, orders), 1e-6);
    expect(epsilon).to.be.closeTo(1, 5e-8);
  });

  it("TF Privacy test_check_composition: 8.509656 at order 2.5 with the classic conversion, and no more with Balle et al.", () => {
    const orders = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 64, 256];
    const a = computeRdp(1e-4, 0.4, 40000, orders);
    const b = computeRdp(0.1, 2, 100, orders);
    const rdp = a.map((v, k) => v + b[k]);
    const classic = rdpToEpsilon(orders, rdp, 1e-5, "mironov2017");
    expect(classic.epsilon).to.be.closeTo(8.509656, 1e-6);
    expect(classic.bestOrder).to.equal(2.5);
    expect(rdpToEpsilon(orders, rdp, 1e-5).epsilon).to.be.at.most(8.509656);
  });

  it("log A_alpha for fractional orders matches direct numerical integration (TF Privacy test_compute_log_a_equals_mp, by quadrature here)", () => {
    // A_alpha = E_{z ~ N(0, sigma^2)} [(1 - q + q exp((2z - 1) / (2 sigma^2)))^alpha]; trapezoid rule in log space.
    const cases = [
      { q: 0.01, sigma: 10, alpha: 20 },
      { q: 0.1, sigma: 100, alpha: 20.5 },
      { q: 1e-3, sigma: 1, alpha: 2 },
      { q: 0.01, sigma: 2.5, alpha: 2.5 },
      { q: 0.3, sigma: 1.2, alpha: 3.7 },
      { q: 0.04, sigma: 1.5, alpha: 7.3 },
    ];
    for (const { q, sigma, alpha } of cases) {
      const lo = -30 * sigma;
      const hi = alpha + 30 * sigma;
      const n = 200_000;
      const h = (hi - lo) / n;
      let logSum = -Infinity;
      for (let i = 0; i <= n; i++) {
        const z = lo + i * h;
        const logPdf = -(z * z) / (2 * sigma * sigma) - Math.log(sigma * Math.sqrt(2 * Math.PI));
        const t = (2 * z - 1) / (2 * sigma * sigma);
        // log(1 - q + q e^t), stable for large t
        const logMix = t > 0 ? t + Math.log(q + (1 - q) * Math.exp(-t)) : Math.log1p(q * Math.expm1(t));
        const w = i === 0 || i === n ? 0.5 : 1;
        const term = Math.log(w * h) + logPdf + alpha * logMix;
        const m = Math.max(logSum, term);
        logSum = m + Math.log(Math.exp(logSum - m) + Math.exp(term - m));
      }
      const logA = rdpOfSampledGaussian(q, sigma, alpha) * (alpha - 1);
      expect(logA, `q=${q} sigma=${sigma} alpha=${alpha}`).to.be.closeTo(logSum, 1e-4 * Math.abs(logSum) + 1e-10);
    }
  });

  // pytorch/opacus, opacus/tests/accountants_test.py
  it("Opacus test_rdp_accountant: sigma 1.5, q 0.04, 2250 steps, delta 1e-5 gives eps 7.32911117143", () => {
    const acc = new RdpAccountant({ noiseMultiplier: 1.5, sampleRate: 0.04, orders: OPACUS_ALPHAS });
    for (let i = 0; i < 2250; i++) acc.step();
    expect(acc.epsilon(1e-5).epsilon).to.be.closeTo(7.32911117143, 1e-7);
    // The default orders are a superset of Opacus', so never looser.
    expect(RdpAccountant.epsilonAfter(2250, 1.5, 0.04, 1e-5)).to.be.at.most(7.32911117143 + 1e-9);
  });

  it("Opacus test_get_noise_multiplier_rdp_epochs/_steps: 1.416 (90 epochs) and 1.3562 (2000 steps) at eps 8, q 0.04", () => {
    // Opacus bisects until the bracket is 0.01 wide; ours is tight, so agree to within that width.
    const s1 = noiseMultiplierFor(8, 1e-5, 2250, 0.04, { orders: OPACUS_ALPHAS });
    const s2 = noiseMultiplierFor(8, 1e-5, 2000, 0.04, { orders: OPACUS_ALPHAS });
    expect(s1).to.be.closeTo(1.416, 0.01);
    expect(s2).to.be.closeTo(1.3562, 0.01);
    expect(RdpAccountant.epsilonAfter(2250, s1, 0.04, 1e-5, { orders: OPACUS_ALPHAS })).to.be.at.most(8);
  });

  // tensorflow/privacy, tutorials/README.md ("Expected Output") with tutorials/mnist_dpsgd_tutorial.py compute_epsilon:
  // noise 1.12, batch 256 of 60000, 234 steps/epoch, orders 1.1..10.9 + 12..63, classic conversion.
  it("TF Privacy MNIST tutorial: eps 1.00 after 1 epoch, 1.04 after 2, 2.92 after 60 (delta 1e-5)", () => {
    const q = 256 / 60000;
    const eps = (epochs: number): number =>
      rdpToEpsilon(OPACUS_ALPHAS, computeRdp(q, 1.12, epochs * 234, OPACUS_ALPHAS), 1e-5, "mironov2017").epsilon;
    expect(eps(1).toFixed(2)).to.equal("1.00");
    expect(eps(2).toFixed(2)).to.equal("1.04");
    expect(eps(60).toFixed(2)).to.equal("2.92");
  });
});

describe("privacy: accountant monotonicity and composition", () => {
  it("more steps spend more epsilon", () => {
    let prev = 0;
    for (const t of [1, 2, 5, 10, 30, 100]) {
      const e = RdpAccountant.epsilonAfter(t, 1.2, 0.1, 1e-5);
      expect(e).to.be.greaterThan(prev);
      prev = e;
    }
  });

  it("more noise spends less epsilon", () => {
    let prev = Infinity;
    for (const s of [0.6, 0.8, 1, 2, 4, 8]) {
      const e = RdpAccountant.epsilonAfter(20, s, 0.2, 1e-5);
      expect(e).to.be.lessThan(prev);
      prev = e;
    }
  });

  it("a smaller sample rate spends less epsilon", () => {
    let prev = Infinity;
    for (const q of [1, 0.5, 0.2, 0.1, 0.01]) {
      const e = RdpAccountant.epsilonAfter(30, 1.5, q, 1e-5);
      expect(e).to.be.lessThan(prev);
      prev = e;
    }
  });

  it("a larger delta gives a smaller epsilon, and Balle et al. is never looser than Mironov", () => {
    for (const [s, q, t] of [[1, 1, 10], [1.1, 0.01, 1000], [4, 0.3, 50]] as const) {
      const acc = new RdpAccountant({ noiseMultiplier: s, sampleRate: q });
      acc.step(t);
      expect(acc.epsilon(1e-3).epsilon).to.be.lessThan(acc.epsilon(1e-6).epsilon);
      expect(acc.epsilon(1e-5).epsilon).to.be.at.most(acc.epsilon(1e-5, "mironov2017").epsilon);
    }
  });

  it("step(3) then step(2) equals step(5); zero steps spend nothing; sigma 0 spends everything", () => {
    const a = new RdpAccountant({ noiseMultiplier: 1.3, sampleRate: 0.2 });
    a.step(3);
    a.step(2);
    const b = new RdpAccountant({ noiseMultiplier: 1.3, sampleRate: 0.2 });
    b.step(5);
    expect(a.steps).to.equal(5);
    expect(a.epsilon(1e-5)).to.deep.equal(b.epsilon(1e-5));
    expect(RdpAccountant.epsilonAfter(0, 1, 1, 1e-5)).to.equal(0);
    expect(RdpAccountant.epsilonAfter(1, 0, 1, 1e-5)).to.equal(Infinity);
    expect(epsilonFromRdp(2, Infinity, 1e-5)).to.equal(Infinity);
  });

  it("default orders are 1.1..10.9 and 11..256", () => {
    expect(DEFAULT_ORDERS[0]).to.equal(1.1);
    expect(DEFAULT_ORDERS).to.include(10.9);
    expect(DEFAULT_ORDERS).to.include(63);
    expect(DEFAULT_ORDERS[DEFAULT_ORDERS.length - 1]).to.equal(256);
  });
});

describe("privacy: noiseMultiplierFor and roundsWithinBudget", () => {
  it("returns the smallest sigma that meets the target (tight to 0.01 %)", () => {
    for (const [eps, steps, q] of [[1, 30, 1], [4, 20, 1], [8, 30, 0.5], [2, 500, 0.01]] as const) {
      const sigma = noiseMultiplierFor(eps, 1e-5, steps, q);
      expect(RdpAccountant.epsilonAfter(steps, sigma, q, 1e-5)).to.be.at.most(eps);
      expect(RdpAccountant.epsilonAfter(steps, sigma * 0.9999, q, 1e-5)).to.be.greaterThan(eps);
    }
  });

  it("needs more noise for a smaller epsilon or more rounds", () => {
    const s = [1, 2, 4, 8].map((e) => noiseMultiplierFor(e, 1e-5, 30, 1));
    for (let i = 1; i < s.length; i++) expect(s[i]).to.be.lessThan(s[i - 1]);
    expect(noiseMultiplierFor(2, 1e-5, 60, 1)).to.be.greaterThan(noiseMultiplierFor(2, 1e-5, 30, 1));
  });

  it("returns 0 for an infinite target and throws when the target is unreachable", () => {
    expect(noiseMultiplierFor(Infinity, 1e-5, 30, 1)).to.equal(0);
    expect(() => noiseMultiplierFor(0.01, 1e-5, 1000, 1, { maxNoiseMultiplier: 10 })).to.throw(
      BudgetUnreachableError,
      /epsilon 0.01 .* 1000 steps/,
    );
  });

  it("roundsWithinBudget is the last round whose epsilon stays within the budget", () => {
    for (const [budget, sigma, q] of [[8, 1, 1], [4, 3, 1], [2, 1.1, 0.05], [1, 20, 1]] as const) {
      const t = roundsWithinBudget(budget, 1e-5, sigma, q);
      expect(t).to.be.greaterThan(0);
      expect(RdpAccountant.epsilonAfter(t, sigma, q, 1e-5)).to.be.at.most(budget);
      expect(RdpAccountant.epsilonAfter(t + 1, sigma, q, 1e-5)).to.be.greaterThan(budget);
    }
  });

  it("roundsWithinBudget edge cases: no noise, no budget, no sampling, budget below one round", () => {
    expect(roundsWithinBudget(8, 1e-5, 0, 1)).to.equal(0);
    expect(roundsWithinBudget(Infinity, 1e-5, 1, 1)).to.equal(Infinity);
    expect(roundsWithinBudget(8, 1e-5, 1, 0)).to.equal(Infinity);
    expect(roundsWithinBudget(0.01, 1e-5, 1, 1)).to.equal(0);
  });

  it("noiseMultiplierFor and roundsWithinBudget agree", () => {
    const sigma = noiseMultiplierFor(3, 1e-5, 25, 1);
    expect(roundsWithinBudget(3, 1e-5, sigma, 1)).to.equal(25);
  });
});

describe("privacy: accountant parameter validation", () => {
  it("rejects bad delta, sample rate, noise multiplier, orders and steps with the offending value", () => {
    expect(() => RdpAccountant.epsilonAfter(1, 1, 1, 0)).to.throw(PrivacyParameterError, /delta .* got 0/);
    expect(() => RdpAccountant.epsilonAfter(1, 1, 1, 1)).to.throw(PrivacyParameterError, /delta .* got 1/);
    expect(() => new RdpAccountant({ noiseMultiplier: 1, sampleRate: 1.5 })).to.throw(PrivacyParameterError, /sampleRate .* 1.5/);
    expect(() => new RdpAccountant({ noiseMultiplier: -1 })).to.throw(PrivacyParameterError, /noiseMultiplier .* -1/);
    expect(() => new RdpAccountant({ noiseMultiplier: 1, orders: [1] })).to.throw(PrivacyParameterError, /order .* > 1, got 1/);
    expect(() => new RdpAccountant({ noiseMultiplier: 1, orders: [] })).to.throw(PrivacyParameterError, /non-empty/);
    expect(() => new RdpAccountant({ noiseMultiplier: 1 }).step(1.5)).to.throw(PrivacyParameterError, /steps .* 1.5/);
    expect(() => noiseMultiplierFor(0, 1e-5, 10, 1)).to.throw(PrivacyParameterError, /targetEpsilon .* got 0/);
    expect(() => rdpToEpsilon([2, 3], [1], 1e-5)).to.throw(PrivacyParameterError, /same length/);
  });
});

describe("privacy: log erfc", () => {
  it("matches reference values of erfc and its far tail", () => {
    const ref: [number, number][] = [
      [-1, 1.842700792949715],
      [0, 1],
      [0.5, 0.4795001221869535],
      [2, 0.004677734981047266],
      [3, 2.209049699858544e-5],
      [5, 1.5374597944280349e-12],
    ];
    for (const [x, v] of ref) expect(logErfc(x)).to.be.closeTo(Math.log(v), 1e-12);
    // erfc(30) underflows double; asymptotically log erfc(x) = -x^2 - ln(x sqrt(pi)) - 1/(2x^2) + 5/(8x^4) - ...
    const x = 30;
    expect(logErfc(x)).to.be.closeTo(-x * x - Math.log(x * Math.sqrt(Math.PI)) - 0.5 / x ** 2 + 0.625 / x ** 4, 1e-8);
  });
});
