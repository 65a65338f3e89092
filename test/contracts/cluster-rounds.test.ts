/**
 * ClusterRounds (contracts/ClusterRounds.sol): configuration by the task's initiator, the per-round
 * head records with every refusal a cheating or confused head can hit, the check seed drawn after
 * the record window, and challenges (committee verifiers only, in the challenge window).
 */
import { expect } from "chai";
import { network } from "hardhat";
import type { ClusterRounds } from "../../types/ethers-contracts/index.ts";
import ClusterRoundsModule, { CLUSTER_DEFAULTS } from "../../ignition/modules/ClusterRounds.ts";
import { ALL_ROLES, Phase, cidRaw, commitAll, deployTask } from "./helpers.ts";
import { RULE_ID_BY_NAME } from "../../node/protocol/ids.ts";

const { ethers, networkHelpers, ignition } = await network.create();
const { time } = networkHelpers;
type Cfg = ClusterRounds.ConfigStruct;

const scenario = cidRaw(ethers, "scenario");
const cfg = (o: Partial<Cfg> = {}): Cfg => ({ scenarioCid: scenario, ...CLUSTER_DEFAULTS, ...o });
const bits = (...peers: number[]) => peers.reduce((m, p) => m | (1n << BigInt(p)), 0n);

/**
 * A started task (5 peers, training 100 s, verify-commit 50 s -> record window 20 s, challenge window
 * the next 15 s) and its configured side contract. `roles` overrides the peers' roles.
 */
async function deployClustered(o: { configure?: boolean; start?: boolean; roles?: number[] } = {}) {
  const d = await deployTask(ethers, { start: false, roles: o.roles ?? [ALL_ROLES, ALL_ROLES, ALL_ROLES, ALL_ROLES, ALL_ROLES] });
  const clusters = (await ethers.deployContract("ClusterRounds", [await d.task.getAddress()])) as unknown as ClusterRounds;
  if (o.configure ?? true) await (await clusters.configure(cfg())).wait();
  if (o.start ?? true) await (await d.task.startTask()).wait();
  return { ...d, clusters };
}

/** Peers 0..3 commit round 1 (numSamples 100..103), peer 4 does not; training closes by its deadline. */
async function toVerifyCommit(d: Awaited<ReturnType<typeof deployClustered>>) {
  await commitAll(ethers, d.task, 1, d.peers.slice(0, 4));
  await time.increase(101);
  await (await d.task.advancePhase(1)).wait();
  expect((await d.task.getRound(1)).phase).to.equal(BigInt(Phase.VerifyCommit));
}

