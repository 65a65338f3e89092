// Per-peer vote history (aggregation/rules/vote-history.ts): a peer that keeps drawing reject votes
// is a suspect, an honest peer with an occasional dissenting verifier is not, a lone framer cannot
// make one, and the verifiers' verdict (protocol/verdict.ts votedVerdict) rejects the suspects.
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { DEFAULT_VOTE_HISTORY, VoteHistoryError, historySuspects, voteEvidence, type RoundVotes } from "../../node/aggregation/rules/vote-history.ts";
import { roundVerdict, votedVerdict, type RoundUpdate, type RuleSetting } from "../../node/protocol/verdict.ts";
import { mulberry32, randomNormal } from "../../node/ml/random.ts";
import { simulate } from "../../node/sim/index.ts";

const PEERS = 10;
/** One round: committee `committee`; `against[v]` = the peers verifier v votes to reject. */
function round(r: number, committee: number[], against: Record<number, number[]> = {}, notJudged: number[] = []): RoundVotes {
  const peers = Array.from({ length: PEERS }, (_, p) => p);
  return {
    round: r, peers, judged: peers.map((p) => !notJudged.includes(p)),
    votes: committee.map((v) => ({ verifier: v, accepted: peers.map((p) => !(against[v] ?? []).includes(p)) })),
  };
}
const committees = [[0, 2, 3, 5, 8], [1, 2, 6, 8, 9], [0, 3, 4, 6, 9], [2, 5, 6, 7, 8], [0, 1, 3, 8, 9], [2, 3, 4, 5, 6], [0, 5, 7, 8, 9], [1, 3, 4, 6, 8]];

