/**
 * sendTx against a real `hardhat node`: a transaction that is not mined in time is resent with the
 * same nonce and higher fees (automine off plays the node that dropped or sits on it), gives up with
 * TxNotMinedError, and an unfunded wallet fails with InsufficientFundsError.
 */
import { expect } from "chai";
import { NonceManager, Wallet, type TransactionReceipt } from "ethers";
import { connectTask, makeProvider, hardhatAccount, type TaskConnection } from "../../node/chain/connect.ts";
import { sendTx, bumpFee, InsufficientFundsError, TxNotMinedError, pollingReceiptWaiter, type ReceiptWaiter } from "../../node/chain/tx.ts";
import { createLogger, type LogFields } from "../../node/lib/log.ts";
import { admitPeers } from "../../node/demo/admission.ts";
import { startTestChain, deployConfiguredTask, type TestChain } from "../demo/chain-helpers.ts";

function recordingLogger() {
  const events: { event: string; fields: LogFields }[] = [];
  const log = createLogger({ name: "test", format: "json", level: "debug", write: (line) => {
    const e = JSON.parse(line) as { event: string } & LogFields;
    events.push({ event: e.event, fields: e });
  } });
  return { log, events };
}

describe("sendTx: timeouts, same-nonce resends, insufficient funds (real hardhat node)", function () {
  this.timeout(180_000);
  let chain: TestChain;
  let contract: string;
  let initiator: TaskConnection;

  before(async () => {
    chain = await startTestChain();
    ({ address: contract, initiator } = await deployConfiguredTask(chain.rpcUrl));
    await admitPeers(initiator.task, [3, 4, 5].map((i) => hardhatAccount(i).address));
  });
  after(async () => { await chain?.stop(); });
  afterEach(async () => { await chain.rpc("evm_setAutomine", [true]); });

  it("raises fees by at least 12.5 % per resend, and a zero tip by at least 1 wei", () => {
    expect(bumpFee(1000n, 12.5)).to.equal(1125n);
    expect(bumpFee(1001n, 12.5) * 1000n >= 1001n * 1125n).to.equal(true);
    expect(bumpFee(0n, 12.5)).to.equal(1n);
    expect(bumpFee(3_000_000_000n, 25)).to.equal(3_750_000_000n);
  });

  it("resends an unmined transaction with the same nonce and higher fees; the replacement is what gets mined", async () => {
    const conn = await connectTask({ rpcUrl: chain.rpcUrl, contract, accountIndex: 3 });
    const { log, events } = recordingLogger();
    await chain.rpc("evm_setAutomine", [false]);
    const original = await conn.provider.getFeeData(); // what ethers fills in for the first send (no block is mined meanwhile)
    // Mine only after the first resend went out: until then the node just holds the transaction.
    const mineAfterResend = (async () => {
      while (!events.some((e) => e.event === "tx-resent")) await new Promise((r) => setTimeout(r, 100));
      await chain.rpc("evm_mine");
    })();
    const receipt = await sendTx(conn.task, conn.signer, "registerPeer", [7, "/ip4/127.0.0.1/tcp/4001", "0x" + "11".repeat(32)], log, { waitTimeoutMs: 1500, resends: 3 });
    await mineAfterResend;
    const resent = events.filter((e) => e.event === "tx-resent");
    expect(resent.length).to.be.at.least(1);
    expect(receipt.status).to.equal(1);
    expect(receipt.hash).to.equal(resent[resent.length - 1].fields.hash);
    const mined = await conn.provider.getTransaction(receipt.hash);
    expect(mined!.nonce).to.equal(Number(resent[0].fields.nonce));
    expect(await conn.provider.getTransactionCount(conn.address, "latest")).to.equal(mined!.nonce + 1);
    // The fee really went up by >= 12.5 % over the original.
    expect(BigInt(resent[0].fields.maxFeePerGas as string) * 1000n >= original.maxFeePerGas! * 1125n).to.equal(true);
    expect(BigInt(resent[0].fields.maxPriorityFeePerGas as string) * 1000n >= original.maxPriorityFeePerGas! * 1125n).to.equal(true);
    expect((await conn.task.getPeer(conn.address)).active).to.equal(true);
  });

  it("gives up with TxNotMinedError naming the method, nonce and every hash it sent", async () => {
    const conn = await connectTask({ rpcUrl: chain.rpcUrl, contract, accountIndex: 4 });
    const { log, events } = recordingLogger();
    await chain.rpc("evm_setAutomine", [false]);
    let err: unknown;
    try {
      await sendTx(conn.task, conn.signer, "registerPeer", [7, "/ip4/127.0.0.1/tcp/4002", "0x" + "22".repeat(32)], log, { waitTimeoutMs: 400, resends: 2 });
    } catch (e) { err = e; }
    expect(err).to.be.instanceOf(TxNotMinedError);
    const e = err as TxNotMinedError;
    expect(e.method).to.equal("registerPeer");
    expect(e.hashes).to.have.length(3);
    expect(events.filter((x) => x.event === "tx-resent")).to.have.length(2);
    expect(e.message).to.match(/registerPeer \(nonce \d+\) was not mined after 3 attempts/);
    // Only one of the copies can ever be mined: they share the nonce.
    await chain.rpc("evm_mine");
    const receipts = (await Promise.all(e.hashes.map((h) => conn.provider.getTransactionReceipt(h)))).filter(Boolean) as TransactionReceipt[];
    expect(receipts).to.have.length(1);
    expect(receipts[0].hash).to.equal(e.hashes[2]);
  });

  it("uses an injected receipt waiter (a stalled node) and still resends to the real node", async () => {
    const conn = await connectTask({ rpcUrl: chain.rpcUrl, contract, accountIndex: 5 });
    const { log, events } = recordingLogger();
    let calls = 0;
    const real = pollingReceiptWaiter(50);
    // The first wait "times out" although the node mined the transaction: the resend must then notice
    // its nonce is used, find the mined original among its hashes and return its receipt.
    const stalled: ReceiptWaiter = async (p, hashes, ms) => (++calls === 1 ? null : real(p, hashes, ms));
    const receipt = await sendTx(conn.task, conn.signer, "registerPeer", [7, "/ip4/127.0.0.1/tcp/4003", "0x" + "33".repeat(32)], log, { waitForReceipt: stalled, waitTimeoutMs: 500 });
    expect(receipt.status).to.equal(1);
    expect(calls).to.be.at.least(2);
    expect(events.some((e) => e.event === "tx-resent")).to.equal(false); // the node refused the duplicate nonce
    expect((await conn.task.getPeer(conn.address)).active).to.equal(true);
  });

  it("throws InsufficientFundsError with the address and its balance for an empty wallet", async () => {
    const provider = makeProvider(chain.rpcUrl, 31337n);
    const wallet = Wallet.createRandom().connect(provider);
    await admitPeers(initiator.task, [wallet.address]); // admitted but penniless
    const conn = await connectTask({ rpcUrl: chain.rpcUrl, contract, privateKey: wallet.privateKey, keySource: "env" });
    const { log } = recordingLogger();
    let err: unknown;
    try {
      await sendTx(conn.task, conn.signer, "registerPeer", [7, "/ip4/127.0.0.1/tcp/4004", "0x" + "44".repeat(32)], log);
    } catch (e) { err = e; }
    expect(err).to.be.instanceOf(InsufficientFundsError);
    const e = err as InsufficientFundsError;
    expect(e.address).to.equal(wallet.address);
    expect(e.balanceWei).to.equal(0n);
    expect(e.message).to.contain(wallet.address).and.to.contain("has 0 ETH");
    expect(conn.signer).to.be.instanceOf(NonceManager);
    provider.destroy();
  });
});
