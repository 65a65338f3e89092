// One test per attack the issue-13 contract changes answer.
import { expect } from "chai";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  ALL_ROLES, Phase, TRAINER, VERIFIER, aggregateAll, aggregateCommitment, cidRaw, commitAll, committee, deployTask, saltOf,
  verdictAll, verdictCommitment,
} from "./helpers.ts";

const { ethers, networkHelpers } = await network.create();
const { time, mine } = networkHelpers;
type S = HardhatEthersSigner;

async function freshWallets(n: number, label: string) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const w = new ethers.Wallet(ethers.id(`${label}-${i}`), ethers.provider);
    await networkHelpers.setBalance(w.address, 10n ** 20n);
    out.push(w);
  }
  return out;
}

describe("Attacks answered by the contracts", () => {
  it("sybil-quorum: fresh wallets are not admitted (allow-list), cost a bond each and fall short of the committee fraction (bond)", async () => {
    // Allow-list: strangers cannot register at all, so they cannot fill MAX_PEERS either.
    const { task } = await deployTask(ethers, { start: true });
    const sybils = await freshWallets(5, "sybil-a");
    for (const s of sybils) {
      await expect(task.connect(s).registerPeer(ALL_ROLES, "/s", ethers.ZeroHash)).to.be.revertedWithCustomError(task, "NotAdmitted").withArgs(s.address);
    }
    // Bond mode: each sybil pays the bond; the registration below the bond fails.
    const bondWei = 10n ** 17n;
    const b = await deployTask(ethers, { config: { admissionMode: 1, bondWei, aggregatorCommitteeSize: 0 }, roles: Array(6).fill(ALL_ROLES), start: true });
    const [k1, k2] = await freshWallets(2, "sybil-b");
    await expect(b.task.connect(k1).registerPeer(ALL_ROLES, "/s", ethers.ZeroHash, { value: bondWei - 1n }))
      .to.be.revertedWithCustomError(b.task, "BondTooLow").withArgs(bondWei - 1n, bondWei);
    await (await b.task.connect(k1).registerPeer(ALL_ROLES, "/s", ethers.ZeroHash, { value: bondWei })).wait();
    await (await b.task.connect(k2).registerPeer(ALL_ROLES, "/s", ethers.ZeroHash, { value: bondWei })).wait();
    expect((await b.task.bondTotals()).held).to.equal(8n * bondWei);
    // 8 aggregators; the 2 sybils agree on a forged CID, 3 honest agree on the true one, 3 stay silent:
    // neither reaches 2/3 of the committee SIZE (8), so nothing is finalized.
    const everyone = [...b.peers.slice(0, 6), k1, k2] as S[];
    await commitAll(ethers, b.task, 1, everyone as never);
    await verdictAll(ethers, b.task, 1, everyone.map((p) => [p, 0xffn] as [S, bigint]));
    const forged = cidRaw(ethers, "forged");
    const honest = cidRaw(ethers, "honest");
    const address = await b.task.getAddress();
    const subs: [S, string][] = [[k1 as unknown as S, forged], [k2 as unknown as S, forged], [b.peers[0], honest], [b.peers[1], honest], [b.peers[2], honest]];
    for (const [p, cid] of subs) await (await b.task.connect(p).commitAggregate(1, aggregateCommitment(ethers, address, 1, p.address, cid, 1, 0, saltOf(ethers, p, 1)))).wait();
    await time.increase(51);
    await (await b.task.advancePhase(1)).wait();
    let tx;
    for (const [p, cid] of subs) tx = await b.task.connect(p).revealAggregate(1, cid, 1, 0, saltOf(ethers, p, 1));
    await expect(tx!).to.emit(b.task, "RoundFailed").withArgs(1, 3);
  });

  it("sybil-verdict: verifiers outside the committee cannot vote, and a committee minority cannot accept", async () => {
    const roles = Array(9).fill(ALL_ROLES);
    const { task, peers } = await deployTask(ethers, { roles, start: true, config: { verifierCommitteeSize: 5 } });
    await commitAll(ethers, task, 1, peers.slice(0, 9));
    await mine(1);
    const members = await committee(task, 1, peers.slice(0, 9), "verifier");
    const outside = peers.slice(0, 9).filter((p) => !members.includes(p));
    expect(members.length).to.equal(5);
    await expect(task.connect(outside[0]).commitVerdict(1, ethers.id("v"))).to.be.revertedWithCustomError(task, "NotInCommittee");
    // Two colluding members push update 8 (a poisoned one); three honest members reject it.
    const poison = 1n << 8n;
    const honestMask = (1n << 8n) - 1n;
    await verdictAll(ethers, task, 1, [
      [members[0], honestMask | poison], [members[1], honestMask | poison], [members[2], honestMask], [members[3], honestMask], [members[4], honestMask],
    ]);
    const r = await task.getRound(1);
    expect(r.acceptedMask & poison).to.equal(0n);
    expect((await task.getRoundProgress(1)).rejectedMask).to.equal(poison);
  });

  it("cid-replay: the same CID digest cannot be committed twice in a round", async () => {
    const { task, peers } = await deployTask(ethers, { start: true });
    const cid = cidRaw(ethers, "victim-update");
    await (await task.connect(peers[0]).commitUpdate(1, cid, 10)).wait();
    const digest = "0x" + cid.slice(10);
    await expect(task.connect(peers[1]).commitUpdate(1, cid, 10)).to.be.revertedWithCustomError(task, "DuplicateUpdate").withArgs(1, digest, 0);
    // Same digest under another CID form (CIDv0) is the same bytes: refused too.
    await expect(task.connect(peers[1]).commitUpdate(1, "0x1220" + cid.slice(10), 10)).to.be.revertedWithCustomError(task, "DuplicateUpdate");
  });

  it("sample-inflation: numSamples above maxSamplesPerPeer is refused", async () => {
    const { task, peers } = await deployTask(ethers, { start: true, config: { maxSamplesPerPeer: 1000 } });
    await expect(task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "x"), 1001)).to.be.revertedWithCustomError(task, "TooManySamples").withArgs(1001, 1000);
    await expect(task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "x"), 1000)).to.emit(task, "UpdateCommitted");
    expect((await task.taskConfig()).sampleWeightClipMilli).to.equal(3000n);
    expect((await task.taskConfig()).copyCosineThresholdBps).to.equal(9990n);
  });

  it("revoke-rejoin: revoked roles, initiator bans and reputation exclusion stick across leave + register", async () => {
    const { task, peers } = await deployTask(ethers, { start: true });
    await (await task.revokeRoles(peers[0].address, TRAINER)).wait();
    await (await task.connect(peers[0]).leave()).wait();
    await expect(task.connect(peers[0]).registerPeer(ALL_ROLES, "/back", ethers.ZeroHash))
      .to.be.revertedWithCustomError(task, "RolesWereRevoked").withArgs(peers[0].address, TRAINER);
    await (await task.connect(peers[0]).registerPeer(VERIFIER, "/back", ethers.ZeroHash)).wait();
    await expect(task.banPeer(peers[1].address)).to.emit(task, "PeerBanned").withArgs(peers[1].address, 0);
    await expect(task.connect(peers[1]).registerPeer(TRAINER, "/back", ethers.ZeroHash)).to.be.revertedWithCustomError(task, "PeerIsBanned");
    await expect(task.connect(peers[1]).commitUpdate(1, cidRaw(ethers, "b"), 1)).to.be.revertedWithCustomError(task, "PeerIsBanned");
    // Exclusion by reputation: penalty 20 drops a rejected trainer from 10 to -10 < 0.
    const d = await deployTask(ethers, { start: true, config: { reputationPenalty: 20 } });
    await commitAll(ethers, d.task, 1, d.peers.slice(0, 4));
    const tx = verdictAll(ethers, d.task, 1, d.peers.slice(0, 4).map((p) => [p, 0b0111n] as [S, bigint]));
    await tx;
    const attacker = d.peers[3];
    expect((await d.task.peerStatus(attacker.address)).banned).to.equal(true);
    await expect(d.task.connect(attacker).registerPeer(TRAINER, "/again", ethers.ZeroHash)).to.be.revertedWithCustomError(d.task, "PeerIsBanned");
    expect((await d.task.eligiblePools()).verifierPool & (1n << 3n)).to.equal(0n);
  });

  it("lazy-copy: a verifier copying another's commitment cannot reveal it", async () => {
    const { task, peers } = await deployTask(ethers, { start: true });
    await commitAll(ethers, task, 1, peers.slice(0, 4));
    const address = await task.getAddress();
    const honest = peers[0];
    const lazy = peers[1];
    const commitment = verdictCommitment(ethers, address, 1, honest.address, 0b1011n, saltOf(ethers, honest, 1));
    await (await task.connect(honest).commitVerdict(1, commitment)).wait();
    await (await task.connect(lazy).commitVerdict(1, commitment)).wait(); // copied from the mempool / event
    await time.increase(51);
    await (await task.advancePhase(1)).wait();
    await (await task.connect(honest).revealVerdict(1, 0b1011n, saltOf(ethers, honest, 1))).wait();
    // Even after seeing the honest reveal (mask and salt), the copier's reveal does not match: the sender is hashed in.
    await expect(task.connect(lazy).revealVerdict(1, 0b1011n, saltOf(ethers, honest, 1))).to.be.revertedWithCustomError(task, "RevealMismatch");
    await time.increase(41);
    await (await task.advancePhase(1)).wait();
    // The copier counts as absent (reason 4, -4). One reveal of a committee of 4 accepts nothing, so no trainer change.
    expect((await task.getPeer(lazy.address)).reputation).to.equal(6n);
  });

  it("wrong-aggregate: a challenge upheld by the initiator slashes the aggregators that revealed the final CID", async () => {
    const bondWei = 10n ** 18n;
    const { task, peers, outsider, initiator } = await deployTask(ethers, { start: true, config: { admissionMode: 1, bondWei } });
    await commitAll(ethers, task, 1, peers.slice(0, 4));
    await verdictAll(ethers, task, 1, peers.slice(0, 4).map((p) => [p, 0b1111n] as [S, bigint]));
    const wrong = cidRaw(ethers, "wrong");
    await aggregateAll(ethers, task, 1, [[peers[0], wrong], [peers[1], wrong], [peers[2], wrong], [peers[3], cidRaw(ethers, "right")]]);
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Finalized));
    const before = await task.getRound(1);
    await expect(task.connect(outsider).challenge(1, { value: 1n })).to.be.revertedWithCustomError(task, "WrongChallengeBond").withArgs(1n, bondWei);
    await expect(task.connect(outsider).challenge(1, { value: bondWei })).to.emit(task, "ChallengeRaised").withArgs(0, 1, outsider.address, bondWei);
    await expect(task.connect(outsider).settleChallenge(0, true)).to.be.revertedWithCustomError(task, "AccessControlUnauthorizedAccount");
    const tx = task.connect(initiator).settleChallenge(0, true);
    await expect(tx).to.emit(task, "ChallengeSettled").withArgs(0, 1, true, 3n * bondWei);
    await expect(tx).to.emit(task, "BondSlashed").withArgs(peers[0].address, 1, bondWei, outsider.address);
    await expect(tx).to.emit(task, "PeerBanned").withArgs(peers[0].address, 2);
    await expect(task.settleChallenge(0, true)).to.be.revertedWithCustomError(task, "ChallengeNotOpen").withArgs(0);
    expect((await task.peerStatus(peers[3].address)).bond).to.equal(bondWei);
    expect(await task.getRound(1)).to.deep.equal(before); // the finalized round itself never changes
    const totals = await task.bondTotals();
    expect(totals.posted).to.equal(totals.held + totals.refunded + totals.slashed);
    expect(totals.claimableTotal).to.equal(4n * bondWei);
    await expect(task.connect(outsider).claim()).to.changeEtherBalance(ethers, outsider, 4n * bondWei);
    // Past the window, no more challenges.
    await time.increase(61);
    await expect(task.connect(outsider).challenge(1, { value: bondWei })).to.be.revertedWithCustomError(task, "NotChallengeable");
  });

  it("failed-round settlement: trainer verdicts that reached a majority are settled even when aggregation fails", async () => {
    const { task, peers } = await deployTask(ethers, { start: true });
    await commitAll(ethers, task, 1, peers.slice(0, 4));
    await verdictAll(ethers, task, 1, peers.slice(0, 4).map((p) => [p, 0b0111n] as [S, bigint]));
    // Nobody aggregates: commit window expires, the round fails (reason 3), absent aggregators lose.
    await time.increase(51);
    await expect(task.advancePhase(1)).to.emit(task, "RoundFailed").withArgs(1, 3);
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Failed));
    // peer 0: +1 accepted update, +1 agreeing verdict, -4 missing aggregate = 8; peer 3: -4 rejected, +1 verdict, -4 = 3
    expect((await task.getPeer(peers[0].address)).reputation).to.equal(8n);
    expect((await task.getPeer(peers[3].address)).reputation).to.equal(3n);
  });
});

