/**
 * The event-to-view reconstruction of explorer/rounds.ts on synthetic events (no chain): what the
 * hand-driven allow-list fixture cannot show — bond mode (bonds posted, slashed by an upheld
 * challenge, refunded), an "undecided" commit (neither majority), verifiers still to commit while
 * the committees are not stored yet (getCommittees preview), and a round that failed at training.
 */
import { expect } from "chai";
import { ChainClient } from "../../explorer/chain-client.ts";
import { ChainIndex, type ContractEvent } from "../../explorer/chain-index.ts";
import { banReasonText, federatedTaskInterface, Phase, reputationReasonText } from "../../explorer/abi.ts";
import { buildChallenges, buildPeers, buildRound, summarizeRound } from "../../explorer/rounds.ts";
import type { Plain } from "../../explorer/values.ts";

const A = "0x1000000000000000000000000000000000000001";
const B = "0x2000000000000000000000000000000000000002";
const C = "0x3000000000000000000000000000000000000003";
const CHALLENGER = "0x4000000000000000000000000000000000000004";
const CID = "0x01551220" + "ab".repeat(32); // CIDv1 raw sha2-256

function indexOf(events: [string, { [key: string]: Plain }, string?][]): ChainIndex {
  const index = new ChainIndex(new ChainClient("http://127.0.0.1:9"), federatedTaskInterface(), "0x5FbDB2315678afecb367f032d93F642f64180aa3");
  index.events = events.map(([name, args, tx], i): ContractEvent => ({
    name, args, blockNumber: i + 1, txHash: tx ?? `0x${(i + 1).toString(16).padStart(64, "0")}`, logIndex: 0, timestamp: 1000 + i,
    round: typeof args.round === "number" ? args.round : null,
  }));
  return index;
}

const register = (peer: string, peerIndex: number): [string, { [key: string]: Plain }] =>
  ["PeerRegistered", { peer, peerIndex, roles: 7, multiaddr: "", publicKey: "0x" + "00".repeat(32) }];

