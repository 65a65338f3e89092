import { expect } from "chai";
import { CID } from "multiformats/cid";
import { l2Norm } from "../../node/aggregation/vectors.ts";
import { mulberry32 } from "../../node/ml/random.ts";
import { seededGaussianSource } from "../../node/privacy/gaussian.ts";
import {
  aggregateAccepted, attackPlan, canonicalOrder, decodeTaskConfig, delta, localUpdate, maskFrom, maskHas, maskToFlags,
  parseRuleName, roundVerdict, ruleContext, ruleNameOf, sampleWeights, updateCid, UnknownNameError, verdictCommitment,
  type LocalLearner, type RoundUpdate,
} from "../../node/protocol/index.ts";

const D = 2000;
const vec = (seed: number, scale = 1, base?: Float32Array) => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: D }, (_, k) => (base ? base[k] : 0) + (r() - 0.5) * scale);
};
const bytesOf = (v: Float32Array) => new Uint8Array(v.buffer.slice(0));

async function updatesFrom(ws: Float32Array[]): Promise<RoundUpdate[]> {
  return Promise.all(ws.map(async (w, i) => ({ cid: await updateCid(bytesOf(w)), numSamples: 100 + 10 * i, weights: w })));
}

describe("protocol: names and codecs", () => {
  it("maps rule names and on-chain ids both ways, with aliases, and names what is unknown", () => {
    expect(parseRuleName("CC")).to.equal("centered-clipping");
    expect(parseRuleName("multikrum")).to.equal("multi-krum");
    expect(ruleNameOf(5)).to.equal("centered-clipping");
    expect(() => ruleNameOf(9)).to.throw(UnknownNameError, /robust rule id 9/);
    expect(() => parseRuleName("bogus")).to.throw(UnknownNameError, /known: fedavg, krum/);
  });

  it("round-trips masks and refuses more than 256 commits", () => {
    const flags = [true, false, true, true, false];
    expect(maskFrom(flags)).to.equal(0b01101n);
    expect(maskToFlags(0b01101n, 5)).to.deep.equal(flags);
    expect(maskHas(1n << 255n, 255)).to.equal(true);
    expect(() => maskFrom(new Array(257).fill(true))).to.throw(RangeError);
  });

  it("orders updates canonically by content digest, whatever order they arrive in", async () => {
    const cids = await Promise.all([1, 2, 3, 4].map((s) => updateCid(bytesOf(vec(s)))));
    const order = canonicalOrder(cids).map((i) => cids[i].toString());
    const reversed = [...cids].reverse();
    expect(canonicalOrder(reversed).map((i) => reversed[i].toString())).to.deep.equal(order);
  });

  it("decodes TaskConfig into names and natural units, DP included", () => {
    const cid = CID.parse("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy");
    const cfg = decodeTaskConfig({
      modelSpecCid: cid.bytes, initialModelCid: cid.bytes, rounds: 3n, trainingDuration: 120n, verificationDuration: 60n,
      aggregationDuration: 60n, revealDuration: 30n, challengeDuration: 120n, minTrainers: 2n, verifierCommitteeSize: 0n,
      aggregatorCommitteeSize: 5n, aggregatorQuorumBps: 6667n, robustRule: 5n, ruleParam: 1500n, admissionMode: 1n, bondWei: 10n ** 17n,
      maxSamplesPerPeer: 60000n, copyCosineThresholdBps: 9990n, sampleWeightClipMilli: 3000n,
      dpClipNormMilli: 1000n, dpNoiseMultiplierMilli: 1100n, dpDeltaExponent: 5n, dpEpsilonBudgetMilli: 0n,
      reputationInitial: 10n, reputationReward: 1n, reputationPenalty: 4n, reputationThreshold: 0n, reputationMax: 20n,
    });
    expect(cfg.rule).to.equal("centered-clipping");
    expect(cfg.ruleParam).to.equal(1.5);
    expect(cfg.dp).to.deep.equal({ clipNorm: 1, noiseMultiplier: 1.1, delta: 1e-5, epsilonBudget: Infinity });
    expect(cfg.modelSpecCid?.toString()).to.equal(cid.toString());
    expect(cfg).to.include({ admission: "bond", aggregatorQuorum: 0.6667, copyCosineThreshold: 0.999, sampleWeightClip: 3, aggregatorCommitteeSize: 5 });
    expect(cfg.bondWei).to.equal(10n ** 17n);
  });
});

