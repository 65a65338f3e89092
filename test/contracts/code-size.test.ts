// FederatedTask must deploy on public EVM chains: runtime code <= 24,576 bytes (EIP-170) and init
// code <= 49,152 bytes (EIP-3860) for the task and for the facet its constructor creates. The
// Hardhat networks enforce both limits (no allowUnlimitedContractSize), so every contract test
// deploying a task proves it too; this file states the numbers and fails the day someone grows
// either contract past them. It also pins the facet split: the facet serves only the task's own
// signatures plus its two hot-path entry points, cannot be driven directly, and those entry points
// cannot be reached through the task.
import { expect } from "chai";
import { network, artifacts } from "hardhat";
import { Interface, getCreateAddress } from "ethers";
import { ALL_ROLES, deployTask } from "./helpers.ts";

const { ethers, networkHelpers } = await network.create();

const EIP170_RUNTIME_LIMIT = 24_576;
const EIP3860_INITCODE_LIMIT = 49_152;
const byteLength = (hex: string) => (hex.length - 2) / 2;
const HOT_PATH_ENTRIES = ["closePhase", "drawCommittees"];
const oneRegistered = () => deployTask(ethers, { roles: [ALL_ROLES] });
const started = () => deployTask(ethers, { roles: [ALL_ROLES, ALL_ROLES], start: true });

describe("FederatedTask: code size and facet split", () => {
  it("keeps the task's and the facet's runtime and init code under the public-chain limits", async () => {
    for (const name of ["FederatedTask", "FederatedTaskFacet"]) {
      const artifact = await artifacts.readArtifact(name);
      const runtime = byteLength(artifact.deployedBytecode);
      const init = byteLength(artifact.bytecode);
      expect(runtime, `${name} runtime bytes`).to.be.greaterThan(1000).and.at.most(EIP170_RUNTIME_LIMIT);
      expect(init, `${name} init code bytes`).to.be.at.most(EIP3860_INITCODE_LIMIT);
    }
  });

  it("deploys both contracts in one transaction on a network that enforces the limits", async () => {
    const { task } = await networkHelpers.loadFixture(oneRegistered);
    const address = await task.getAddress();
    const facetAddress = getCreateAddress({ from: address, nonce: 1 }); // the constructor's only CREATE
    const taskCode = await ethers.provider.getCode(address);
    const facetCode = await ethers.provider.getCode(facetAddress);
    expect(byteLength(taskCode)).to.be.at.most(EIP170_RUNTIME_LIMIT);
    expect(byteLength(facetCode)).to.be.greaterThan(1000).and.at.most(EIP170_RUNTIME_LIMIT);
    // Forwarded calls run on the task's storage: the configuration set through the facet is read back.
    expect((await task.taskConfig()).rounds).to.equal(3n);
    expect(await task.isVerifier(1, address).catch((e: Error) => e.message)).to.match(/RoundDoesNotExist/);
  });

  it("has the facet serve only signatures the task itself declares (plus the hot-path entries)", async () => {
    const taskAbi = new Interface((await artifacts.readArtifact("FederatedTask")).abi);
    const facetAbi = new Interface((await artifacts.readArtifact("FederatedTaskFacet")).abi);
    const entries: string[] = [];
    facetAbi.forEachFunction((f) => {
      if (HOT_PATH_ENTRIES.includes(f.name)) return entries.push(f.name);
      const own = taskAbi.getFunction(f.selector);
      expect(own, `task lacks ${f.format()}`).to.not.equal(null);
      expect(own!.format("full"), f.name).to.equal(f.format("full"));
    });
    expect(entries.sort()).to.deep.equal([...HOT_PATH_ENTRIES].sort());
    for (const name of HOT_PATH_ENTRIES) expect(taskAbi.getFunction(name), name).to.equal(null);
  });

  it("refuses a direct call to the facet and never reaches the hot-path entries through the task", async () => {
    const { task, initiator } = await networkHelpers.loadFixture(started);
    const address = await task.getAddress();
    const facet = await ethers.getContractAt("FederatedTaskFacet", getCreateAddress({ from: address, nonce: 1 }), initiator);
    // The initiator holds no role on the facet's own (unused) storage, but the guard comes first.
    await expect(facet.startTask()).to.be.revertedWithCustomError(facet, "OnlyThroughTask");
    await expect(facet.closePhase(1)).to.be.revertedWithCustomError(facet, "OnlyThroughTask");
    // An attacker calling closePhase / drawCommittees on the task: no such function, no fallback.
    for (const data of [facet.interface.encodeFunctionData("closePhase", [1]), facet.interface.encodeFunctionData("drawCommittees", [1])]) {
      await expect(initiator.sendTransaction({ to: address, data })).to.be.revertedWithoutReason(ethers);
    }
    expect((await task.getRound(1)).phase).to.equal(1n); // still Training: nothing was closed
  });
});
