// Shared fixtures for the FederatedTask tests (imported by *.test.ts; not a test file itself).
import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { FederatedTask, IFederatedTask } from "../../types/ethers-contracts/index.ts";
import { TASK_DEFAULTS } from "../../ignition/modules/federatedTaskModule.ts";

export const TRAINER = 1;
export const VERIFIER = 2;
export const AGGREGATOR = 4;
export const ALL_ROLES = 7;
export const Phase = { None: 0, Training: 1, Verification: 2, Aggregation: 3, Finalized: 4, Failed: 5 } as const;

export type Config = IFederatedTask.TaskConfigStruct;

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
    robustRule: 2,
    ruleParam: 1,
    ...overrides,
  };
}

export interface Deployed {
  task: FederatedTask;
  initiator: HardhatEthersSigner;
  peers: HardhatEthersSigner[];
  outsider: HardhatEthersSigner;
}

/** Deploy, configure, register `roles.length` peers (peer i gets roles[i]) and optionally start. */
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
  if (opts.configure ?? true) await (await task.configureTask(defaultConfig(ethers, opts.config))).wait();
  for (let i = 0; i < roles.length; i++) {
    await (await task.connect(peers[i]).registerPeer(roles[i], `/ip4/127.0.0.1/tcp/${4001 + i}`, ethers.id(`pk${i}`))).wait();
  }
  if (opts.start) await (await task.startTask()).wait();
  return { task, initiator, peers, outsider };
}

/** Commit one update per listed peer in `round` (labels are unique per round and peer). */
export async function commitAll(
  ethers: HardhatEthers,
  task: FederatedTask,
  round: number,
  peers: HardhatEthersSigner[],
): Promise<string[]> {
  const cids: string[] = [];
  for (const [i, peer] of peers.entries()) {
    const cid = cidRaw(ethers, `update-${round}-${peer.address}`);
    cids.push(cid);
    await (await task.connect(peer).commitUpdate(round, cid, 100 + i)).wait();
  }
  return cids;
}

export async function voteAll(
  task: FederatedTask,
  round: number,
  votes: [HardhatEthersSigner, bigint][],
): Promise<void> {
  for (const [peer, mask] of votes) await (await task.connect(peer).submitVerdict(round, mask)).wait();
}