describe("explorer: rounds and peers from events", () => {
  it("bond mode: bonds posted, slashed by an upheld challenge, refunded; an undecided commit", () => {
    const settle = "0x" + "5e".repeat(32);
    const index = indexOf([
      ["TaskConfigured", { initiator: CHALLENGER, config: { admissionMode: 1, bondWei: 100, challengeDuration: 60 } }],
      ["BondPosted", { peer: A, amount: 300 }], register(A, 0),
      ["BondPosted", { peer: B, amount: 100 }], register(B, 1),
      ["BondPosted", { peer: C, amount: 100 }], register(C, 2),
      ["RoundStarted", { round: 1, globalModelCid: CID, trainingDeadline: 2000 }],
      ["UpdateCommitted", { round: 1, trainer: A, commitIndex: 0, cid: CID, numSamples: 10 }],
      ["UpdateCommitted", { round: 1, trainer: B, commitIndex: 1, cid: CID, numSamples: 10 }],
      ["CommitteeSeedFixed", { round: 1, seedBlock: 9, verifierPool: 7, aggregatorPool: 7 }],
      ["PhaseAdvanced", { round: 1, phase: Phase.VerifyCommit, deadline: 3000 }],
      ["CommitteesSelected", { round: 1, verifierCommittee: 7, aggregatorCommittee: 3, seed: "0x" + "11".repeat(32) }],
      ["VerdictCommitted", { round: 1, verifier: A, commitment: "0x" + "aa".repeat(32) }],
      ["VerdictCommitted", { round: 1, verifier: B, commitment: "0x" + "bb".repeat(32) }],
      ["PhaseAdvanced", { round: 1, phase: Phase.VerifyReveal, deadline: 3100 }],
      ["VerdictRevealed", { round: 1, verifier: A, acceptedMask: 1 }],
      ["VerdictRevealed", { round: 1, verifier: B, acceptedMask: 3 }],
      // Committee size 3, two reveals: commit 0 accepted twice (> 1.5), commit 1 once either way -> undecided.
      ["AcceptedMaskComputed", { round: 1, acceptedMask: 1, rejectedMask: 0, revealCount: 2 }],
      ["ReputationChanged", { peer: C, round: 1, oldScore: 10, newScore: 7, reason: 4 }],
      ["PhaseAdvanced", { round: 1, phase: Phase.AggregateCommit, deadline: 3200 }],
      ["AggregateCommitted", { round: 1, aggregator: A, commitment: "0x" + "cc".repeat(32) }],
      ["AggregateCommitted", { round: 1, aggregator: B, commitment: "0x" + "dd".repeat(32) }],
      ["PhaseAdvanced", { round: 1, phase: Phase.AggregateReveal, deadline: 3300 }],
      ["AggregateRevealed", { round: 1, aggregator: A, cid: CID, accuracyBps: 9000, cumulativeEpsilonMilli: 0, agreesWithLeader: true }],
      ["AggregateRevealed", { round: 1, aggregator: B, cid: CID, accuracyBps: 9000, cumulativeEpsilonMilli: 0, agreesWithLeader: true }],
      ["RoundFinalized", { round: 1, globalModelCid: CID, acceptedMask: 1, accuracyBps: 9000, cumulativeEpsilonMilli: 0 }],
      ["ChallengeRaised", { id: 0, round: 1, challenger: CHALLENGER, bond: 100 }],
      ["ReputationChanged", { peer: A, round: 1, oldScore: 11, newScore: 8, reason: 8 }, settle],
      ["BondSlashed", { peer: A, round: 1, amount: 300, beneficiary: CHALLENGER }, settle],
      ["PeerBanned", { peer: A, reason: 2 }, settle],
      ["ReputationChanged", { peer: B, round: 1, oldScore: 11, newScore: 8, reason: 8 }, settle],
      ["BondSlashed", { peer: B, round: 1, amount: 100, beneficiary: CHALLENGER }, settle],
      ["PeerBanned", { peer: B, reason: 2 }, settle],
      ["ChallengeSettled", { id: 0, round: 1, upheld: true, slashed: 400 }, settle],
      ["PayoutClaimed", { account: CHALLENGER, amount: 500 }],
      ["BondRefunded", { peer: C, amount: 100 }],
    ]);
    const round = buildRound(index, 1)!;
    expect(round.commits.map((c) => c.fate)).to.deep.equal(["accepted", "undecided"]);
    expect(summarizeRound(round)).to.include({ accepted: 1, rejected: 0, undecided: 1, verdicts: 2, verdictCommits: 2 });
    expect(round.verdicts.map((v) => [v.verifier, v.status, v.agreesWithAccepted])).to.deep.equal([
      [A, "revealed", true], [B, "revealed", false], [C, "no commit", null],
    ]);
    expect(round.aggregates.map((a) => a.aggregator)).to.deep.equal([A, B]);
    expect(round.committees!.aggregators.map((m) => m.address)).to.deep.equal([A, B]);
    expect(round.timeline.find((t) => t.phase === "Finalized")!.deadline).to.equal(round.timeline.find((t) => t.phase === "Finalized")!.timestamp + 60);
    expect(round.slashes.map((x) => [x.peer, x.amount, x.beneficiary])).to.deep.equal([[A, "300", CHALLENGER], [B, "100", CHALLENGER]]);
    expect(round.bans.map((b) => [b.peer, b.reasonName])).to.deep.equal([[A, banReasonText(2)], [B, banReasonText(2)]]);
    expect(round.reputation.map((r) => r.reasonName)).to.deep.equal([reputationReasonText(4), reputationReasonText(8), reputationReasonText(8)]);
    const [challenge] = buildChallenges(index);
    expect(challenge).to.include({ status: "upheld", bond: "100", slashed: "400", challenger: CHALLENGER });
    expect(challenge.banned).to.deep.equal([A, B]);
    const peers = buildPeers(index);
    expect(peers.get(A.toLowerCase())!.bond).to.deep.include({ posted: "300", slashed: "300", held: "0", refunded: "0" });
    expect(peers.get(C.toLowerCase())!.bond).to.deep.include({ posted: "100", refunded: "100", held: "0" });
    expect(peers.get(A.toLowerCase())!.banned!.reason).to.equal(2);
    expect(peers.get(A.toLowerCase())!.admitted).to.equal(false); // bond mode: nobody admits
    expect(peers.has(CHALLENGER.toLowerCase())).to.equal(false); // not a peer: claims are not tracked for it
  });

  it("an open commit window with committees not stored yet (view preview), and a round failed at training", () => {
    const index = indexOf([
      register(A, 0), register(B, 1),
      ["RoundStarted", { round: 1, globalModelCid: CID, trainingDeadline: 2000 }],
      ["RoundFailed", { round: 1, reason: 1 }],
      ["RoundStarted", { round: 2, globalModelCid: CID, trainingDeadline: 4000 }],
      ["UpdateCommitted", { round: 2, trainer: A, commitIndex: 0, cid: CID, numSamples: 10 }],
      ["CommitteeSeedFixed", { round: 2, seedBlock: 7, verifierPool: 3, aggregatorPool: 3 }],
      ["PhaseAdvanced", { round: 2, phase: Phase.VerifyCommit, deadline: 5000 }],
    ]);
    const failed = buildRound(index, 1)!;
    expect(failed.phase).to.equal("Failed");
    expect(failed.committees).to.equal(null);
    expect(failed.failedCode).to.equal(1);
    const pending = buildRound(index, 2, { verifierCommittee: 3n, aggregatorCommittee: 1n })!;
    expect(pending.committees).to.include({ selected: false, fromView: true, seedBlock: 7 });
    expect(pending.committees!.aggregators.map((m) => m.address)).to.deep.equal([A]);
    expect(pending.verdicts.map((v) => [v.verifier, v.status])).to.deep.equal([[A, "awaiting commit"], [B, "awaiting commit"]]);
    expect(pending.commits[0].fate).to.equal("pending");
  });
});