describe("ClusterRounds: configuration", () => {
  it("only the task's initiator configures, once, before the task starts, with valid parameters", async () => {
    const { clusters, peers, task } = await deployClustered({ configure: false, start: false });
    await expect(clusters.connect(peers[0]).configure(cfg())).to.be.revertedWithCustomError(clusters, "NotInitiator").withArgs(peers[0].address);
    await expect(clusters.configure(cfg({ maxClusterSize: 1 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("maxClusterSize");
    await expect(clusters.configure(cfg({ maxClusterSize: 33 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("maxClusterSize");
    await expect(clusters.configure(cfg({ minHeadBatteryBps: 10001 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("minHeadBatteryBps");
    await expect(clusters.configure(cfg({ recordWindowBps: 0 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("recordWindowBps");
    await expect(clusters.configure(cfg({ recordWindowBps: 9001 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("recordWindowBps");
    await expect(clusters.configure(cfg({ challengeWindowBps: 0 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("challengeWindowBps");
    await expect(clusters.configure(cfg({ recordWindowBps: 6000, challengeWindowBps: 3001 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("challengeWindowBps");
    await expect(clusters.configure(cfg({ insideCheckers: 17 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("insideCheckers");
    // p = 0: no outside check ever, a cluster's own members (possible accomplices) would be its only checkers
    await expect(clusters.configure(cfg({ outsideCheckBps: 0 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("outsideCheckBps");
    await expect(clusters.configure(cfg({ outsideCheckBps: 10001 }))).to.be.revertedWithCustomError(clusters, "InvalidConfig").withArgs("outsideCheckBps");
    await expect(clusters.configure(cfg({ scenarioCid: "0x1234" }))).to.be.revertedWithCustomError(clusters, "InvalidCid");
    await expect(clusters.recordCluster(1, bits(0, 1), bits(0), cidRaw(ethers, "a"))).to.be.revertedWithCustomError(clusters, "NotConfigured");
    await expect(clusters.configure(cfg())).to.emit(clusters, "ClusterRoundsConfigured");
    expect((await clusters.config()).maxClusterSize).to.equal(8n);
    expect(await clusters.verificationDuration()).to.equal(50n);
    expect(await clusters.task()).to.equal(await task.getAddress());
    await expect(clusters.configure(cfg())).to.be.revertedWithCustomError(clusters, "AlreadyConfigured");
  });

  it("refuses a task whose rule votes privately (validation-vote): nobody could check a head's verdict", async () => {
    const d = await deployTask(ethers, { start: false, config: { robustRule: RULE_ID_BY_NAME["validation-vote"] } });
    const clusters = (await ethers.deployContract("ClusterRounds", [await d.task.getAddress()])) as unknown as ClusterRounds;
    await expect(clusters.configure(cfg())).to.be.revertedWithCustomError(clusters, "RuleNotCheckable").withArgs(RULE_ID_BY_NAME["validation-vote"]);
    // root-validation votes on a PUBLIC root set (deterministic, recomputable): accepted
    const r = await deployTask(ethers, { start: false, config: { robustRule: RULE_ID_BY_NAME["root-validation"] } });
    const ok = (await ethers.deployContract("ClusterRounds", [await r.task.getAddress()])) as unknown as ClusterRounds;
    await expect(ok.configure(cfg())).to.emit(ok, "ClusterRoundsConfigured");
  });

  it("refuses a started task and a zero task address", async () => {
    const { clusters } = await deployClustered({ configure: false, start: true });
    await expect(clusters.configure(cfg())).to.be.revertedWithCustomError(clusters, "TaskAlreadyStarted");
    const factory = await ethers.getContractFactory("ClusterRounds");
    await expect(factory.deploy(ethers.ZeroAddress)).to.be.revertedWithCustomError(clusters, "ZeroTask");
  });

  it("deploys and configures through its Ignition module", async () => {
    const { task } = await deployTask(ethers, { start: false });
    const { clusters } = await ignition.deploy(ClusterRoundsModule, { parameters: { ClusterRoundsModule: { task: await task.getAddress(), scenarioCid: scenario, maxClusterSize: 6 } } });
    const c = await (clusters as unknown as ClusterRounds).config();
    expect([c.scenarioCid, c.maxClusterSize, c.minHeadBatteryBps, c.recordWindowBps, c.challengeWindowBps, c.insideCheckers, c.outsideCheckBps]).to.deep.equal([scenario, 6n, 3000n, 4000n, 3000n, 1n, 4000n]);
  });
});

describe("ClusterRounds: head records", () => {
  it("records a cluster in the first part of verify-commit, summing the included members' samples on chain", async () => {
    const d = await deployClustered();
    const { clusters, peers } = d;
    const agg = cidRaw(ethers, "cluster-aggregate");
    await commitAll(ethers, d.task, 1, d.peers.slice(0, 1));
    await expect(clusters.connect(peers[0]).recordCluster(1, bits(0, 1), bits(0), agg)).to.be.revertedWithCustomError(clusters, "WrongPhase").withArgs(1, Phase.Training);
    await commitAll(ethers, d.task, 1, d.peers.slice(1, 4)).catch(() => undefined);
    await time.increase(101);
    await (await d.task.advancePhase(1)).wait();
    const deadline = await clusters.recordDeadline(1);
    const [, phaseDeadline] = await d.task.getRound(1);
    expect(deadline).to.equal(phaseDeadline - 30n);
    expect(await clusters.challengeDeadline(1)).to.equal(phaseDeadline - 15n);
    await expect(clusters.connect(peers[0]).recordCluster(2, bits(0, 1), bits(0), agg)).to.be.revertedWithCustomError(clusters, "WrongRound").withArgs(2, 1);
    // included {0, 2} of {0, 1, 2}: samples of commits by peers 0 and 2
    const s0 = (await d.task.getCommit(1, Number(await d.task.commitIndexOf(1, peers[0].address)) - 1)).numSamples;
    const s2 = (await d.task.getCommit(1, Number(await d.task.commitIndexOf(1, peers[2].address)) - 1)).numSamples;
    await expect(clusters.connect(peers[0]).recordCluster(1, bits(0, 1, 2), bits(0, 2), agg))
      .to.emit(clusters, "ClusterRecorded").withArgs(1, peers[0].address, 0, bits(0, 1, 2), bits(0, 2), agg, s0 + s2);
    const r = await clusters.recordOf(1, 0);
    expect([r.members, r.included, r.aggregateCid, r.acceptedSamples]).to.deep.equal([bits(0, 1, 2), bits(0, 2), agg, s0 + s2]);
    expect(await clusters.roundClusters(1)).to.deep.equal([bits(0), bits(0, 1, 2)]);
    await expect(clusters.connect(peers[0]).recordCluster(1, bits(0, 3), bits(0), agg)).to.be.revertedWithCustomError(clusters, "AlreadyRecorded").withArgs(1, 0);
  });

  it("refuses what a cheating or confused head sends", async () => {
    const d = await deployClustered();
    const { clusters, peers, outsider } = d;
    const agg = cidRaw(ethers, "cluster-aggregate");
    await toVerifyCommit(d);
    const p3 = clusters.connect(peers[3]);
    await expect(clusters.connect(outsider).recordCluster(1, bits(0, 1), bits(0), agg)).to.be.revertedWithCustomError(clusters, "NotRegistered").withArgs(outsider.address);
    await expect(p3.recordCluster(1, bits(1, 2), bits(1), agg)).to.be.revertedWithCustomError(clusters, "HeadNotInMembers").withArgs(3, bits(1, 2));
    await expect(p3.recordCluster(1, bits(3), bits(3), agg)).to.be.revertedWithCustomError(clusters, "ClusterSizeInvalid").withArgs(1, 8);
    await expect(p3.recordCluster(1, bits(3, 1), bits(3, 2), agg)).to.be.revertedWithCustomError(clusters, "IncludedNotMembers");
    await expect(p3.recordCluster(1, bits(3, 1), bits(3), "0x")).to.be.revertedWithCustomError(clusters, "AggregateCidMismatch").withArgs(bits(3), 0);
    await expect(p3.recordCluster(1, bits(3, 1), 0n, agg)).to.be.revertedWithCustomError(clusters, "AggregateCidMismatch");
    await expect(p3.recordCluster(1, bits(3, 4), bits(3), agg)).to.be.revertedWithCustomError(clusters, "MemberNotCommitted").withArgs(1, 4);
    await expect(p3.recordCluster(1, bits(3, 9), bits(3), agg)).to.be.revertedWithCustomError(clusters, "MemberOutOfRange").withArgs(9, 5);
    // nothing included (every member rejected at cluster level): no aggregate, zero samples
    await expect(p3.recordCluster(1, bits(3, 1), 0n, "0x")).to.emit(clusters, "ClusterRecorded").withArgs(1, peers[3].address, 3, bits(3, 1), 0n, "0x", 0n);
    // a member belongs to one cluster per round
    await expect(clusters.connect(peers[0]).recordCluster(1, bits(0, 1), bits(0), agg)).to.be.revertedWithCustomError(clusters, "MemberAlreadyClustered").withArgs(1, 1);
    // after the record window
    await time.increase(21);
    await expect(clusters.connect(peers[0]).recordCluster(1, bits(0, 2), bits(0), agg)).to.be.revertedWithCustomError(clusters, "RecordWindowClosed");
  });
});

describe("ClusterRounds: the check seed is drawn after the records", () => {
  it("cannot be drawn while heads may still record; then fixed in one block and drawn from the next", async () => {
    const d = await deployClustered();
    const { clusters, peers } = d;
    await toVerifyCommit(d);
    const deadline = await clusters.recordDeadline(1);
    // in the record window: no seed yet, so a head cannot know whom it will draw to check it
    await expect(clusters.drawCheckSeed(1)).to.be.revertedWithCustomError(clusters, "CheckSeedTooEarly").withArgs(1, deadline);
    const rec = await (await clusters.connect(peers[0]).recordCluster(1, bits(0, 1), bits(0, 1), cidRaw(ethers, "agg"))).wait();
    await time.increaseTo(deadline + 1n);
    const fix = await (await clusters.connect(peers[3]).drawCheckSeed(1)).wait();
    expect(fix!.blockNumber).to.be.greaterThan(rec!.blockNumber);
    const [seed0, seedBlock] = await clusters.checkSeed(1);
    expect(seed0).to.equal(ethers.ZeroHash);
    expect(seedBlock).to.equal(BigInt(fix!.blockNumber));
    // the records are closed for good before the seed exists
    await expect(clusters.connect(peers[2]).recordCluster(1, bits(2, 3), bits(2), cidRaw(ethers, "late"))).to.be.revertedWithCustomError(clusters, "RecordWindowClosed");
    const block = await ethers.provider.getBlock(fix!.blockNumber);
    const expected = ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["address", "uint32", "bytes32"], [await clusters.getAddress(), 1, block!.hash]));
    await expect(clusters.drawCheckSeed(1)).to.emit(clusters, "CheckSeedDrawn").withArgs(1, seedBlock, expected);
    expect((await clusters.checkSeed(1))[0]).to.equal(expected);
    await expect(clusters.drawCheckSeed(1)).to.be.revertedWithCustomError(clusters, "CheckSeedAlreadyDrawn").withArgs(1);
    await expect(clusters.drawCheckSeed(2)).to.be.revertedWithCustomError(clusters, "WrongRound").withArgs(2, 1);
  });

  it("is refused before configuration and outside verify-commit", async () => {
    const d = await deployClustered({ configure: false });
    await expect(d.clusters.drawCheckSeed(1)).to.be.revertedWithCustomError(d.clusters, "NotConfigured");
    const e = await deployClustered();
    await expect(e.clusters.drawCheckSeed(1)).to.be.revertedWithCustomError(e.clusters, "WrongPhase").withArgs(1, Phase.Training);
  });
});

describe("ClusterRounds: challenges", () => {
  it("a committee verifier challenges a recorded cluster in the challenge window, once", async () => {
    // peer 4 is a trainer only: registered, but never in the verifier committee
    const d = await deployClustered({ roles: [ALL_ROLES, ALL_ROLES, ALL_ROLES, ALL_ROLES, 1] });
    const { clusters, peers, outsider } = d;
    await commitAll(ethers, d.task, 1, [peers[0], peers[1], peers[3], peers[4]]);
    await time.increase(101);
    await (await d.task.advancePhase(1)).wait();
    await (await clusters.connect(peers[0]).recordCluster(1, bits(0, 1, 4), bits(0, 1, 4), cidRaw(ethers, "agg"))).wait();
    const recordDeadline = await clusters.recordDeadline(1);
    await expect(clusters.connect(peers[3]).challengeCluster(1, 0)).to.be.revertedWithCustomError(clusters, "ChallengeWindowNotOpen").withArgs(1, recordDeadline);
    await time.increaseTo(recordDeadline + 1n);
    await expect(clusters.connect(outsider).challengeCluster(1, 0)).to.be.revertedWithCustomError(clusters, "NotCommitteeVerifier").withArgs(1, outsider.address);
    await expect(clusters.connect(peers[4]).challengeCluster(1, 0)).to.be.revertedWithCustomError(clusters, "NotCommitteeVerifier").withArgs(1, peers[4].address);
    await expect(clusters.connect(peers[3]).challengeCluster(1, 2)).to.be.revertedWithCustomError(clusters, "NoClusterRecord").withArgs(1, 2);
    await expect(clusters.connect(peers[3]).challengeCluster(1, 300)).to.be.revertedWithCustomError(clusters, "NoClusterRecord").withArgs(1, 300);
    await expect(clusters.connect(peers[3]).challengeCluster(2, 0)).to.be.revertedWithCustomError(clusters, "WrongRound").withArgs(2, 1);
    await expect(clusters.connect(peers[3]).challengeCluster(1, 0)).to.emit(clusters, "ClusterChallenged").withArgs(1, 0, peers[3].address);
    await expect(clusters.connect(peers[2]).challengeCluster(1, 0)).to.be.revertedWithCustomError(clusters, "AlreadyChallenged").withArgs(1, 0);
    expect(await clusters.roundChallenges(1)).to.equal(bits(0));
    expect(await clusters.challengerOf(1, 0)).to.equal(peers[3].address);
    expect(await clusters.challengerOf(1, 1)).to.equal(ethers.ZeroAddress);
    const challengeDeadline = await clusters.challengeDeadline(1);
    await time.increaseTo(challengeDeadline + 1n);
    await expect(clusters.connect(peers[2]).challengeCluster(1, 0)).to.be.revertedWithCustomError(clusters, "ChallengeWindowClosed").withArgs(1, challengeDeadline);
  });

  it("is refused before configuration and outside verify-commit", async () => {
    const d = await deployClustered({ configure: false });
    await expect(d.clusters.connect(d.peers[1]).challengeCluster(1, 0)).to.be.revertedWithCustomError(d.clusters, "NotConfigured");
    const e = await deployClustered();
    await expect(e.clusters.connect(e.peers[1]).challengeCluster(1, 0)).to.be.revertedWithCustomError(e.clusters, "WrongPhase").withArgs(1, Phase.Training);
    expect(await e.clusters.challengeDeadline(1)).to.equal(0n);
  });
});
