import { expect } from "chai";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { FederatedTask, SecureAggregation } from "../../types/ethers-contracts/index.ts";
import SecureAggregationModule, { SECAGG_DEFAULTS } from "../../ignition/modules/SecureAggregation.ts";
import { ALL_ROLES, Phase, VERIFIER, cidRaw, commitAll, deployTask } from "./helpers.ts";

const { ethers, networkHelpers, ignition } = await network.create();
const { time } = networkHelpers;
type S = HardhatEthersSigner;
type Cfg = SecureAggregation.ConfigStruct;

const cfg = (o: Partial<Cfg> = {}): Cfg => ({ ...SECAGG_DEFAULTS, ...o });
const pk = (label: string) => ethers.id(`ephemeral-${label}`);

/** A started task (training window 100 s, setup window 50 s) with peers 0..3 (all roles) and its configured side contract. */
async function deployPrivate(o: { roles?: number[]; configure?: boolean } = {}) {
  const d = await deployTask(ethers, { start: true, roles: o.roles });
  const secagg = (await ethers.deployContract("SecureAggregation", [await d.task.getAddress()])) as unknown as SecureAggregation;
  if (o.configure ?? true) await (await secagg.configure(cfg())).wait();
  return { ...d, secagg };
}

async function postAll(secagg: SecureAggregation, peers: S[], round = 1, population = 4) {
  for (const p of peers) await (await secagg.connect(p).postSetup(round, population, pk(p.address), cidRaw(ethers, `setup-${round}-${p.address}`))).wait();
}

describe("SecureAggregation: configuration", () => {
  it("only the task's initiator configures, once, with parameters whose sum cannot overflow", async () => {
    const { secagg, initiator, peers, task } = await deployPrivate({ configure: false });
    await expect(secagg.connect(peers[0]).configure(cfg())).to.be.revertedWithCustomError(secagg, "NotInitiator").withArgs(peers[0].address);
    await expect(secagg.configure(cfg({ rangeMilli: 0 }))).to.be.revertedWithCustomError(secagg, "RangeIsZero");
    await expect(secagg.configure(cfg({ scaleBits: 25 }))).to.be.revertedWithCustomError(secagg, "ScaleBitsTooLarge").withArgs(25);
    await expect(secagg.configure(cfg({ neighbours: 3 }))).to.be.revertedWithCustomError(secagg, "NeighboursInvalid").withArgs(3);
    await expect(secagg.configure(cfg({ threshold: 9 }))).to.be.revertedWithCustomError(secagg, "ThresholdInvalid").withArgs(9, 8);
    await expect(secagg.configure(cfg({ threshold: 0 }))).to.be.revertedWithCustomError(secagg, "ThresholdInvalid");
    await expect(secagg.configure(cfg({ setupWindowBps: 0 }))).to.be.revertedWithCustomError(secagg, "SetupWindowInvalid").withArgs(0);
    // 256 peers × 8192 × 2^10 = 2^31: one too many for int32.
    await expect(secagg.configure(cfg({ rangeMilli: 8_192_000 }))).to.be.revertedWithCustomError(secagg, "SumMayOverflow");
    // Distributed DP: noise needs an L2 clip and 1..256 noise peers; no noise needs noisePeers 0.
    await expect(secagg.configure(cfg({ noiseStdMilli: 1000 }))).to.be.revertedWithCustomError(secagg, "NoiseParamsInvalid").withArgs(1000, 0, 0);
    await expect(secagg.configure(cfg({ noiseStdMilli: 1000, clipL2Milli: 1000 }))).to.be.revertedWithCustomError(secagg, "NoiseParamsInvalid").withArgs(1000, 1000, 0);
    await expect(secagg.configure(cfg({ noiseStdMilli: 1000, clipL2Milli: 1000, noisePeers: 257 }))).to.be.revertedWithCustomError(secagg, "NoiseParamsInvalid");
    await expect(secagg.configure(cfg({ noisePeers: 4 }))).to.be.revertedWithCustomError(secagg, "NoiseParamsInvalid").withArgs(0, 0, 4);
    // The noise counts in the overflow bound: 256 peers at ±8000 plus 8 sigma of 256 shares of 1/noisePeers of the variance.
    // 2^31 / 2^10 − 256 × 8000 = 49,152 of headroom: sigma 6,100 with n_min = 1 needs 8 × 16 × 6,100 = 780,800 (overflows),
    // with n_min = 256 it needs 8 × 6,100 = 48,800 (fits).
    await expect(secagg.configure(cfg({ noiseStdMilli: 6_100_000, clipL2Milli: 1000, noisePeers: 1 }))).to.be.revertedWithCustomError(secagg, "SumMayOverflow");
    await expect(secagg.postSetup(1, 4, pk("x"), cidRaw(ethers, "s"))).to.be.revertedWithCustomError(secagg, "NotConfigured");
    await expect(secagg.connect(initiator).configure(cfg())).to.emit(secagg, "SecAggConfigured");
    expect((await secagg.config()).threshold).to.equal(4n);
    expect((await secagg.config()).noisePeers).to.equal(0n);
    expect(await secagg.trainingDuration()).to.equal(100n);
    expect(await secagg.task()).to.equal(await task.getAddress());
    await expect(secagg.configure(cfg())).to.be.revertedWithCustomError(secagg, "AlreadyConfigured");
  });

  it("refuses to configure before the task is configured", async () => {
    const [initiator] = await ethers.getSigners();
    const task = (await ethers.deployContract("FederatedTask", [initiator.address])) as unknown as FederatedTask;
    const secagg = (await ethers.deployContract("SecureAggregation", [await task.getAddress()])) as unknown as SecureAggregation;
    await expect(secagg.configure(cfg())).to.be.revertedWithCustomError(secagg, "TaskNotConfigured");
  });

  it("deploys and configures through its Ignition module", async () => {
    const { task } = await deployTask(ethers, { start: false });
    const { secagg } = await ignition.deploy(SecureAggregationModule, { parameters: { SecureAggregationModule: { task: await task.getAddress(), threshold: 3 } } });
    const c = await (secagg as unknown as SecureAggregation).config();
    expect([c.rangeMilli, c.scaleBits, c.neighbours, c.threshold]).to.deep.equal([8_000_000n, 10n, 8n, 3n]);
  });

  it("takes distributed-DP noise whose 8-sigma bound fits next to the clipped updates", async () => {
    const { secagg } = await deployPrivate({ configure: false });
    await expect(secagg.configure(cfg({ noiseStdMilli: 6_100_000, clipL2Milli: 4_000_000, noisePeers: 256 }))).to.emit(secagg, "SecAggConfigured");
    const c = await secagg.config();
    expect([c.noiseStdMilli, c.clipL2Milli, c.noisePeers]).to.deep.equal([6_100_000n, 4_000_000n, 256n]);
  });
});

