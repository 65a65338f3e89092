// Shared fixtures for the FederatedTask tests (imported by *.test.ts; not a test file itself).
import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { FederatedTask, IFederatedTask } from "../../types/ethers-contracts/index.ts";
import { TASK_DEFAULTS } from "../../ignition/modules/federatedTaskModule.ts";

export const TRAINER = 1;
export const VERIFIER = 2;
export const AGGREGATOR = 4;
export const ALL_ROLES = 7;
export const Phase = {
  None: 0, Training: 1, VerifyCommit: 2, VerifyReveal: 3, AggregateCommit: 4, AggregateReveal: 5, Finalized: 6, Failed: 7,
} as const;

export type Config = IFederatedTask.TaskConfigStruct;
type Signer = HardhatEthersSigner;

const digestOf = (ethers: HardhatEthers, label: string): string => ethers.id(label).slice(2);
/** Binary CIDv0 (0x12 0x20 digest) of a label's keccak. */
export const cidV0 = (ethers: HardhatEthers, label: string): string => "0x1220" + digestOf(ethers, label);
/** Binary CIDv1 raw (0x01 0x55 0x12 0x20 digest). */
export const cidRaw = (ethers: HardhatEthers, label: string): string => "0x01551220" + digestOf(ethers, label);
/** Binary CIDv1 dag-pb (0x01 0x70 0x12 0x20 digest). */
export const cidDagPb = (ethers: HardhatEthers, label: string): string => "0x01701220" + digestOf(ethers, label);

export function defaultConfig(ethers: HardhatEthers, overrides: Partial<Config> = {}): Config {
  return {
    ...TASK_DEFAULTS,
    modelSpecCid: cidRaw(ethers, "spec"),
    initialModelCid: cidV0(ethers, "initial"),
    rounds: 3,
    trainingDuration: 100,
    verificationDuration: 50,
    aggregationDuration: 50,
    revealDuration: 40,
    challengeDuration: 60,
    robustRule: 2,
    ruleParam: 1,
    ...overrides,
  };
}

export interface Deployed {
  task: FederatedTask;
  initiator: Signer;
  peers: Signer[];
  outsider: Signer;
}

/**
 * Deploy, configure, admit every signer but the outsider (allow-list mode) or pay `bondWei`
 * (bond mode), register `roles.length` peers (peer i gets roles[i]) and optionally start.
 */
export async function deployTask(
  ethers: HardhatEthers,
  opts: { roles?: number[]; config?: Partial<Config>; start?: boolean; configure?: boolean } = {},
): Promise<Deployed> {
  const signers = await ethers.getSigners();
  const [initiator] = signers;
  const roles = opts.roles ?? [ALL_ROLES, ALL_ROLES, ALL_ROLES, ALL_ROLES];
  const peers = signers.slice(1, 1 + Math.max(roles.length, 10)); // the first roles.length are registered
  const outsider = signers[signers.length - 1];
  const task = (await ethers.deployContract("FederatedTask", [initiator.address])) as unknown as FederatedTask;
  if (opts.configure ?? true) {
    const config = defaultConfig(ethers, opts.config);
    await (await task.configureTask(config)).wait();
    await (await task.admit(peers.map((p) => p.address))).wait();
    const value = BigInt(config.admissionMode) === 1n ? BigInt(config.bondWei) : 0n;
    for (let i = 0; i < roles.length; i++) {
      await (await task.connect(peers[i]).registerPeer(roles[i], `/ip4/127.0.0.1/tcp/${4001 + i}`, ethers.id(`pk${i}`), { value })).wait();
    }
  }
  if (opts.start) await (await task.startTask()).wait();
  return { task, initiator, peers, outsider };
}

/** Commit one update per listed peer in `round` (labels are unique per round and peer). */
export async function commitAll(ethers: HardhatEthers, task: FederatedTask, round: number, peers: Signer[]): Promise<string[]> {
  const cids: string[] = [];
  for (const [i, peer] of peers.entries()) {
    const cid = cidRaw(ethers, `update-${round}-${peer.address}`);
    cids.push(cid);
    await (await task.connect(peer).commitUpdate(round, cid, 100 + i)).wait();
  }
  return cids;
}

export const saltOf = (ethers: HardhatEthers, peer: Signer, round: number): string => ethers.id(`salt-${round}-${peer.address}`);

/** keccak256(abi.encode(task, round, verifier, mask, salt)) computed in TypeScript. */
export function verdictCommitment(ethers: HardhatEthers, task: string, round: number, verifier: string, mask: bigint, salt: string): string {
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(["address", "uint32", "address", "uint256", "bytes32"], [task, round, verifier, mask, salt]),
  );
}

/** keccak256(abi.encode(task, round, aggregator, cid, accuracyBps, epsilonMilli, salt)) computed in TypeScript. */
export function aggregateCommitment(
  ethers: HardhatEthers, task: string, round: number, aggregator: string, cid: string, accuracyBps: number, epsilonMilli: number, salt: string,
): string {
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(
      ["address", "uint32", "address", "bytes", "uint16", "uint32", "bytes32"],
      [task, round, aggregator, cid, accuracyBps, epsilonMilli, salt],
    ),
  );
}

/** Commit every verdict, then reveal every one (in order). */
export async function verdictAll(ethers: HardhatEthers, task: FederatedTask, round: number, votes: [Signer, bigint][]): Promise<void> {
  const address = await task.getAddress();
  for (const [peer, mask] of votes) {
    await (await task.connect(peer).commitVerdict(round, verdictCommitment(ethers, address, round, peer.address, mask, saltOf(ethers, peer, round)))).wait();
  }
  for (const [peer, mask] of votes) await (await task.connect(peer).revealVerdict(round, mask, saltOf(ethers, peer, round))).wait();
}

/** Commit every aggregate, then reveal every one; returns the last reveal's transaction. */
export async function aggregateAll(
  ethers: HardhatEthers, task: FederatedTask, round: number, subs: [Signer, string, number?, number?][],
) {
  const address = await task.getAddress();
  for (const [peer, cid, acc = 9000, eps = 0] of subs) {
    const c = aggregateCommitment(ethers, address, round, peer.address, cid, acc, eps, saltOf(ethers, peer, round));
    await (await task.connect(peer).commitAggregate(round, c)).wait();
  }
  let last;
  for (const [peer, cid, acc = 9000, eps = 0] of subs) {
    last = await task.connect(peer).revealAggregate(round, cid, acc, eps, saltOf(ethers, peer, round));
    await last.wait();
  }
  return last!;
}

/** Peers (from `candidates`) that are in the verifier / aggregator committee of `round`. */
export async function committee(task: FederatedTask, round: number, candidates: Signer[], role: "verifier" | "aggregator"): Promise<Signer[]> {
  const out: Signer[] = [];
  for (const p of candidates) {
    if (role === "verifier" ? await task.isVerifier(round, p.address) : await task.isAggregator(round, p.address)) out.push(p);
  }
  return out;
}
