import { expect } from "chai";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  AGGREGATOR, ALL_ROLES, Phase, TRAINER, VERIFIER, aggregateAll, aggregateCommitment, cidRaw, cidV0, commitAll, committee,
  deployTask, saltOf, verdictAll, verdictCommitment,
} from "./helpers.ts";

const { ethers, networkHelpers } = await network.create();
const { time, mine } = networkHelpers;
type S = HardhatEthersSigner;
const all = (peers: S[], mask: bigint): [S, bigint][] => peers.map((p) => [p, mask]);

/** 4 peers with every role, round 1 in VerifyCommit (4 commits). */
const inVerification = async () => {
  const d = await deployTask(ethers, { start: true });
  await commitAll(ethers, d.task, 1, d.peers.slice(0, 4));
  return d;
};

describe("FederatedTask: training", () => {
  it("records a commit and exposes it through the views", async () => {
    const { task, peers } = await deployTask(ethers, { start: true });
    const cid = cidRaw(ethers, "u0");
    await expect(task.connect(peers[2]).commitUpdate(1, cid, 600)).to.emit(task, "UpdateCommitted").withArgs(1, peers[2].address, 0, cid, 600);
    expect(await task.commitIndexOf(1, peers[2].address)).to.equal(1n);
    expect(await task.commitIndexOf(1, peers[0].address)).to.equal(0n);
    const c = await task.getCommit(1, 0);
    expect([c.trainer, c.cid, c.numSamples]).to.deep.equal([peers[2].address, cid, 600n]);
    await expect(task.connect(peers[2]).commitUpdate(1, cidRaw(ethers, "u1"), 1)).to.be.revertedWithCustomError(task, "AlreadyCommitted").withArgs(1, peers[2].address);
  });

  it("closes training when every eligible trainer committed, fixing the seed block and the pools", async () => {
    const { task, peers } = await deployTask(ethers, { start: true });
    await commitAll(ethers, task, 1, peers.slice(0, 3));
    const tx = task.connect(peers[3]).commitUpdate(1, cidRaw(ethers, "last"), 1);
    await expect(tx).to.emit(task, "CommitteeSeedFixed");
    await expect(tx).to.emit(task, "PhaseAdvanced");
    const r = await task.getRound(1);
    expect(r.phase).to.equal(BigInt(Phase.VerifyCommit));
    const c = await task.getCommittees(1);
    expect(c.seedBlock).to.equal(BigInt((await (await tx).wait())!.blockNumber));
  });

  it("fails a round with too few trainers (reason 1) and settles nobody", async () => {
    const { task, peers } = await deployTask(ethers, { start: true });
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "only"), 1)).wait();
    await time.increase(101);
    const tx = task.connect(peers[5]).advancePhase(1);
    await expect(tx).to.emit(task, "RoundFailed").withArgs(1, 1);
    await expect(tx).to.emit(task, "RoundStarted");
    expect((await task.getPeer(peers[0].address)).reputation).to.equal(10n);
  });

  it("refuses to advance an open window", async () => {
    const { task } = await deployTask(ethers, { start: true });
    await expect(task.advancePhase(1)).to.be.revertedWithCustomError(task, "DeadlineNotReached");
    await expect(task.advancePhase(2)).to.be.revertedWithCustomError(task, "WrongRound").withArgs(2, 1);
  });
});

