import { expect } from "chai";
import { network } from "hardhat";
import { ALL_ROLES, Phase, cidDagPb, cidRaw, cidV0, defaultConfig, deployTask } from "./helpers.ts";

const { ethers, networkHelpers } = await network.create();

describe("FederatedTask: configuration and start", () => {
  const unconfigured = () => deployTask(ethers, { configure: false, roles: [] });
  const configured = () => deployTask(ethers, { roles: [] });

  it("stores the configuration, emits TaskConfigured and rebuilds both CIDs", async () => {
    const { task, initiator } = await networkHelpers.loadFixture(unconfigured);
    const config = defaultConfig(ethers, { modelSpecCid: cidDagPb(ethers, "s"), initialModelCid: cidRaw(ethers, "i"), ruleParam: 3 });
    await expect(task.configureTask(config)).to.emit(task, "TaskConfigured");
    const stored = await task.taskConfig();
    expect(stored.modelSpecCid).to.equal(config.modelSpecCid);
    expect(stored.initialModelCid).to.equal(config.initialModelCid);
    expect(stored.rounds).to.equal(3n);
    expect(stored.ruleParam).to.equal(3n);
    expect(stored.reputationMax).to.equal(20n);
    expect(stored.dpDeltaExponent).to.equal(5n);
    expect(await task.taskConfigured()).to.equal(true);
    expect(await task.latestGlobalModelCid()).to.equal(config.initialModelCid);
    expect(await task.hasRole(await task.INITIATOR_ROLE(), initiator.address)).to.equal(true);
  });

  it("has no global model before configuration", async () => {
    const { task } = await networkHelpers.loadFixture(unconfigured);
    expect(await task.latestGlobalModelCid()).to.equal("0x");
    expect(await task.taskConfigured()).to.equal(false);
  });

  it("rejects configuration by anyone but the initiator", async () => {
    const { task, outsider } = await networkHelpers.loadFixture(unconfigured);
    await expect(task.connect(outsider).configureTask(defaultConfig(ethers)))
      .to.be.revertedWithCustomError(task, "AccessControlUnauthorizedAccount")
      .withArgs(outsider.address, await task.INITIATOR_ROLE());
  });

  it("rejects a second configuration", async () => {
    const { task } = await networkHelpers.loadFixture(configured);
    await expect(task.configureTask(defaultConfig(ethers))).to.be.revertedWithCustomError(task, "TaskAlreadyConfigured");
  });

  const invalid: [string, Record<string, unknown>][] = [
    ["rounds", { rounds: 0 }],
    ["trainingDuration", { trainingDuration: 0 }],
    ["verificationDuration", { verificationDuration: 0 }],
    ["aggregationDuration", { aggregationDuration: 0 }],
    ["minTrainers", { minTrainers: 0 }],
    ["minTrainers", { minTrainers: 256 }],
    ["revealDuration", { revealDuration: 0 }],
    ["verifierCommitteeSize", { verifierCommitteeSize: 257 }],
    ["aggregatorCommitteeSize", { aggregatorCommitteeSize: 257 }],
    ["aggregatorQuorumBps", { aggregatorQuorumBps: 5000 }],
    ["aggregatorQuorumBps", { aggregatorQuorumBps: 10_001 }],
    ["admissionMode", { admissionMode: 2 }],
    ["bondWei", { admissionMode: 1, bondWei: 0 }],
    ["maxSamplesPerPeer", { maxSamplesPerPeer: 0 }],
    ["copyCosineThresholdBps", { copyCosineThresholdBps: 10_001 }],
    ["robustRule", { robustRule: 9 }],
    ["dpNoiseMultiplierMilli", { dpClipNormMilli: 1000, dpNoiseMultiplierMilli: 0 }],
    ["dpDeltaExponent", { dpClipNormMilli: 1000, dpNoiseMultiplierMilli: 1100, dpDeltaExponent: 0 }],
    ["reputationReward", { reputationReward: -1 }],
    ["reputationPenalty", { reputationPenalty: -1 }],
    ["reputationThreshold", { reputationThreshold: 11 }],
    ["reputationInitial", { reputationMax: 9 }],
    ["reputationMax", { reputationInitial: -10, reputationThreshold: -10, reputationMax: 2 ** 31 - 1 }],
  ];
  for (const [field, overrides] of invalid) {
    it(`rejects an invalid ${field} (${JSON.stringify(overrides)})`, async () => {
      const { task } = await networkHelpers.loadFixture(unconfigured);
      await expect(task.configureTask(defaultConfig(ethers, overrides)))
        .to.be.revertedWithCustomError(task, "InvalidConfig")
        .withArgs(field);
    });
  }

  it("accepts a DP configuration with noise and delta", async () => {
    const { task } = await networkHelpers.loadFixture(unconfigured);
    await expect(task.configureTask(defaultConfig(ethers, { dpClipNormMilli: 1000, dpNoiseMultiplierMilli: 1100, dpEpsilonBudgetMilli: 8000 })))
      .to.emit(task, "TaskConfigured");
  });

  it("rejects an empty CID with ZeroCid", async () => {
    const { task } = await networkHelpers.loadFixture(unconfigured);
    await expect(task.configureTask(defaultConfig(ethers, { initialModelCid: "0x" }))).to.be.revertedWithCustomError(task, "ZeroCid");
    await expect(task.configureTask(defaultConfig(ethers, { modelSpecCid: "0x" }))).to.be.revertedWithCustomError(task, "ZeroCid");
  });

  const digest = "ab".repeat(32);
  const badCids: [string, string][] = [
    ["too short", "0x1220" + "ab".repeat(31)],
    ["CIDv0 with a wrong hash code", "0x1320" + digest],
    ["CIDv0 with a wrong digest length", "0x1221" + digest + "00"],
    ["CIDv1 with codec dag-cbor", "0x01711220" + digest],
    ["CIDv1 with a wrong hash", "0x01551320" + digest],
    ["CIDv1 with a wrong length byte", "0x01551221" + digest],
    ["version 2", "0x02551220" + digest],
    ["a zero digest", "0x1220" + "00".repeat(32)],
    ["trailing bytes", "0x01551220" + digest + "00"],
  ];
  for (const [label, cid] of badCids) {
    it(`rejects a CID that is ${label} with InvalidCid`, async () => {
      const { task } = await networkHelpers.loadFixture(unconfigured);
      await expect(task.configureTask(defaultConfig(ethers, { modelSpecCid: cid })))
        .to.be.revertedWithCustomError(task, "InvalidCid")
        .withArgs(cid);
    });
  }

  it("starts round 1 on the initial model with TaskStarted and RoundStarted", async () => {
    const { task } = await networkHelpers.loadFixture(configured);
    const tx = task.startTask();
    await expect(tx).to.emit(task, "TaskStarted").withArgs(3);
    const receipt = await (await tx).wait();
    const block = await ethers.provider.getBlock(receipt!.blockNumber);
    await expect(tx).to.emit(task, "RoundStarted").withArgs(1, cidV0(ethers, "initial"), block!.timestamp + 100);
    expect(await task.taskStarted()).to.equal(true);
    expect(await task.currentRound()).to.equal(1n);
    const round = await task.getRound(1);
    expect(round.phase).to.equal(BigInt(Phase.Training));
    expect(round.globalModelCid).to.equal(cidV0(ethers, "initial"));
  });

  it("refuses to start before configuration, twice, or for non-initiators", async () => {
    const { task, outsider } = await networkHelpers.loadFixture(unconfigured);
    await expect(task.startTask()).to.be.revertedWithCustomError(task, "TaskNotConfigured");
    await (await task.configureTask(defaultConfig(ethers))).wait();
    await expect(task.connect(outsider).startTask()).to.be.revertedWithCustomError(task, "AccessControlUnauthorizedAccount");
    await (await task.startTask()).wait();
    await expect(task.startTask()).to.be.revertedWithCustomError(task, "TaskAlreadyStarted");
  });

  it("rejects the zero address as initiator", async () => {
    const factory = await ethers.getContractFactory("FederatedTask");
    await expect(factory.deploy(ethers.ZeroAddress)).to.be.revertedWithCustomError(factory, "InvalidConfig").withArgs("initiator");
  });

  it("reports support for IFederatedTask and IAccessControl (ERC-165)", async () => {
    const { task } = await networkHelpers.loadFixture(configured);
    const iface = (await ethers.getContractAt("IFederatedTask", await task.getAddress())).interface;
    let id = 0n;
    iface.forEachFunction((f) => { id ^= BigInt(f.selector); });
    expect(await task.supportsInterface("0x" + id.toString(16).padStart(8, "0"))).to.equal(true);
    expect(await task.supportsInterface("0x7965db0b")).to.equal(true);
    expect(await task.supportsInterface("0xffffffff")).to.equal(false);
  });

  it("reads views before the task starts", async () => {
    const { task } = await networkHelpers.loadFixture(configured);
    expect(await task.currentRound()).to.equal(0n);
    expect(await task.taskStarted()).to.equal(false);
    expect(await task.taskCompleted()).to.equal(false);
    await expect(task.getRound(1)).to.be.revertedWithCustomError(task, "RoundDoesNotExist").withArgs(1);
    await expect(task.advancePhase(1)).to.be.revertedWithCustomError(task, "TaskNotStarted");
    void ALL_ROLES;
  });
});
