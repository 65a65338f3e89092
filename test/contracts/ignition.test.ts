import { expect } from "chai";
import { network } from "hardhat";
import FederatedTaskModule from "../../ignition/modules/FederatedTask.ts";
import FederatedTaskUnconfiguredModule from "../../ignition/modules/FederatedTaskUnconfigured.ts";
import { TASK_DEFAULTS } from "../../ignition/modules/federatedTaskModule.ts";
import type { FederatedTask } from "../../types/ethers-contracts/index.ts";
import { cidRaw, cidV0, defaultConfig } from "./helpers.ts";

const { ethers, ignition } = await network.create();

describe("Ignition: FederatedTaskModule", () => {
  it("deploys and configures the task with the documented defaults", async () => {
    const [deployer] = await ethers.getSigners();
    const spec = cidRaw(ethers, "spec");
    const initial = cidV0(ethers, "initial");
    const { task } = await ignition.deploy(FederatedTaskModule, {
      parameters: { FederatedTaskModule: { modelSpecCid: spec, initialModelCid: initial, rounds: 7 } },
    });
    const deployed = (await ethers.getContractAt("FederatedTask", await task.getAddress())) as unknown as FederatedTask;
    expect(await deployed.taskConfigured()).to.equal(true);
    expect(await deployed.hasRole(await deployed.INITIATOR_ROLE(), deployer.address)).to.equal(true);
    const c = await deployed.taskConfig();
    expect([c.modelSpecCid, c.initialModelCid]).to.deep.equal([spec, initial]);
    expect(c.rounds).to.equal(7n);
    for (const [field, value] of Object.entries(TASK_DEFAULTS)) {
      if (field === "rounds") continue;
      expect(c[field as keyof typeof c], field).to.equal(BigInt(value));
    }
    expect(TASK_DEFAULTS).to.include({ rounds: 5, trainingDuration: 120, robustRule: 5, ruleParam: 0, reputationPenalty: 4, admissionMode: 0, aggregatorQuorumBps: 6666 });
    // Allow-list defaults: the demo accounts 1..10 are admitted.
    const signers = await ethers.getSigners();
    expect((await deployed.peerStatus(signers[1].address)).admitted).to.equal(true);
    expect((await deployed.peerStatus(signers[10].address)).admitted).to.equal(true);
    expect((await deployed.peerStatus(signers[11].address)).admitted).to.equal(false);
  });

  it("deploys without configuring (configure: false) for a later configureTask by the initiator", async () => {
    const [, other] = await ethers.getSigners();
    const { task } = await ignition.deploy(FederatedTaskUnconfiguredModule, {
      parameters: { FederatedTaskModule: { initiator: other.address } },
    });
    const deployed = (await ethers.getContractAt("FederatedTask", await task.getAddress())) as unknown as FederatedTask;
    expect(await deployed.taskConfigured()).to.equal(false);
    expect(await deployed.hasRole(await deployed.INITIATOR_ROLE(), other.address)).to.equal(true);
    await (await deployed.connect(other).configureTask(defaultConfig(ethers))).wait();
    expect(await deployed.taskConfigured()).to.equal(true);
  });
});
