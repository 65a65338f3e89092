import { expect } from "chai";
import { SimulationParameterError, simulate, type SimulationOptions } from "../../node/sim/index.ts";

const base: SimulationOptions = {
  dataset: "mnist", model: "mlp", numPeers: 5, rounds: 2, partition: { kind: "iid" },
  attackers: [2], attack: "scale", rule: 2, ruleParam: 1,
  localEpochs: 1, batchSize: 16, learningRate: 0.1, seed: 3, maxSamplesPerPeer: 40, testSamples: 200,
};

describe("simulate (real tfjs, tiny)", function () {
  this.timeout(120_000);

  it("runs 2 rounds end to end: trains, attacks, codec, verdicts, aggregates, evaluates", async () => {
    const seen: number[] = [];
    const res = await simulate({ ...base, onRound: (r) => seen.push(r.round) });
    expect(seen).to.deep.equal([1, 2]);
    // 40 samples per shard, the last 10 % held out as the peer's validation split (as in the agents)
    expect(res.samplesPerPeer).to.deep.equal([36, 36, 36, 36, 36]);
    expect(res.parameters).to.equal(784 * 128 + 128 + 128 * 10 + 10);
    for (const r of res.rounds) {
      expect(r.accuracy).to.be.within(0, 1);
      expect(Number.isFinite(r.loss)).to.equal(true);
      expect(r.acceptedAttackers + r.rejectedAttackers).to.equal(1);
      expect(r.acceptedHonest + r.rejectedHonest).to.equal(4);
      // the boosted update (x5) fails the norm screen; Multi-Krum f = 1 keeps the 4 honest ones
      expect(r.rejectedAttackers).to.equal(1);
      expect(r.acceptedHonest).to.equal(4);
      expect(r.mask).to.equal("0x1b"); // peers 0, 1, 3, 4
      expect(r.updateCids).to.have.length(5);
      expect(new Set(r.updateCids).size).to.equal(5);
      expect(r.globalCid).to.match(/^bafy/);
    }
    // 80 SGD steps on 160 MNIST digits lift a zero-bias MLP well above chance
    expect(res.rounds[1].accuracy).to.be.greaterThan(0.3);
  });

  it("is reproducible for a seed", async () => {
    const a = await simulate({ ...base, rounds: 1, attack: "gaussian" });
    const b = await simulate({ ...base, rounds: 1, attack: "gaussian" });
    expect(a.rounds.map((r) => [r.accuracy, r.loss])).to.deep.equal(b.rounds.map((r) => [r.accuracy, r.loss]));
    expect(a.rounds.map((r) => r.globalCid)).to.deep.equal(b.rounds.map((r) => r.globalCid));
    expect(a.rounds.map((r) => r.updateCids)).to.deep.equal(b.rounds.map((r) => r.updateCids));
  });

  it("rejects inconsistent options with the offending value", async () => {
    let err: unknown;
    try { await simulate({ ...base, attackers: [7] }); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(SimulationParameterError);
    expect((err as Error).message).to.match(/attacker index 7 is not a peer in 0..4/);
  });
});
