/**
 * Contract views as plain records with string CIDs, for drivers that print or compare them (the
 * demo's summaries, the task CLI, tests). A thin adapter over TaskReader (task-chain.ts); the
 * names and codecs come from node/protocol.
 */
import type { Contract } from "ethers";
import type { PhaseValue } from "../protocol/ids.ts";
import { taskReader, type PeerInfo } from "./task-chain.ts";

export { Phase, phaseName, ROLE_BITS } from "../protocol/ids.ts";
export { maskFrom, maskHas } from "../protocol/codecs.ts";
export type { PeerInfo as PeerView } from "./task-chain.ts";

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

export async function readTaskConfig(task: Contract) {
  return taskReader(task).taskConfig();
}

export async function readRound(task: Contract, round: number): Promise<RoundView> {
  const r = await taskReader(task).round(round);
  return { ...r, globalModelCid: r.globalModelCid?.toString() ?? "", finalCid: r.finalCid?.toString() ?? "" };
}

export async function readCommits(task: Contract, round: number, count: number): Promise<CommitView[]> {
  return (await taskReader(task).commits(round, count)).map((c) => ({ ...c, cid: c.cid.toString() }));
}

export async function readPeers(task: Contract): Promise<PeerInfo[]> {
  return taskReader(task).peers();
}
