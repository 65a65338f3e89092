/**
 * Privacy: the task's PrivacyLedger (contracts/PrivacyLedger.sol) seen from the explorer and the
 * audit. For every trainer and every round it committed in: the epsilon it reported on chain, the
 * epsilon the task's parameters and its commits give (node/privacy/ledger.ts, the same function the
 * trainer used), and the verdict (ok, missing, under-reported, over-budget, invalid-samples).
 */
import { Contract } from "ethers";
import { privacyLedgerReader, type EpsilonReport } from "../../node/chain/privacy-ledger.ts";
import { auditPeerEpsilon, type EpsilonAuditRow, type LedgerParams } from "../../node/privacy/ledger.ts";
import type { ExplorerContext } from "./context.ts";

export interface PeerEpsilon {
  trainer: string;
  rows: EpsilonAuditRow[];
  /** The latest reported epsilon (natural units), or null when it never reported. */
  latestEpsilon: number | null;
}

export interface PrivacyReport {
  ledger: string;
  params: LedgerParams | null;
  peers: PeerEpsilon[];
  /** Rounds with at least one commit, ascending. */
  rounds: number[];
  /** Rows whose status is not "ok" (a peer unit has none: its epsilon comes with the aggregates). */
  problems: (EpsilonAuditRow & { trainer: string })[];
}

export class PrivacyService {
  constructor(private readonly ctx: ExplorerContext, readonly ledgerAddress: string | null) {}

  /** The whole task's report; null without a ledger address. Throws when the chain cannot be read. */
  async report(): Promise<PrivacyReport | null> {
    if (!this.ledgerAddress || !this.ctx.contractAddress) return null;
    const provider = await this.ctx.client.getProvider();
    const ledger = privacyLedgerReader(this.ledgerAddress, provider);
    const task = new Contract(this.ctx.contractAddress, this.ctx.iface, provider);
    const [params, reports, current] = await Promise.all([ledger.params(), ledger.reports(), task.currentRound().then(Number)]);
    const commits: { round: number; trainer: string; numSamples: number }[] = [];
    for (let r = 1; r <= current; r++) {
      const count = Number((await task.getRound(r)).commitCount);
      for (let i = 0; i < count; i++) {
        const c = await task.getCommit(r, i);
        commits.push({ round: r, trainer: String(c.trainer), numSamples: Number(c.numSamples) });
      }
    }
    return buildPrivacyReport(this.ledgerAddress, params, commits, reports);
  }

  /** One round's rows (trainer → row); empty without a ledger. */
  async forRound(round: number): Promise<Map<string, EpsilonAuditRow>> {
    const report = await this.report().catch(() => null);
    const out = new Map<string, EpsilonAuditRow>();
    for (const p of report?.peers ?? []) {
      const row = p.rows.find((x) => x.round === round);
      if (row) out.set(p.trainer.toLowerCase(), row);
    }
    return out;
  }
}

/** Joins commits and reports per trainer and audits each trainer's sequence. Pure. */
export function buildPrivacyReport(
  ledger: string,
  params: LedgerParams | null,
  commits: readonly { round: number; trainer: string; numSamples: number }[],
  reports: readonly Pick<EpsilonReport, "round" | "peer" | "epsilonMilli">[],
): PrivacyReport {
  const reported = new Map(reports.map((r) => [`${r.round}:${r.peer.toLowerCase()}`, r.epsilonMilli]));
  // Distributed unit: a round's epsilon depends on how many peers committed in it (their noise shares are in the sum).
  const roundCommits = new Map<number, number>();
  for (const c of commits) roundCommits.set(c.round, (roundCommits.get(c.round) ?? 0) + 1);
  const byTrainer = new Map<string, { round: number; numSamples: number; roundCommits: number; reportedMilli: number | null }[]>();
  for (const c of commits) {
    const list = byTrainer.get(c.trainer) ?? [];
    list.push({ round: c.round, numSamples: c.numSamples, roundCommits: roundCommits.get(c.round)!, reportedMilli: reported.get(`${c.round}:${c.trainer.toLowerCase()}`) ?? null });
    byTrainer.set(c.trainer, list);
  }
  const peers: PeerEpsilon[] = [];
  if (params?.unit === "example" || params?.unit === "distributed") {
    for (const [trainer, records] of byTrainer) {
      const rows = auditPeerEpsilon(params, records);
      const last = [...rows].reverse().find((r) => r.reportedMilli !== null);
      peers.push({ trainer, rows, latestEpsilon: last ? last.reportedMilli! / 1000 : null });
    }
  }
  return {
    ledger, params, peers,
    rounds: [...new Set(commits.map((c) => c.round))].sort((a, b) => a - b),
    problems: peers.flatMap((p) => p.rows.filter((r) => r.status !== "ok").map((r) => ({ ...r, trainer: p.trainer }))),
  };
}
