// validation-vote: public pre-filter, private leave-one-out vote, clipped-mean aggregate, and how the
// vote stays auditable (it can only remove updates from the public verdict).
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { AggregationParameterError } from "../../node/aggregation/errors.ts";
import { clippedMean, createRule, hasPrivateVote, validationVoteRule, voteFromScores } from "../../node/aggregation/rules.ts";
import { parseRuleName, ruleIdOf, ruleNameOf } from "../../node/protocol/ids.ts";
import { roundVerdict, votedVerdict, type RoundUpdate, type RuleSetting } from "../../node/protocol/verdict.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";

const D = 400;
const rng = mulberry32(11);
/** An honest-looking delta: a shared direction plus peer-specific noise (label skew makes the noise large). */
function honestDelta(shared: Float32Array, noise: number): Float32Array {
  return Float32Array.from(shared, (x) => x + noise * randomNormal(rng));
}
const shared = Float32Array.from({ length: D }, () => 0.05 * randomNormal(rng));

async function cidOf(i: number): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new Uint8Array([i, 7])));
}
async function updatesFrom(global: Float32Array, deltas: Float32Array[]): Promise<RoundUpdate[]> {
  return Promise.all(deltas.map(async (d, i) => ({ cid: await cidOf(i), numSamples: 100, weights: Float32Array.from(global, (g, k) => g + d[k]) })));
}
const setting: RuleSetting = { rule: "validation-vote", ruleParam: 0, copyCosineThreshold: 0.999, sampleWeightClip: 3 };

