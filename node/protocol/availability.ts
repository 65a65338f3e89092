/**
 * When a verifier's "unavailable" votes say more about the verifier than about the trainers.
 *
 * "unavailable" is the defence against withholding: a trainer that commits a CID and never serves
 * its bytes must be rejected, or it would be aggregated blind (or stall the aggregators). But a
 * verifier on a starved machine, or one cut off from the swarm, fails to fetch honest updates too.
 * If it voted "unavailable" on all of them, a committee of such verifiers would reject honest
 * trainers, who would lose reputation and be banned for the verifier's trouble (the 50-peer
 * bench:scale run of 2026-11-29: 85 of 150 honest updates rejected, 11 honest peers banned).
 *
 * The contract's verdict is one accept bit per commit: there is no per-commit "abstain". So a
 * verifier judges its own fetching first. When it could not fetch at least MIN_FETCHED_SHARE of
 * the round's updates (and more than one of them), it abstains for the whole round: it commits no
 * verdict. Then:
 * - The contract tallies against the committee size, so an abstention counts for neither accept
 *   nor reject. With too few verdicts, no update reaches a majority either way, and trainers keep
 *   their reputation (FederatedTaskCore._settleTrainers). Only the votes of verifiers that could
 *   fetch most updates decide, which is "unavailable judged relative to the verifier's own
 *   success".
 * - Abstaining is not free: the contract settles a drawn verifier without a verdict as missing
 *   (a reputation penalty, as for a verifier that never showed up). A lazy verifier cannot abstain
 *   round after round; it is banned like an absent one.
 * - A withholding trainer is still rejected. One unavailable update never makes a verifier abstain:
 *   a lone withholder is always judged. To make a healthy verifier abstain, withholders must hold
 *   more than half of the round's commits, and a majority of the committers is beyond what any of
 *   the robust rules tolerate anyway.
 */

/** A verifier that fetched less than this share of the round's updates abstains (see the file comment). */
export const MIN_FETCHED_SHARE = 0.5;

/** What a verifier needs to know about one update: did its bytes come? */
export interface FetchOutcome {
  weights: unknown;
  unusable?: { code: string };
}

export interface FetchHealth {
  /** Updates committed in the round. */
  total: number;
  /** Updates whose bytes arrived (including bytes that did not decode: those are the trainer's fault). */
  fetched: number;
  /** Updates whose bytes never arrived in the window. */
  unavailable: number;
  /** True when this verifier should commit no verdict for the round. */
  abstain: boolean;
}

/** This verifier's fetching in a round, and whether it abstains (see the file comment). */
export function fetchHealth(updates: readonly FetchOutcome[], minFetchedShare = MIN_FETCHED_SHARE): FetchHealth {
  const total = updates.length;
  const unavailable = updates.filter((u) => u.weights === null && (u.unusable?.code ?? "unavailable") === "unavailable").length;
  const fetched = total - unavailable;
  return { total, fetched, unavailable, abstain: unavailable >= 2 && fetched < minFetchedShare * total };
}
