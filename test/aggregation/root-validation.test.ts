// root-validation (node/aggregation/rules/root-validation.ts), its root set (node/ml/root-set.ts), the
// verifier's loader (node/roles/root-set.ts) and the deterministic round verdict (protocol/verdict.ts).
import { expect } from "chai";
import { createRule, hasPrivateVote, hasRootVote, PER_CLASS_NET_FACTOR, PER_CLASS_OWNER_FACTOR, perClassGate, rootValidationRule } from "../../node/aggregation/rules.ts";
import { AggregationParameterError } from "../../node/aggregation/errors.ts";
import { decodeModelSpec, encodeModelSpec, ModelSpecFormatError } from "../../node/ml/codec.ts";
import { loadLabels } from "../../node/ml/datasets.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { peerShard } from "../../node/ml/partition.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";
import { decodeRootSet, encodeRootSet, rootSetIndices, rootSetSelection, RootSetError } from "../../node/ml/root-set.ts";
import { rootLossOf, RootSetUnavailableError } from "../../node/roles/root-set.ts";
import { parseRuleName, ruleIdOf } from "../../node/protocol/ids.ts";
import { roundVerdict, rootVerdict, type RoundUpdate } from "../../node/protocol/verdict.ts";
import { updateCid } from "../../node/protocol/model-bytes.ts";

const D = 400;
/** A synthetic round: the root loss is the squared distance to an optimum; honest deltas step towards it. */
function round(seed: number) {
  const rng = mulberry32(seed);
  const global = Float32Array.from({ length: D }, () => randomNormal(rng));
  const optimum = Float32Array.from({ length: D }, () => randomNormal(rng));
  const step = Float32Array.from(global, (g, k) => 0.2 * (optimum[k] - g));
  // Per-peer noise dominates distances (as in real rounds), so the public pre-filter cannot tell a flip.
  const honest = (_: number) => Float32Array.from(step, (s) => s + 0.3 * randomNormal(rng));
  const loss = async (w: Float32Array) => { let s = 0; for (let k = 0; k < D; k++) s += (w[k] - optimum[k]) ** 2; return s / D; };
  return { global, step, honest, loss };
}

describe("root-validation rule", () => {
  it("is registered as rule 8 with a root vote and no private vote, and checks its parameter", () => {
    expect(ruleIdOf(parseRuleName("root-validation"))).to.equal(8);
    expect(parseRuleName("root")).to.equal("root-validation");
    const rule = createRule("root-validation");
    expect(hasRootVote(rule)).to.equal(true);
    expect(hasPrivateVote(rule)).to.equal(false);
    expect(hasRootVote(createRule("validation-vote"))).to.equal(false);
    expect(() => rule.validateParam(1001)).to.throw(AggregationParameterError, /threshold rho/);
    expect(() => rule.validateParam(1.5)).to.throw(AggregationParameterError);
  });

  it("rejects sign-flipped deltas of honest norm on the root set and keeps the honest ones", async () => {
    const { step, honest, loss } = round(3);
    const flipped = Float32Array.from(step, (s) => -s);
    const deltas = [honest(0), flipped, honest(1), honest(2), flipped, honest(3), honest(4), honest(5)];
    const rule = rootValidationRule();
    const ctx = { numSamples: deltas.map(() => 100), param: 0 };
    expect(rule.verdict(deltas, ctx), "the public pre-filter lets them through (honest norm, close enough)").to.deep.equal(deltas.map(() => true));
    const { global } = round(3);
    const vote = await rule.rootVote(deltas, ctx, (d) => loss(Float32Array.from(global, (g, k) => g + d[k])));
    expect(vote.accepted).to.deep.equal([true, false, true, true, false, true, true, true]);
    expect(vote.scores[1]).to.be.greaterThan(0);
    expect(vote.scores[0]).to.be.lessThan(0);
  });

  it("accepts everything with fewer than three updates (no outlier to call)", async () => {
    const { global, step, loss } = round(4);
    const vote = await rootValidationRule().rootVote([step, Float32Array.from(step, (s) => -s)], { numSamples: [1, 1], param: 0 }, (d) => loss(Float32Array.from(global, (g, k) => g + d[k])));
    expect(vote.accepted).to.deep.equal([true, true]);
  });

  it("rootVerdict is deterministic, judges in canonical order and names the reason", async () => {
    const { global, step, honest, loss } = round(5);
    const flipped = Float32Array.from(step, (s) => -s);
    const weights = [honest(0), honest(1), flipped, honest(2), honest(3)].map((d) => Float32Array.from(global, (g, k) => g + d[k]));
    const updates: RoundUpdate[] = [];
    for (const w of weights) updates.push({ cid: await updateCid(new Uint8Array(w.buffer)), numSamples: 50, weights: w });
    const setting = { rule: "root-validation" as const, ruleParam: 0, copyCosineThreshold: 0.999, sampleWeightClip: 3 };
    const models = { global, previousGlobal: null };
    expect(roundVerdict(setting, models, updates).rootVote).to.equal(true);
    const a = await rootVerdict(setting, models, updates, loss);
    const b = await rootVerdict(setting, models, [...updates], loss);
    expect(a.accepted).to.deep.equal([true, true, false, true, true]);
    expect(b.mask).to.equal(a.mask);
    expect(a.rejections.map((r) => r.message).join()).to.match(/root validation: dropping it lowers the root-set loss/);
    // Other rules: rootVerdict is the public verdict.
    const cc = await rootVerdict({ ...setting, rule: "median" }, models, updates, loss);
    expect(cc.rootVote).to.equal(undefined);
  });
});

