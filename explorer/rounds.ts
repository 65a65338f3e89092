/**
 * Rounds, peers, challenges and per-round statistics reconstructed from the task contract's events
 * (the architecture's promise: the explorer is built from events alone). The round protocol is
 * docs/protocol.md: committees drawn from a seed block, commit–reveal verdicts and aggregates,
 * challenges of finalized rounds, sticky bans and bonds.
 */
import { banReasonText, failureReasonText, Phase, phaseName, reputationReasonText, roleNames } from "./abi.ts";
import type { ChainIndex, ContractEvent } from "./chain-index.ts";
import { cidToString } from "./cid.ts";
import { maskBit, maskToBits } from "./values.ts";

export interface TimelineEntry {
  /** "phase": the round entered `phase`; "milestone": something happened inside `phase`. */
  kind: "phase" | "milestone";
  phase: string;
  event: string;
  blockNumber: number;
  timestamp: number;
  txHash: string;
  deadline: number | null;
  detail: string | null;
}

/** What the verifier majority decided about one commit. */
export type CommitFate = "accepted" | "rejected" | "undecided" | "pending" | "round failed";

export interface CommitView {
  index: number;
  trainer: string;
  cid: string;
  numSamples: number;
  txHash: string;
  blockNumber: number;
  /** True/false once verification closed (false also for "undecided"); null before. */
  accepted: boolean | null;
  /** accepted: > 1/2 of the committee revealed accept; rejected: > 1/2 revealed reject; undecided: neither. */
  fate: CommitFate;
}

export type CommitteeMembership = { index: number; address: string | null };

export interface CommitteesView {
  /** Block whose hash seeds the draw (CommitteeSeedFixed; the last one when it was re-anchored). */
  seedBlock: number;
  seedFixedTx: string;
  /** How many times the seed was re-anchored (nobody drew within 256 blocks). */
  reanchored: number;
  verifierPool: CommitteeMembership[];
  aggregatorPool: CommitteeMembership[];
  /** Whether CommitteesSelected was emitted; before that the members may come from getCommittees. */
  selected: boolean;
  selectedBlock: number | null;
  selectedTx: string | null;
  /** The call that drew them: selectCommittees, or the first commitVerdict / commitAggregate. */
  selectedBy: { method: string | null; from: string | null } | null;
  seed: string | null;
  verifiers: CommitteeMembership[];
  aggregators: CommitteeMembership[];
  /** True when verifiers/aggregators were computed by the getCommittees view (not stored yet). */
  fromView: boolean;
}

/** One verifier's part in a round: its commit, its reveal (with the mask), or its absence. */
export interface VerdictView {
  verifier: string;
  inCommittee: boolean;
  committed: boolean;
  commitment: string | null;
  commitTx: string | null;
  revealed: boolean;
  /** "revealed", "awaiting reveal" (reveal window open), "not revealed" (committed, window closed), "no commit". */
  status: "revealed" | "awaiting reveal" | "not revealed" | "no commit" | "awaiting commit";
  /** The revealed mask (hex), null until revealed. */
  mask: string | null;
  /** Per commit index: accepted by this verifier (revealed mask); null until revealed. */
  accepts: boolean[] | null;
  revealTx: string | null;
  /** Whether the revealed mask equals the on-chain accepted mask on every commit (null until both are known). */
  agreesWithAccepted: boolean | null;
}

export interface AggregateView {
  aggregator: string;
  inCommittee: boolean;
  committed: boolean;
  commitment: string | null;
  commitTx: string | null;
  revealed: boolean;
  status: "revealed" | "awaiting reveal" | "not revealed" | "no commit" | "awaiting commit";
  cid: string | null;
  accuracyBps: number | null;
  cumulativeEpsilonMilli: number | null;
  /** As emitted at the reveal: whether its (CID, epsilon) equalled the leading one so far. */
  agreesWithLeader: boolean | null;
  /** Whether this reveal equals the finalized CID (null while the round is open or unrevealed). */
  matchesFinal: boolean | null;
  revealTx: string | null;
}