describe("protocol: verdict and aggregate", () => {
  const global = vec(1, 0.1);
  const previousGlobal = vec(2, 0.1);
  const direction = vec(3, 0.02);
  const honest = [10, 11, 12, 13, 14].map((s) => vec(s, 0.004, Float32Array.from(global, (g, k) => g + direction[k])));
  const flipped = Float32Array.from(global, (g, k) => g - 3 * direction[k]);

  it("builds the rule context in one place: the reference is the previous round's global delta", () => {
    const ctx = ruleContext({ rule: "centered-clipping", ruleParam: 0 }, { global, previousGlobal }, [1, 2]);
    expect(Array.from(ctx.referenceDelta!.subarray(0, 5))).to.deep.equal(Array.from(delta(global, previousGlobal).subarray(0, 5)));
    expect(ruleContext({ rule: "krum", ruleParam: 1 }, { global, previousGlobal: null }, []).referenceDelta).to.equal(undefined);
  });

  for (const rule of ["centered-clipping", "multi-krum", "median", "fedavg"] as const) {
    it(`${rule}: the verdict and the aggregate depend on the set of updates, not on commit order`, async () => {
      const setting = { rule, ruleParam: rule === "multi-krum" ? 1 : 0 };
      const updates = await updatesFrom([...honest, flipped]);
      const permuted = [updates[3], updates[5], updates[0], updates[4], updates[1], updates[2]];
      const a = roundVerdict(setting, { global, previousGlobal }, updates);
      const b = roundVerdict(setting, { global, previousGlobal }, permuted);
      expect(permuted.map((u) => b.accepted[permuted.indexOf(u)])).to.deep.equal(permuted.map((u) => a.accepted[updates.indexOf(u)]));
      if (rule !== "fedavg") expect(a.accepted[5], "sign-flipped update rejected").to.equal(false);
      const accA = updates.filter((_, i) => a.accepted[i]);
      const accB = permuted.filter((_, i) => b.accepted[i]);
      const x = aggregateAccepted(setting, { global, previousGlobal }, accA);
      const y = aggregateAccepted(setting, { global, previousGlobal }, accB);
      expect(Buffer.from(x.buffer).equals(Buffer.from(y.buffer)), "bit-identical aggregate").to.equal(true);
    });
  }

  it("rejects unusable updates with their reason and scores the rest", async () => {
    const updates = await updatesFrom(honest.slice(0, 4));
    updates.push({ cid: updates[0].cid, numSamples: 1, weights: null, unusable: { code: "unavailable", message: "timed out" } });
    const v = roundVerdict({ rule: "centered-clipping", ruleParam: 0 }, { global, previousGlobal: null }, updates);
    expect(v.accepted).to.deep.equal([true, true, true, true, false]);
    expect(v.rejections).to.deep.equal([{ index: 4, code: "unavailable", message: "timed out" }]);
  });
});

