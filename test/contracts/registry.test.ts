import { expect } from "chai";
import { network } from "hardhat";
import { AGGREGATOR, ALL_ROLES, Phase, TRAINER, VERIFIER, cidRaw, deployTask } from "./helpers.ts";

const { ethers, networkHelpers } = await network.create();

describe("FederatedTask: admission and peer registry", () => {
  const fresh = () => deployTask(ethers, { roles: [] });
  const withPeers = () => deployTask(ethers, { roles: [ALL_ROLES, TRAINER | VERIFIER, AGGREGATOR] });

  it("registers admitted peers in order with their roles, multiaddr, key and the initial reputation", async () => {
    const { task, peers } = await networkHelpers.loadFixture(withPeers);
    expect(await task.peerCount()).to.equal(3n);
    for (let i = 0; i < 3; i++) expect(await task.peerAt(i)).to.equal(peers[i].address);
    const p = await task.getPeer(peers[1].address);
    expect([p.peerIndex, p.roles, p.active, p.reputation, p.multiaddr, p.publicKey]).to.deep.equal([
      1n, BigInt(TRAINER | VERIFIER), true, 10n, "/ip4/127.0.0.1/tcp/4002", ethers.id("pk1"),
    ]);
    const pools = await task.eligiblePools();
    expect([pools.verifierPool, pools.aggregatorPool, pools.eligibleTrainers]).to.deep.equal([0b011n, 0b101n, 2n]);
  });

  it("admits by the initiator only and emits PeerAdmitted once per address", async () => {
    const { task, outsider, peers } = await networkHelpers.loadFixture(fresh);
    await expect(task.connect(outsider).admit([outsider.address])).to.be.revertedWithCustomError(task, "AccessControlUnauthorizedAccount");
    await expect(task.admit([outsider.address, outsider.address])).to.emit(task, "PeerAdmitted").withArgs(outsider.address);
    await expect(task.connect(outsider).registerPeer(VERIFIER, "/ip4/127.0.0.1/tcp/9", ethers.id("k")))
      .to.emit(task, "PeerRegistered").withArgs(outsider.address, 0, VERIFIER, "/ip4/127.0.0.1/tcp/9", ethers.id("k"));
    void peers;
  });

  it("refuses registration before configuration", async () => {
    const { task, peers } = await deployTask(ethers, { configure: false, roles: [] });
    await expect(task.connect(peers[0]).registerPeer(TRAINER, "/x", ethers.ZeroHash)).to.be.revertedWithCustomError(task, "TaskNotConfigured");
  });

  for (const roles of [0, 8, 255]) {
    it(`rejects roles ${roles} with InvalidRoles`, async () => {
      const { task, peers } = await networkHelpers.loadFixture(fresh);
      await expect(task.connect(peers[0]).registerPeer(roles, "/x", ethers.ZeroHash)).to.be.revertedWithCustomError(task, "InvalidRoles").withArgs(roles);
    });
  }

  it("rejects a second registration of an active peer", async () => {
    const { task, peers } = await networkHelpers.loadFixture(withPeers);
    await expect(task.connect(peers[0]).registerPeer(TRAINER, "/x", ethers.ZeroHash)).to.be.revertedWithCustomError(task, "AlreadyRegistered").withArgs(peers[0].address);
  });

  it("rejects the 257th peer with TooManyPeers (bond mode: 256 bonds posted)", async function () {
    this.timeout(120_000);
    const bondWei = 1000n;
    const { task, initiator } = await deployTask(ethers, { roles: [], config: { admissionMode: 1, bondWei } });
    for (let i = 0; i < 256; i++) {
      const wallet = new ethers.Wallet(ethers.id(`many-${i}`), ethers.provider);
      await networkHelpers.setBalance(wallet.address, 10n ** 18n);
      await (await task.connect(wallet).registerPeer(TRAINER, "/m", ethers.ZeroHash, { value: bondWei })).wait();
    }
    expect((await task.bondTotals()).held).to.equal(256n * bondWei);
    await expect(task.connect(initiator).registerPeer(TRAINER, "/m", ethers.ZeroHash, { value: bondWei })).to.be.revertedWithCustomError(task, "TooManyPeers").withArgs(256);
  });

  it("updates the multiaddr of an active peer only", async () => {
    const { task, peers, outsider } = await networkHelpers.loadFixture(withPeers);
    await expect(task.connect(peers[0]).updateMultiaddr("/ip4/127.0.0.1/tcp/5555")).to.emit(task, "PeerAddressUpdated").withArgs(peers[0].address, "/ip4/127.0.0.1/tcp/5555");
    await expect(task.connect(outsider).updateMultiaddr("/y")).to.be.revertedWithCustomError(task, "NotRegistered").withArgs(outsider.address);
  });

  it("lets a peer leave once; it may register again and keeps its index and reputation", async () => {
    const { task, peers } = await networkHelpers.loadFixture(withPeers);
    await expect(task.connect(peers[1]).leave()).to.emit(task, "PeerLeft").withArgs(peers[1].address);
    await expect(task.connect(peers[1]).leave()).to.be.revertedWithCustomError(task, "NotRegistered").withArgs(peers[1].address);
    await expect(task.connect(peers[1]).registerPeer(AGGREGATOR, "/again", ethers.id("new"))).to.emit(task, "PeerRegistered").withArgs(peers[1].address, 1, AGGREGATOR, "/again", ethers.id("new"));
    const p = await task.getPeer(peers[1].address);
    expect([p.peerIndex, p.roles, p.active, p.reputation]).to.deep.equal([1n, BigInt(AGGREGATOR), true, 10n]);
  });

  it("revokes roles for good and reports what was revoked and what remains", async () => {
    const { task, peers } = await networkHelpers.loadFixture(withPeers);
    await expect(task.revokeRoles(peers[0].address, TRAINER | AGGREGATOR)).to.emit(task, "PeerRolesRevoked").withArgs(peers[0].address, TRAINER | AGGREGATOR, VERIFIER);
    expect((await task.peerStatus(peers[0].address)).revokedRoles).to.equal(BigInt(TRAINER | AGGREGATOR));
    await expect(task.connect(peers[0]).revokeRoles(peers[1].address, TRAINER)).to.be.revertedWithCustomError(task, "AccessControlUnauthorizedAccount");
    await expect(task.revokeRoles(peers[5].address, TRAINER)).to.be.revertedWithCustomError(task, "NotRegistered");
    await expect(task.revokeRoles(peers[0].address, 9)).to.be.revertedWithCustomError(task, "InvalidRoles").withArgs(9);
    await expect(task.banPeer(peers[5].address)).to.be.revertedWithCustomError(task, "NotRegistered");
  });

  it("rejects getPeer for an address that never registered and peerAt out of range", async () => {
    const { task, outsider } = await networkHelpers.loadFixture(withPeers);
    await expect(task.getPeer(outsider.address)).to.be.revertedWithCustomError(task, "NotRegistered").withArgs(outsider.address);
    await expect(task.peerAt(3)).to.be.revertedWithPanic(0x32);
  });

  it("stops waiting for a trainer that leaves mid-training and waits for one that joins", async () => {
    const { task, peers } = await deployTask(ethers, { roles: [ALL_ROLES, ALL_ROLES, ALL_ROLES], start: true });
    await (await task.connect(peers[5]).registerPeer(TRAINER, "/late", ethers.ZeroHash)).wait();
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "a"), 1)).wait();
    await (await task.connect(peers[1]).commitUpdate(1, cidRaw(ethers, "b"), 1)).wait();
    await (await task.connect(peers[2]).leave()).wait();
    await expect(task.advancePhase(1)).to.be.revertedWithCustomError(task, "DeadlineNotReached");
    await expect(task.connect(peers[5]).commitUpdate(1, cidRaw(ethers, "c"), 1)).to.emit(task, "PhaseAdvanced");
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.VerifyCommit));
  });
});
