// Gas of the FederatedTask hot paths on an in-process Hardhat (EDR) network.
// Usage: npm run bench:gas [-- --quick]   (--quick: 10 peers only -> bench/results/gas.quick.json)
// Writes bench/results/gas.json with the keys of before issue 13 (registerPeer, commitUpdate,
// submitVerdict = commitVerdict + revealVerdict, submitAggregate = commitAggregate + revealAggregate,
// finalize) plus commitVerdict, revealVerdict, closeVerification, selectCommittees, commitAggregate,
// revealAggregate, challenge, settleChallenge; each {"peers10": G, "peers100": G}.
// registerPeer / commitUpdate: median over the registrations / commits of the 100-peer round
// (10-peer with --quick); verdict figures: the first (non-closing) verifier; closeVerification: the
// last reveal (tally + settlement of every trainer and verifier); finalize: the last aggregate reveal
// (quorum check, aggregator settlement, next round). Committees are everyone eligible, plus a
// 100-peer run with a 15-verifier committee for the draw and close costs.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { network } from "hardhat";
import type { ContractTransactionResponse, Signer } from "ethers";
import type { FederatedTask } from "../types/ethers-contracts/index.ts";

const TARGETS = { commitUpdate: 70_000, verdictCommitReveal: 110_000, finalize100: 900_000 } as const;

interface Scenario {
  registerPeer: bigint[];
  commitUpdate: bigint[];
  selectCommittees: bigint;
  commitVerdict: bigint;
  revealVerdict: bigint;
  closeVerification: bigint;
  commitAggregate: bigint;
  revealAggregate: bigint;
  finalize: bigint;
  challenge: bigint;
  settleChallenge: bigint;
}

type Task = FederatedTask;

const cidV1Raw = (seed: number): string => {
  const digest = BigInt(seed + 1).toString(16).padStart(64, "0").replace(/^0/, "a");
  return "0x01551220" + digest;
};

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("transaction was not mined");
  return receipt.gasUsed;
}