describe("protocol: copies, sample counts and commitments", () => {
  const global = vec(1, 0.1);
  const direction = vec(3, 0.02);
  const honest = [10, 11, 12, 13].map((s) => vec(s, 0.004, Float32Array.from(global, (g, k) => g + direction[k])));

  it("rejects a later near-copy of an earlier commit, keeping the first committer", async () => {
    const copy = Float32Array.from(honest[1], (w, k) => w + (k % 97 === 0 ? 1e-7 : 0));
    const updates = await updatesFrom([...honest, copy]);
    const v = roundVerdict({ rule: "centered-clipping", ruleParam: 0, copyCosineThreshold: 0.999 }, { global, previousGlobal: null }, updates);
    expect(v.accepted).to.deep.equal([true, true, true, true, false]);
    expect(v.rejections).to.deep.include({ index: 4, code: "near-copy", message: "cosine similarity with commit 1's update is at least 0.999" });
    const off = roundVerdict({ rule: "centered-clipping", ruleParam: 0 }, { global, previousGlobal: null }, updates);
    expect(off.accepted[4]).to.equal(true);
  });

  it("clips FedAvg weights at c x the median sample count, so an inflated claim cannot become the model", async () => {
    expect(sampleWeights([100, 120, 4294967295], 3)).to.deep.equal([100, 120, 360]);
    expect(sampleWeights([100, 120, 4294967295], 0)).to.deep.equal([100, 120, 4294967295]);
    const ups = await updatesFrom(honest.slice(0, 3));
    ups[2].numSamples = 4294967295;
    const inflated = aggregateAccepted({ rule: "fedavg", ruleParam: 0, sampleWeightClip: 3 }, { global, previousGlobal: null }, ups);
    // median of (100, 110, 2^32 - 1) is 110: the claim counts as 330, exactly as if 330 had been claimed
    const capped = ups.map((u, i) => (i === 2 ? { ...u, numSamples: 330 } : u));
    const expected = aggregateAccepted({ rule: "fedavg", ruleParam: 0 }, { global, previousGlobal: null }, capped);
    expect(Buffer.from(inflated.buffer).equals(Buffer.from(expected.buffer))).to.equal(true);
  });

  it("computes the contract's commitments (abi.encode + keccak256)", () => {
    const task = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    const me = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    const salt = "0x" + "11".repeat(32);
    const a = verdictCommitment(task, 1, me, 0b101n, salt);
    expect(a).to.match(/^0x[0-9a-f]{64}$/);
    expect(verdictCommitment(task, 1, me, 0b111n, salt)).to.not.equal(a);
    expect(verdictCommitment(task, 2, me, 0b101n, salt)).to.not.equal(a);
  });
});

describe("protocol: localUpdate order (train -> clip + noise -> attack)", () => {
  const global = vec(1, 0.1);
  const learner: LocalLearner = {
    async train(g, opts) {
      const w = vec(20 + opts.round, 0.5, g);
      return { weights: w, samples: 42, seconds: 0, loss: 0 };
    },
  };

  it("an honest peer publishes its clipped delta", async () => {
    const u = await localUpdate(global, learner, { round: 1, peerIndex: 0, numPeers: 3, privacy: { clipNorm: 0.1, noiseMultiplier: 0, noise: seededGaussianSource(1) } });
    expect(u.attack).to.equal(null);
    expect(u.dp?.clipped).to.equal(true);
    expect(l2Norm(delta(u.weights, global))).to.be.closeTo(0.1, 1e-4);
  });

  it("an attacker rewrites the update it would have published, and is not bound by the clip", async () => {
    const u = await localUpdate(global, learner, {
      round: 1, peerIndex: 0, numPeers: 3, attack: attackPlan("sign-flip", { scale: 4 }),
      privacy: { clipNorm: 0.1, noiseMultiplier: 0, noise: seededGaussianSource(1) },
    });
    expect(u.attack).to.equal("sign-flip");
    expect(l2Norm(delta(u.weights, global))).to.be.closeTo(0.4, 1e-3);
  });

  it("a data attack poisons training labels and sends what it trained", async () => {
    let sawTransform = false;
    const spy: LocalLearner = { async train(g, o) { sawTransform = o.labelTransform?.(2) === 7; return learner.train(g, o); } };
    const u = await localUpdate(global, spy, { round: 2, peerIndex: 0, numPeers: 3, attack: attackPlan("label-flip") });
    expect(sawTransform).to.equal(true);
    expect(u.attack).to.equal("label-flip");
  });

  it("attacks only in the planned rounds", async () => {
    const plan = attackPlan("sign-flip", { rounds: [2] });
    expect((await localUpdate(global, learner, { round: 1, peerIndex: 0, numPeers: 3, attack: plan })).attack).to.equal(null);
    expect((await localUpdate(global, learner, { round: 2, peerIndex: 0, numPeers: 3, attack: plan })).attack).to.equal("sign-flip");
  });
});