describe("validation-vote rule", () => {
  it("has on-chain id 7, aliases, a thousandths parameter in [0, 1000], and a private vote", () => {
    expect(ruleIdOf("validation-vote")).to.equal(7);
    expect(ruleNameOf(7)).to.equal("validation-vote");
    expect(parseRuleName("vote")).to.equal("validation-vote");
    const rule = createRule("validation-vote");
    expect(hasPrivateVote(rule)).to.equal(true);
    expect(hasPrivateVote(createRule("centered-clipping"))).to.equal(false);
    rule.validateParam(0);
    rule.validateParam(1000);
    expect(() => rule.validateParam(1001)).to.throw(AggregationParameterError, /\[0, 1000\]/);
    expect(() => rule.validateParam(0.5)).to.throw(AggregationParameterError);
  });

  it("voteFromScores rejects only upper outliers that also lower the loss by more than rho", () => {
    const honest = [-0.03, -0.02, -0.01, 0.0, 0.005, -0.025, -0.015];
    expect(voteFromScores([...honest, 0.08, 0.09], 1.0, 20)).to.deep.equal([...honest.map(() => true), false, false]);
    // an outlier that changes the loss by less than rho (2 % of 1.0) is kept
    expect(voteFromScores([...honest, 0.015], 1.0, 20).every(Boolean)).to.equal(true);
    // a larger rho keeps the attackers too
    expect(voteFromScores([...honest, 0.08, 0.09], 1.0, 100).every(Boolean)).to.equal(true);
    // too few updates to call anything an outlier
    expect(voteFromScores([5, -5], 1.0, 20)).to.deep.equal([true, true]);
  });

  it("attackers cannot widen the outlier scale: only scores below the median set it", () => {
    // 4 of 10 attackers with wildly spread high scores: a symmetric MAD would grow with them
    const scores = [-0.02, -0.01, -0.015, 0.0, -0.005, -0.012, 0.1, 0.5, 2, 8];
    expect(voteFromScores(scores, 1.0, 20).slice(6)).to.deep.equal([false, false, false, false]);
  });

  it("the public pre-filter keeps widely spread honest deltas, rejects far ones, and leaves sign-flips to the vote", () => {
    const rule = validationVoteRule();
    const deltas = Array.from({ length: 8 }, () => honestDelta(shared, 0.2));
    const far = Float32Array.from(shared, (x) => x + 2 * randomNormal(rng));
    // a one-class honest peer: against the others' current median, and against the federation's last step
    const lastStep = Float32Array.from(shared, (x) => 2 * x);
    const skewed = Float32Array.from(shared, (x, k) => 0.5 * x - 0.2 * lastStep[k] + 0.2 * randomNormal(rng) + (k % 2 === 0 ? 0.08 : -0.02));
    const flipped = Float32Array.from(deltas[1], (x) => -x);
    const ctx = { numSamples: Array(11).fill(1), param: 0, referenceDelta: lastStep };
    const v = rule.verdict([...deltas, skewed, far, flipped], ctx);
    expect(v.slice(0, 9)).to.deep.equal(Array(9).fill(true));
    expect(v[9]).to.equal(false); // too far
    // a sign-flipped honest delta has an honest norm and distance: the public filter cannot tell it
    // apart from a one-class honest peer; the private vote rejects it (see the privateVote test)
    expect(v[10]).to.equal(true);
  });

  it("keeps an honest peer whose class the previous global step left out (no self-reinforcing direction test)", async () => {
    // Ten one-class peers over ten "class blocks" of coordinates: each pushes its own block up and the
    // others' a little down (a softmax layer's logits), plus noise. Last round, class 3's owner was
    // rejected, so the last global step (the mean of the other nine) pushed block 3 down.
    const classes = 10, block = D / classes;
    const peerDelta = (c: number) => Float32Array.from({ length: D }, (_, k) => (Math.floor(k / block) === c ? 0.09 : -0.01) + 0.02 * randomNormal(rng));
    const previous = Array.from({ length: classes }, (_, c) => peerDelta(c));
    const lastStep = new Float32Array(D);
    previous.forEach((d, c) => { if (c !== 3) for (let k = 0; k < D; k++) lastStep[k] += d[k] / (classes - 1); });
    const deltas = Array.from({ length: classes }, (_, c) => peerDelta(c));
    // the failure mode: class 3's new honest update points against the last step (the old test rejected it)
    let dot = 0, n1 = 0, n2 = 0;
    for (let k = 0; k < D; k++) { dot += deltas[3][k] * lastStep[k]; n1 += deltas[3][k] ** 2; n2 += lastStep[k] ** 2; }
    expect(dot / Math.sqrt(n1 * n2)).to.be.lessThan(0);
    const rule = validationVoteRule();
    expect(rule.verdict(deltas, { numSamples: Array(classes).fill(1), param: 0, referenceDelta: lastStep })).to.deep.equal(Array(classes).fill(true));
    // through the protocol's verdict (norm screen included), with the previous global model on record:
    // the class-3 owner is accepted, a Gaussian attacker and a scaled update are still rejected (sigma
    // 0.3 here: on 400 coordinates its norm is about 8x an honest one, as sigma 0.1 is on the MLP's 101,770)
    const previousGlobal = new Float32Array(D).fill(0.1);
    const global = Float32Array.from(previousGlobal, (g, k) => g + lastStep[k]);
    const gaussian = Float32Array.from({ length: D }, () => 0.3 * randomNormal(rng));
    const scaled = Float32Array.from(deltas[5], (x) => 10 * x);
    const updates = await updatesFrom(global, [...deltas, gaussian, scaled]);
    const verdict = roundVerdict(setting, { global, previousGlobal }, updates);
    expect(verdict.accepted.slice(0, classes)).to.deep.equal(Array(classes).fill(true));
    expect(verdict.accepted.slice(classes)).to.deep.equal([false, false]);
  });

  it("aggregate: each delta clipped to the median norm, sample-weighted mean, added to the global model", () => {
    const rule = validationVoteRule();
    const g = new Float32Array([1, 1]);
    const weights = [new Float32Array([2, 1]), new Float32Array([1, 3]), new Float32Array([11, 1])]; // deltas (1,0) (0,2) (10,0)
    const out = rule.aggregate(weights, [1, 1, 2], { numSamples: [1, 1, 2], param: 0, globalWeights: g });
    // median norm 2: (1,0) (0,2) kept, (10,0) -> (2,0); weights 1/4 1/4 1/2
    expect(Array.from(out)).to.deep.equal([1 + 0.25 + 1, 1 + 0.5]);
    expect(Array.from(clippedMean([new Float32Array([3, 4])], [1]))).to.deep.equal([3, 4]);
  });

  it("privateVote: a delta that raises the verifier's held-out loss is voted out, honest ones are kept", async () => {
    const rule = validationVoteRule();
    const target = Float32Array.from(shared, (x) => 3 * x); // where this verifier's data pulls the model
    const loss = async (d: Float32Array) => { let s = 0; for (let k = 0; k < D; k++) s += (d[k] - target[k]) ** 2; return s; };
    const honest = Array.from({ length: 7 }, () => honestDelta(shared, 0.02));
    const flipped = Float32Array.from(shared, (x) => -x);
    const vote = await rule.privateVote([...honest, flipped], { numSamples: Array(8).fill(1), param: 0 }, loss);
    expect(vote.accepted).to.deep.equal([...honest.map(() => true), false]);
    expect(vote.scores[7]).to.be.greaterThan(0);
  });

  it("votedVerdict only removes updates from the public verdict (the audit's upper bound)", async () => {
    const global = new Float32Array(D).fill(0.1);
    // A poisoned delta that looks like an honest one geometrically (the shared direction plus a spread
    // of the honest size) but whose extra part is what this verifier's held-out data punishes.
    const honest = Array.from({ length: 7 }, () => honestDelta(shared, 0.1));
    const poison = Float32Array.from({ length: D }, () => randomNormal(rng));
    const pn = Math.hypot(...poison);
    const flipped = Float32Array.from(shared, (x, k) => x + (2 * poison[k]) / pn);
    const scaled = Float32Array.from(shared, (x) => 20 * x); // the norm screen rejects it publicly
    const updates = await updatesFrom(global, [...honest, flipped, scaled]);
    const models = { global, previousGlobal: null };
    const publicVerdict = roundVerdict(setting, models, updates);
    expect(publicVerdict.privateVote).to.equal(true);
    expect(publicVerdict.accepted.slice(0, 8).every(Boolean)).to.equal(true);
    expect(publicVerdict.accepted[8]).to.equal(false);
    // without private data (an auditor, a verifier with no shard) the vote is the public verdict
    expect((await votedVerdict(setting, models, updates)).mask).to.equal(publicVerdict.mask);
    const target = Float32Array.from(shared, (x) => 3 * x);
    const loss = async (w: Float32Array) => {
      let s = 0, along = 0;
      for (let k = 0; k < D; k++) { s += (w[k] - global[k] - target[k]) ** 2; along += ((w[k] - global[k]) * poison[k]) / pn; }
      return s + 20 * along * along;
    };
    const voted = await votedVerdict(setting, models, updates, loss);
    expect(voted.accepted[7]).to.equal(false);
    expect(voted.rejections.some((r) => r.index === 7 && /validation vote/.test(r.message))).to.equal(true);
    // a cheating verifier whose "loss" loves the boosted update still cannot accept it: the public filter ran first
    const cheat = async (w: Float32Array) => -Math.abs(w[0] - global[0] - scaled[0]);
    const cheated = await votedVerdict(setting, models, updates, cheat);
    expect(cheated.accepted[8]).to.equal(false);
    for (const v of [voted, cheated]) v.accepted.forEach((ok, i) => { if (ok) expect(publicVerdict.accepted[i]).to.equal(true); });
  });

  it("a geometric rule ignores the validation loss", async () => {
    const global = new Float32Array(D);
    const updates = await updatesFrom(global, Array.from({ length: 5 }, () => honestDelta(shared, 0.02)));
    const cc: RuleSetting = { ...setting, rule: "centered-clipping" };
    let calls = 0;
    const v = await votedVerdict(cc, { global, previousGlobal: null }, updates, async () => { calls++; return 0; });
    expect(calls).to.equal(0);
    expect(v.privateVote).to.equal(undefined);
  });
});

describe("validation-vote in the simulator (real tfjs, tiny)", function () {
  this.timeout(180_000);
  it("a committee of peers votes on their own held-out splits: reproducible, the boosted attacker rejected", async () => {
    const { simulate } = await import("../../node/sim/index.ts");
    const o = {
      dataset: "mnist" as const, model: "mlp" as const, numPeers: 5, rounds: 2, partition: { kind: "iid" as const },
      attackers: [2], attack: "scale" as const, rule: "validation-vote" as const, ruleParam: 0, verifiers: 3,
      localEpochs: 1, batchSize: 16, learningRate: 0.1, seed: 3, maxSamplesPerPeer: 60, testSamples: 200,
    };
    const a = await simulate(o);
    const b = await simulate(o);
    expect(a.rounds.map((r) => [r.mask, r.globalCid])).to.deep.equal(b.rounds.map((r) => [r.mask, r.globalCid]));
    for (const r of a.rounds) {
      expect(r.rejectedAttackers).to.equal(1);
      expect(r.acceptedHonest).to.equal(4);
    }
  });
});