export interface ReputationView {
  peer: string;
  round: number;
  oldScore: number;
  newScore: number;
  /** ReputationChanged.reason (0-8) and its name from node/protocol. */
  reason: number;
  reasonName: string;
  txHash: string;
  blockNumber: number;
}

export interface ChallengeView {
  id: number;
  round: number;
  challenger: string;
  /** Challenge bond in wei (decimal string). */
  bond: string;
  raisedTx: string;
  raisedBlock: number;
  raisedAt: number;
  status: "open" | "upheld" | "rejected";
  settledTx: string | null;
  settledBlock: number | null;
  /** Wei slashed from aggregators in total (decimal string), null until settled. */
  slashed: string | null;
  /** Peers banned by the settlement (upheld: the aggregators that revealed the final CID). */
  banned: string[];
  /** Peers penalized by the settlement (ReputationChanged reason 8). */
  penalized: string[];
}

export interface SlashView {
  peer: string;
  round: number;
  amount: string;
  beneficiary: string;
  txHash: string;
  blockNumber: number;
}

export interface BanView {
  peer: string;
  reason: number;
  reasonName: string;
  txHash: string;
  blockNumber: number;
  timestamp: number;
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
  rejectedMask: string | null;
  acceptedIndices: number[];
  rejectedIndices: number[];
  /** Verdicts revealed when verification closed (AcceptedMaskComputed.revealCount). */
  revealCount: number | null;
  failedReason: string | null;
  failedCode: number | null;
  timeline: TimelineEntry[];
  committees: CommitteesView | null;
  commits: CommitView[];
  verdicts: VerdictView[];
  aggregates: AggregateView[];
  reputation: ReputationView[];
  challenges: ChallengeView[];
  slashes: SlashView[];
  /** Bans caused by this round's transactions (reputation below threshold, upheld challenge). */
  bans: BanView[];
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
  undecided: number | null;
  /** Revealed verdicts / verdict commits. */
  verdicts: number;
  verdictCommits: number;
  /** Revealed aggregates / aggregate commits. */
  aggregates: number;
  aggregateCommits: number;
  challenges: number;
  finalCid: string | null;
  accuracyBps: number | null;
  gasUsed: string;
  startedAt: number | null;
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));
const str = (v: unknown): string => String(v ?? "");
const big = (v: unknown): bigint => BigInt(str(v) || "0");
const hex = (v: bigint): string => "0x" + v.toString(16);

/** Indexes of the set bits of a bitmap, lowest first. */
export function bitIndices(mask: bigint | string | number): number[] {
  let m = BigInt(mask);
  const out: number[] = [];
  for (let i = 0; m > 0n; i++, m >>= 1n) if (m & 1n) out.push(i);
  return out;
}

/** peer index -> address, from PeerRegistered (an index never changes once given). */
export function peerAddressesByIndex(index: ChainIndex): Map<number, string> {
  const byIndex = new Map<number, string>();
  for (const e of index.eventsNamed("PeerRegistered")) byIndex.set(num(e.args.peerIndex), str(e.args.peer));
  return byIndex;
}

export function membersOf(mask: bigint | string | number, byIndex: ReadonlyMap<number, string>): CommitteeMembership[] {
  return bitIndices(mask).map((i) => ({ index: i, address: byIndex.get(i) ?? null }));
}

/** TaskConfig.challengeDuration from the TaskConfigured event (0 when unknown). */
function challengeDuration(index: ChainIndex): number {
  const config = index.eventsNamed("TaskConfigured")[0]?.args.config as Record<string, unknown> | undefined;
  return config ? num(config.challengeDuration ?? 0) || 0 : 0;
}

function phaseEventLabel(e: ContractEvent): string {
  switch (e.name) {
    case "RoundStarted":
      return phaseName(Phase.Training);
    case "PhaseAdvanced":
      return phaseName(num(e.args.phase));
    case "RoundFinalized":
      return phaseName(Phase.Finalized);
    case "RoundFailed":
      return phaseName(Phase.Failed);
    default:
      return e.name;
  }
}

const PHASE_EVENTS = new Set(["RoundStarted", "PhaseAdvanced", "RoundFinalized", "RoundFailed"]);
const MILESTONES = new Set(["CommitteeSeedFixed", "CommitteesSelected", "AcceptedMaskComputed", "ChallengeRaised", "ChallengeSettled"]);

