/**
 * What the demo reports about each round, and where it reads it from. The demo only talks to a
 * RoundSource: today chainRoundSource() reads the contract and scans blocks for gas; a shared
 * protocol module can provide the same interface later without touching the demo's loop.
 */
import type { Contract, Interface, Provider } from "ethers";
import { readRound, readCommits, readPeers, maskHas, Phase, phaseName } from "../chain/task.ts";

/** Where the task is now (the progress line / bar). */
export interface TaskStatus {
  currentRound: number;
  completed: boolean;
  phase: number;
  phaseName: string;
  commits: number;
  verdicts: number;
  aggregates: number;
}

/** A round that is over: finalized with a global model, or failed. */
export interface ClosedRound {
  round: number;
  finalized: boolean;
  /** in commit order, with the verifiers' verdict */
  commits: { trainer: string; accepted: boolean }[];
  /** the finalized global model, or the one the round started from if it failed */
  globalCid: string;
  reportedAccuracy: number | null;
  cumulativeEpsilon: number | null;
}

/** The reads the per-round summary needs. */
export interface RoundSource {
  status(): Promise<TaskStatus>;
  /** the round once it is finalized or failed, else undefined */
  closedRound(round: number): Promise<ClosedRound | undefined>;
  /** addresses of peers whose reputation fell below the task's threshold */
  excludedPeers(): Promise<string[]>;
  /** chain seconds from the round's start to its end */
  roundSeconds(round: number): Promise<number>;
  /** gas of every transaction to the contract that belongs to `round`, mined so far */
  gasUsed(round: number): Promise<number>;
}

export interface RoundSummary {
  round: number;
  status: "finalized" | "failed";
  committed: string[];
  accepted: string[];
  rejected: string[];
  /** trainers whose reputation fell below the threshold: they may no longer commit */
  excluded: string[];
  globalCid: string;
  accuracy: number | null;
  /** `--attack backdoor` runs: the finalized model's share of triggered test images (true label not the target) classified as the target. */
  backdoorAsr?: number;
  reportedAccuracy: number | null;
  cumulativeEpsilon: number | null;
  gasUsed: number;
  seconds: number;
}

/** The part of a demo result the final table shows. */
export interface SummaryTable {
  peers: number;
  attackers: string[];
  attack: string | null;
  rounds: RoundSummary[];
  totalSeconds: number;
}

/** Summary of `round` if it is over (accuracy left null: the caller measures it), else undefined. */
export async function summarizeRound(
  src: RoundSource, round: number, o: { name: (address: string) => string; fallbackSeconds: () => number },
): Promise<RoundSummary | undefined> {
  const closed = await src.closedRound(round);
  if (!closed) return undefined;
  const names = (xs: { trainer: string }[]) => xs.map((c) => o.name(c.trainer));
  return {
    round, status: closed.finalized ? "finalized" : "failed",
    committed: names(closed.commits),
    accepted: names(closed.commits.filter((c) => c.accepted)),
    rejected: names(closed.commits.filter((c) => !c.accepted)),
    excluded: (await src.excludedPeers()).map(o.name),
    globalCid: closed.globalCid,
    accuracy: null, reportedAccuracy: closed.reportedAccuracy, cumulativeEpsilon: closed.cumulativeEpsilon,
    gasUsed: await src.gasUsed(round),
    seconds: await src.roundSeconds(round).catch(o.fallbackSeconds),
  };
}

/** The round a FederatedTask call belongs to: its `round` argument, or 1 for startTask; 0 if none. */
function roundOfCall(iface: Interface, data: string): number {
  try {
    const parsed = iface.parseTransaction({ data });
    if (parsed?.name === "startTask") return 1;
    if (parsed && parsed.fragment.inputs[0]?.name === "round") return Number(parsed.args[0]);
  } catch { /* not one of ours */ }
  return 0;
}