describe("vote history", () => {
  it("marks a peer that draws reject votes from several verifiers in most rounds, after minRounds of evidence", () => {
    // peer 4 is voted against by whichever of verifiers 0, 3, 9 (its class holders) sit on the committee
    const history = committees.map((c, i) => round(i + 1, c, Object.fromEntries(c.filter((v) => [0, 3, 9].includes(v)).map((v) => [v, [4]]))));
    expect(historySuspects(history.slice(0, 3), 4)).to.deep.equal([]); // 3 rounds: not enough evidence yet
    expect(historySuspects(history.slice(0, 4), 5)).to.deep.equal([4]);
    const e = voteEvidence(history, 9).get(4)!;
    expect(e.rejecters).to.equal(3);
    expect(e.votesAgainst / e.votesCast).to.be.greaterThan(DEFAULT_VOTE_HISTORY.minShare);
  });

  it("keeps an honest skewed peer that one verifier or another dislikes now and then (10 % of the votes)", () => {
    // peer 3 draws one reject vote in every other round, from a different verifier each time
    const history = committees.map((c, i) => round(i + 1, c, i % 2 === 0 ? { [c.find((v) => v !== 3)!]: [3] } : {}));
    const e = voteEvidence(history, 9).get(3)!;
    expect(e.votesAgainst).to.equal(4);
    expect(historySuspects(history, 9)).to.deep.equal([]);
  });

  it("a lone framer cannot make a suspect: its votes in every round it sits on the committee are not enough", () => {
    // attacker 8 votes against honest peer 2 every time it is on the committee (6 of 8 rounds)
    const history = committees.map((c, i) => round(i + 1, c, c.includes(8) ? { 8: [2] } : {}));
    const e = voteEvidence(history, 9).get(2)!;
    expect(e.votesAgainst).to.equal(6);
    expect(e.rejecters).to.equal(1);
    expect(historySuspects(history, 9)).to.deep.equal([]);
    // ... while two framers that sit together in most rounds can (the documented limit, minVerifiers = 2)
    const two = committees.map((c, i) => round(i + 1, c, Object.fromEntries(c.filter((v) => v === 8 || v === 9).map((v) => [v, [2]]))));
    expect(historySuspects(two, 9)).to.deep.equal([2]);
  });

  it("a peer never votes itself clean or guilty, and rounds it was not judged in (a suspect, or pre-filtered) add no evidence", () => {
    const selfVotes = committees.map((c, i) => round(i + 1, c, c.includes(4) ? { 4: [4] } : {}));
    expect(voteEvidence(selfVotes, 9).get(4)!.votesAgainst).to.equal(0);
    const flagged = committees.map((c, i) => round(i + 1, c, Object.fromEntries(c.map((v) => [v, [5]])), i >= 4 ? [5] : []));
    expect(voteEvidence(flagged, 9).get(5)!.rounds).to.equal(4);
    // the window: evidence older than `window` rounds is forgotten, so a suspect gets judged afresh
    expect(historySuspects(flagged, 5)).to.deep.equal([5]);
    expect(historySuspects(flagged, 5 + DEFAULT_VOTE_HISTORY.window)).to.deep.equal([]);
  });

  it("rejects malformed records and policies with a clear error", () => {
    const bad = { ...round(1, [0, 1, 2]), judged: [true] };
    expect(() => voteEvidence([bad], 2)).to.throw(VoteHistoryError, /judged flags/);
    const short = round(1, [0, 1, 2]);
    const shortVotes = { ...short, votes: [{ verifier: 0, accepted: [true] }] };
    expect(() => voteEvidence([shortVotes], 2)).to.throw(VoteHistoryError, /revealed 1 flags/);
    expect(() => voteEvidence([], 2, { ...DEFAULT_VOTE_HISTORY, minShare: 0 })).to.throw(VoteHistoryError);
    expect(() => voteEvidence([], 2, { ...DEFAULT_VOTE_HISTORY, window: 0.5 })).to.throw(VoteHistoryError);
  });

  it("votedVerdict rejects the suspects' updates (with the reason), also without validation data, and never adds one the pre-filter rejected", async () => {
    const rng = mulberry32(5);
    const D = 200;
    const shared = Float32Array.from({ length: D }, () => 0.05 * randomNormal(rng));
    const global = new Float32Array(D);
    const deltas = Array.from({ length: 6 }, (_, i) => (i === 5 ? shared.map((x) => 40 * x) : shared.map((x) => x + 0.02 * randomNormal(rng))));
    const updates: RoundUpdate[] = await Promise.all(deltas.map(async (d, i) => ({ cid: CID.createV1(0x55, await sha256.digest(new Uint8Array([i, 3]))), numSamples: 100, weights: Float32Array.from(d) })));
    const setting: RuleSetting = { rule: "validation-vote", ruleParam: 0 };
    const models = { global, previousGlobal: null };
    expect(roundVerdict(setting, models, updates).accepted).to.deep.equal([true, true, true, true, true, false]);
    const loss = async () => 1; // a verifier whose data see no difference
    const v = await votedVerdict(setting, models, updates, loss, new Set([2, 5]));
    expect(v.accepted).to.deep.equal([true, true, false, true, true, false]);
    expect(v.rejections.find((r) => r.index === 2)?.message).to.match(/vote history/);
    const noData = await votedVerdict(setting, models, updates, undefined, new Set([1]));
    expect(noData.accepted).to.deep.equal([true, false, true, true, true, false]);
    // a geometric rule has no committee vote: the history does not apply to it
    expect((await votedVerdict({ rule: "median", ruleParam: 0 }, models, updates, loss, new Set([1]))).accepted[1]).to.equal(true);
  });

  it("in the simulator (opt-in): each round's suspects come from the earlier rounds' votes and the committee rejects them", async function () {
    this.timeout(180_000);
    // a hair-trigger policy, so that suspects appear within a few rounds of tiny shards
    const policy = { window: 3, minRounds: 1, minShare: 0.01, minVerifiers: 1 };
    const res = await simulate({
      dataset: "fashion-mnist", model: "mlp", numPeers: 8, rounds: 4, partition: { kind: "dirichlet", alpha: 0.1 },
      attackers: [2, 5], attack: "sign-flip", rule: "validation-vote", ruleParam: 0, voteHistory: policy,
      localEpochs: 1, batchSize: 32, learningRate: 0.1, seed: 3, maxSamplesPerPeer: 80, testSamples: 200,
    });
    expect(res.rounds[0].historySuspects).to.deep.equal([]);
    for (const r of res.rounds) {
      expect(r.votesAgainst).to.have.length(8);
      // a suspect is rejected by every honest verifier: the committee majority rejects it
      for (const p of r.historySuspects!) expect((BigInt(r.mask) >> BigInt(p)) & 1n).to.equal(0n);
    }
    // round 2 looks back at round 1 only: its suspects all drew reject votes there
    const voted = res.rounds[0].votesAgainst!.flatMap((n, p) => (n > 0 ? [p] : []));
    expect(voted).to.include.members(res.rounds[1].historySuspects!);
    expect(res.rounds.some((r) => r.historySuspects!.length > 0)).to.equal(true);
    // off by default
    const off = await simulate({
      dataset: "fashion-mnist", model: "mlp", numPeers: 8, rounds: 1, partition: { kind: "iid" }, attackers: [], rule: "validation-vote", ruleParam: 0,
      localEpochs: 1, batchSize: 32, learningRate: 0.1, seed: 3, maxSamplesPerPeer: 40, testSamples: 100,
    });
    expect(off.rounds[0].historySuspects).to.deep.equal([]);
  });
});
