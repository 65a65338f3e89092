import { expect } from "chai";
import { network } from "hardhat";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { FederatedTask } from "../../types/ethers-contracts/index.ts";
import { AGGREGATOR, ALL_ROLES, Phase, TRAINER, VERIFIER, cidDagPb, cidRaw, cidV0, commitAll, deployTask, voteAll } from "./helpers.ts";

const { ethers, networkHelpers } = await network.connect();
const { time } = networkHelpers;

/** 4 peers with every role, task started (round 1 training). */
const started = () => deployTask(ethers, { start: true });
const inVerification = async () => {
  const d = await deployTask(ethers, { start: true });
  await commitAll(ethers, d.task, 1, d.peers.slice(0, 4));
  return d;
};
const inAggregation = async () => {
  const d = await inVerification();
  await voteAll(d.task, 1, d.peers.slice(0, 4).map((p) => [p, 0b1111n] as [HardhatEthersSigner, bigint]));
  return d;
};

async function nowTs(): Promise<number> {
  return (await ethers.provider.getBlock("latest"))!.timestamp;
}

describe("FederatedTask: commitUpdate", () => {
  it("records a commit, emits UpdateCommitted and exposes it through the views", async () => {
    const { task, peers } = await networkHelpers.loadFixture(started);
    const cid = cidDagPb(ethers, "u0");
    await expect(task.connect(peers[2]).commitUpdate(1, cid, 600))
      .to.emit(task, "UpdateCommitted")
      .withArgs(1, peers[2].address, 0, cid, 600);
    expect(await task.commitIndexOf(1, peers[2].address)).to.equal(1n);
    expect(await task.commitIndexOf(1, peers[0].address)).to.equal(0n);
    const c = await task.getCommit(1, 0);
    expect([c.trainer, c.cid, c.numSamples]).to.deep.equal([peers[2].address, cid, 600n]);
    expect((await task.getRound(1)).commitCount).to.equal(1n);
  });

  it("rejects a second commit from the same peer in a round", async () => {
    const { task, peers } = await networkHelpers.loadFixture(started);
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "a"), 1)).wait();
    await expect(task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "b"), 1))
      .to.be.revertedWithCustomError(task, "AlreadyCommitted")
      .withArgs(1, peers[0].address);
  });

  it("rejects unregistered peers, peers without the trainer role and peers that left", async () => {
    const { task, peers, outsider } = await deployTask(ethers, { roles: [ALL_ROLES, VERIFIER | AGGREGATOR, ALL_ROLES], start: true });
    await expect(task.connect(outsider).commitUpdate(1, cidRaw(ethers, "x"), 1)).to.be.revertedWithCustomError(task, "NotRegistered").withArgs(outsider.address);
    await expect(task.connect(peers[1]).commitUpdate(1, cidRaw(ethers, "x"), 1)).to.be.revertedWithCustomError(task, "MissingRole").withArgs(peers[1].address, TRAINER);
    await (await task.connect(peers[2]).leave()).wait();
    await expect(task.connect(peers[2]).commitUpdate(1, cidRaw(ethers, "x"), 1)).to.be.revertedWithCustomError(task, "NotRegistered").withArgs(peers[2].address);
    await (await task.revokeRoles(peers[0].address, TRAINER)).wait();
    await expect(task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "x"), 1)).to.be.revertedWithCustomError(task, "MissingRole").withArgs(peers[0].address, TRAINER);
  });

  it("rejects commits before the task starts, for another round, in another phase and after the deadline", async () => {
    const { task, peers } = await deployTask(ethers, {});
    await expect(task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "x"), 1)).to.be.revertedWithCustomError(task, "TaskNotStarted");
    await (await task.startTask()).wait();
    await expect(task.connect(peers[0]).commitUpdate(2, cidRaw(ethers, "x"), 1)).to.be.revertedWithCustomError(task, "WrongRound").withArgs(2, 1);
    await expect(task.connect(peers[0]).commitUpdate(0, cidRaw(ethers, "x"), 1)).to.be.revertedWithCustomError(task, "WrongRound").withArgs(0, 1);
    const deadline = (await task.getRound(1)).phaseDeadline;
    await time.increaseTo(deadline + 1n);
    await expect(task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "x"), 1))
      .to.be.revertedWithCustomError(task, "DeadlinePassed")
      .withArgs(1, deadline, deadline + 2n);
    const v = await networkHelpers.loadFixture(inVerification);
    await expect(v.task.connect(v.peers[4]).commitUpdate(1, cidRaw(ethers, "x"), 1)).to.be.revertedWithCustomError(v.task, "NotRegistered");
    await expect(v.task.connect(v.peers[0]).commitUpdate(1, cidRaw(ethers, "y"), 1))
      .to.be.revertedWithCustomError(v.task, "WrongPhase")
      .withArgs(1, Phase.Training, Phase.Verification);
  });

  it("rejects zero samples and malformed CIDs", async () => {
    const { task, peers } = await networkHelpers.loadFixture(started);
    await expect(task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "x"), 0)).to.be.revertedWithCustomError(task, "ZeroSamples");
    await expect(task.connect(peers[0]).commitUpdate(1, "0x", 5)).to.be.revertedWithCustomError(task, "ZeroCid");
    await expect(task.connect(peers[0]).commitUpdate(1, "0x0171122000", 5)).to.be.revertedWithCustomError(task, "InvalidCid").withArgs("0x0171122000");
  });

  it("accepts a commit at the deadline second itself", async () => {
    const { task, peers } = await networkHelpers.loadFixture(started);
    const deadline = (await task.getRound(1)).phaseDeadline;
    await time.setNextBlockTimestamp(deadline);
    await expect(task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "x"), 1)).to.emit(task, "UpdateCommitted");
  });

  it("closes training early when every eligible trainer committed", async () => {
    const { task, peers } = await networkHelpers.loadFixture(started);
    await commitAll(ethers, task, 1, peers.slice(0, 3));
    const tx = task.connect(peers[3]).commitUpdate(1, cidRaw(ethers, "last"), 1);
    await expect(tx).to.emit(task, "PhaseAdvanced").withArgs(1, Phase.Verification, (await nowTs()) + 1 + 50);
    const round = await task.getRound(1);
    expect(round.phase).to.equal(BigInt(Phase.Verification));
    expect(round.commitCount).to.equal(4n);
  });

  it("does not close early when all eligible trainers committed but fewer than minTrainers", async () => {
    const { task, peers } = await deployTask(ethers, { roles: [ALL_ROLES], start: true });
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "solo"), 1)).wait();
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Training));
    await expect(task.advancePhase(1)).to.be.revertedWithCustomError(task, "DeadlineNotReached");
  });

  it("rejects the 256th commit of a round with RoundFull", async function () {
    this.timeout(120_000);
    const { task } = await deployTask(ethers, { roles: [], config: { minTrainers: 255, trainingDuration: 1_000_000 } });
    const wallets = [];
    for (let i = 0; i < 256; i++) {
      const wallet = new ethers.Wallet(ethers.id(`full-${i}`), ethers.provider);
      await networkHelpers.setBalance(wallet.address, 10n ** 18n);
      await (await task.connect(wallet).registerPeer(TRAINER, "/m", ethers.ZeroHash)).wait();
      wallets.push(wallet);
    }
    await (await task.startTask()).wait();
    for (let i = 0; i < 255; i++) await (await task.connect(wallets[i]).commitUpdate(1, cidRaw(ethers, `f${i}`), 1)).wait();
    await expect(task.connect(wallets[255]).commitUpdate(1, cidRaw(ethers, "f255"), 1))
      .to.be.revertedWithCustomError(task, "RoundFull")
      .withArgs(1, 255);
    expect(await task.commitIndexOf(1, wallets[254].address)).to.equal(255n);
    expect((await task.getCommit(1, 254)).trainer).to.equal(wallets[254].address);
  });
});

