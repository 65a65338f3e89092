/**
 * Rounds, peers and per-round statistics reconstructed from the task contract's events (the
 * architecture's promise: the explorer is built from events alone).
 */
import { failureReasonText, phaseName, roleNames } from "./abi.ts";
import type { ChainIndex, ContractEvent } from "./chain-index.ts";
import { cidToString } from "./cid.ts";
import { maskBit, maskToBits } from "./values.ts";

export interface TimelineEntry {
  phase: string;
  event: string;
  blockNumber: number;
  timestamp: number;
  txHash: string;
  deadline: number | null;
  detail: string | null;
}

export interface CommitView {
  index: number;
  trainer: string;
  cid: string;
  numSamples: number;
  txHash: string;
  blockNumber: number;
  /** Fate once the round's accepted mask is fixed; null before. */
  accepted: boolean | null;
}

export interface VerdictView {
  verifier: string;
  mask: string;
  /** Per commit index: accepted by this verifier. */
  accepts: boolean[];
  txHash: string;
}

export interface AggregateView {
  aggregator: string;
  cid: string;
  accuracyBps: number;
  cumulativeEpsilonMilli: number;
  agreesWithLeader: boolean;
  /** Whether this submission equals the finalized CID (null while the round is open). */
  matchesFinal: boolean | null;
  txHash: string;
}

export interface ReputationView {
  peer: string;
  round: number;
  oldScore: number;
  newScore: number;
  accepted: boolean;
  txHash: string;
  blockNumber: number;
}

export interface RoundView {
  round: number;
  phase: string;
  startedAt: number | null;
  startGlobalCid: string;
  finalCid: string | null;
  accuracyBps: number | null;
  cumulativeEpsilonMilli: number | null;
  acceptedMask: string | null;
  acceptedIndices: number[];
  failedReason: string | null;
  timeline: TimelineEntry[];
  commits: CommitView[];
  verdicts: VerdictView[];
  aggregates: AggregateView[];
  reputation: ReputationView[];
  gasUsed: string;
  txCount: number;
  failedTxCount: number;
}

export interface RoundSummary {
  round: number;
  phase: string;
  commits: number;
  accepted: number | null;
  rejected: number | null;
  verdicts: number;
  aggregates: number;
  finalCid: string | null;
  accuracyBps: number | null;
  gasUsed: string;
  startedAt: number | null;
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));
const str = (v: unknown): string => String(v ?? "");

function phaseEventLabel(e: ContractEvent): string {
  switch (e.name) {
    case "RoundStarted":
      return "Training";
    case "PhaseAdvanced":
      return phaseName(num(e.args.phase));
    case "RoundFinalized":
      return "Finalized";
    case "RoundFailed":
      return "Failed";
    default:
      return e.name;
  }
}

export function roundNumbers(index: ChainIndex): number[] {
  const rounds = new Set<number>();
  for (const e of index.events) if (e.round !== null && e.round > 0) rounds.add(e.round);
  return [...rounds].sort((a, b) => a - b);
}

