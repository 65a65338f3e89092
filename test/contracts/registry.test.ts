import { expect } from "chai";
import { network } from "hardhat";
import { AGGREGATOR, ALL_ROLES, Phase, TRAINER, VERIFIER, cidRaw, defaultConfig, deployTask } from "./helpers.ts";

const { ethers, networkHelpers } = await network.connect();

describe("FederatedTask: peer registry", () => {
  const fresh = () => deployTask(ethers, { roles: [] });
  const withPeers = () => deployTask(ethers, { roles: [ALL_ROLES, TRAINER | VERIFIER, AGGREGATOR] });

  it("registers peers in order with their roles, multiaddr, key and the initial reputation", async () => {
    const { task, peers } = await networkHelpers.loadFixture(withPeers);
    expect(await task.peerCount()).to.equal(3n);
    for (let i = 0; i < 3; i++) expect(await task.peerAt(i)).to.equal(peers[i].address);
    const p = await task.getPeer(peers[1].address);
    expect(p.peerIndex).to.equal(1n);
    expect(p.roles).to.equal(BigInt(TRAINER | VERIFIER));
    expect(p.active).to.equal(true);
    expect(p.reputation).to.equal(10n);
    expect(p.multiaddr).to.equal("/ip4/127.0.0.1/tcp/4002");
    expect(p.publicKey).to.equal(ethers.id("pk1"));
  });

  it("emits PeerRegistered with the peer index", async () => {
    const { task, peers } = await networkHelpers.loadFixture(fresh);
    await expect(task.connect(peers[0]).registerPeer(VERIFIER, "/ip4/127.0.0.1/tcp/9", ethers.id("k")))
      .to.emit(task, "PeerRegistered")
      .withArgs(peers[0].address, 0, VERIFIER, "/ip4/127.0.0.1/tcp/9", ethers.id("k"));
  });

  it("accepts registration before configuration, with reputation 0 until the task is configured", async () => {
    const { task, peers } = await deployTask(ethers, { configure: false, roles: [TRAINER] });
    expect((await task.getPeer(peers[0].address)).reputation).to.equal(0n);
    await (await task.configureTask(defaultConfig(ethers))).wait();
    expect((await task.getPeer(peers[0].address)).reputation).to.equal(10n);
  });

  for (const roles of [0, 8, 255]) {
    it(`rejects roles ${roles} with InvalidRoles`, async () => {
      const { task, peers } = await networkHelpers.loadFixture(fresh);
      await expect(task.connect(peers[0]).registerPeer(roles, "/x", ethers.ZeroHash))
        .to.be.revertedWithCustomError(task, "InvalidRoles")
        .withArgs(roles);
    });
  }

  it("rejects a second registration of an active peer", async () => {
    const { task, peers } = await networkHelpers.loadFixture(withPeers);
    await expect(task.connect(peers[0]).registerPeer(TRAINER, "/x", ethers.ZeroHash))
      .to.be.revertedWithCustomError(task, "AlreadyRegistered")
      .withArgs(peers[0].address);
  });

  it("rejects the 257th peer with TooManyPeers", async function () {
    this.timeout(120_000);
    const { task, initiator } = await networkHelpers.loadFixture(fresh);
    for (let i = 0; i < 256; i++) {
      const wallet = new ethers.Wallet(ethers.id(`many-${i}`), ethers.provider);
      await networkHelpers.setBalance(wallet.address, 10n ** 18n);
      await (await task.connect(wallet).registerPeer(TRAINER, "/m", ethers.ZeroHash)).wait();
    }
    expect(await task.peerCount()).to.equal(256n);
    expect((await task.getPeer(await task.peerAt(255))).peerIndex).to.equal(255n);
    await expect(task.connect(initiator).registerPeer(TRAINER, "/m", ethers.ZeroHash))
      .to.be.revertedWithCustomError(task, "TooManyPeers")
      .withArgs(256);
  });

  it("updates the multiaddr of an active peer only", async () => {
    const { task, peers, outsider } = await networkHelpers.loadFixture(withPeers);
    await expect(task.connect(peers[0]).updateMultiaddr("/ip4/127.0.0.1/tcp/5555"))
      .to.emit(task, "PeerAddressUpdated")
      .withArgs(peers[0].address, "/ip4/127.0.0.1/tcp/5555");
    expect((await task.getPeer(peers[0].address)).multiaddr).to.equal("/ip4/127.0.0.1/tcp/5555");
    await expect(task.connect(outsider).updateMultiaddr("/y")).to.be.revertedWithCustomError(task, "NotRegistered").withArgs(outsider.address);
  });

  it("lets a peer leave once; it may register again and keeps its index and reputation", async () => {
    const { task, peers } = await networkHelpers.loadFixture(withPeers);
    await expect(task.connect(peers[1]).leave()).to.emit(task, "PeerLeft").withArgs(peers[1].address);
    expect((await task.getPeer(peers[1].address)).active).to.equal(false);
    await expect(task.connect(peers[1]).leave()).to.be.revertedWithCustomError(task, "NotRegistered").withArgs(peers[1].address);
    await expect(task.connect(peers[1]).updateMultiaddr("/z")).to.be.revertedWithCustomError(task, "NotRegistered");
    await expect(task.connect(peers[1]).registerPeer(AGGREGATOR, "/again", ethers.id("new")))
      .to.emit(task, "PeerRegistered")
      .withArgs(peers[1].address, 1, AGGREGATOR, "/again", ethers.id("new"));
    const p = await task.getPeer(peers[1].address);
    expect([p.peerIndex, p.roles, p.active, p.reputation]).to.deep.equal([1n, BigInt(AGGREGATOR), true, 10n]);
    expect(await task.peerCount()).to.equal(3n);
  });

  it("lets the initiator revoke roles and reports what was revoked and what remains", async () => {
    const { task, peers } = await networkHelpers.loadFixture(withPeers);
    await expect(task.revokeRoles(peers[0].address, TRAINER | AGGREGATOR))
      .to.emit(task, "PeerRolesRevoked")
      .withArgs(peers[0].address, TRAINER | AGGREGATOR, VERIFIER);
    // Revoking a role the peer does not hold reports only what it actually lost.
    await expect(task.revokeRoles(peers[2].address, TRAINER | AGGREGATOR))
      .to.emit(task, "PeerRolesRevoked")
      .withArgs(peers[2].address, AGGREGATOR, 0);
    expect((await task.getPeer(peers[0].address)).roles).to.equal(BigInt(VERIFIER));
  });

  it("rejects revokeRoles from non-initiators, for unknown peers and with invalid roles", async () => {
    const { task, peers, outsider } = await networkHelpers.loadFixture(withPeers);
    await expect(task.connect(peers[0]).revokeRoles(peers[1].address, TRAINER)).to.be.revertedWithCustomError(task, "AccessControlUnauthorizedAccount");
    await expect(task.revokeRoles(outsider.address, TRAINER)).to.be.revertedWithCustomError(task, "NotRegistered").withArgs(outsider.address);
    await expect(task.revokeRoles(peers[0].address, 0)).to.be.revertedWithCustomError(task, "InvalidRoles").withArgs(0);
    await expect(task.revokeRoles(peers[0].address, 9)).to.be.revertedWithCustomError(task, "InvalidRoles").withArgs(9);
  });

  it("rejects getPeer for an address that never registered and peerAt out of range", async () => {
    const { task, outsider } = await networkHelpers.loadFixture(withPeers);
    await expect(task.getPeer(outsider.address)).to.be.revertedWithCustomError(task, "NotRegistered").withArgs(outsider.address);
    await expect(task.peerAt(3)).to.be.revertedWithPanic(0x32);
  });

  it("stops waiting for a trainer that leaves mid-training (the window can then close early)", async () => {
    const { task, peers } = await deployTask(ethers, { roles: [ALL_ROLES, ALL_ROLES, ALL_ROLES], start: true });
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "a"), 1)).wait();
    await (await task.connect(peers[1]).commitUpdate(1, cidRaw(ethers, "b"), 1)).wait();
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Training));
    await (await task.connect(peers[2]).leave()).wait();
    await expect(task.advancePhase(1)).to.emit(task, "PhaseAdvanced");
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Verification));
  });

  it("waits for a trainer that joins mid-training, and for a verifier that joins mid-verification", async () => {
    const { task, peers } = await deployTask(ethers, { roles: [ALL_ROLES, ALL_ROLES], start: true });
    const [, , , late] = await ethers.getSigners();
    await (await task.connect(late).registerPeer(TRAINER | VERIFIER, "/late", ethers.ZeroHash)).wait();
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "a"), 1)).wait();
    await (await task.connect(peers[1]).commitUpdate(1, cidRaw(ethers, "b"), 1)).wait();
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Training));
    await expect(task.advancePhase(1)).to.be.revertedWithCustomError(task, "DeadlineNotReached");
    await expect(task.connect(late).commitUpdate(1, cidRaw(ethers, "c"), 1)).to.emit(task, "PhaseAdvanced");
    // A verifier that leaves during verification is no longer waited for.
    await (await task.connect(peers[0]).submitVerdict(1, 7)).wait();
    await (await task.connect(late).leave()).wait();
    await (await task.connect(peers[1]).submitVerdict(1, 7)).wait();
    expect((await task.getRound(1)).phase).to.equal(BigInt(Phase.Aggregation));
  });

  it("stops waiting for a verifier whose role is revoked mid-verification", async () => {
    const { task, peers } = await deployTask(ethers, { roles: [ALL_ROLES, ALL_ROLES, ALL_ROLES], start: true });
    for (const [i, p] of peers.slice(0, 3).entries()) await (await task.connect(p).commitUpdate(1, cidRaw(ethers, `u${i}`), 1)).wait();
    await (await task.connect(peers[0]).submitVerdict(1, 7)).wait();
    await (await task.connect(peers[1]).submitVerdict(1, 7)).wait();
    await (await task.revokeRoles(peers[2].address, VERIFIER)).wait();
    await expect(task.advancePhase(1)).to.emit(task, "AcceptedMaskComputed").withArgs(1, 7, 2);
  });
});