export function roundNumbers(index: ChainIndex): number[] {
  const rounds = new Set<number>();
  for (const e of index.events) if (e.round !== null && e.round > 0) rounds.add(e.round);
  return [...rounds].sort((a, b) => a - b);
}

/** Challenges of every round, by id (from ChallengeRaised / ChallengeSettled and what the settlement emitted). */
export function buildChallenges(index: ChainIndex): ChallengeView[] {
  const byId = new Map<number, ChallengeView>();
  for (const e of index.events) {
    const a = e.args;
    if (e.name === "ChallengeRaised") {
      byId.set(num(a.id), {
        id: num(a.id),
        round: num(a.round),
        challenger: str(a.challenger),
        bond: big(a.bond).toString(),
        raisedTx: e.txHash,
        raisedBlock: e.blockNumber,
        raisedAt: e.timestamp,
        status: "open",
        settledTx: null,
        settledBlock: null,
        slashed: null,
        banned: [],
        penalized: [],
      });
    } else if (e.name === "ChallengeSettled") {
      const c = byId.get(num(a.id));
      if (!c) continue;
      c.status = a.upheld ? "upheld" : "rejected";
      c.settledTx = e.txHash;
      c.settledBlock = e.blockNumber;
      c.slashed = big(a.slashed).toString();
      const inTx = index.events.filter((x) => x.txHash === e.txHash);
      c.banned = inTx.filter((x) => x.name === "PeerBanned").map((x) => str(x.args.peer));
      c.penalized = inTx.filter((x) => x.name === "ReputationChanged").map((x) => str(x.args.peer));
    }
  }
  return [...byId.values()].sort((x, y) => x.id - y.id);
}

function banOf(e: ContractEvent): BanView {
  const reason = num(e.args.reason);
  return { peer: str(e.args.peer), reason, reasonName: banReasonText(reason), txHash: e.txHash, blockNumber: e.blockNumber, timestamp: e.timestamp };
}

function reputationOf(e: ContractEvent, peer: string): ReputationView {
  const reason = num(e.args.reason);
  return {
    peer,
    round: num(e.args.round),
    oldScore: num(e.args.oldScore),
    newScore: num(e.args.newScore),
    reason,
    reasonName: reputationReasonText(reason),
    txHash: e.txHash,
    blockNumber: e.blockNumber,
  };
}

/** Committees computed by the getCommittees view before they are stored (bitmaps over peer index). */
export interface CommitteePreview {
  verifierCommittee: bigint;
  aggregatorCommittee: bigint;
}

/**
 * Everything the events say about `round`; null when no event mentions it. `preview`: the committees
 * as the getCommittees view computes them while CommitteesSelected has not been emitted yet.
 */