/**
 * A synthetic label-skewed round with per-class losses: 10 classes, each a block of coordinates; class c's
 * loss is the squared distance to the optimum on its block. A peer that owns class c steps towards the
 * optimum on that block and, as honest one-class training does to the shared logits, a little away from it
 * on the others (its "spill"); a flipper sends the negation of such an update.
 */
function skewedRound(seed: number) {
  const C = 10, B = 40, rng = mulberry32(seed);
  const global = Float32Array.from({ length: C * B }, () => randomNormal(rng));
  const optimum = Float32Array.from({ length: C * B }, () => randomNormal(rng));
  // Owns class c (a step of `own` towards its optimum) and spills onto the next five classes.
  const owner = (c: number, spill: number, own = 0.5) => Float32Array.from(global, (g, k) => {
    const b = Math.floor(k / B);
    return (b === c ? own : (b - c + C) % C <= 5 ? -spill : 0) * (optimum[k] - g) + 0.02 * randomNormal(rng);
  });
  const classLoss = (w: Float32Array, c: number) => { let s = 0; for (let k = c * B; k < (c + 1) * B; k++) s += (w[k] - optimum[k]) ** 2; return s / B; };
  const detail = async (w: Float32Array) => { const byClass = Array.from({ length: C }, (_, c) => classLoss(w, c)); return { loss: byClass.reduce((a, b) => a + b, 0) / C, byClass }; };
  const total = async (w: Float32Array) => (await detail(w)).loss;
  return { global, owner, detail, total };
}