describe("Bonds", () => {
  it("holds bonds until the task is over and the challenge window closed, then refunds them", async () => {
    const bondWei = 10n ** 16n;
    const { task, peers } = await deployTask(ethers, { start: true, config: { admissionMode: 1, bondWei, rounds: 1 } });
    await expect(task.connect(peers[0]).withdrawBond()).to.be.revertedWithCustomError(task, "TaskNotOver");
    await (await task.connect(peers[0]).leave()).wait();
    await expect(task.connect(peers[0]).withdrawBond()).to.be.revertedWithCustomError(task, "TaskNotOver");
    await expect(task.connect(peers[0]).registerPeer(ALL_ROLES, "/x", ethers.ZeroHash, { value: 1n })).to.be.revertedWithCustomError(task, "UnexpectedPayment");
    await (await task.connect(peers[0]).registerPeer(ALL_ROLES, "/x", ethers.ZeroHash)).wait();
    await commitAll(ethers, task, 1, peers.slice(0, 4));
    await verdictAll(ethers, task, 1, peers.slice(0, 4).map((p) => [p, 0b1111n] as [S, bigint]));
    await aggregateAll(ethers, task, 1, peers.slice(0, 4).map((p) => [p, cidRaw(ethers, "g")] as [S, string]));
    expect(await task.taskCompleted()).to.equal(true);
    await expect(task.connect(peers[0]).withdrawBond()).to.be.revertedWithCustomError(task, "TaskNotOver"); // challenge window
    await time.increase(61);
    await expect(task.connect(peers[0]).withdrawBond()).to.emit(task, "BondRefunded").withArgs(peers[0].address, bondWei);
    await expect(task.connect(peers[0]).withdrawBond()).to.be.revertedWithCustomError(task, "NothingToWithdraw");
    const totals = await task.bondTotals();
    expect([totals.posted, totals.held, totals.refunded]).to.deep.equal([4n * bondWei, 3n * bondWei, bondWei]);
  });

  it("rejects payments in allow-list mode and forfeits a rejected challenge's bond to the final aggregator", async () => {
    const { task, peers } = await deployTask(ethers, { roles: [] });
    await expect(task.connect(peers[0]).registerPeer(ALL_ROLES, "/x", ethers.ZeroHash, { value: 1n })).to.be.revertedWithCustomError(task, "UnexpectedPayment");
    const bondWei = 10n ** 16n;
    const b = await deployTask(ethers, { start: true, config: { admissionMode: 1, bondWei } });
    await commitAll(ethers, b.task, 1, b.peers.slice(0, 4));
    await verdictAll(ethers, b.task, 1, b.peers.slice(0, 4).map((p) => [p, 0b1111n] as [S, bigint]));
    await aggregateAll(ethers, b.task, 1, b.peers.slice(0, 4).map((p) => [p, cidRaw(ethers, "g")] as [S, string]));
    await (await b.task.connect(b.outsider).challenge(1, { value: bondWei })).wait();
    await expect(b.task.settleChallenge(0, false)).to.emit(b.task, "ChallengeSettled").withArgs(0, 1, false, 0);
    expect((await b.task.peerStatus(b.peers[0].address)).claimable).to.equal(bondWei);
    expect((await b.task.getChallenge(0)).status).to.equal(3n);
  });
});