describe("FederatedTask: submitVerdict", () => {
  it("records a verdict and emits VerdictSubmitted", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    await expect(task.connect(peers[1]).submitVerdict(1, 0b1011n)).to.emit(task, "VerdictSubmitted").withArgs(1, peers[1].address, 0b1011n);
    expect(await task.getVerdict(1, peers[1].address)).to.deep.equal([true, 0b1011n]);
    expect(await task.getVerdict(1, peers[0].address)).to.deep.equal([false, 0n]);
    expect((await task.getRound(1)).verdictCount).to.equal(1n);
  });

  it("records an all-reject verdict as cast", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    await (await task.connect(peers[1]).submitVerdict(1, 0n)).wait();
    expect(await task.getVerdict(1, peers[1].address)).to.deep.equal([true, 0n]);
    await expect(task.connect(peers[1]).submitVerdict(1, 1n)).to.be.revertedWithCustomError(task, "AlreadyVoted").withArgs(1, peers[1].address);
  });

  it("rejects bits beyond the commit count, non-verifiers and verdicts outside the window", async () => {
    const { task, peers, outsider } = await networkHelpers.loadFixture(inVerification);
    await expect(task.connect(peers[0]).submitVerdict(1, 0b10000n)).to.be.revertedWithCustomError(task, "MaskOutOfRange").withArgs(0b10000n, 4);
    await expect(task.connect(peers[0]).submitVerdict(1, 1n << 255n)).to.be.revertedWithCustomError(task, "MaskOutOfRange");
    await expect(task.connect(outsider).submitVerdict(1, 1n)).to.be.revertedWithCustomError(task, "NotRegistered");
    await (await task.revokeRoles(peers[3].address, VERIFIER)).wait();
    await expect(task.connect(peers[3]).submitVerdict(1, 1n)).to.be.revertedWithCustomError(task, "MissingRole").withArgs(peers[3].address, VERIFIER);
    await expect(task.connect(peers[0]).submitVerdict(2, 1n)).to.be.revertedWithCustomError(task, "WrongRound").withArgs(2, 1);
    const deadline = (await task.getRound(1)).phaseDeadline;
    await time.increaseTo(deadline + 1n);
    await expect(task.connect(peers[0]).submitVerdict(1, 1n)).to.be.revertedWithCustomError(task, "DeadlinePassed");
    const s = await networkHelpers.loadFixture(started);
    await expect(s.task.connect(s.peers[0]).submitVerdict(1, 0n)).to.be.revertedWithCustomError(s.task, "WrongPhase").withArgs(1, Phase.Verification, Phase.Training);
  });

  it("fixes the accepted mask by strict majority when the last verifier votes", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    // commit 0: 4/4, commit 1: 3/4, commit 2: 2/4 (no strict majority), commit 3: 0/4
    await voteAll(task, 1, [[peers[0], 0b0111n], [peers[1], 0b0111n], [peers[2], 0b0011n]]);
    const tx = task.connect(peers[3]).submitVerdict(1, 0b0001n);
    await expect(tx).to.emit(task, "AcceptedMaskComputed").withArgs(1, 0b0011n, 4);
    await expect(tx).to.emit(task, "PhaseAdvanced").withArgs(1, Phase.Aggregation, (await nowTs()) + 50);
    expect((await task.getRound(1)).acceptedMask).to.equal(0b0011n);
  });

  it("lets a verifier that registered during verification vote, and waits for it", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    const late = peers[5];
    await (await task.connect(late).registerPeer(VERIFIER, "/late", ethers.ZeroHash)).wait();
    await voteAll(task, 1, peers.slice(0, 4).map((p) => [p, 0b1111n] as [HardhatEthersSigner, bigint]));
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Verification));
    await expect(task.connect(late).submitVerdict(1, 0n)).to.emit(task, "AcceptedMaskComputed").withArgs(1, 0b1111n, 5);
  });
});