describe("FederatedTask: committees", () => {
  it("draws committees of the configured sizes from eligible peers only, lazily and once", async () => {
    const roles = [ALL_ROLES, ALL_ROLES, ALL_ROLES, ALL_ROLES, ALL_ROLES, ALL_ROLES, TRAINER, TRAINER];
    const { task, peers } = await deployTask(ethers, { roles, start: true, config: { verifierCommitteeSize: 3, aggregatorCommitteeSize: 2 } });
    await commitAll(ethers, task, 1, peers.slice(0, 8));
    // The seed block's hash is not readable in the block that closed training: views say "not yet".
    await mine(1);
    const view = await task.getCommittees(1);
    expect(view.selected).to.equal(false);
    const tx = task.selectCommittees(1);
    await expect(tx).to.emit(task, "CommitteesSelected").withArgs(1, view.verifierCommittee, view.aggregatorCommittee, (v: string) => v.length === 66);
    const stored = await task.getCommittees(1);
    expect(stored.selected).to.equal(true);
    const popcount = (x: bigint) => x.toString(2).split("").filter((b) => b === "1").length;
    expect(popcount(stored.verifierCommittee)).to.equal(3);
    expect(popcount(stored.aggregatorCommittee)).to.equal(2);
    // Trainer-only peers 6 and 7 are not eligible.
    expect(stored.verifierCommittee & 0b11000000n).to.equal(0n);
    expect(stored.aggregatorCommittee & 0b11000000n).to.equal(0n);
    const verifiers = await committee(task, 1, peers.slice(0, 8), "verifier");
    expect(verifiers.length).to.equal(3);
    await expect(task.selectCommittees(1)).to.be.revertedWithCustomError(task, "CommitteesAlreadySelected").withArgs(1);
    const outsiderVerifier = peers.slice(0, 6).find((p) => !verifiers.includes(p))!;
    await expect(task.connect(outsiderVerifier).commitVerdict(1, ethers.id("x")))
      .to.be.revertedWithCustomError(task, "NotInCommittee").withArgs(1, outsiderVerifier.address, VERIFIER);
  });

  it("runs a whole round with committees smaller than the peer set", async () => {
    const roles = Array(7).fill(ALL_ROLES);
    const { task, peers } = await deployTask(ethers, { roles, start: true, config: { verifierCommitteeSize: 3, aggregatorCommitteeSize: 3 } });
    await commitAll(ethers, task, 1, peers.slice(0, 7));
    await mine(1);
    const verifiers = await committee(task, 1, peers.slice(0, 7), "verifier");
    const aggregators = await committee(task, 1, peers.slice(0, 7), "aggregator");
    expect(verifiers.length).to.equal(3);
    // Two of three vote for commits 0..5 only: accepted = > 3/2 of the committee -> 2 votes.
    await verdictAll(ethers, task, 1, [[verifiers[0], 0b0111111n], [verifiers[1], 0b0111111n], [verifiers[2], 0b1111111n]]);
    const r = await task.getRound(1);
    expect(r.phase).to.equal(BigInt(Phase.AggregateCommit));
    expect(r.acceptedMask).to.equal(0b0111111n);
    const global = cidRaw(ethers, "global-1");
    const tx = await aggregateAll(ethers, task, 1, aggregators.map((a) => [a, global] as [S, string]));
    await expect(tx).to.emit(task, "RoundFinalized").withArgs(1, global, 0b0111111n, 9000, 0);
    expect(await task.latestGlobalModelCid()).to.equal(global);
  });

  it("re-anchors a seed whose block hash expired (older than 256 blocks)", async () => {
    const { task, peers } = await deployTask(ethers, { start: true, config: { verificationDuration: 100_000 } });
    await commitAll(ethers, task, 1, peers.slice(0, 4));
    await mine(300);
    expect((await task.getCommittees(1)).selected).to.equal(false);
    await expect(task.selectCommittees(1)).to.emit(task, "CommitteeSeedFixed");
    await expect(task.connect(peers[0]).commitVerdict(1, ethers.id("c"))).to.emit(task, "CommitteesSelected");
  });
});