describe("SecureAggregation: setup", () => {
  it("records setups, fixes the population at the first one and exposes them", async () => {
    const { secagg, peers } = await deployPrivate();
    const cid = cidRaw(ethers, "bundle0");
    const tx = secagg.connect(peers[0]).postSetup(1, 4, pk("0"), cid);
    await expect(tx).to.emit(secagg, "PopulationFixed");
    await expect(tx).to.emit(secagg, "SetupPosted").withArgs(1, peers[0].address, 0, pk("0"), cid);
    await (await secagg.connect(peers[2]).postSetup(1, 4, pk("2"), cidRaw(ethers, "bundle2"))).wait();
    const s = await secagg.roundState(1);
    expect([s.population, s.setupMask, s.revealMask]).to.deep.equal([4n, 0b101n, 0n]);
    expect((await secagg.getSetup(1, 2)).ephemeralPk).to.equal(pk("2"));
    expect((await secagg.getSetup(1, 0)).bundleCid).to.equal(cid);
    expect(await secagg.setupDeadline(1)).to.be.greaterThan(0n);
  });

  it("refuses setups that are late, repeated, out of round, from strangers or non-trainers, or for another population", async () => {
    const { secagg, peers, outsider } = await deployPrivate({ roles: [ALL_ROLES, ALL_ROLES, ALL_ROLES, VERIFIER] });
    const cid = cidRaw(ethers, "b");
    await expect(secagg.connect(outsider).postSetup(1, 4, pk("o"), cid)).to.be.revertedWithCustomError(secagg, "NotRegistered").withArgs(outsider.address);
    await expect(secagg.connect(peers[3]).postSetup(1, 4, pk("3"), cid)).to.be.revertedWithCustomError(secagg, "NotATrainer").withArgs(peers[3].address);
    await expect(secagg.connect(peers[0]).postSetup(2, 4, pk("0"), cid)).to.be.revertedWithCustomError(secagg, "WrongRound").withArgs(2, 1);
    await expect(secagg.connect(peers[0]).postSetup(1, 4, ethers.ZeroHash, cid)).to.be.revertedWithCustomError(secagg, "ZeroEphemeralKey");
    await expect(secagg.connect(peers[0]).postSetup(1, 4, pk("0"), "0x1234")).to.be.revertedWithCustomError(secagg, "InvalidCid");
    await (await secagg.connect(peers[0]).postSetup(1, 4, pk("0"), cid)).wait();
    await expect(secagg.connect(peers[0]).postSetup(1, 4, pk("0b"), cidRaw(ethers, "c"))).to.be.revertedWithCustomError(secagg, "AlreadyPosted").withArgs(1, peers[0].address);
    await expect(secagg.connect(peers[1]).postSetup(1, 5, pk("1"), cid)).to.be.revertedWithCustomError(secagg, "PopulationMismatch").withArgs(1, 4, 5);
    await time.increase(51); // the setup window is the first half of the 100 s training window
    const deadline = await secagg.setupDeadline(1);
    await expect(secagg.connect(peers[1]).postSetup(1, 4, pk("1"), cid)).to.be.revertedWithCustomError(secagg, "SetupClosed").withArgs(1, deadline);
  });

  it("a peer that registers after the population was fixed cannot join the round's setup", async () => {
    const { secagg, task, peers } = await deployPrivate();
    await postAll(secagg, peers.slice(0, 1));
    await (await task.connect(peers[4]).registerPeer(ALL_ROLES, "/ip4/127.0.0.1/tcp/4100", ethers.id("pk4"))).wait();
    await expect(secagg.connect(peers[4]).postSetup(1, 4, pk("4"), cidRaw(ethers, "b4"))).to.be.revertedWithCustomError(secagg, "NotInPopulation").withArgs(1, 4, 4);
  });

  it("a banned peer cannot post", async () => {
    const { secagg, task, peers } = await deployPrivate();
    await (await task.banPeer(peers[1].address)).wait();
    await expect(secagg.connect(peers[1]).postSetup(1, 4, pk("1"), cidRaw(ethers, "b"))).to.be.revertedWithCustomError(secagg, "PeerBanned").withArgs(peers[1].address);
  });
});