describe("FederatedTask: submitAggregate and finalization", () => {
  it("stores every submission and flags the ones that disagree with the leader", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inAggregation);
    const good = cidRaw(ethers, "global-1");
    const bad = cidRaw(ethers, "forged");
    await expect(task.connect(peers[0]).submitAggregate(1, good, 9100, 0)).to.emit(task, "AggregateSubmitted").withArgs(1, peers[0].address, good, 9100, 0, true);
    await expect(task.connect(peers[1]).submitAggregate(1, bad, 9900, 0)).to.emit(task, "AggregateSubmitted").withArgs(1, peers[1].address, bad, 9900, 0, false);
    // same CID, different epsilon: another key, so it disagrees too
    await expect(task.connect(peers[2]).submitAggregate(1, good, 9000, 7)).to.emit(task, "AggregateSubmitted").withArgs(1, peers[2].address, good, 9000, 7, false);
    expect(await task.getAggregate(1, peers[1].address)).to.deep.equal([true, bad, 9900n, 0n]);
    expect(await task.getAggregate(1, peers[3].address)).to.deep.equal([false, "0x", 0n, 0n]);
    expect((await task.getRound(1)).aggregateCount).to.equal(3n);
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Aggregation));
    const tx = task.connect(peers[3]).submitAggregate(1, good, 9200, 0);
    await expect(tx).to.emit(task, "AggregateSubmitted").withArgs(1, peers[3].address, good, 9200, 0, true);
    await expect(tx).to.emit(task, "RoundFinalized").withArgs(1, good, 0b1111n, 9150, 0);
  });

  it("moves the lead to a CID that gets strictly more submissions", async () => {
    const { task, peers } = await deployTask(ethers, { roles: [ALL_ROLES, ALL_ROLES, ALL_ROLES, ALL_ROLES, AGGREGATOR], config: { aggregatorQuorum: 3 } });
    await (await task.startTask()).wait();
    await commitAll(ethers, task, 1, peers.slice(0, 4));
    await voteAll(task, 1, peers.slice(0, 4).map((p) => [p, 0b1111n] as [HardhatEthersSigner, bigint]));
    const a = cidRaw(ethers, "A");
    const b = cidRaw(ethers, "B");
    await expect(task.connect(peers[0]).submitAggregate(1, a, 1, 0)).to.emit(task, "AggregateSubmitted").withArgs(1, peers[0].address, a, 1, 0, true);
    await expect(task.connect(peers[1]).submitAggregate(1, b, 1, 0)).to.emit(task, "AggregateSubmitted").withArgs(1, peers[1].address, b, 1, 0, false);
    await expect(task.connect(peers[2]).submitAggregate(1, b, 1, 0)).to.emit(task, "AggregateSubmitted").withArgs(1, peers[2].address, b, 1, 0, false);
    await expect(task.connect(peers[3]).submitAggregate(1, a, 1, 0)).to.emit(task, "AggregateSubmitted").withArgs(1, peers[3].address, a, 1, 0, false);
    await expect(task.connect(peers[4]).submitAggregate(1, b, 1, 0)).to.emit(task, "RoundFinalized").withArgs(1, b, 0b1111n, 1, 0);
  });

  it("rejects non-aggregators, second submissions, accuracy above 100 % and bad CIDs", async () => {
    const { task, peers, outsider } = await deployTask(ethers, { roles: [ALL_ROLES, ALL_ROLES, TRAINER | VERIFIER], start: true, config: { aggregatorQuorum: 2 } });
    await commitAll(ethers, task, 1, peers.slice(0, 3));
    await voteAll(task, 1, peers.slice(0, 3).map((p) => [p, 0b111n] as [HardhatEthersSigner, bigint]));
    const cid = cidRaw(ethers, "g");
    await expect(task.connect(outsider).submitAggregate(1, cid, 1, 0)).to.be.revertedWithCustomError(task, "NotRegistered");
    await expect(task.connect(peers[2]).submitAggregate(1, cid, 1, 0)).to.be.revertedWithCustomError(task, "MissingRole").withArgs(peers[2].address, AGGREGATOR);
    await expect(task.connect(peers[0]).submitAggregate(1, cid, 10_001, 0)).to.be.revertedWithCustomError(task, "AccuracyOutOfRange").withArgs(10_001);
    await expect(task.connect(peers[0]).submitAggregate(1, "0x", 1, 0)).to.be.revertedWithCustomError(task, "ZeroCid");
    await expect(task.connect(peers[0]).submitAggregate(1, "0x1234", 1, 0)).to.be.revertedWithCustomError(task, "InvalidCid");
    await (await task.connect(peers[0]).submitAggregate(1, cid, 10_000, 0)).wait();
    await expect(task.connect(peers[0]).submitAggregate(1, cid, 1, 0)).to.be.revertedWithCustomError(task, "AlreadySubmitted").withArgs(1, peers[0].address);
  });

  it("rejects aggregates outside the aggregation window", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    await expect(task.connect(peers[0]).submitAggregate(1, cidRaw(ethers, "g"), 1, 0))
      .to.be.revertedWithCustomError(task, "WrongPhase")
      .withArgs(1, Phase.Aggregation, Phase.Verification);
    const a = await networkHelpers.loadFixture(inAggregation);
    await time.increaseTo((await a.task.getRound(1)).phaseDeadline + 1n);
    await expect(a.task.connect(a.peers[0]).submitAggregate(1, cidRaw(ethers, "g"), 1, 0)).to.be.revertedWithCustomError(a.task, "DeadlinePassed");
  });

  it("finalizes a full round: events in order, reputations, next round on the new global model", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    await voteAll(task, 1, [[peers[0], 0b0111n], [peers[1], 0b0111n], [peers[2], 0b0111n]]);
    const tx1 = task.connect(peers[3]).submitVerdict(1, 0b1111n);
    await expect(tx1).to.emit(task, "AcceptedMaskComputed").withArgs(1, 0b0111n, 4);
    const global = cidV0(ethers, "global-1");
    await (await task.connect(peers[0]).submitAggregate(1, global, 9000, 0)).wait();
    const tx = task.connect(peers[1]).submitAggregate(1, global, 9002, 0);
    const receipt = await (await tx).wait();
    const names = receipt!.logs.map((l) => task.interface.parseLog(l)?.name);
    expect(names).to.deep.equal([
      "AggregateSubmitted", "RoundFinalized",
      "ReputationChanged", "ReputationChanged", "ReputationChanged", "ReputationChanged",
      "RoundStarted",
    ]);
    await expect(tx).to.emit(task, "RoundFinalized").withArgs(1, global, 0b0111n, 9001, 0);
    await expect(tx).to.emit(task, "ReputationChanged").withArgs(peers[0].address, 1, 10, 11, true);
    await expect(tx).to.emit(task, "ReputationChanged").withArgs(peers[3].address, 1, 10, 6, false);
    await expect(tx).to.emit(task, "RoundStarted").withArgs(2, global, (await nowTs()) + 100);
    expect(await task.latestGlobalModelCid()).to.equal(global);
    expect(await task.currentRound()).to.equal(2n);
    expect((await task.getPeer(peers[3].address)).reputation).to.equal(6n);
    const r1 = await task.getRound(1);
    expect(r1.phase).to.equal(BigInt(Phase.Finalized));
    expect(r1.finalCid).to.equal(global);
    expect(r1.phaseDeadline).to.equal(0n);
    expect((await task.getRound(2)).globalModelCid).to.equal(global);
  });

  it("caps rewards at reputationMax", async () => {
    const { task, peers } = await deployTask(ethers, { start: true, config: { reputationInitial: 20, reputationMax: 20 } });
    await commitAll(ethers, task, 1, peers.slice(0, 4));
    await voteAll(task, 1, peers.slice(0, 4).map((p) => [p, 0b1111n] as [HardhatEthersSigner, bigint]));
    await (await task.connect(peers[0]).submitAggregate(1, cidRaw(ethers, "g"), 1, 0)).wait();
    await expect(task.connect(peers[1]).submitAggregate(1, cidRaw(ethers, "g"), 1, 0))
      .to.emit(task, "ReputationChanged").withArgs(peers[0].address, 1, 20, 20, true);
  });
});

