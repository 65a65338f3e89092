// Gas of the FederatedTask hot paths on an in-process Hardhat (EDR) network.
// Usage: npm run bench:gas [-- --quick]   (--quick: 10 peers only -> bench/results/gas.quick.json)
// Writes bench/results/gas.json as
// {"registerPeer": G, "commitUpdate": G, "submitVerdict": {"peers10": G, "peers100": G},
//  "submitAggregate": {"peers10": G, "peers100": G}, "finalize": {"peers10": G, "peers100": G}}
// registerPeer / commitUpdate: median over the registrations / commits of the 100-peer round
// (10-peer with --quick); submitVerdict: the first (non-closing) verdict; submitAggregate: the first
// (non-finalizing) aggregate; finalize: the aggregate that reaches the quorum with every peer committed.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { network } from "hardhat";
import type { ContractTransactionResponse, Signer } from "ethers";
import type { FederatedTask } from "../types/ethers-contracts/index.ts";

const TARGETS = { commitUpdate: 70_000, submitVerdict: 60_000, finalize100: 900_000 } as const;

interface Scenario {
  registerPeer: bigint[];
  commitUpdate: bigint[];
  submitVerdict: bigint;
  submitAggregate: bigint;
  finalize: bigint;
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

async function runScenario(peers: number): Promise<Scenario> {
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
    trainingDuration: 3600, verificationDuration: 3600, aggregationDuration: 3600,
    minTrainers: 2, aggregatorQuorum: 2, robustRule: 2, ruleParam: 1,
    dpClipNormMilli: 0, dpNoiseMultiplierMilli: 0, dpDeltaExponent: 5, dpEpsilonBudgetMilli: 0,
    reputationInitial: 10, reputationReward: 1, reputationPenalty: 4, reputationThreshold: 0, reputationMax: 20,
  })).wait();

  const registerPeer: bigint[] = [];
  for (let i = 0; i < peers; i++) {
    const roles = i < 2 ? 7 : 3; // everyone trains and verifies; two of them also aggregate
    const multiaddr = `/ip4/127.0.0.1/tcp/${40000 + i}/p2p/12D3KooWPeer${String(i).padStart(40, "x")}`;
    registerPeer.push(await gasOf(task.connect(wallets[i]).registerPeer(roles, multiaddr, ethers.id(`key-${i}`))));
  }
  await (await task.connect(initiator).startTask()).wait();

  const commitUpdate: bigint[] = [];
  for (let i = 0; i < peers; i++) {
    commitUpdate.push(await gasOf(task.connect(wallets[i]).commitUpdate(1, cidV1Raw(i), 600 + i)));
  }
  commitUpdate.pop(); // the last commit closes the training window: not a plain commit
  // Each verifier rejects a different tenth of the updates, so the majority accepts all.
  const all = (1n << BigInt(peers)) - 1n;
  const verdictGas: bigint[] = [];
  for (let i = 0; i < peers; i++) {
    let mask = all;
    for (let j = i % 10; j < peers; j += 10) mask &= ~(1n << BigInt(j));
    verdictGas.push(await gasOf(task.connect(wallets[i]).submitVerdict(1, mask)));
  }
  const aggregate = cidV1Raw(2_000_000);
  const submitAggregate = await gasOf(task.connect(wallets[0]).submitAggregate(1, aggregate, 9100, 0));
  const finalize = await gasOf(task.connect(wallets[1]).submitAggregate(1, aggregate, 9120, 0));
  return { registerPeer, commitUpdate, submitVerdict: verdictGas[0], submitAggregate, finalize };
}

const quick = process.argv.includes("--quick");
const small = await runScenario(10);
const large = quick ? undefined : await runScenario(100);
const base = large ?? small;
const result = {
  registerPeer: Number(median(base.registerPeer)),
  commitUpdate: Number(median(base.commitUpdate)),
  submitVerdict: { peers10: Number(small.submitVerdict), peers100: large ? Number(large.submitVerdict) : null },
  submitAggregate: { peers10: Number(small.submitAggregate), peers100: large ? Number(large.submitAggregate) : null },
  finalize: { peers10: Number(small.finalize), peers100: large ? Number(large.finalize) : null },
};

const max = (v: bigint[]): number => Number(v.reduce((a, b) => (b > a ? b : a)));
const min = (v: bigint[]): number => Number(v.reduce((a, b) => (b < a ? b : a)));
const mean = (v: bigint[]): number => Math.round(Number(v.reduce((a, b) => a + b, 0n)) / v.length);
const rows: [string, string, string, string][] = [
  ["registerPeer (median/min/max)", `${result.registerPeer} / ${min(base.registerPeer)} / ${max(base.registerPeer)}`, "", "-"],
  ["commitUpdate (median/mean/max)", `${result.commitUpdate} / ${mean(base.commitUpdate)} / ${max(base.commitUpdate)}`, "", `<= ${TARGETS.commitUpdate}`],
  ["submitVerdict", String(result.submitVerdict.peers10), String(result.submitVerdict.peers100 ?? "-"), `<= ${TARGETS.submitVerdict}`],
  ["submitAggregate (non-final)", String(result.submitAggregate.peers10), String(result.submitAggregate.peers100 ?? "-"), "-"],
  ["finalize (quorum submission)", String(result.finalize.peers10), String(result.finalize.peers100 ?? "-"), `<= ${TARGETS.finalize100} @100`],
];
console.log(["operation".padEnd(32), "10 peers".padEnd(24), "100 peers".padEnd(10), "target"].join(" "));
for (const [op, a, b, t] of rows) console.log([op.padEnd(32), a.padEnd(24), b.padEnd(10), t].join(" "));

// --quick has no 100-peer numbers: it writes gas.quick.json and leaves gas.json alone.
const out = join(dirname(fileURLToPath(import.meta.url)), "results", quick ? "gas.quick.json" : "gas.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
console.log(`wrote ${out}`);