describe("SecureAggregation: reveals", () => {
  it("opens when training closes, once per peer of the population", async () => {
    const { secagg, task, peers, outsider } = await deployPrivate();
    await postAll(secagg, peers.slice(0, 4));
    const cid = cidRaw(ethers, "reveal0");
    await expect(secagg.connect(peers[0]).revealShares(1, cid)).to.be.revertedWithCustomError(secagg, "WrongPhase").withArgs(1, Phase.Training);
    await commitAll(ethers, task, 1, peers.slice(0, 3));
    await time.increase(101);
    await (await task.advancePhase(1)).wait();
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.VerifyCommit));
    await expect(secagg.connect(peers[0]).revealShares(1, cid)).to.emit(secagg, "SharesRevealed").withArgs(1, peers[0].address, 0, cid);
    await expect(secagg.connect(peers[0]).revealShares(1, cid)).to.be.revertedWithCustomError(secagg, "AlreadyRevealed").withArgs(1, peers[0].address);
    await expect(secagg.connect(outsider).revealShares(1, cid)).to.be.revertedWithCustomError(secagg, "NotRegistered");
    await expect(secagg.connect(peers[1]).revealShares(3, cid)).to.be.revertedWithCustomError(secagg, "WrongRound").withArgs(3, 1);
    // a peer that left can no longer reveal
    await (await task.connect(peers[2]).leave()).wait();
    await expect(secagg.connect(peers[2]).revealShares(1, cid)).to.be.revertedWithCustomError(secagg, "PeerInactive");
    await (await secagg.connect(peers[3]).revealShares(1, cidRaw(ethers, "reveal3"))).wait();
    expect((await secagg.roundState(1)).revealMask).to.equal(0b1001n);
    expect(await secagg.getReveal(1, 3)).to.equal(cidRaw(ethers, "reveal3"));
  });

  it("a round nobody set up has nothing to reveal", async () => {
    const { secagg, task, peers } = await deployPrivate();
    await commitAll(ethers, task, 1, peers.slice(0, 4));
    await expect(secagg.connect(peers[0]).revealShares(1, cidRaw(ethers, "r"))).to.be.revertedWithCustomError(secagg, "NoSetupInRound").withArgs(1);
  });
});