describe("FederatedTask: advancePhase and failed rounds", () => {
  it("refuses to move a window before its deadline", async () => {
    const s = await networkHelpers.loadFixture(started);
    const deadline = (await s.task.getRound(1)).phaseDeadline;
    await expect(s.task.advancePhase(1)).to.be.revertedWithCustomError(s.task, "DeadlineNotReached").withArgs(1, deadline, anyValue);
    await expect(s.task.advancePhase(2)).to.be.revertedWithCustomError(s.task, "WrongRound").withArgs(2, 1);
    const v = await networkHelpers.loadFixture(inVerification);
    await expect(v.task.advancePhase(1)).to.be.revertedWithCustomError(v.task, "DeadlineNotReached");
    const a = await networkHelpers.loadFixture(inAggregation);
    await expect(a.task.advancePhase(1)).to.be.revertedWithCustomError(a.task, "DeadlineNotReached");
  });

  it("fails a round with too few trainers (reason 1) and restarts from the last global model", async () => {
    const { task, peers } = await networkHelpers.loadFixture(started);
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "only"), 1)).wait();
    await time.increase(101);
    const tx = task.connect(peers[5]).advancePhase(1); // anyone, even unregistered
    await expect(tx).to.emit(task, "RoundFailed").withArgs(1, 1);
    await expect(tx).to.emit(task, "RoundStarted").withArgs(2, cidV0(ethers, "initial"), (await nowTs()) + 100);
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Failed));
    expect((await task.getPeer(peers[0].address)).reputation).to.equal(10n);
  });

  it("moves training to verification at the deadline with enough commits", async () => {
    const { task, peers } = await networkHelpers.loadFixture(started);
    await commitAll(ethers, task, 1, peers.slice(0, 2));
    await time.increase(101);
    await expect(task.advancePhase(1)).to.emit(task, "PhaseAdvanced").withArgs(1, Phase.Verification, (await nowTs()) + 1 + 50);
  });

  it("fails a round without verdicts (reason 2)", async () => {
    const { task } = await networkHelpers.loadFixture(inVerification);
    await time.increase(51);
    const tx = task.advancePhase(1);
    await expect(tx).to.emit(task, "RoundFailed").withArgs(1, 2);
    await expect(tx).not.to.emit(task, "AcceptedMaskComputed");
  });

  it("fails a round whose verdicts accept nothing (reason 2)", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    await voteAll(task, 1, [[peers[0], 0b0001n], [peers[1], 0b0010n]]);
    await time.increase(51);
    const tx = task.advancePhase(1);
    await expect(tx).to.emit(task, "AcceptedMaskComputed").withArgs(1, 0, 2);
    await expect(tx).to.emit(task, "RoundFailed").withArgs(1, 2);
  });

  it("fails a round without aggregator quorum by the deadline (reason 3)", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inAggregation);
    await (await task.connect(peers[0]).submitAggregate(1, cidRaw(ethers, "g1"), 1, 0)).wait();
    await (await task.connect(peers[1]).submitAggregate(1, cidRaw(ethers, "g2"), 1, 0)).wait();
    await time.increase(51);
    await expect(task.advancePhase(1)).to.emit(task, "RoundFailed").withArgs(1, 3);
    expect(await task.latestGlobalModelCid()).to.equal(cidV0(ethers, "initial"));
    expect((await task.getRound(2)).globalModelCid).to.equal(cidV0(ethers, "initial"));
    expect(await task.getAggregate(1, peers[1].address)).to.deep.equal([true, cidRaw(ethers, "g2"), 1n, 0n]);
  });

  it("completes after `rounds` rounds, counting failed ones, and then refuses to move", async () => {
    const { task, peers } = await networkHelpers.loadFixture(started);
    await time.increase(101);
    await (await task.advancePhase(1)).wait(); // fails: no commits
    await time.increase(101);
    await (await task.advancePhase(2)).wait(); // fails again
    await commitAll(ethers, task, 3, peers.slice(0, 4));
    await voteAll(task, 3, peers.slice(0, 4).map((p) => [p, 0b1111n] as [HardhatEthersSigner, bigint]));
    const final = cidRaw(ethers, "final");
    await (await task.connect(peers[0]).submitAggregate(3, final, 1, 0)).wait();
    const tx = task.connect(peers[1]).submitAggregate(3, final, 1, 0);
    await expect(tx).to.emit(task, "TaskCompleted").withArgs(3, final);
    await expect(tx).not.to.emit(task, "RoundStarted");
    expect(await task.taskCompleted()).to.equal(true);
    await expect(task.advancePhase(3)).to.be.revertedWithCustomError(task, "TaskIsCompleted");
    await expect(task.connect(peers[2]).submitAggregate(3, final, 1, 0)).to.be.revertedWithCustomError(task, "TaskIsCompleted");
    await expect(task.connect(peers[0]).commitUpdate(4, final, 1)).to.be.revertedWithCustomError(task, "WrongRound").withArgs(4, 3);
    await expect(task.getRound(4)).to.be.revertedWithCustomError(task, "RoundDoesNotExist").withArgs(4);
  });

  it("completes on a failed last round with the last global model", async () => {
    const { task } = await deployTask(ethers, { start: true, config: { rounds: 1 } });
    await time.increase(101);
    await expect(task.advancePhase(1)).to.emit(task, "TaskCompleted").withArgs(1, cidV0(ethers, "initial"));
  });
});

