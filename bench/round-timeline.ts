/**
 * Where a round's time goes, from the agents' own logs (JSON lines, one file per peer). For one
 * round: when each phase opened (the first agent that saw it), how long it lasted, and inside each
 * phase what the agents were doing: training and the commit transaction, the verifiers' fetch,
 * judge and transaction times, the reveals, the aggregators. Everything in seconds from the round's
 * start (the first agent that saw its Training phase). Used by bench:scale (scale-detail.json,
 * `timeline`) and runnable on a demo's work directory:
 *
 *   node --import tsx bench/round-timeline.ts .peerfl/demo-<time> [round]
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export interface PeerEvent {
  peer: string;
  t: number; // ms since the epoch
  event: string;
  [k: string]: unknown;
}

export interface PhaseSpan { phase: string; startS: number; seconds: number }

export interface RoundTimeline {
  round: number;
  seconds: number;
  phases: PhaseSpan[];
  training: {
    slowestTrainS: number; lastCommitS: number; preTrainS: { median: number; max: number }; commitTailS: number;
    /** inside preTrainS (agents that log them): fetching the global model, and the commit transaction */
    globalFetchS?: { median: number; max: number }; commitTxS?: { median: number; max: number };
  };
  verifyCommit?: {
    verifiers: number;
    startDelayS: { median: number; max: number };
    fetchS: { median: number; max: number };
    judgeS: { median: number; max: number };
    commitTxS: { median: number; max: number };
    lastCommitS: number;
  };
  verifyReveal?: { lastRevealS: number };
  aggregateCommit?: { aggregators: number; lastCommitS: number };
  aggregateReveal?: { lastRevealS: number };
}

const PHASES = ["Training", "VerifyCommit", "VerifyReveal", "AggregateCommit", "AggregateReveal"];

const r2 = (x: number) => Math.round(x * 100) / 100;
function stats(xs: number[]): { median: number; max: number } {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return { median: NaN, max: NaN };
  const m = s.length >> 1;
  return { median: r2(s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2), max: r2(s[s.length - 1]) };
}

/** Every JSON log line of every peer<N>.log in a demo's work directory. */
export function readPeerEvents(workDir: string): PeerEvent[] {
  const out: PeerEvent[] = [];
  for (const f of readdirSync(workDir).filter((n) => /^peer\d+\.log$/.test(n))) {
    for (const line of readFileSync(path.join(workDir, f), "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        const e = JSON.parse(line) as { t: string; peer: string; event: string };
        out.push({ ...e, peer: e.peer ?? f, t: Date.parse(e.t) });
      } catch { /* a torn line */ }
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/** The timeline of `round`, or null when no agent logged its Training phase. */
export function roundTimeline(events: readonly PeerEvent[], round: number): RoundTimeline | null {
  const ofRound = events.filter((e) => e.round === round);
  const phaseStart = new Map<string, number>();
  for (const e of ofRound) if (e.event === "progress" && typeof e.phase === "string" && !phaseStart.has(e.phase)) phaseStart.set(e.phase, e.t);
  const t0 = phaseStart.get("Training");
  if (t0 === undefined) return null;
  // The round ends when the next one opens (or the task completes).
  const next = events.find((e) => e.event === "progress" && e.round === round + 1);
  const done = events.find((e) => e.event === "task-completed" && e.t >= t0);
  const lastOwn = ofRound.filter((e) => e.event === "aggregated" || e.event === "verdict" || e.event === "committed").at(-1)?.t ?? t0;
  const end = next?.t ?? done?.t ?? lastOwn;
  const s = (t: number) => r2((t - t0) / 1000);
  const opened = PHASES.filter((p) => phaseStart.has(p)).map((p) => ({ phase: p, t: phaseStart.get(p)! }));
  const phases = opened.map((p, i) => ({ phase: p.phase, startS: s(p.t), seconds: r2(((opened[i + 1]?.t ?? end) - p.t) / 1000) }));

  const at = (ev: string) => ofRound.filter((e) => e.event === ev);
  const commits = at("committed");
  const vcStart = phaseStart.get("VerifyCommit") ?? end;
  const training: RoundTimeline["training"] = {
    slowestTrainS: r2(Math.max(0, ...commits.map((e) => Number(e.trainSeconds)))),
    lastCommitS: s(Math.max(t0, ...commits.map((e) => e.t))),
    // From the round's start to the end of this peer's training: model fetch, decode, waking up.
    preTrainS: stats(commits.map((e) => (e.t - t0) / 1000 - Number(e.trainSeconds))),
    // From the last commit to the phase closing (mining, the last event reaching the agents).
    commitTailS: r2((vcStart - Math.max(t0, ...commits.map((e) => e.t))) / 1000),
  };
  const logged = commits.filter((e) => e.globalFetchMs !== undefined);
  if (logged.length) {
    training.globalFetchS = stats(logged.map((e) => Number(e.globalFetchMs) / 1000));
    training.commitTxS = stats(logged.map((e) => Number(e.commitTxMs) / 1000));
  }
  const out: RoundTimeline = { round, seconds: s(end), phases, training };

  const computed = at("verdict-computed");
  if (computed.length) {
    const committed = new Map(at("verdict-committed").map((e) => [e.peer, e.t]));
    out.verifyCommit = {
      verifiers: computed.length,
      // From the phase opening to the first fetch: waking, reading the commits, the global model.
      startDelayS: stats(computed.map((e) => (e.t - Number(e.fetchMs) - Number(e.judgeMs) - vcStart) / 1000)),
      fetchS: stats(computed.map((e) => Number(e.fetchMs) / 1000)),
      judgeS: stats(computed.map((e) => Number(e.judgeMs) / 1000)),
      commitTxS: stats(computed.filter((e) => committed.has(e.peer)).map((e) => (committed.get(e.peer)! - e.t) / 1000)),
      lastCommitS: s(Math.max(...[...committed.values()], vcStart)),
    };
  }
  const reveals = at("verdict");
  if (reveals.length) out.verifyReveal = { lastRevealS: s(Math.max(...reveals.map((e) => e.t))) };
  const aggCommits = at("aggregate-committed");
  if (aggCommits.length) out.aggregateCommit = { aggregators: aggCommits.length, lastCommitS: s(Math.max(...aggCommits.map((e) => e.t))) };
  const aggReveals = at("aggregated");
  if (aggReveals.length) out.aggregateReveal = { lastRevealS: s(Math.max(...aggReveals.map((e) => e.t))) };
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename ?? "")) {
  const dir = process.argv[2];
  if (!dir || !existsSync(dir)) {
    process.stderr.write("usage: node --import tsx bench/round-timeline.ts <demo work dir> [round]\n");
    process.exit(2);
  }
  const events = readPeerEvents(dir);
  const rounds = process.argv[3] ? [Number(process.argv[3])] : [...new Set(events.filter((e) => e.event === "progress").map((e) => Number(e.round)))].sort((a, b) => a - b);
  for (const r of rounds) process.stdout.write(JSON.stringify(roundTimeline(events, r)) + "\n");
}