export function buildRound(index: ChainIndex, round: number, preview?: CommitteePreview | null): RoundView | null {
  const events = index.eventsOfRound(round);
  if (events.length === 0) return null;
  const byIndex = peerAddressesByIndex(index);
  const timeline: TimelineEntry[] = [];
  const commits: CommitView[] = [];
  const reputation: ReputationView[] = [];
  const slashes: SlashView[] = [];
  const verdictCommits = new Map<string, ContractEvent>();
  const verdictReveals = new Map<string, ContractEvent>();
  const aggregateCommits = new Map<string, ContractEvent>();
  const aggregateReveals = new Map<string, ContractEvent>();
  const addresses = new Map<string, string>(); // lower -> checksummed as emitted
  const remember = (a: unknown): string => {
    const s = str(a);
    addresses.set(s.toLowerCase(), s);
    return s.toLowerCase();
  };
  let committees: CommitteesView | null = null;
  let phase = phaseName(Phase.None);
  let startedAt: number | null = null;
  let startGlobalCid = "";
  let finalCid: string | null = null;
  let accuracyBps: number | null = null;
  let cumulativeEpsilonMilli: number | null = null;
  let acceptedMask: bigint | null = null;
  let rejectedMask: bigint | null = null;
  let revealCount: number | null = null;
  let failedReason: string | null = null;
  let failedCode: number | null = null;
  let verificationClosed = false;
  let finalizedDeadline: number | null = null;

  for (const e of events) {
    const a = e.args;
    let detail: string | null = null;
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
          fate: "pending",
        });
        break;
      case "CommitteeSeedFixed": {
        const reanchored: number = committees ? (committees as CommitteesView).reanchored + 1 : 0;
        committees = {
          seedBlock: num(a.seedBlock),
          seedFixedTx: e.txHash,
          reanchored,
          verifierPool: membersOf(big(a.verifierPool), byIndex),
          aggregatorPool: membersOf(big(a.aggregatorPool), byIndex),
          selected: false,
          selectedBlock: null,
          selectedTx: null,
          selectedBy: null,
          seed: null,
          verifiers: [],
          aggregators: [],
          fromView: false,
        };
        detail = `seed block #${num(a.seedBlock)}${reanchored ? " (re-anchored)" : ""}; pools: ${bitIndices(big(a.verifierPool)).length} verifiers, ${bitIndices(big(a.aggregatorPool)).length} aggregators`;
        break;
      }
      case "CommitteesSelected": {
        const tx = index.txs.get(e.txHash);
        const target = committees ?? (committees = {
          seedBlock: 0, seedFixedTx: "", reanchored: 0, verifierPool: [], aggregatorPool: [], selected: false, selectedBlock: null,
          selectedTx: null, selectedBy: null, seed: null, verifiers: [], aggregators: [], fromView: false,
        });
        target.selected = true;
        target.selectedBlock = e.blockNumber;
        target.selectedTx = e.txHash;
        target.selectedBy = { method: tx?.method ?? null, from: tx?.from ?? null };
        target.seed = str(a.seed);
        target.verifiers = membersOf(big(a.verifierCommittee), byIndex);
        target.aggregators = membersOf(big(a.aggregatorCommittee), byIndex);
        detail = `${target.verifiers.length} verifiers, ${target.aggregators.length} aggregators drawn${tx?.method ? ` by ${tx.method}` : ""}`;
        break;
      }
      case "VerdictCommitted":
        verdictCommits.set(remember(a.verifier), e);
        break;
      case "VerdictRevealed":
        verdictReveals.set(remember(a.verifier), e);
        break;
      case "AcceptedMaskComputed":
        acceptedMask = big(a.acceptedMask);
        rejectedMask = big(a.rejectedMask);
        revealCount = num(a.revealCount);
        verificationClosed = true;
        detail = `accepted ${hex(acceptedMask)}, rejected ${hex(rejectedMask)}, ${revealCount} verdicts revealed`;
        break;
      case "AggregateCommitted":
        aggregateCommits.set(remember(a.aggregator), e);
        break;
      case "AggregateRevealed":
        aggregateReveals.set(remember(a.aggregator), e);
        break;
      case "RoundFinalized": {
        finalCid = cidToString(str(a.globalModelCid));
        acceptedMask = big(a.acceptedMask);
        accuracyBps = num(a.accuracyBps);
        cumulativeEpsilonMilli = num(a.cumulativeEpsilonMilli);
        const challengeWindow = challengeDuration(index);
        if (challengeWindow > 0) {
          finalizedDeadline = e.timestamp + challengeWindow;
          detail = "challenge window open until the deadline";
        }
        break;
      }
      case "RoundFailed":
        failedCode = num(a.reason);
        failedReason = failureReasonText(failedCode);
        detail = failedReason;
        break;
      case "ReputationChanged":
        reputation.push(reputationOf(e, str(a.peer)));
        break;
      case "BondSlashed":
        slashes.push({ peer: str(a.peer), round, amount: big(a.amount).toString(), beneficiary: str(a.beneficiary), txHash: e.txHash, blockNumber: e.blockNumber });
        break;
      case "ChallengeRaised":
        detail = `challenge #${num(a.id)} by ${str(a.challenger)}`;
        break;
      case "ChallengeSettled":
        detail = `challenge #${num(a.id)} ${a.upheld ? "upheld" : "rejected"}`;
        break;
    }
    if (PHASE_EVENTS.has(e.name)) {
      const label = phaseEventLabel(e);
      // The contract emits PhaseAdvanced(Finalized) next to RoundFinalized: one entry per phase.
      const last = timeline.filter((t) => t.kind === "phase").at(-1);
      if (last && last.phase === label && last.txHash === e.txHash) {
        if (e.name === "PhaseAdvanced") last.deadline = num(a.deadline) || last.deadline;
        continue;
      }
      phase = label;
      const deadline = e.name === "RoundStarted" ? num(a.trainingDeadline) : e.name === "PhaseAdvanced" ? num(a.deadline) : e.name === "RoundFinalized" ? finalizedDeadline : null;
      timeline.push({ kind: "phase", phase, event: e.name, blockNumber: e.blockNumber, timestamp: e.timestamp, txHash: e.txHash, deadline: deadline || null, detail });
    } else if (MILESTONES.has(e.name)) {
      timeline.push({ kind: "milestone", phase, event: e.name, blockNumber: e.blockNumber, timestamp: e.timestamp, txHash: e.txHash, deadline: null, detail });
    }
  }
  commits.sort((x, y) => x.index - y.index);
  const count = commits.length;
  const allBits = (1n << BigInt(count)) - 1n;
  for (const c of commits) {
    if (acceptedMask !== null) c.accepted = maskBit(acceptedMask, c.index);
    if (verificationClosed || acceptedMask !== null) {
      c.fate = c.accepted ? "accepted" : rejectedMask !== null && maskBit(rejectedMask, c.index) ? "rejected" : rejectedMask === null ? "rejected" : "undecided";
    } else if (failedReason !== null) {
      c.fate = "round failed";
      c.accepted = false;
    }
  }

  if (committees && !committees.selected && preview && (preview.verifierCommittee !== 0n || preview.aggregatorCommittee !== 0n)) {
    committees.verifiers = membersOf(preview.verifierCommittee, byIndex);
    committees.aggregators = membersOf(preview.aggregatorCommittee, byIndex);
    committees.fromView = true;
  }

  // Phase order decides whether a missing reveal is final.
  const finalPhase = failedReason !== null || finalCid !== null;
  const phaseValue = (name: string): number => (Phase as Record<string, number>)[name] ?? 0;
  const reached = (p: number) => finalPhase || phaseValue(phase) >= p;
  const members = (list: CommitteeMembership[] | undefined) => new Set((list ?? []).map((m) => (m.address ?? "").toLowerCase()).filter(Boolean));
  const verifierMembers = members(committees?.verifiers);
  const aggregatorMembers = members(committees?.aggregators);
  for (const m of committees?.verifiers ?? []) if (m.address) addresses.set(m.address.toLowerCase(), m.address);
  for (const m of committees?.aggregators ?? []) if (m.address) addresses.set(m.address.toLowerCase(), m.address);

  const verdicts: VerdictView[] = [];
  for (const key of new Set([...verifierMembers, ...verdictCommits.keys(), ...verdictReveals.keys()])) {
    const commit = verdictCommits.get(key);
    const reveal = verdictReveals.get(key);
    const mask = reveal ? big(reveal.args.acceptedMask) : null;
    const status: VerdictView["status"] = reveal
      ? "revealed"
      : commit
        ? reached(Phase.AggregateCommit) ? "not revealed" : "awaiting reveal"
        : reached(Phase.VerifyReveal) ? "no commit" : "awaiting commit";
    verdicts.push({
      verifier: addresses.get(key) ?? key,
      inCommittee: verifierMembers.has(key),
      committed: commit !== undefined,
      commitment: commit ? str(commit.args.commitment) : null,
      commitTx: commit?.txHash ?? null,
      revealed: reveal !== undefined,
      status,
      mask: mask === null ? null : hex(mask),
      accepts: mask === null ? null : maskToBits(mask, count),
      revealTx: reveal?.txHash ?? null,
      agreesWithAccepted: mask === null || acceptedMask === null ? null : ((mask ^ acceptedMask) & allBits) === 0n,
    });
  }
  verdicts.sort((x, y) => peerOrder(byIndex, x.verifier) - peerOrder(byIndex, y.verifier));

  const aggregates: AggregateView[] = [];
  for (const key of new Set([...aggregatorMembers, ...aggregateCommits.keys(), ...aggregateReveals.keys()])) {
    const commit = aggregateCommits.get(key);
    const reveal = aggregateReveals.get(key);
    const cid = reveal ? cidToString(str(reveal.args.cid)) : null;
    const status: AggregateView["status"] = reveal
      ? "revealed"
      : commit
        ? finalPhase ? "not revealed" : "awaiting reveal"
        : reached(Phase.AggregateReveal) ? "no commit" : "awaiting commit";
    aggregates.push({
      aggregator: addresses.get(key) ?? key,
      inCommittee: aggregatorMembers.has(key),
      committed: commit !== undefined,
      commitment: commit ? str(commit.args.commitment) : null,
      commitTx: commit?.txHash ?? null,
      revealed: reveal !== undefined,
      status,
      cid,
      accuracyBps: reveal ? num(reveal.args.accuracyBps) : null,
      cumulativeEpsilonMilli: reveal ? num(reveal.args.cumulativeEpsilonMilli) : null,
      agreesWithLeader: reveal ? Boolean(reveal.args.agreesWithLeader) : null,
      matchesFinal: cid !== null && finalCid !== null ? cid === finalCid : null,
      revealTx: reveal?.txHash ?? null,
    });
  }
  // Reveal order first (agreesWithLeader depends on it), then members that did not reveal.
  const revealOrder = (a: AggregateView) => {
    const e = aggregateReveals.get(a.aggregator.toLowerCase());
    return e ? e.blockNumber * 1e6 + e.logIndex : Number.MAX_SAFE_INTEGER - 1000 + peerOrder(byIndex, a.aggregator);
  };
  aggregates.sort((x, y) => revealOrder(x) - revealOrder(y));

  const challenges = buildChallenges(index).filter((c) => c.round === round);
  const roundTxs = new Set(events.map((e) => e.txHash));
  const bans = index.events.filter((e) => e.name === "PeerBanned" && roundTxs.has(e.txHash)).map(banOf);

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
    acceptedMask: acceptedMask === null ? null : hex(acceptedMask),
    rejectedMask: rejectedMask === null ? null : hex(rejectedMask),
    acceptedIndices: commits.filter((c) => c.fate === "accepted").map((c) => c.index),
    rejectedIndices: commits.filter((c) => c.fate === "rejected").map((c) => c.index),
    revealCount,
    failedReason,
    failedCode,
    timeline,
    committees,
    commits,
    verdicts,
    aggregates,
    reputation,
    challenges,
    slashes,
    bans,
    gasUsed: gas.toString(),
    txCount,
    failedTxCount,
  };
}