/** Everything the events say about `round`; null when no event mentions it. */
export function buildRound(index: ChainIndex, round: number): RoundView | null {
  const events = index.eventsOfRound(round);
  if (events.length === 0) return null;
  const timeline: TimelineEntry[] = [];
  const commits: CommitView[] = [];
  const verdicts: VerdictView[] = [];
  const aggregates: AggregateView[] = [];
  const reputation: ReputationView[] = [];
  let phase = "None";
  let startedAt: number | null = null;
  let startGlobalCid = "";
  let finalCid: string | null = null;
  let accuracyBps: number | null = null;
  let cumulativeEpsilonMilli: number | null = null;
  let acceptedMask: bigint | null = null;
  let failedReason: string | null = null;

  for (const e of events) {
    const a = e.args;
    switch (e.name) {
      case "RoundStarted":
        startedAt = e.timestamp;
        startGlobalCid = cidToString(str(a.globalModelCid));
        break;
      case "UpdateCommitted":
        commits.push({
          index: num(a.commitIndex),
          trainer: str(a.trainer),
          cid: cidToString(str(a.cid)),
          numSamples: num(a.numSamples),
          txHash: e.txHash,
          blockNumber: e.blockNumber,
          accepted: null,
        });
        break;
      case "VerdictSubmitted":
        verdicts.push({ verifier: str(a.verifier), mask: str(a.acceptedMask), accepts: [], txHash: e.txHash });
        break;
      case "AcceptedMaskComputed":
        acceptedMask = BigInt(str(a.acceptedMask));
        break;
      case "AggregateSubmitted":
        aggregates.push({
          aggregator: str(a.aggregator),
          cid: cidToString(str(a.cid)),
          accuracyBps: num(a.accuracyBps),
          cumulativeEpsilonMilli: num(a.cumulativeEpsilonMilli),
          agreesWithLeader: Boolean(a.agreesWithLeader),
          matchesFinal: null,
          txHash: e.txHash,
        });
        break;
      case "RoundFinalized":
        finalCid = cidToString(str(a.globalModelCid));
        acceptedMask = BigInt(str(a.acceptedMask));
        accuracyBps = num(a.accuracyBps);
        cumulativeEpsilonMilli = num(a.cumulativeEpsilonMilli);
        break;
      case "RoundFailed":
        failedReason = failureReasonText(num(a.reason));
        break;
      case "ReputationChanged":
        reputation.push({
          peer: str(a.peer),
          round,
          oldScore: num(a.oldScore),
          newScore: num(a.newScore),
          accepted: Boolean(a.accepted),
          txHash: e.txHash,
          blockNumber: e.blockNumber,
        });
        break;
    }
    if (["RoundStarted", "PhaseAdvanced", "RoundFinalized", "RoundFailed"].includes(e.name)) {
      phase = phaseEventLabel(e);
      const deadline = e.name === "RoundStarted" ? num(a.trainingDeadline) : e.name === "PhaseAdvanced" ? num(a.deadline) : null;
      timeline.push({
        phase,
        event: e.name,
        blockNumber: e.blockNumber,
        timestamp: e.timestamp,
        txHash: e.txHash,
        deadline: deadline || null,
        detail: e.name === "RoundFailed" ? failedReason : null,
      });
    }
  }
  commits.sort((x, y) => x.index - y.index);
  for (const v of verdicts) v.accepts = maskToBits(v.mask, commits.length);
  if (acceptedMask !== null) for (const c of commits) c.accepted = maskBit(acceptedMask, c.index);
  if (finalCid !== null) for (const g of aggregates) g.matchesFinal = g.cid === finalCid;
  if (failedReason !== null) for (const c of commits) c.accepted = c.accepted ?? false;

  let gas = 0n;
  let txCount = 0;
  let failedTxCount = 0;
  for (const tx of index.contractTxs.values()) {
    if (tx.round !== round) continue;
    gas += tx.gasUsed;
    txCount++;
    if (tx.status !== 1) failedTxCount++;
  }
  return {
    round,
    phase,
    startedAt,
    startGlobalCid,
    finalCid,
    accuracyBps,
    cumulativeEpsilonMilli,
    acceptedMask: acceptedMask === null ? null : "0x" + acceptedMask.toString(16),
    acceptedIndices: commits.filter((c) => c.accepted).map((c) => c.index),
    failedReason,
    timeline,
    commits,
    verdicts,
    aggregates,
    reputation,
    gasUsed: gas.toString(),
    txCount,
    failedTxCount,
  };
}

export function summarizeRound(view: RoundView): RoundSummary {
  const decided = view.acceptedMask !== null;
  const accepted = view.commits.filter((c) => c.accepted).length;
  return {
    round: view.round,
    phase: view.phase,
    commits: view.commits.length,
    accepted: decided ? accepted : null,
    rejected: decided ? view.commits.length - accepted : null,
    verdicts: view.verdicts.length,
    aggregates: view.aggregates.length,
    finalCid: view.finalCid,
    accuracyBps: view.accuracyBps,
    gasUsed: view.gasUsed,
    startedAt: view.startedAt,
  };
}

export function allRounds(index: ChainIndex): RoundView[] {
  return roundNumbers(index)
    .map((r) => buildRound(index, r))
    .filter((v): v is RoundView => v !== null);
}

// ------------------------------------------------------------------ peers

export interface PeerView {
  address: string;
  peerIndex: number | null;
  roles: string[];
  rolesMask: number;
  multiaddr: string;
  publicKey: string;
  active: boolean;
  registeredBlock: number;
  reputation: number | null;
  reputationHistory: ReputationView[];
  excludedInRound: number | null;
  updates: { round: number; commitIndex: number; cid: string; numSamples: number; fate: string; txHash: string }[];
  verdictsSubmitted: number;
  aggregatesSubmitted: number;
}