/** A RoundSource over the FederatedTask contract; gas comes from scanning new blocks incrementally. */
export function chainRoundSource(task: Contract, provider: Provider): RoundSource {
  const contractAddress = String(task.target).toLowerCase();
  const gasByRound = new Map<number, number>();
  let scannedBlock = 0;
  let threshold: number | undefined;
  const scanGas = async () => {
    const latest = await provider.getBlockNumber();
    for (let b = scannedBlock + 1; b <= latest; b++) {
      const block = await provider.getBlock(b, true);
      for (const tx of block?.prefetchedTransactions ?? []) {
        if (tx.to?.toLowerCase() !== contractAddress) continue;
        const round = roundOfCall(task.interface, tx.data);
        if (round === 0) continue;
        const receipt = await provider.getTransactionReceipt(tx.hash);
        gasByRound.set(round, (gasByRound.get(round) ?? 0) + Number(receipt?.gasUsed ?? 0n));
      }
      scannedBlock = b;
    }
  };
  return {
    async status() {
      const currentRound = Number(await task.currentRound());
      const completed = Boolean(await task.taskCompleted());
      const rv = await readRound(task, currentRound);
      return { currentRound, completed, phase: rv.phase, phaseName: phaseName(rv.phase), commits: rv.commitCount, verdicts: rv.verdictCount, aggregates: rv.aggregateCount };
    },
    async closedRound(round) {
      const rv = await readRound(task, round);
      if (rv.phase !== Phase.Finalized && rv.phase !== Phase.Failed) return undefined;
      const finalized = rv.phase === Phase.Finalized;
      const commits = await readCommits(task, round, rv.commitCount);
      return {
        round, finalized,
        commits: commits.map((c) => ({ trainer: c.trainer, accepted: maskHas(rv.acceptedMask, c.index) })),
        globalCid: finalized ? rv.finalCid : rv.globalModelCid,
        reportedAccuracy: finalized ? rv.accuracyBps / 10000 : null,
        cumulativeEpsilon: finalized && rv.cumulativeEpsilonMilli > 0 ? rv.cumulativeEpsilonMilli / 1000 : null,
      };
    },
    async excludedPeers() {
      threshold ??= Number((await task.taskConfig()).reputationThreshold);
      const t = threshold;
      return (await readPeers(task)).filter((p) => p.reputation < t).map((p) => p.address);
    },
    async roundSeconds(round) {
      const started = await task.queryFilter(task.filters.RoundStarted(round));
      const ended = [...await task.queryFilter(task.filters.RoundFinalized(round)), ...await task.queryFilter(task.filters.RoundFailed(round))];
      if (!started.length || !ended.length) throw new Error(`round ${round}: start or end event missing`);
      const [a, b] = await Promise.all([started[0].getBlock(), ended[0].getBlock()]);
      return b.timestamp - a.timestamp;
    },
    async gasUsed(round) {
      await scanGas();
      return gasByRound.get(round) ?? 0;
    },
  };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** One line per finished round, printed as it closes. */
export function formatRoundLine(s: RoundSummary): string {
  const acc = s.accuracy ?? s.reportedAccuracy;
  return `  round ${s.round}: ${s.status}, accepted ${s.accepted.join(",") || "-"}; rejected ${s.rejected.join(",") || "-"}`
    + `${s.excluded.length ? `; excluded ${s.excluded.join(",")}` : ""}; accuracy ${acc === null ? "-" : pct(acc)}; `
    + `gas ${s.gasUsed.toLocaleString("en-US")}; ${s.seconds.toFixed(1)} s`;
}

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)];
}

export function formatTable(r: SummaryTable): string {
  const head = ["round", "status", "committed", "accepted", "rejected", "excluded", "global CID", "accuracy", "gas used", "seconds"];
  const rows = r.rounds.map((x) => [
    String(x.round), x.status, String(x.committed.length), x.accepted.join(",") || "-", x.rejected.join(",") || "-", x.excluded.join(",") || "-",
    x.globalCid.length > 20 ? `${x.globalCid.slice(0, 10)}…${x.globalCid.slice(-6)}` : x.globalCid,
    x.accuracy !== null ? pct(x.accuracy) : x.reportedAccuracy !== null ? `${pct(x.reportedAccuracy)}*` : "-",
    x.gasUsed.toLocaleString("en-US"), x.seconds.toFixed(1),
  ]);
  const lines = table(head, rows);
  const attackers = r.attackers.length ? `attackers: ${r.attackers.join(",")} (${r.attack})` : "no attackers";
  lines.push("", `${r.peers} peers, ${attackers}; accuracy = test-set accuracy of the finalized global model (* = aggregators' reported validation accuracy); total ${r.totalSeconds.toFixed(1)} s`);
  return lines.join("\n");
}

export interface LinkRow { from: number; to: number | "chain"; role: string; mode: string; relay?: number; bytesUp: number; bytesDown: number; connections: number; latencyMs: number; bandwidthBps: number }

/** Which emulated 5G mode each pair (and each peer's path to the chain) used, with its counters. */
export function formatLinks(stats: Record<string, { links: LinkRow[] }>): string {
  const head = ["link", "traffic", "mode", "via", "latency ms", "Mbit/s", "bytes up", "bytes down", "conns"];
  const rows: string[][] = [];
  for (const s of Object.values(stats)) {
    for (const l of s.links ?? []) {
      rows.push([
        `peer${l.from} -> ${l.to === "chain" ? "chain" : `peer${l.to}`}`, l.role, l.mode, l.relay !== undefined ? `peer${l.relay}` : "-",
        l.latencyMs.toFixed(1), (l.bandwidthBps / 1e6).toFixed(1), String(l.bytesUp), String(l.bytesDown), String(l.connections),
      ]);
    }
  }
  return ["emulated 5G links (one-way latency, bottleneck throughput):", ...table(head, rows)].join("\n");
}