describe("FederatedTask: reputation across rounds", () => {
  async function playRound(task: FederatedTask, round: number, peers: HardhatEthersSigner[], rejected: HardhatEthersSigner[]) {
    const committers = peers;
    await commitAll(ethers, task, round, committers);
    let mask = (1n << BigInt(committers.length)) - 1n;
    for (const r of rejected) mask &= ~(1n << (BigInt(await task.commitIndexOf(round, r.address)) - 1n));
    await voteAll(task, round, peers.map((p) => [p, mask] as [HardhatEthersSigner, bigint]));
    const cid = cidRaw(ethers, `global-${round}`);
    await (await task.connect(peers[0]).submitAggregate(round, cid, 9000, round)).wait();
    return task.connect(peers[1]).submitAggregate(round, cid, 9000, round);
  }

  it("excludes a peer rejected again and again, while an honest peer recovers", async () => {
    const { task, peers } = await deployTask(ethers, { start: true, config: { rounds: 6 } });
    const [a, b, honest, attacker] = peers;
    const group = [a, b, honest, attacker];
    // round 1: the honest peer is wrongly rejected once, the attacker too
    await (await playRound(task, 1, group, [honest, attacker])).wait();
    expect((await task.getPeer(honest.address)).reputation).to.equal(6n);
    await (await playRound(task, 2, group, [attacker])).wait(); // attacker 2
    const tx = await playRound(task, 3, group, [attacker]); // attacker 10-4-4-4 = -2 < 0
    await expect(tx).to.emit(task, "ReputationChanged").withArgs(attacker.address, 3, 2, -2, false);
    await expect(tx).to.emit(task, "PeerExcluded").withArgs(attacker.address, 3, -2);
    const excluded = (await (await tx).wait())!.logs.map((l) => task.interface.parseLog(l)).filter((e) => e?.name === "PeerExcluded");
    expect(excluded.map((e) => e!.args[0])).to.deep.equal([attacker.address]);
    expect((await task.getPeer(honest.address)).reputation).to.equal(8n);
    await expect(task.connect(attacker).commitUpdate(4, cidRaw(ethers, "evil"), 1))
      .to.be.revertedWithCustomError(task, "ReputationTooLow")
      .withArgs(attacker.address, -2, 0);
    // Round 4 runs without the excluded peer and closes as soon as the three others committed.
    await commitAll(ethers, task, 4, [a, b]);
    await expect(task.connect(honest).commitUpdate(4, cidRaw(ethers, "h4"), 1)).to.emit(task, "PhaseAdvanced");
    // The attacker still verifies (only committing is barred), leaving/rejoining does not lift the bar.
    await voteAll(task, 4, group.map((p) => [p, 0b111n] as [HardhatEthersSigner, bigint]));
    await (await task.connect(attacker).leave()).wait();
    await (await task.connect(attacker).registerPeer(TRAINER, "/back", ethers.ZeroHash)).wait();
    expect((await task.getPeer(attacker.address)).reputation).to.equal(-2n);
    await (await task.connect(a).submitAggregate(4, cidRaw(ethers, "g4"), 1, 0)).wait();
    await (await task.connect(b).submitAggregate(4, cidRaw(ethers, "g4"), 1, 0)).wait();
    expect((await task.getPeer(honest.address)).reputation).to.equal(9n);
    await expect(task.connect(attacker).commitUpdate(5, cidRaw(ethers, "evil5"), 1)).to.be.revertedWithCustomError(task, "ReputationTooLow");
  });
});

