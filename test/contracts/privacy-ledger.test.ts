// PrivacyLedger: the DP unit and parameters of a task, per-peer per-round epsilon reports, budgets.
import { expect } from "chai";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { PrivacyLedger } from "../../types/ethers-contracts/index.ts";
import { cidRaw, deployTask, type Config } from "./helpers.ts";
import PrivacyLedgerModule, { PRIVACY_DEFAULTS } from "../../ignition/modules/PrivacyLedger.ts";

const { ethers, networkHelpers, ignition } = await network.create();
const { time } = networkHelpers;
type S = HardhatEthersSigner;

const EXAMPLE = { unit: 2, clipNormMilli: 1000, noiseMultiplierMilli: 1100, expectedBatchSize: 64, localEpochs: 1, deltaExponent: 5, epsilonBudgetMilli: 3000, noisePeers: 0, scaleBits: 0 };
/** Distributed DP of a private task: C = 4000, sigma = 0.8 on the sum, n_min = 3, 8 fractional bits. */
const DISTRIBUTED = { unit: 3, clipNormMilli: 4_000_000, noiseMultiplierMilli: 800, expectedBatchSize: 0, localEpochs: 0, deltaExponent: 5, epsilonBudgetMilli: 0, noisePeers: 3, scaleBits: 8 };

async function withLedger(o: { configure?: boolean; params?: Partial<typeof EXAMPLE>; config?: Partial<Config>; start?: boolean } = {}) {
  const d = await deployTask(ethers, { config: o.config });
  const ledger = (await ethers.deployContract("PrivacyLedger", [await d.task.getAddress()])) as unknown as PrivacyLedger;
  if (o.configure ?? true) await (await ledger.configure({ ...EXAMPLE, ...o.params })).wait();
  if (o.start ?? true) await (await d.task.startTask()).wait();
  return { ...d, ledger };
}

/** Round 1 with only `peer` committing fails at its deadline (too few trainers): round 2 opens. */
async function failRound(task: Awaited<ReturnType<typeof withLedger>>["task"], round: number, peer: S): Promise<void> {
  await (await task.connect(peer).commitUpdate(round, cidRaw(ethers, `u-${round}-${peer.address}`), 900)).wait();
  await time.increase(101);
  await (await task.advancePhase(round)).wait();
}

describe("PrivacyLedger: configuration", () => {
  it("records the example unit and its parameters once, from the initiator, before the task starts", async () => {
    const { ledger, initiator, peers } = await withLedger({ configure: false, start: false });
    await expect(ledger.connect(peers[0]).configure(EXAMPLE)).to.be.revertedWithCustomError(ledger, "NotInitiator").withArgs(peers[0].address);
    await expect(ledger.configure(EXAMPLE)).to.emit(ledger, "PrivacyConfigured");
    const p = await ledger.params();
    expect([p.unit, p.clipNormMilli, p.noiseMultiplierMilli, p.expectedBatchSize, p.localEpochs, p.deltaExponent, p.epsilonBudgetMilli].map(Number))
      .to.deep.equal([2, 1000, 1100, 64, 1, 5, 3000]);
    expect(await ledger.configured()).to.equal(true);
    await expect(ledger.connect(initiator).configure(EXAMPLE)).to.be.revertedWithCustomError(ledger, "AlreadyConfigured");
  });

  it("refuses after the task started, and parameters without privacy", async () => {
    const started = await withLedger({ configure: false });
    await expect(started.ledger.configure(EXAMPLE)).to.be.revertedWithCustomError(started.ledger, "TaskAlreadyStarted");
    const { ledger } = await withLedger({ configure: false, start: false });
    for (const [field, bad] of [["noiseMultiplierMilli", 0], ["deltaExponent", 0], ["deltaExponent", 31], ["expectedBatchSize", 0], ["localEpochs", 0], ["unit", 0], ["unit", 4]] as const) {
      await expect(ledger.configure({ ...EXAMPLE, [field]: bad })).to.be.revertedWithCustomError(ledger, "InvalidParams").withArgs(field);
    }
    await expect(ledger.configure({ ...EXAMPLE, noisePeers: 3 })).to.be.revertedWithCustomError(ledger, "InvalidParams").withArgs("noisePeers/scaleBits");
    for (const [field, bad] of [["clipNormMilli", 0], ["noisePeers", 0], ["noisePeers", 257], ["scaleBits", 25]] as const) {
      await expect(ledger.configure({ ...DISTRIBUTED, [field]: bad })).to.be.revertedWithCustomError(ledger, "InvalidParams").withArgs(field);
    }
    await expect(ledger.configure({ ...DISTRIBUTED, expectedBatchSize: 64 })).to.be.revertedWithCustomError(ledger, "InvalidParams").withArgs("expectedBatchSize/localEpochs");
    await expect(ethers.deployContract("PrivacyLedger", [ethers.ZeroAddress])).to.be.revertedWithCustomError(ledger, "ZeroTask");
  });

  it("records the peer unit only as a copy of the task's own DP fields", async () => {
    const dp = { dpClipNormMilli: 500, dpNoiseMultiplierMilli: 1200, dpDeltaExponent: 5, dpEpsilonBudgetMilli: 8000 };
    const peerUnit = { unit: 1, clipNormMilli: 500, noiseMultiplierMilli: 1200, expectedBatchSize: 0, localEpochs: 0, deltaExponent: 5, epsilonBudgetMilli: 8000, noisePeers: 0, scaleBits: 0 };
    const { ledger } = await withLedger({ configure: false, start: false, config: dp });
    await expect(ledger.configure({ ...peerUnit, noiseMultiplierMilli: 1000 })).to.be.revertedWithCustomError(ledger, "PeerUnitMismatch").withArgs("noiseMultiplierMilli");
    await expect(ledger.configure({ ...peerUnit, epsilonBudgetMilli: 0 })).to.be.revertedWithCustomError(ledger, "PeerUnitMismatch").withArgs("epsilonBudgetMilli");
    await expect(ledger.configure({ ...peerUnit, expectedBatchSize: 64 })).to.be.revertedWithCustomError(ledger, "InvalidParams");
    await expect(ledger.configure(peerUnit)).to.emit(ledger, "PrivacyConfigured");
    expect(Number((await ledger.params()).unit)).to.equal(1);
    // Reports are for the example unit: the peer unit's epsilon comes with the aggregate reveals.
    const off = await withLedger({ configure: false, start: false });
    await expect(off.ledger.configure(peerUnit)).to.be.revertedWithCustomError(off.ledger, "PeerUnitMismatch").withArgs("clipNormMilli");
  });
});