describe("root-validation's per-class gate", () => {
  it("keeps an honest one-class update whose spill-over raises the total root loss, and still rejects flipped ones", async () => {
    const { global, owner, detail, total } = skewedRound(11);
    // Peers 0-4 and 6 own one class each with a small spill; peer 5 owns class 5 with a large spill (its
    // total score is positive: honest but harmful to the balanced root set); peers 7 and 8 send flipped
    // updates of owners of classes 7 and 8. rho = 0.2 % so the outlier test decides.
    const deltas = [owner(0, 0.02), owner(1, 0.02), owner(2, 0.02), owner(3, 0.02), owner(4, 0.02), owner(5, 0.25, 1), owner(6, 0.02), Float32Array.from(owner(7, 0.02), (x) => -x), Float32Array.from(owner(8, 0.02), (x) => -x)];
    const ctx = { numSamples: deltas.map(() => 100), param: 2 };
    const rule = rootValidationRule();
    const onGlobal = <T>(f: (w: Float32Array) => Promise<T>) => (d: Float32Array) => f(Float32Array.from(global, (g, k) => g + d[k]));
    const scalar = await rule.rootVote(deltas, ctx, onGlobal(total));
    expect(scalar.scores[5], "peer 5 raises the total root loss").to.be.greaterThan(0);
    expect(scalar.accepted, "the total-loss vote alone rejects the honest peer 5 with the flippers").to.deep.equal([true, true, true, true, true, false, true, false, false]);
    expect(scalar.classScores).to.equal(undefined);
    const gated = await rule.rootVote(deltas, ctx, onGlobal(detail));
    expect(gated.scores).to.deep.equal(scalar.scores);
    expect(gated.accepted, "the per-class gate keeps peer 5 and confirms the flippers").to.deep.equal([true, true, true, true, true, true, true, false, false]);
    expect(gated.gate![5]).to.include({ harmful: false, bestClass: 5 });
    expect(gated.gate![7]).to.include({ harmful: true, worstClass: 7 });
    expect(gated.gate![8]).to.include({ harmful: true, worstClass: 8 });
    expect(gated.gate![0], "no gate for an update the total vote keeps").to.equal(null);
    expect(gated.classScores![5][5]).to.be.lessThan(0);
  });

  it("thinks like the attacker: owner-sized harm, diffuse harm and harm spread thin under a decoy all stay rejected", () => {
    const M = 0.4; // the round's owner size
    const classes = (first: number, rest: number) => [first, ...new Array(9).fill(rest)];
    // Honest one-class update: helps its class, spills a little onto four others.
    expect(perClassGate([-0.5, 0.1, 0.1, 0.1, 0.1, 0, 0, 0, 0, 0], M).harmful).to.equal(false);
    // Sign-flip of such an update: hurts its class by an owner's amount.
    expect(perClassGate([0.5, -0.1, -0.1, -0.1, -0.1, 0, 0, 0, 0, 0], M)).to.include({ harmful: true, worstClass: 0 });
    // IPM-like: a little harm to every class, help to none.
    expect(perClassGate(new Array(10).fill(0.05), M).harmful).to.equal(true);
    // Adaptive: honest work on class 0 as a decoy, every other class hurt just under the owner bound.
    expect(perClassGate(classes(-0.2, 0.27), M).harmful, "harms add up to over twice the help").to.equal(true);
    // What the gate cannot stop (docs/robustness.md): harms under the bound AND at most twice the help.
    // Such an update must do real work for the root set and its net harm is at most its help.
    const residual = perClassGate(classes(-0.5, 0.11), M);
    expect(residual.harmful).to.equal(false);
    expect(residual.harmSum - residual.helpSum).to.be.at.most((PER_CLASS_NET_FACTOR - 1) * residual.helpSum);
    expect(PER_CLASS_OWNER_FACTOR).to.be.within(0, 1);
  });

  it("is what rootVerdict applies, with the class in the rejection's message", async () => {
    const { global, owner, detail } = skewedRound(12);
    const deltas = [owner(0, 0.02), owner(1, 0.02), owner(2, 0.02), owner(3, 0.25, 1), owner(4, 0.02), Float32Array.from(owner(5, 0.02), (x) => -x)];
    const updates: RoundUpdate[] = [];
    for (const d of deltas) {
      const w = Float32Array.from(global, (g, k) => g + d[k]);
      updates.push({ cid: await updateCid(new Uint8Array(w.buffer)), numSamples: 50, weights: w });
    }
    const setting = { rule: "root-validation" as const, ruleParam: 2, copyCosineThreshold: 0.999, sampleWeightClip: 3 };
    const v = await rootVerdict(setting, { global, previousGlobal: null }, updates, detail);
    expect(v.accepted).to.deep.equal([true, true, true, true, true, false]);
    expect(v.rejections.map((r) => r.message).join()).to.match(/per class it raises class 5's loss by .* owner size/);
  });
});

describe("root set", () => {
  const labels = loadLabels("mnist", "train");
  const sel = { peers: 5, partition: { kind: "dirichlet" as const, alpha: 0.1 }, partitionSeed: 42, maxSamples: 500, seed: 7 };

  it("is class-balanced, seeded and disjoint from every peer's shard", () => {
    const idx = rootSetIndices(labels, sel);
    expect(idx).to.have.length(500);
    expect(rootSetIndices(labels, sel)).to.deep.equal(idx);
    const counts = new Array(10).fill(0);
    for (const i of idx) counts[labels[i]]++;
    expect(counts).to.deep.equal(new Array(10).fill(50));
    const set = new Set(idx);
    for (let p = 0; p < 5; p++) {
      const s = peerShard(labels, { ...sel, peerIndex: p });
      for (const i of [...s.train, ...s.validation]) expect(set.has(i), `peer ${p} holds root sample ${i}`).to.equal(false);
    }
  });

  it("fails clearly when the peers hold the whole training split, or fills up from their shards when allowed", () => {
    const full = { peers: 2, partition: { kind: "iid" as const }, partitionSeed: 1, seed: 1 };
    expect(() => rootSetIndices(labels, full)).to.throw(RootSetError, /outside the peers' shards.*--max-samples/);
    const filled = rootSetSelection(labels, { ...full, allowHeld: true });
    expect(filled.indices).to.have.length(500);
    expect(filled.held).to.equal(500);
    expect(() => rootSetIndices(labels, { ...sel, perClass: 0 })).to.throw(RootSetError, /perClass/);
  });

  it("round-trips its bytes and refuses malformed or poisoned-looking root sets", () => {
    const images = Float32Array.from({ length: 20 * 784 }, (_, k) => (k % 256) / 255);
    const rootLabels = Uint8Array.from({ length: 20 }, (_, i) => i % 10);
    const bytes = encodeRootSet({ images, labels: rootLabels, count: 20 });
    const back = decodeRootSet(bytes);
    expect(back.count).to.equal(20);
    expect(Array.from(back.labels)).to.deep.equal(Array.from(rootLabels));
    expect(back.images).to.deep.equal(images);
    expect(() => decodeRootSet(bytes.slice(0, 100))).to.throw(RootSetError, /bytes, expected/);
    expect(() => decodeRootSet(Uint8Array.from(bytes, (b, i) => (i === 0 ? 0 : b)))).to.throw(RootSetError, /bad magic/);
    const badLabel = Uint8Array.from(bytes); badLabel[12] = 10;
    expect(() => decodeRootSet(badLabel)).to.throw(RootSetError, /label 10 out of range/);
    // An initiator who leaves a class out would make that class's honest owners look harmful.
    const noNines = Uint8Array.from(bytes); for (let i = 0; i < 20; i++) if (noNines[12 + i] === 9) noNines[12 + i] = 8;
    expect(() => decodeRootSet(noNines)).to.throw(RootSetError, /class 9 has 0/);
    expect(() => decodeRootSet(bytes, { minPerClass: 3 })).to.throw(RootSetError, /need at least 3/);
  });

  it("is named in the model spec by CID (absent keeps the earlier spec bytes)", () => {
    const spec = modelSpecFor("mlp");
    const plain = encodeModelSpec(spec);
    expect(new TextDecoder().decode(plain)).to.not.match(/rootSet/);
    const cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    const withRoot = decodeModelSpec(encodeModelSpec({ ...spec, rootSet: cid }));
    expect(withRoot.rootSet).to.equal(cid);
    expect(() => encodeModelSpec({ ...spec, rootSet: "not-a-cid" })).to.throw(ModelSpecFormatError, /not a CID/);
  });
});

describe("verifier's root-set loader", () => {
  const spec = { ...modelSpecFor("mlp"), rootSet: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" };
  it("gives a clear error when the spec names no root set, the bytes do not come, or they are not a root set", async () => {
    const never = { get: async () => { throw new Error("timed out after 10 ms"); } };
    await rootLossOf(never, modelSpecFor("mlp"), 10).then(() => expect.fail("resolved"), (e) => expect(e).to.be.instanceOf(RootSetUnavailableError).and.have.property("message").match(/names no root set/));
    await rootLossOf(never, spec, 10).then(() => expect.fail("resolved"), (e) => expect(e.message).to.match(/could not be fetched: timed out/));
    const junk = { get: async () => new Uint8Array([1, 2, 3]) };
    await rootLossOf(junk, spec, 10).then(() => expect.fail("resolved"), (e) => expect(e.message).to.match(/is invalid: .*bad magic/));
  });
});
