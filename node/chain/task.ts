import type { Contract } from "ethers";
import { bytesToCid } from "./cid.ts";

export const ROLE_TRAINER = 1;
export const ROLE_VERIFIER = 2;
export const ROLE_AGGREGATOR = 4;
export const Phase = { None: 0, Training: 1, Verification: 2, Aggregation: 3, Finalized: 4, Failed: 5 } as const;
export type PhaseValue = (typeof Phase)[keyof typeof Phase];
export const phaseName = (p: number): string => Object.keys(Phase).find((k) => Phase[k as keyof typeof Phase] === p) ?? `phase${p}`;

export interface TaskConfigView {
  modelSpecCid: string;
  initialModelCid: string;
  rounds: number;
  trainingDuration: number;
  verificationDuration: number;
  aggregationDuration: number;
  minTrainers: number;
  aggregatorQuorum: number;
  robustRule: number;
  ruleParam: number;
  dpClipNorm: number;
  dpNoiseMultiplier: number;
  dpDelta: number;
  dpEpsilonBudget: number;
  reputationThreshold: number;
}

export interface RoundView {
  round: number;
  phase: PhaseValue;
  phaseDeadline: number;
  globalModelCid: string;
  commitCount: number;
  verdictCount: number;
  aggregateCount: number;
  acceptedMask: bigint;
  finalCid: string;
  accuracyBps: number;
  cumulativeEpsilonMilli: number;
}

export interface CommitView { index: number; trainer: string; cid: string; numSamples: number }

export async function readTaskConfig(task: Contract): Promise<TaskConfigView> {
  const c = await task.taskConfig();
  return {
    modelSpecCid: bytesToCid(c.modelSpecCid),
    initialModelCid: bytesToCid(c.initialModelCid),
    rounds: Number(c.rounds),
    trainingDuration: Number(c.trainingDuration),
    verificationDuration: Number(c.verificationDuration),
    aggregationDuration: Number(c.aggregationDuration),
    minTrainers: Number(c.minTrainers),
    aggregatorQuorum: Number(c.aggregatorQuorum),
    robustRule: Number(c.robustRule),
    ruleParam: Number(c.ruleParam),
    dpClipNorm: Number(c.dpClipNormMilli) / 1000,
    dpNoiseMultiplier: Number(c.dpNoiseMultiplierMilli) / 1000,
    dpDelta: Number(c.dpDeltaExponent) > 0 ? 10 ** -Number(c.dpDeltaExponent) : 0,
    dpEpsilonBudget: Number(c.dpEpsilonBudgetMilli) / 1000,
    reputationThreshold: Number(c.reputationThreshold),
  };
}

export async function readRound(task: Contract, round: number): Promise<RoundView> {
  const r = await task.getRound(round);
  return {
    round,
    phase: Number(r.phase) as PhaseValue,
    phaseDeadline: Number(r.phaseDeadline),
    globalModelCid: bytesToCid(r.globalModelCid),
    commitCount: Number(r.commitCount),
    verdictCount: Number(r.verdictCount),
    aggregateCount: Number(r.aggregateCount),
    acceptedMask: BigInt(r.acceptedMask),
    finalCid: bytesToCid(r.finalCid),
    accuracyBps: Number(r.accuracyBps),
    cumulativeEpsilonMilli: Number(r.cumulativeEpsilonMilli),
  };
}

export async function readCommits(task: Contract, round: number, count: number): Promise<CommitView[]> {
  const out: CommitView[] = [];
  for (let i = 0; i < count; i++) {
    const c = await task.getCommit(round, i);
    out.push({ index: i, trainer: c.trainer as string, cid: bytesToCid(c.cid), numSamples: Number(c.numSamples) });
  }
  return out;
}

export interface PeerView { address: string; peerIndex: number; roles: number; active: boolean; reputation: number; multiaddr: string; publicKey: string }

export async function readPeers(task: Contract): Promise<PeerView[]> {
  const n = Number(await task.peerCount());
  const peers: PeerView[] = [];
  for (let i = 0; i < n; i++) {
    const address = (await task.peerAt(i)) as string;
    const p = await task.getPeer(address);
    peers.push({
      address, peerIndex: Number(p.peerIndex), roles: Number(p.roles), active: Boolean(p.active),
      reputation: Number(p.reputation), multiaddr: p.multiaddr as string, publicKey: p.publicKey as string,
    });
  }
  return peers;
}

export const maskHas = (mask: bigint, i: number): boolean => ((mask >> BigInt(i)) & 1n) === 1n;
export const maskFrom = (accepted: boolean[]): bigint => accepted.reduce((m, a, i) => (a ? m | (1n << BigInt(i)) : m), 0n);
