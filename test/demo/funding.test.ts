/** The demo funds as many peer accounts as it runs peers, from the initiator, on a real hardhat node. */
import { expect } from "chai";
import { NonceManager, Wallet, parseEther } from "ethers";
import { hardhatAccount, makeProvider } from "../../node/chain/connect.ts";
import { fundAccounts, FunderTooPoorError } from "../../node/demo/funding.ts";
import { peerAccount } from "../../node/demo/demo.ts";
import { admitPeers } from "../../node/demo/admission.ts";
import { startTestChain, deployConfiguredTask, type TestChain } from "./chain-helpers.ts";

describe("demo: funding the peer accounts (real hardhat node)", function () {
  this.timeout(180_000);
  let chain: TestChain;
  before(async () => { chain = await startTestChain(); });
  after(async () => { await chain?.stop(); });

  it("tops up every peer account beyond Hardhat's 20 funded ones, and only those", async () => {
    const provider = makeProvider(chain.rpcUrl, 31337n);
    const funder = new NonceManager(hardhatAccount(0).connect(provider));
    const peers = 30; // peer i signs with account i + 1: accounts 1..19 are Hardhat's, 20..30 start empty
    const addresses = Array.from({ length: peers }, (_, i) => peerAccount(i).address);
    expect(await provider.getBalance(peerAccount(25).address)).to.equal(0n);

    const first = await fundAccounts({ funder, addresses });
    expect(first.funded).to.have.length(11);
    expect(first.alreadyFunded).to.have.length(19);
    expect(first.funded).to.deep.equal(addresses.slice(19));
    for (const a of first.funded) expect(await provider.getBalance(a)).to.equal(parseEther("10"));

    // Idempotent: a second demo on the same chain sends nothing.
    const second = await fundAccounts({ funder, addresses });
    expect(second.funded).to.have.length(0);

    // The funded accounts can pay for a transaction.
    const w = peerAccount(29).connect(provider);
    const receipt = await (await w.sendTransaction({ to: hardhatAccount(0).address, value: 1n })).wait();
    expect(receipt!.status).to.equal(1);
    provider.destroy();
  });

  it("admits every peer account in allow-list mode, in batches, beyond the module's first few", async () => {
    const { initiator } = await deployConfiguredTask(chain.rpcUrl);
    const addresses = Array.from({ length: 70 }, (_, i) => peerAccount(i).address);
    expect(await admitPeers(initiator.task, addresses)).to.equal(70);
    const events = await initiator.task.queryFilter(initiator.task.filters.PeerAdmitted());
    expect(new Set(events.map((e) => (e as unknown as { args: string[] }).args[0].toLowerCase()))).to.deep.equal(new Set(addresses.map((a) => a.toLowerCase())));
    // Peer 69 (account 70, funded above its 20 by fundAccounts) can now register.
    await fundAccounts({ funder: initiator.signer, addresses: [peerAccount(69).address] });
    const peer = initiator.task.connect(peerAccount(69).connect(initiator.provider)) as typeof initiator.task;
    await (await peer.getFunction("registerPeer")(7, "/ip4/127.0.0.1/tcp/4001", "0x" + "55".repeat(32))).wait();
    expect((await initiator.task.getPeer(peerAccount(69).address)).active).to.equal(true);
  });

  it("refuses up front when the funder cannot pay for all transfers", async () => {
    const provider = makeProvider(chain.rpcUrl, 31337n);
    const poor = Wallet.createRandom().connect(provider);
    await (await hardhatAccount(0).connect(provider).sendTransaction({ to: poor.address, value: parseEther("1") })).wait();
    const targets = [Wallet.createRandom().address, Wallet.createRandom().address];
    let err: unknown;
    try { await fundAccounts({ funder: poor, addresses: targets, amountWei: parseEther("2") }); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(FunderTooPoorError);
    expect((err as Error).message).to.contain(poor.address).and.to.contain("need 4.0 ETH");
    for (const t of targets) expect(await provider.getBalance(t)).to.equal(0n);
    provider.destroy();
  });
});
