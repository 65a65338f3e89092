// The backdoor end to end: the attacker's learner trains on a poisoned shard seeded by attackSeed,
// the update is scaled for model replacement, and the simulator measures the attack-success rate.
import { expect } from "chai";
import { DEFAULT_BACKDOOR_TARGET, DEFAULT_POISON_FRACTION, type BackdoorTraining } from "../../node/attacks/index.ts";
import { attackPlan, attackSeed, localUpdate, type LocalLearner } from "../../node/protocol/local-update.ts";
import { simulate } from "../../node/sim/index.ts";

/** A learner that records what it was asked to train on and moves every weight by +1. */
function recordingLearner(): LocalLearner & { calls: { round: number; backdoor?: BackdoorTraining }[] } {
  const calls: { round: number; backdoor?: BackdoorTraining }[] = [];
  return {
    calls,
    async train(global, opts) {
      calls.push({ round: opts.round, backdoor: opts.backdoor });
      return { weights: global.map((x) => x + 1), samples: 10, seconds: 0, loss: 0 };
    },
  };
}

describe("backdoor wired into the local update", () => {
  it("an attacker trains on a poisoned shard seeded per peer and round, then sends global + numPeers x delta", async () => {
    const learner = recordingLearner();
    const global = new Float32Array([0, 1, 2]);
    const u = await localUpdate(global, learner, { round: 3, peerIndex: 4, numPeers: 10, attack: attackPlan("backdoor") });
    expect(learner.calls).to.deep.equal([{ round: 3, backdoor: { targetLabel: DEFAULT_BACKDOOR_TARGET, fraction: DEFAULT_POISON_FRACTION, seed: attackSeed(4, 3) } }]);
    expect(u.attack).to.equal("backdoor");
    expect(Array.from(u.weights)).to.deep.equal([10, 11, 12]); // model replacement: gamma = n / eta = 10
  });

  it("an honest peer, or an attacker outside its attack rounds, trains on its clean shard", async () => {
    const learner = recordingLearner();
    await localUpdate(new Float32Array(2), learner, { round: 1, peerIndex: 0, numPeers: 4 });
    await localUpdate(new Float32Array(2), learner, { round: 1, peerIndex: 1, numPeers: 4, attack: attackPlan("backdoor", { rounds: [2] }) });
    expect(learner.calls.map((c) => c.backdoor)).to.deep.equal([undefined, undefined]);
  });

  it("the plan's targetLabel, poisonFraction and scale reach the learner and the replacement", async () => {
    const learner = recordingLearner();
    const plan = { kind: "backdoor" as const, params: { targetLabel: 7, poisonFraction: 0.5, scale: 2 } };
    const u = await localUpdate(new Float32Array(1), learner, { round: 2, peerIndex: 1, numPeers: 10, attack: plan });
    expect(learner.calls[0].backdoor).to.deep.equal({ targetLabel: 7, fraction: 0.5, seed: attackSeed(1, 2) });
    expect(Array.from(u.weights)).to.deep.equal([2]);
  });

  describe("in the simulator (real tfjs, small)", function () {
    this.timeout(180_000);
    const base = {
      dataset: "fashion-mnist" as const, model: "mlp" as const, numPeers: 10, rounds: 2, partition: { kind: "iid" as const },
      attackers: [1, 4, 7], attack: "backdoor" as const, ruleParam: 0,
      localEpochs: 1, batchSize: 32, learningRate: 0.1, seed: 7, maxSamplesPerPeer: 300, testSamples: 500,
    };

    it("FedAvg takes the replaced model (high attack success); centered clipping rejects the boosted updates", async () => {
      const fedavg = await simulate({ ...base, rule: "fedavg" });
      const cc = await simulate({ ...base, rule: "centered-clipping" });
      for (const r of [...fedavg.rounds, ...cc.rounds]) expect(r.backdoorAsr).to.be.within(0, 1);
      expect(fedavg.rounds[0].acceptedAttackers).to.equal(3);
      expect(fedavg.rounds[0].backdoorAsr).to.be.greaterThan(0.5);
      expect(cc.rounds.every((r) => r.rejectedAttackers === 3)).to.equal(true);
      expect(cc.rounds[1].backdoorAsr).to.be.lessThan(fedavg.rounds[0].backdoorAsr!);
    });

    it("a clean run reports no attack-success rate", async () => {
      const clean = await simulate({ ...base, rounds: 1, attackers: [], attack: undefined, rule: "fedavg" });
      expect(clean.rounds[0].backdoorAsr).to.equal(undefined);
    });

    it("measureBackdoorAsr gives the clean model's own rate (the floor a backdoor's ASR is read against)", async () => {
      const clean = await simulate({ ...base, rounds: 1, attackers: [], attack: undefined, rule: "fedavg", measureBackdoorAsr: true });
      expect(clean.rounds[0].backdoorAsr).to.be.within(0, 1);
      expect(clean.rounds[0].backdoorAsr).to.be.lessThan(0.5); // no trigger was ever trained on
    });
  });
});