describe("PrivacyLedger: epsilon reports", () => {
  it("takes one report per committed round from a registered trainer, with the commit's sample count", async () => {
    const { task, ledger, peers } = await withLedger();
    await (await task.connect(peers[1]).commitUpdate(1, cidRaw(ethers, "a"), 900)).wait();
    const tx = ledger.connect(peers[1]).report(1, 1234);
    await expect(tx).to.emit(ledger, "EpsilonReported").withArgs(1, peers[1].address, 0, 900, 1234);
    const gas = (await (await tx).wait())!.gasUsed;
    expect(gas).to.be.below(120_000n); // a first report: two fresh slots plus the task's views
    console.log(`      report gas: ${gas}`);
    expect((await ledger.epsilonOf(1, peers[1].address)).map(String)).to.deep.equal(["true", "1234"]);
    expect((await ledger.epsilonOf(1, peers[0].address)).map(String)).to.deep.equal(["false", "0"]);
    await expect(ledger.connect(peers[1]).report(1, 1300)).to.be.revertedWithCustomError(ledger, "AlreadyReported").withArgs(1, peers[1].address);
    const l = await ledger.latestOf(peers[1].address);
    expect([l.round, l.epsilonMilli, l.reports].map(Number)).to.deep.equal([1, 1234, 1]);
  });

  it("refuses a peer that did not commit in the round, an outsider, a round not open, and a report before configuration", async () => {
    const { task, ledger, peers, outsider } = await withLedger();
    await expect(ledger.connect(peers[0]).report(1, 100)).to.be.revertedWithCustomError(ledger, "NotCommitted").withArgs(1, peers[0].address);
    await expect(ledger.connect(outsider).report(1, 100)).to.be.revertedWithCustomError(ledger, "NotRegistered").withArgs(outsider.address);
    await expect(ledger.connect(peers[0]).report(2, 100)).to.be.revertedWithCustomError(ledger, "RoundNotOpen").withArgs(2, 1);
    await expect(ledger.connect(peers[0]).report(0, 100)).to.be.revertedWithCustomError(ledger, "RoundNotOpen").withArgs(0, 1);
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "z"), 10)).wait();
    await expect(ledger.connect(peers[0]).report(1, 0)).to.be.revertedWithCustomError(ledger, "ZeroEpsilon");
    const bare = await withLedger({ configure: false });
    await expect(bare.ledger.connect(peers[0]).report(1, 100)).to.be.revertedWithCustomError(bare.ledger, "NotConfigured");
  });

  it("keeps reports cumulative and in round order", async () => {
    const { task, ledger, peers } = await withLedger();
    await failRound(task, 1, peers[0]);
    await (await ledger.connect(peers[0]).report(1, 1500)).wait();
    await (await task.connect(peers[0]).commitUpdate(2, cidRaw(ethers, "r2"), 900)).wait();
    // A cheater claiming its loss went down since round 1.
    await expect(ledger.connect(peers[0]).report(2, 1499)).to.be.revertedWithCustomError(ledger, "EpsilonDecreased").withArgs(peers[0].address, 1500, 1499);
    await (await ledger.connect(peers[0]).report(2, 2100)).wait();
    const l = await ledger.latestOf(peers[0].address);
    expect([l.round, l.epsilonMilli, l.reports].map(Number)).to.deep.equal([2, 2100, 2]);
  });

  it("refuses out-of-order reports: a skipped round cannot be filled in later", async () => {
    const { task, ledger, peers } = await withLedger();
    await failRound(task, 1, peers[0]);
    await (await task.connect(peers[0]).commitUpdate(2, cidRaw(ethers, "r2"), 900)).wait();
    await (await ledger.connect(peers[0]).report(2, 2000)).wait();
    await expect(ledger.connect(peers[0]).report(1, 1000)).to.be.revertedWithCustomError(ledger, "ReportOutOfOrder").withArgs(1, 2);
  });

  it("refuses a report above the epsilon budget", async () => {
    const { task, ledger, peers } = await withLedger({ params: { epsilonBudgetMilli: 3000 } });
    await (await task.connect(peers[2]).commitUpdate(1, cidRaw(ethers, "b"), 900)).wait();
    await expect(ledger.connect(peers[2]).report(1, 3001)).to.be.revertedWithCustomError(ledger, "EpsilonOverBudget").withArgs(peers[2].address, 3001, 3000);
    await expect(ledger.connect(peers[2]).report(1, 3000)).to.emit(ledger, "EpsilonReported");
  });

  it("takes no reports in a peer-unit task", async () => {
    const dp = { dpClipNormMilli: 500, dpNoiseMultiplierMilli: 1200, dpDeltaExponent: 5, dpEpsilonBudgetMilli: 0 };
    const { task, ledger, peers } = await withLedger({ config: dp, params: { unit: 1, clipNormMilli: 500, noiseMultiplierMilli: 1200, expectedBatchSize: 0, localEpochs: 0, epsilonBudgetMilli: 0 } });
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "p"), 900)).wait();
    await expect(ledger.connect(peers[0]).report(1, 100)).to.be.revertedWithCustomError(ledger, "UnitTakesNoReports").withArgs(1);
  });

  it("takes per-round reports in a distributed-DP task, with the same rules as the example unit", async () => {
    const { task, ledger, peers } = await withLedger({ params: { ...DISTRIBUTED, epsilonBudgetMilli: 5000 } });
    const p = await ledger.params();
    expect([p.unit, p.noisePeers, p.scaleBits].map(Number)).to.deep.equal([3, 3, 8]);
    await expect(ledger.connect(peers[0]).report(1, 100)).to.be.revertedWithCustomError(ledger, "NotCommitted");
    await (await task.connect(peers[0]).commitUpdate(1, cidRaw(ethers, "d"), 900)).wait();
    await expect(ledger.connect(peers[0]).report(1, 5001)).to.be.revertedWithCustomError(ledger, "EpsilonOverBudget").withArgs(peers[0].address, 5001, 5000);
    await expect(ledger.connect(peers[0]).report(1, 1234)).to.emit(ledger, "EpsilonReported").withArgs(1, peers[0].address, 0, 900, 1234);
    await expect(ledger.connect(peers[0]).report(1, 1300)).to.be.revertedWithCustomError(ledger, "AlreadyReported");
  });
});

describe("Ignition: PrivacyLedgerModule", () => {
  it("deploys the ledger of a task and configures it with the defaults and overrides", async () => {
    const { task } = await deployTask(ethers);
    const { ledger } = await ignition.deploy(PrivacyLedgerModule, {
      parameters: { PrivacyLedgerModule: { task: await task.getAddress(), epsilonBudgetMilli: 8000 } },
    });
    const deployed = (await ethers.getContractAt("PrivacyLedger", await ledger.getAddress())) as unknown as PrivacyLedger;
    expect(await deployed.task()).to.equal(await task.getAddress());
    const p = await deployed.params();
    expect(Number(p.epsilonBudgetMilli)).to.equal(8000);
    expect([p.unit, p.clipNormMilli, p.noiseMultiplierMilli, p.expectedBatchSize, p.localEpochs, p.deltaExponent].map(Number))
      .to.deep.equal([PRIVACY_DEFAULTS.unit, PRIVACY_DEFAULTS.clipNormMilli, PRIVACY_DEFAULTS.noiseMultiplierMilli, PRIVACY_DEFAULTS.expectedBatchSize, PRIVACY_DEFAULTS.localEpochs, PRIVACY_DEFAULTS.deltaExponent]);
  });
});