describe("FederatedTask: verdict commit-reveal and relative majority", () => {
  it("counts a majority of the committee size, not of the verdicts cast", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    // Committee = 4 verifiers; only 2 reveal (both accept everything): 2 is not > 4/2.
    const address = await task.getAddress();
    for (const p of peers.slice(0, 2)) {
      await (await task.connect(p).commitVerdict(1, verdictCommitment(ethers, address, 1, p.address, 0b1111n, saltOf(ethers, p, 1)))).wait();
    }
    await time.increase(51);
    await expect(task.advancePhase(1)).to.emit(task, "PhaseAdvanced").withArgs(1, Phase.VerifyReveal, (v: bigint) => v > 0n);
    for (const p of peers.slice(0, 2)) await (await task.connect(p).revealVerdict(1, 0b1111n, saltOf(ethers, p, 1))).wait();
    // Closed early (both committers revealed): nothing accepted, round failed (reason 2).
    const r = await task.getRound(1);
    expect(r.phase).to.equal(BigInt(Phase.Failed));
    expect(r.acceptedMask).to.equal(0n);
    // The two absent committee members lost reputation; the two revealers disagreed with the (empty) mask.
    expect((await task.getPeer(peers[2].address)).reputation).to.equal(6n);
  });

  it("accepts by strict majority of the committee and settles trainers and verifiers at verification close", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    const votes: [S, bigint][] = [[peers[0], 0b0111n], [peers[1], 0b0111n], [peers[2], 0b0011n], [peers[3], 0b0001n]];
    const address = await task.getAddress();
    for (const [p, m] of votes) await (await task.connect(p).commitVerdict(1, verdictCommitment(ethers, address, 1, p.address, m, saltOf(ethers, p, 1)))).wait();
    for (const [p, m] of votes.slice(0, 3)) await (await task.connect(p).revealVerdict(1, m, saltOf(ethers, p, 1))).wait();
    const tx = task.connect(peers[3]).revealVerdict(1, 0b0001n, saltOf(ethers, peers[3], 1));
    // commit 0: 4/4, commit 1: 3/4 accepted; commit 2: 2/4 neither; commit 3: 4/4 rejected
    await expect(tx).to.emit(task, "AcceptedMaskComputed").withArgs(1, 0b0011n, 0b1000n, 4);
    await expect(tx).to.emit(task, "ReputationChanged").withArgs(peers[0].address, 1, 10, 11, 0); // update accepted
    await expect(tx).to.emit(task, "ReputationChanged").withArgs(peers[3].address, 1, 10, 6, 1); // update rejected
    // verifier 2 voted exactly the final mask: +1 (its update 2 got no majority: no trainer change)
    expect((await task.getPeer(peers[2].address)).reputation).to.equal(11n);
    expect(await task.getVerdict(1, peers[1].address)).to.deep.equal([true, true, 0b0111n]);
  });

  it("rejects reveals that do not match, masks out of range, and non-committers", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    const address = await task.getAddress();
    const c = verdictCommitment(ethers, address, 1, peers[0].address, 0b1111n, saltOf(ethers, peers[0], 1));
    expect(await task.verdictCommitment(1, peers[0].address, 0b1111n, saltOf(ethers, peers[0], 1))).to.equal(c);
    await (await task.connect(peers[0]).commitVerdict(1, c)).wait();
    await expect(task.connect(peers[0]).commitVerdict(1, c)).to.be.revertedWithCustomError(task, "AlreadyCommitted");
    await expect(task.connect(peers[1]).commitVerdict(1, ethers.ZeroHash)).to.be.revertedWithCustomError(task, "ZeroCommitment");
    expect(await task.getVerdict(1, peers[0].address)).to.deep.equal([true, false, 0n]);
    await time.increase(51);
    await (await task.advancePhase(1)).wait();
    await expect(task.connect(peers[0]).revealVerdict(1, 0b0111n, saltOf(ethers, peers[0], 1))).to.be.revertedWithCustomError(task, "RevealMismatch");
    await expect(task.connect(peers[0]).revealVerdict(1, 0b10000n, saltOf(ethers, peers[0], 1))).to.be.revertedWithCustomError(task, "MaskOutOfRange");
    await expect(task.connect(peers[1]).revealVerdict(1, 0b1111n, saltOf(ethers, peers[1], 1))).to.be.revertedWithCustomError(task, "NotCommitted").withArgs(1, peers[1].address);
    await (await task.connect(peers[0]).revealVerdict(1, 0b1111n, saltOf(ethers, peers[0], 1))).wait();
  });
});