function median(values: bigint[]): bigint {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * One round with `peers` peers (allow-list), everyone trains and verifies, ten aggregate.
 * Committees: `verifierCommittee` verifiers (0 = all) and all ten aggregators.
 */
async function runScenario(peers: number, verifierCommittee: number): Promise<Scenario> {
  const { ethers, networkHelpers } = await network.connect();
  const [initiator] = await ethers.getSigners();
  const wallets: Signer[] = [];
  for (let i = 0; i < peers; i++) {
    const wallet = new ethers.Wallet(ethers.keccak256(ethers.toUtf8Bytes(`peerfl-bench-${i}`)), ethers.provider);
    await networkHelpers.setBalance(wallet.address, 10n ** 20n);
    wallets.push(wallet);
  }
  const task = (await ethers.deployContract("FederatedTask", [initiator.address])) as unknown as Task;
  await (await task.connect(initiator).configureTask({
    modelSpecCid: cidV1Raw(1_000_001), initialModelCid: cidV1Raw(1_000_002), rounds: 3,
    trainingDuration: 3600, verificationDuration: 3600, aggregationDuration: 3600, revealDuration: 3600, challengeDuration: 3600,
    minTrainers: 2, verifierCommitteeSize: verifierCommittee, aggregatorCommitteeSize: 0, aggregatorQuorumBps: 6667,
    robustRule: 2, ruleParam: 1, admissionMode: 0, bondWei: 0, maxSamplesPerPeer: 60_000, copyCosineThresholdBps: 9990,
    sampleWeightClipMilli: 3000, dpClipNormMilli: 0, dpNoiseMultiplierMilli: 0, dpDeltaExponent: 5, dpEpsilonBudgetMilli: 0,
    reputationInitial: 10, reputationReward: 1, reputationPenalty: 4, reputationThreshold: 0, reputationMax: 20,
  })).wait();
  for (let i = 0; i < peers; i += 50) {
    await (await task.connect(initiator).admit(await Promise.all(wallets.slice(i, i + 50).map((w) => w.getAddress())))).wait();
  }
  const aggregators = Math.min(10, peers);
  const registerPeer: bigint[] = [];
  for (let i = 0; i < peers; i++) {
    const roles = i < aggregators ? 7 : 3;
    const multiaddr = `/ip4/127.0.0.1/tcp/${40000 + i}/p2p/12D3KooWPeer${String(i).padStart(40, "x")}`;
    registerPeer.push(await gasOf(task.connect(wallets[i]).registerPeer(roles, multiaddr, ethers.id(`key-${i}`))));
  }
  await (await task.connect(initiator).startTask()).wait();

  const commitUpdate: bigint[] = [];
  for (let i = 0; i < peers; i++) {
    commitUpdate.push(await gasOf(task.connect(wallets[i]).commitUpdate(1, cidV1Raw(i), 600 + i)));
  }
  commitUpdate.pop(); // the last commit closes the training window: not a plain commit
  const selectCommittees = await gasOf(task.selectCommittees(1));
  const address = await task.getAddress();
  const members: Signer[] = [];
  for (const w of wallets) if (await task.isVerifier(1, await w.getAddress())) members.push(w);
  // Each verifier rejects a different tenth of the updates, so the majority accepts all.
  const all = (1n << BigInt(peers)) - 1n;
  const masks = members.map((_, i) => {
    let mask = all;
    for (let j = i % 10; j < peers; j += 10) mask &= ~(1n << BigInt(j));
    return mask;
  });
  const salt = (i: number) => ethers.id(`salt-${i}`);
  const commitGas: bigint[] = [];
  for (const [i, m] of members.entries()) {
    const c = await task.verdictCommitment(1, await m.getAddress(), masks[i], salt(i));
    commitGas.push(await gasOf(task.connect(m).commitVerdict(1, c)));
  }
  const revealGas: bigint[] = [];
  for (const [i, m] of members.entries()) revealGas.push(await gasOf(task.connect(m).revealVerdict(1, masks[i], salt(i))));
  const aggregate = cidV1Raw(2_000_000);
  const aggCommit: bigint[] = [];
  for (let i = 0; i < aggregators; i++) {
    const c = await task.aggregateCommitment(1, await wallets[i].getAddress(), aggregate, 9100, 0, salt(i));
    aggCommit.push(await gasOf(task.connect(wallets[i]).commitAggregate(1, c)));
  }
  const aggReveal: bigint[] = [];
  for (let i = 0; i < aggregators; i++) aggReveal.push(await gasOf(task.connect(wallets[i]).revealAggregate(1, aggregate, 9100, 0, salt(i))));
  const challenge = await gasOf(task.connect(wallets[0]).challenge(1));
  const settleChallenge = await gasOf(task.connect(initiator).settleChallenge(0, false));
  return {
    registerPeer, commitUpdate, selectCommittees,
    // median over the non-closing verifiers (the first commit/reveal also pays the round's fresh bitmap slot)
    commitVerdict: median(commitGas.slice(0, -1)), revealVerdict: median(revealGas.slice(0, -1)), closeVerification: revealGas[revealGas.length - 1],
    commitAggregate: aggCommit[0], revealAggregate: aggReveal[0], finalize: aggReveal[aggReveal.length - 1],
    challenge, settleChallenge,
  };
}

const quick = process.argv.includes("--quick");
const small = await runScenario(10, 0);
const large = quick ? undefined : await runScenario(100, 0);
const committee = quick ? undefined : await runScenario(100, 15);
const base = large ?? small;
const pair = (f: (s: Scenario) => bigint) => ({ peers10: Number(f(small)), peers100: large ? Number(f(large)) : null });
const result = {
  registerPeer: Number(median(base.registerPeer)),
  commitUpdate: Number(median(base.commitUpdate)),
  // verdict = commitVerdict + revealVerdict of one (non-closing) verifier: the issue-13 successor of submitVerdict
  submitVerdict: pair((s) => s.commitVerdict + s.revealVerdict),
  commitVerdict: pair((s) => s.commitVerdict),
  revealVerdict: pair((s) => s.revealVerdict),
  closeVerification: pair((s) => s.closeVerification),
  selectCommittees: { ...pair((s) => s.selectCommittees), peers100committee15: committee ? Number(committee.selectCommittees) : null },
  closeVerificationCommittee15: committee ? Number(committee.closeVerification) : null,
  // aggregate = commitAggregate + revealAggregate of one (non-final) aggregator
  submitAggregate: pair((s) => s.commitAggregate + s.revealAggregate),
  commitAggregate: pair((s) => s.commitAggregate),
  revealAggregate: pair((s) => s.revealAggregate),
  finalize: pair((s) => s.finalize),
  challenge: pair((s) => s.challenge),
  settleChallenge: pair((s) => s.settleChallenge),
};

const max = (v: bigint[]): number => Number(v.reduce((a, b) => (b > a ? b : a)));
const min = (v: bigint[]): number => Number(v.reduce((a, b) => (b < a ? b : a)));
const mean = (v: bigint[]): number => Math.round(Number(v.reduce((a, b) => a + b, 0n)) / v.length);
const row = (name: string, p: { peers10: number; peers100: number | null }, target = "-"): [string, string, string, string] =>
  [name, String(p.peers10), String(p.peers100 ?? "-"), target];
const rows: [string, string, string, string][] = [
  ["registerPeer (median/min/max)", `${result.registerPeer} / ${min(base.registerPeer)} / ${max(base.registerPeer)}`, "", "-"],
  ["commitUpdate (median/mean/max)", `${result.commitUpdate} / ${mean(base.commitUpdate)} / ${max(base.commitUpdate)}`, "", `<= ${TARGETS.commitUpdate}`],
  row("selectCommittees (all)", result.selectCommittees),
  ["selectCommittees (15 of 100)", "", String(result.selectCommittees.peers100committee15 ?? "-"), "-"],
  row("commitVerdict", result.commitVerdict),
  row("revealVerdict", result.revealVerdict),
  row("verdict commit + reveal", result.submitVerdict, `<= ${TARGETS.verdictCommitReveal}`),
  row("closing reveal (tally+settle)", result.closeVerification),
  ["closing reveal, committee 15", "", String(result.closeVerificationCommittee15 ?? "-"), "-"],
  row("commitAggregate", result.commitAggregate),
  row("revealAggregate (non-final)", result.revealAggregate),
  row("finalize (last reveal)", result.finalize, `<= ${TARGETS.finalize100} @100`),
  row("challenge", result.challenge),
  row("settleChallenge (rejected)", result.settleChallenge),
];
console.log(["operation".padEnd(32), "10 peers".padEnd(24), "100 peers".padEnd(10), "target"].join(" "));
for (const [op, a, b, t] of rows) console.log([op.padEnd(32), a.padEnd(24), b.padEnd(10), t].join(" "));

// --quick has no 100-peer numbers: it writes gas.quick.json and leaves gas.json alone.
const out = join(dirname(fileURLToPath(import.meta.url)), "results", quick ? "gas.quick.json" : "gas.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
console.log(`wrote ${out}`);
