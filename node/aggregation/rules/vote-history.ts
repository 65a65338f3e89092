// Per-peer consistency across rounds, from the committee's revealed votes: a peer whose updates keep
// drawing reject votes round after round is excluded, an honest peer whose data differ (and that some
// verifier dislikes now and then) is not.
//
// Why votes and not update geometry: under label skew (Dirichlet 0.1) a sign-flipped or label-flipped
// update from a one-class shard looks, to geometry, like an honest one-class update, and is as
// self-consistent across rounds (-delta_t and -delta_{t-1} agree as well as delta_t and delta_{t-1} do).
// What tells them apart is data: only verifiers that hold the attacker's classes see its update raise
// their loss (validation-vote's private vote, Zeno / BaFFLe). They are a minority of any committee, so
// the round's majority keeps the attacker; but they vote against it in most rounds they sit on the
// committee, and an honest peer draws such votes only now and then. Accumulating the votes over a
// window of rounds is the "persistence" idea of FLDetector (Zhang et al. 2022, KDD: a client's
// suspicion score averaged over a window of rounds) applied to the verifiers' votes instead of to a
// Hessian-predicted update, which our one-epoch local training makes too noisy to predict.
//
// Auditability: everything used here is public and on chain. For each past round, the commit records
// give the peer behind each update, and the VerdictRevealed events give each committee member's mask.
// The public pre-filter of each past round is recomputable from the round's update CIDs (IPFS) and the
// global models; so is this function's output for every round, so the suspects of round r are
// recomputable by anyone and every honest verifier computes the same set (the committee majority then
// rejects them). Rounds in which a peer was itself a suspect add no evidence about it (every honest
// verifier rejected it for its history, not for that update), so a suspect is judged afresh once its
// evidence leaves the window: no peer is excluded for good by this unit.
//
// Attacker's view: a colluding verifier can vote against an honest peer every round it sits on the
// committee. `minVerifiers` (distinct rejecting verifiers, the peer itself never counted) stops a lone
// framer; colluders of f verifiers can frame only with f >= minVerifiers AND a reject share of the
// votes cast of at least `minShare`, which takes them on the committee in most rounds.

/** The revealed votes of one past round, mapped to peers. */
export interface RoundVotes {
  round: number;
  /** The peer index behind each update of the round, in commit order. */
  peers: readonly number[];
  /**
   * Per update: were the votes on it evidence? True when it passed the public pre-filter and was not a
   * history suspect in that round (only then did verifiers judge the update itself).
   */
  judged: readonly boolean[];
  /** Each committee member's revealed mask, as accepted flags in commit order. */
  votes: readonly { verifier: number; accepted: readonly boolean[] }[];
}

export interface VoteHistoryPolicy {
  /** Rounds looked back (round r uses rounds r - window .. r - 1). */
  window: number;
  /** Rounds with evidence a peer needs before it can be a suspect. */
  minRounds: number;
  /** Share of the votes cast on the peer's updates that were rejections, over the window. */
  minShare: number;
  /** Distinct verifiers (the peer itself not counted) that voted against it in the window. */
  minVerifiers: number;
}

/**
 * The default, chosen on logged votes (Fashion-MNIST, 10 peers of 600 samples, 5-verifier committees,
 * Dirichlet 0.1, attackers 1, 4, 7, 8 rounds; see docs/robustness.md, "Per-peer history"): the most an
 * honest peer drew was 4 reject votes of about 40 cast (10 %), bursts of 2 in 10 votes over two rounds;
 * the most-voted attacker drew 7 of 40 (17.5 %), 3 of 20 in its first four rounds. Four rounds of
 * evidence and a 15 % share keep the honest bursts out; two distinct rejecters stop a lone framer.
 */
export const DEFAULT_VOTE_HISTORY: VoteHistoryPolicy = { window: 8, minRounds: 4, minShare: 0.15, minVerifiers: 2 };

export class VoteHistoryError extends Error {
  override name = "VoteHistoryError";
}

function checkPolicy(p: VoteHistoryPolicy): void {
  const intAtLeast = (x: number, min: number) => Number.isInteger(x) && x >= min;
  if (!intAtLeast(p.window, 1) || !intAtLeast(p.minRounds, 1) || !intAtLeast(p.minVerifiers, 1) || !(p.minShare > 0 && p.minShare <= 1)) {
    throw new VoteHistoryError(`vote history: window, minRounds and minVerifiers must be integers >= 1 and minShare in (0, 1], got ${JSON.stringify(p)}`);
  }
}

function checkRecord(r: RoundVotes): void {
  const n = r.peers.length;
  if (r.judged.length !== n) throw new VoteHistoryError(`vote history: round ${r.round} has ${n} updates but ${r.judged.length} judged flags`);
  for (const v of r.votes) {
    if (v.accepted.length !== n) throw new VoteHistoryError(`vote history: round ${r.round}, verifier ${v.verifier} revealed ${v.accepted.length} flags for ${n} updates`);
  }
}

/** One peer's evidence over the window. */
export interface PeerEvidence {
  peer: number;
  /** Rounds in which its update was judged and drew at least one vote. */
  rounds: number;
  votesCast: number;
  votesAgainst: number;
  /** Distinct verifiers that voted against it. */
  rejecters: number;
  suspect: boolean;
}

/** Every peer's evidence before round `round` (from the records of rounds round - window .. round - 1). */
export function voteEvidence(history: readonly RoundVotes[], round: number, policy: VoteHistoryPolicy = DEFAULT_VOTE_HISTORY): Map<number, PeerEvidence> {
  checkPolicy(policy);
  const acc = new Map<number, { rounds: number; cast: number; against: number; rejecters: Set<number> }>();
  for (const rec of history) {
    if (rec.round >= round || rec.round < round - policy.window) continue;
    checkRecord(rec);
    rec.peers.forEach((peer, i) => {
      if (!rec.judged[i]) return;
      const others = rec.votes.filter((v) => v.verifier !== peer);
      if (others.length === 0) return;
      const e = acc.get(peer) ?? { rounds: 0, cast: 0, against: 0, rejecters: new Set<number>() };
      e.rounds++;
      for (const v of others) {
        e.cast++;
        if (!v.accepted[i]) { e.against++; e.rejecters.add(v.verifier); }
      }
      acc.set(peer, e);
    });
  }
  const out = new Map<number, PeerEvidence>();
  for (const [peer, e] of [...acc].sort((a, b) => a[0] - b[0])) {
    const suspect = e.rounds >= policy.minRounds && e.against >= policy.minShare * e.cast && e.rejecters.size >= policy.minVerifiers;
    out.set(peer, { peer, rounds: e.rounds, votesCast: e.cast, votesAgainst: e.against, rejecters: e.rejecters.size, suspect });
  }
  return out;
}

/** The peers every honest verifier rejects in `round` for their vote history (sorted). */
export function historySuspects(history: readonly RoundVotes[], round: number, policy: VoteHistoryPolicy = DEFAULT_VOTE_HISTORY): number[] {
  return [...voteEvidence(history, round, policy).values()].filter((e) => e.suspect).map((e) => e.peer);
}