/** Peers as the events describe them (registration, address/role changes, reputation). */
export function buildPeers(index: ChainIndex): Map<string, PeerView> {
  const peers = new Map<string, PeerView>();
  const key = (a: unknown) => str(a).toLowerCase();
  for (const e of index.events) {
    const a = e.args;
    switch (e.name) {
      case "PeerRegistered": {
        const existing = peers.get(key(a.peer));
        const view: PeerView = existing ?? {
          address: str(a.peer),
          peerIndex: null,
          roles: [],
          rolesMask: 0,
          multiaddr: "",
          publicKey: "",
          active: true,
          registeredBlock: e.blockNumber,
          reputation: null,
          reputationHistory: [],
          excludedInRound: null,
          updates: [],
          verdictsSubmitted: 0,
          aggregatesSubmitted: 0,
        };
        view.peerIndex = num(a.peerIndex);
        view.rolesMask = num(a.roles);
        view.roles = roleNames(view.rolesMask);
        view.multiaddr = str(a.multiaddr);
        view.publicKey = str(a.publicKey);
        view.active = true;
        peers.set(key(a.peer), view);
        break;
      }
      case "PeerAddressUpdated": {
        const p = peers.get(key(a.peer));
        if (p) p.multiaddr = str(a.multiaddr);
        break;
      }
      case "PeerRolesRevoked": {
        const p = peers.get(key(a.peer));
        if (p) {
          p.rolesMask = num(a.remainingRoles);
          p.roles = roleNames(p.rolesMask);
        }
        break;
      }
      case "PeerLeft": {
        const p = peers.get(key(a.peer));
        if (p) p.active = false;
        break;
      }
      case "ReputationChanged": {
        const p = peers.get(key(a.peer));
        if (p) {
          p.reputationHistory.push({
            peer: p.address,
            round: num(a.round),
            oldScore: num(a.oldScore),
            newScore: num(a.newScore),
            accepted: Boolean(a.accepted),
            txHash: e.txHash,
            blockNumber: e.blockNumber,
          });
          p.reputation = num(a.newScore);
        }
        break;
      }
      case "PeerExcluded": {
        const p = peers.get(key(a.peer));
        if (p) p.excludedInRound = num(a.round);
        break;
      }
      case "VerdictSubmitted": {
        const p = peers.get(key(a.verifier));
        if (p) p.verdictsSubmitted++;
        break;
      }
      case "AggregateSubmitted": {
        const p = peers.get(key(a.aggregator));
        if (p) p.aggregatesSubmitted++;
        break;
      }
    }
  }
  for (const round of allRounds(index)) {
    for (const c of round.commits) {
      const p = peers.get(c.trainer.toLowerCase());
      if (!p) continue;
      const fate = c.accepted === true ? "accepted" : c.accepted === false ? (round.failedReason ? "round failed" : "rejected") : "pending";
      p.updates.push({ round: round.round, commitIndex: c.index, cid: c.cid, numSamples: c.numSamples, fate, txHash: c.txHash });
    }
  }
  return peers;
}

/** Where a CID appears on chain (commits, aggregates, finalized/start models, task config). */
export interface CidUse {
  kind: string;
  round: number | null;
  by: string | null;
  txHash: string;
}

export function cidUses(index: ChainIndex, cid: string): CidUse[] {
  const uses: CidUse[] = [];
  for (const e of index.events) {
    const a = e.args;
    const push = (kind: string, field: unknown, by: unknown = null) => {
      if (typeof field === "string" && field.startsWith("0x") && cidToString(field) === cid) {
        uses.push({ kind, round: e.round, by: by === null ? null : str(by), txHash: e.txHash });
      }
    };
    switch (e.name) {
      case "UpdateCommitted":
        push("update committed", a.cid, a.trainer);
        break;
      case "AggregateSubmitted":
        push("aggregate submitted", a.cid, a.aggregator);
        break;
      case "RoundFinalized":
        push("finalized global model", a.globalModelCid);
        break;
      case "RoundStarted":
        push("round start model", a.globalModelCid);
        break;
      case "TaskCompleted":
        push("task's final model", a.globalModelCid);
        break;
      case "TaskConfigured": {
        const config = a.config as Record<string, unknown>;
        push("model spec", config.modelSpecCid, a.initiator);
        push("initial model", config.initialModelCid, a.initiator);
        break;
      }
    }
  }
  return uses;
}

/** Per-round series for the live charts. `sizes` maps CID -> byte size when known. */
export interface RoundStats {
  round: number;
  phase: string;
  accuracy: number | null;
  accepted: number;
  rejected: number;
  gasUsed: number;
  bytesCommitted: number | null;
  bytesKnown: number;
  commits: number;
}

export function roundStats(index: ChainIndex, sizes: ReadonlyMap<string, number>): RoundStats[] {
  return allRounds(index).map((r) => {
    let bytes = 0;
    let known = 0;
    for (const c of r.commits) {
      const size = sizes.get(c.cid);
      if (size !== undefined) {
        bytes += size;
        known++;
      }
    }
    const decided = r.acceptedMask !== null;
    const accepted = r.commits.filter((c) => c.accepted).length;
    return {
      round: r.round,
      phase: r.phase,
      accuracy: r.accuracyBps === null ? null : r.accuracyBps / 100,
      accepted: decided ? accepted : 0,
      rejected: decided ? r.commits.length - accepted : 0,
      gasUsed: Number(r.gasUsed),
      bytesCommitted: known > 0 ? bytes : null,
      bytesKnown: known,
      commits: r.commits.length,
    };
  });
}