describe("FederatedTask: views rebuild a round", () => {
  it("reconstructs commits, verdicts, aggregates and the summary of a finalized round", async () => {
    const { task, peers } = await networkHelpers.loadFixture(inVerification);
    const masks = [0b1110n, 0b1111n, 0b0111n, 0b0110n];
    await voteAll(task, 1, peers.slice(0, 4).map((p, i) => [p, masks[i]] as [HardhatEthersSigner, bigint]));
    const global = cidDagPb(ethers, "global");
    await (await task.connect(peers[2]).submitAggregate(1, cidRaw(ethers, "odd"), 5000, 3)).wait();
    await (await task.connect(peers[0]).submitAggregate(1, global, 9000, 3)).wait();
    await (await task.connect(peers[3]).submitAggregate(1, global, 9100, 3)).wait();
    const r = await task.getRound(1);
    expect(r.phase).to.equal(BigInt(Phase.Finalized));
    expect(r.globalModelCid).to.equal(cidV0(ethers, "initial"));
    expect([r.commitCount, r.verdictCount, r.aggregateCount, r.acceptedMask]).to.deep.equal([4n, 4n, 3n, 0b0110n]);
    expect([r.finalCid, r.accuracyBps, r.cumulativeEpsilonMilli]).to.deep.equal([global, 9050n, 3n]);
    for (let i = 0; i < 4; i++) {
      const c = await task.getCommit(1, i);
      expect(c.trainer).to.equal(peers[i].address);
      expect(c.cid).to.equal(cidRaw(ethers, `update-1-${peers[i].address}`));
      expect(c.numSamples).to.equal(BigInt(100 + i));
      expect(await task.commitIndexOf(1, peers[i].address)).to.equal(BigInt(i + 1));
      expect(await task.getVerdict(1, peers[i].address)).to.deep.equal([true, masks[i]]);
    }
    expect(await task.getAggregate(1, peers[2].address)).to.deep.equal([true, cidRaw(ethers, "odd"), 5000n, 3n]);
    await expect(task.getCommit(1, 4)).to.be.revertedWithCustomError(task, "CommitDoesNotExist").withArgs(1, 4);
    await expect(task.getRound(0)).to.be.revertedWithCustomError(task, "RoundDoesNotExist").withArgs(0);
    await expect(task.getCommit(3, 0)).to.be.revertedWithCustomError(task, "RoundDoesNotExist").withArgs(3);
    await expect(task.commitIndexOf(3, peers[0].address)).to.be.revertedWithCustomError(task, "RoundDoesNotExist");
    await expect(task.getVerdict(3, peers[0].address)).to.be.revertedWithCustomError(task, "RoundDoesNotExist");
    await expect(task.getAggregate(3, peers[0].address)).to.be.revertedWithCustomError(task, "RoundDoesNotExist");
    expect(await task.commitIndexOf(1, peers[9].address)).to.equal(0n);
    expect(await task.getVerdict(1, peers[9].address)).to.deep.equal([false, 0n]);
    expect(await task.getAggregate(1, peers[9].address)).to.deep.equal([false, "0x", 0n, 0n]);
    // round 2 is open: its summary shows the new global model and no results yet
    const r2 = await task.getRound(2);
    expect([r2.phase, r2.globalModelCid, r2.commitCount, r2.finalCid]).to.deep.equal([BigInt(Phase.Training), global, 0n, "0x"]);
  });
});