describe("FederatedTask: aggregate commit-reveal and finalization", () => {
  it("finalizes when >= 2/3 of the aggregator committee reveal one CID; settles aggregators", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    await verdictAll(ethers, task, 1, all(peers.slice(0, 4), 0b1111n));
    const good = cidV0(ethers, "global-1");
    const bad = cidRaw(ethers, "forged");
    const tx = await aggregateAll(ethers, task, 1, [[peers[0], good, 9000], [peers[1], bad, 9900], [peers[2], good, 9100], [peers[3], good, 9200]]);
    await expect(tx).to.emit(task, "RoundFinalized").withArgs(1, good, 0b1111n, 9100, 0);
    await expect(tx).to.emit(task, "ReputationChanged").withArgs(peers[1].address, 1, 12, 8, 6); // aggregate disagreed (12 = 10 + accepted update + agreeing verdict)
    await expect(tx).to.emit(task, "ReputationChanged").withArgs(peers[0].address, 1, 12, 13, 5);
    const r1 = await task.getRound(1);
    expect(r1.phase).to.equal(BigInt(Phase.Finalized));
    expect(r1.finalCid).to.equal(good);
    expect(r1.phaseDeadline).to.be.greaterThan(0n); // the challenge deadline
    expect((await task.getRound(2)).globalModelCid).to.equal(good);
    expect(await task.getAggregate(1, peers[1].address)).to.deep.equal([true, true, bad, 9900n, 0n]);
  });

  it("fails (reason 3) when no CID reaches the quorum share of the committee", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    await verdictAll(ethers, task, 1, all(peers.slice(0, 4), 0b1111n));
    const a = cidRaw(ethers, "A");
    const b = cidRaw(ethers, "B");
    const tx = await aggregateAll(ethers, task, 1, [[peers[0], a], [peers[1], a], [peers[2], b], [peers[3], b]]);
    await expect(tx).to.emit(task, "RoundFailed").withArgs(1, 3);
    expect(await task.latestGlobalModelCid()).to.equal(cidV0(ethers, "initial"));
  });

  it("rejects aggregate reveals that do not match the commitment", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    await verdictAll(ethers, task, 1, all(peers.slice(0, 4), 0b1111n));
    const address = await task.getAddress();
    const cid = cidRaw(ethers, "g");
    const c = aggregateCommitment(ethers, address, 1, peers[0].address, cid, 9000, 0, saltOf(ethers, peers[0], 1));
    expect(await task.aggregateCommitment(1, peers[0].address, cid, 9000, 0, saltOf(ethers, peers[0], 1))).to.equal(c);
    await (await task.connect(peers[0]).commitAggregate(1, c)).wait();
    await time.increase(51);
    await (await task.advancePhase(1)).wait();
    await expect(task.connect(peers[0]).revealAggregate(1, cid, 9001, 0, saltOf(ethers, peers[0], 1))).to.be.revertedWithCustomError(task, "RevealMismatch");
    await expect(task.connect(peers[0]).revealAggregate(1, cid, 10_001, 0, saltOf(ethers, peers[0], 1))).to.be.revertedWithCustomError(task, "AccuracyOutOfRange");
    // One of four committee members revealed: 1/4 < 2/3, the round fails when the reveal closes.
    await expect(task.connect(peers[0]).revealAggregate(1, cid, 9000, 0, saltOf(ethers, peers[0], 1))).to.emit(task, "RoundFailed").withArgs(1, 3);
  });

  it("completes the task after the last round", async () => {
    const { task, peers } = await deployTask(ethers, { start: true, config: { rounds: 1 } });
    await commitAll(ethers, task, 1, peers.slice(0, 4));
    await verdictAll(ethers, task, 1, all(peers.slice(0, 4), 0b1111n));
    const global = cidRaw(ethers, "final");
    const tx = await aggregateAll(ethers, task, 1, peers.slice(0, 4).map((p) => [p, global] as [S, string]));
    await expect(tx).to.emit(task, "TaskCompleted").withArgs(1, global);
    expect(await task.taskCompleted()).to.equal(true);
    void AGGREGATOR;
  });
});
