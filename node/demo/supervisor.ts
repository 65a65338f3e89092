/**
 * Watches the demo's agent processes. An agent that exits while the demo runs, and that nobody
 * stopped on purpose, fails the demo with the agent's own last word. Tests may kill an agent and
 * start a replacement from onProgress: a death is judged only after such a callback returns, and
 * an agent that was replaced in the meantime is not a failure.
 */
import type { ManagedProcess } from "../lib/processes.ts";

/** An agent process ended during the run. */
export class AgentDiedError extends Error {
  constructor(
    readonly peer: string, readonly exitCode: number | null, readonly signal: NodeJS.Signals | null,
    readonly reason: string, readonly logFile?: string,
  ) {
    super(`${peer} died (${exitCode !== null ? `exit code ${exitCode}` : `signal ${signal ?? "unknown"}`}): ${reason}${logFile ? ` (log: ${logFile})` : ""}`);
    this.name = "AgentDiedError";
  }
}

/** The demo was interrupted (Ctrl-C, SIGTERM, or its AbortSignal). */
export class DemoAbortedError extends Error {
  constructor(readonly why: string) { super(`demo stopped: ${why}`); this.name = "DemoAbortedError"; }
}

/**
 * The agent's reason for dying, from its last output lines: the `reason` of its last JSON log line
 * at level error (the agent logs `fatal` with one), else its last line as printed.
 */
export function deathReason(lines: readonly string[]): string {
  for (let k = lines.length - 1; k >= 0; k--) {
    const line = lines[k].trim();
    if (!line.startsWith("{")) continue;
    try {
      const ev = JSON.parse(line) as { level?: string; event?: string; reason?: string; error?: string };
      if (ev.level === "error") return ev.reason ?? ev.error ?? ev.event ?? line;
    } catch { /* not JSON */ }
  }
  const last = [...lines].reverse().find((l) => l.trim());
  return last?.trim() ?? "no output";
}

interface Watched { index: number; name: string; process: ManagedProcess; logFile?: string }

export class AgentSupervisor {
  /** rejects with the first AgentDiedError (or the error given to fail()); never resolves */
  readonly failure: Promise<never>;
  private reject!: (err: Error) => void;
  private readonly current = new Map<number, ManagedProcess>();
  private readonly pending: { w: Watched; code: number | null }[] = [];
  private holds = 0;
  private closed = false;
  private failed: Error | undefined;

  constructor() {
    this.failure = new Promise<never>((_, reject) => { this.reject = reject; });
    this.failure.catch(() => undefined); // observed through race(); never an unhandled rejection
  }

  /** Watches agent `index`; it replaces whatever process had that index before. */
  watch(index: number, name: string, p: ManagedProcess, logFile?: string): void {
    this.current.set(index, p);
    const w: Watched = { index, name, process: p, logFile };
    void p.exited.then(async (code) => {
      await p.drained; // its last lines, so the reason is in the tail
      if (this.closed || p.stoppedOnPurpose) return;
      this.pending.push({ w, code });
      if (this.holds === 0) this.judge();
    });
  }

  /** Runs `fn` (a test's onProgress) with deaths held back until it returns; then judges them. */
  async holding<T>(fn: () => Promise<T> | T): Promise<T> {
    this.holds++;
    try { return await fn(); } finally {
      this.holds--;
      if (this.holds === 0) this.judge();
    }
  }

  /** Fails the run (once) with `err`: abort, or anything else that should stop it. */
  fail(err: Error): void {
    if (this.failed || this.closed) return;
    this.failed = err;
    this.reject(err);
  }

  /** Throws the failure, if there was one. */
  check(): void {
    if (this.failed) throw this.failed;
  }

  /** `p`, unless the run fails first. */
  race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.failure]);
  }

  /** Stops judging: every exit from now on is the demo's own shutdown. */
  close(): void {
    this.closed = true;
  }

  private judge(): void {
    for (const { w, code } of this.pending.splice(0)) {
      if (this.closed || w.process.stoppedOnPurpose) continue;
      if (this.current.get(w.index) !== w.process) continue; // replaced on purpose (kill + startAgent)
      this.fail(new AgentDiedError(w.name, code, w.process.exitSignal, deathReason(w.process.tail()), w.logFile));
    }
  }
}