function peerOrder(byIndex: ReadonlyMap<number, string>, address: string): number {
  const lower = address.toLowerCase();
  for (const [i, a] of byIndex) if (a.toLowerCase() === lower) return i;
  return 1000;
}

export function summarizeRound(view: RoundView): RoundSummary {
  const decided = view.acceptedMask !== null;
  const accepted = view.commits.filter((c) => c.fate === "accepted").length;
  const rejected = view.commits.filter((c) => c.fate === "rejected").length;
  return {
    round: view.round,
    phase: view.phase,
    commits: view.commits.length,
    accepted: decided ? accepted : null,
    rejected: decided ? rejected : null,
    undecided: decided ? view.commits.length - accepted - rejected : null,
    verdicts: view.verdicts.filter((v) => v.revealed).length,
    verdictCommits: view.verdicts.filter((v) => v.committed).length,
    aggregates: view.aggregates.filter((a) => a.revealed).length,
    aggregateCommits: view.aggregates.filter((a) => a.committed).length,
    challenges: view.challenges.length,
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

export interface BondView {
  /** Wei posted with the first registration (BondPosted). */
  posted: string;
  /** Wei paid back (BondRefunded). */
  refunded: string;
  /** Wei lost to upheld challenges (BondSlashed). */
  slashed: string;
  /** Wei still held: posted − refunded − slashed. */
  held: string;
  /** Wei withdrawn with claim() (PayoutClaimed). */
  claimed: string;
  slashes: SlashView[];
}

export interface PeerView {
  address: string;
  peerIndex: number | null;
  /** Allow-list mode: admitted by the initiator (PeerAdmitted). */
  admitted: boolean;
  admittedBlock: number | null;
  registered: boolean;
  roles: string[];
  rolesMask: number;
  /** Roles revoked for good (PeerRolesRevoked), as names and bits. */
  revokedRoles: string[];
  revokedMask: number;
  multiaddr: string;
  publicKey: string;
  active: boolean;
  registeredBlock: number | null;
  /** Banned for good (PeerBanned), with the reason's name. */
  banned: BanView | null;
  bond: BondView;
  reputation: number | null;
  reputationHistory: ReputationView[];
  excludedInRound: number | null;
  updates: { round: number; commitIndex: number; cid: string; numSamples: number; fate: string; txHash: string }[];
  /** Rounds whose verifier / aggregator committee this peer was drawn into. */
  verifierCommittees: number[];
  aggregatorCommittees: number[];
  verdictsCommitted: number;
  verdictsRevealed: number;
  /** Rounds where it committed a verdict and never revealed it (after the reveal window). */
  verdictsNotRevealed: number[];
  aggregatesCommitted: number;
  aggregatesRevealed: number;
  aggregatesNotRevealed: number[];
  /** Challenges this address raised. */
  challengesRaised: number[];
}

function emptyPeer(address: string): PeerView {
  return {
    address,
    peerIndex: null,
    admitted: false,
    admittedBlock: null,
    registered: false,
    roles: [],
    rolesMask: 0,
    revokedRoles: [],
    revokedMask: 0,
    multiaddr: "",
    publicKey: "",
    active: false,
    registeredBlock: null,
    banned: null,
    bond: { posted: "0", refunded: "0", slashed: "0", held: "0", claimed: "0", slashes: [] },
    reputation: null,
    reputationHistory: [],
    excludedInRound: null,
    updates: [],
    verifierCommittees: [],
    aggregatorCommittees: [],
    verdictsCommitted: 0,
    verdictsRevealed: 0,
    verdictsNotRevealed: [],
    aggregatesCommitted: 0,
    aggregatesRevealed: 0,
    aggregatesNotRevealed: [],
    challengesRaised: [],
  };
}

/** Peers as the events describe them: admission, registration, roles, bans, bonds, reputation, committee work. */
export function buildPeers(index: ChainIndex): Map<string, PeerView> {
  const peers = new Map<string, PeerView>();
  const key = (a: unknown) => str(a).toLowerCase();
  const peerOf = (a: unknown): PeerView => {
    let p = peers.get(key(a));
    if (!p) {
      p = emptyPeer(str(a));
      peers.set(key(a), p);
    }
    return p;
  };
  const addWei = (value: string, amount: unknown) => (BigInt(value) + big(amount)).toString();
  for (const e of index.events) {
    const a = e.args;
    switch (e.name) {
      case "PeerAdmitted": {
        const p = peerOf(a.peer);
        p.admitted = true;
        p.admittedBlock ??= e.blockNumber;
        break;
      }
      case "PeerRegistered": {
        const p = peerOf(a.peer);
        p.registered = true;
        p.registeredBlock ??= e.blockNumber;
        p.peerIndex = num(a.peerIndex);
        p.rolesMask = num(a.roles);
        p.roles = roleNames(p.rolesMask);
        p.multiaddr = str(a.multiaddr);
        p.publicKey = str(a.publicKey);
        p.active = true;
        break;
      }
      case "PeerAddressUpdated":
        if (peers.has(key(a.peer))) peerOf(a.peer).multiaddr = str(a.multiaddr);
        break;
      case "PeerRolesRevoked": {
        const p = peerOf(a.peer);
        p.rolesMask = num(a.remainingRoles);
        p.roles = roleNames(p.rolesMask);
        p.revokedMask |= num(a.revokedRoles);
        p.revokedRoles = roleNames(p.revokedMask);
        break;
      }
      case "PeerLeft":
        peerOf(a.peer).active = false;
        break;
      case "PeerBanned": {
        const p = peerOf(a.peer);
        p.banned ??= banOf(e);
        p.active = false;
        break;
      }
      case "BondPosted": {
        const p = peerOf(a.peer);
        p.bond.posted = addWei(p.bond.posted, a.amount);
        break;
      }
      case "BondRefunded": {
        const p = peerOf(a.peer);
        p.bond.refunded = addWei(p.bond.refunded, a.amount);
        break;
      }
      case "BondSlashed": {
        const p = peerOf(a.peer);
        p.bond.slashed = addWei(p.bond.slashed, a.amount);
        p.bond.slashes.push({ peer: p.address, round: num(a.round), amount: big(a.amount).toString(), beneficiary: str(a.beneficiary), txHash: e.txHash, blockNumber: e.blockNumber });
        break;
      }
      case "PayoutClaimed": {
        const p = peers.get(key(a.account));
        if (p) p.bond.claimed = addWei(p.bond.claimed, a.amount);
        break;
      }
      case "ReputationChanged": {
        const p = peers.get(key(a.peer));
        if (p) {
          p.reputationHistory.push(reputationOf(e, p.address));
          p.reputation = num(a.newScore);
        }
        break;
      }
      case "PeerExcluded": {
        const p = peers.get(key(a.peer));
        if (p) p.excludedInRound = num(a.round);
        break;
      }
      case "ChallengeRaised": {
        const p = peers.get(key(a.challenger));
        if (p) p.challengesRaised.push(num(a.id));
        break;
      }
    }
  }
  for (const p of peers.values()) p.bond.held = (BigInt(p.bond.posted) - BigInt(p.bond.refunded) - BigInt(p.bond.slashed)).toString();
  for (const round of allRounds(index)) {
    for (const c of round.commits) {
      const p = peers.get(c.trainer.toLowerCase());
      if (p) p.updates.push({ round: round.round, commitIndex: c.index, cid: c.cid, numSamples: c.numSamples, fate: c.fate, txHash: c.txHash });
    }
    for (const m of round.committees?.verifiers ?? []) if (m.address) peers.get(m.address.toLowerCase())?.verifierCommittees.push(round.round);
    for (const m of round.committees?.aggregators ?? []) if (m.address) peers.get(m.address.toLowerCase())?.aggregatorCommittees.push(round.round);
    for (const v of round.verdicts) {
      const p = peers.get(v.verifier.toLowerCase());
      if (!p) continue;
      if (v.committed) p.verdictsCommitted++;
      if (v.revealed) p.verdictsRevealed++;
      if (v.status === "not revealed") p.verdictsNotRevealed.push(round.round);
    }
    for (const g of round.aggregates) {
      const p = peers.get(g.aggregator.toLowerCase());
      if (!p) continue;
      if (g.committed) p.aggregatesCommitted++;
      if (g.revealed) p.aggregatesRevealed++;
      if (g.status === "not revealed") p.aggregatesNotRevealed.push(round.round);
    }
  }
  return peers;
}

/** Where a CID appears on chain (commits, aggregate reveals, finalized/start models, task config). */
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
      case "AggregateRevealed":
        push("aggregate revealed", a.cid, a.aggregator);
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
  /** Neither majority (too few reveals). */
  undecided: number;
  /** Verdicts committed / revealed, and committed but never revealed. */
  verdictCommits: number;
  verdictReveals: number;
  verdictsNotRevealed: number;
  aggregateCommits: number;
  aggregateReveals: number;
  challenges: number;
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
    const s = summarizeRound(r);
    return {
      round: r.round,
      phase: r.phase,
      accuracy: r.accuracyBps === null ? null : r.accuracyBps / 100,
      accepted: s.accepted ?? 0,
      rejected: s.rejected ?? 0,
      undecided: s.undecided ?? 0,
      verdictCommits: s.verdictCommits,
      verdictReveals: s.verdicts,
      verdictsNotRevealed: r.verdicts.filter((v) => v.status === "not revealed").length,
      aggregateCommits: s.aggregateCommits,
      aggregateReveals: s.aggregates,
      challenges: s.challenges,
      gasUsed: Number(r.gasUsed),
      bytesCommitted: known > 0 ? bytes : null,
      bytesKnown: known,
      commits: r.commits.length,
    };
  });
}
