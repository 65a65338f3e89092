/** Child processes the demo starts: each in its own process group, always stopped by group. */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import net from "node:net";

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  log: WriteStream | undefined;
  /** resolves with the exit code (null when a signal ended it) */
  exited: Promise<number | null>;
  /** resolves once the process exited and its output streams closed (or 1 s after exit, whichever first) */
  drained: Promise<void>;
  /** true once stop() or kill() was called: its exit is then no failure */
  readonly stoppedOnPurpose: boolean;
  /** the signal that ended it, if any */
  readonly exitSignal: NodeJS.Signals | null;
  /** the last lines it printed (stdout and stderr interleaved), oldest first */
  tail(): string[];
  /** sends `signal` to its whole process group and marks the stop as deliberate */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM to the group, SIGKILL after `graceMs`; marks the stop as deliberate */
  stop(graceMs?: number): Promise<void>;
}

const TAIL_LINES = 30;

/**
 * Process groups still running. On any exit of this process (normal end, process.exit, an
 * uncaught exception) they get SIGKILL, so nothing the demo started outlives it.
 */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function killGroupSync(child: ChildProcess, sig: NodeJS.Signals): void {
  try { if (child.pid) process.kill(-child.pid, sig); } catch { /* gone */ }
}
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => { for (const c of live) killGroupSync(c, "SIGKILL"); });
}

/** How many started process groups are still running (tests check for orphans with it). */
export function liveProcessCount(): number {
  return live.size;
}

export function startProcess(o: {
  name: string; cmd: string; args: string[]; cwd: string; env?: NodeJS.ProcessEnv; logFile?: string;
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}): ManagedProcess {
  installExitHook();
  const child = spawn(o.cmd, o.args, {
    cwd: o.cwd, env: { ...process.env, ...o.env }, detached: true, stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  const log = o.logFile ? createWriteStream(o.logFile, { flags: "a" }) : undefined;
  const lines: string[] = [];
  const take = (line: string, stream: "stdout" | "stderr") => {
    if (line.trim()) { lines.push(line); if (lines.length > TAIL_LINES) lines.shift(); }
    o.onLine?.(line, stream);
  };
  const streamsClosed: Promise<void>[] = [];
  for (const stream of ["stdout", "stderr"] as const) {
    let buf = "";
    const s = child[stream]!;
    s.on("data", (d: Buffer) => {
      log?.write(d);
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        take(line, stream);
      }
    });
    streamsClosed.push(new Promise((resolve) => s.once("close", () => { if (buf) { take(buf, stream); buf = ""; } resolve(); })));
  }
  let onPurpose = false;
  let exitSignal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code, signal) => { exitSignal = signal; live.delete(child); resolve(code); });
    // A command that cannot be spawned (ENOENT) emits "error" and never "exit".
    child.once("error", (err) => { if (child.exitCode === null && child.pid === undefined) { lines.push(`${o.cmd}: ${err.message}`); live.delete(child); resolve(127); } });
  });
  // The group may hold grandchildren that keep the pipes open: do not wait for them forever.
  const drained = exited.then(() => Promise.race([Promise.all(streamsClosed).then(() => undefined), new Promise<void>((r) => setTimeout(r, 1000).unref())]));
  const done = () => child.exitCode !== null || child.signalCode !== null || (child.pid === undefined && !live.has(child));
  return {
    name: o.name, child, log, exited, drained,
    get stoppedOnPurpose() { return onPurpose; },
    get exitSignal() { return exitSignal; },
    tail: () => [...lines],
    kill(signal = "SIGTERM") {
      onPurpose = true;
      killGroupSync(child, signal);
    },
    async stop(graceMs = 3000) {
      onPurpose = true;
      if (done()) { killGroupSync(child, "SIGKILL"); log?.end(); return; }
      killGroupSync(child, "SIGTERM");
      const timer = setTimeout(() => killGroupSync(child, "SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      killGroupSync(child, "SIGKILL"); // grandchildren left in the group
      log?.end();
    },
  };
}

/** A free TCP port on 127.0.0.1, starting the search at `preferred`. */
export async function freePort(preferred = 0): Promise<number> {
  const tryPort = (port: number) => new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  if (preferred) {
    for (let p = preferred; p < preferred + 50; p++) {
      try { return await tryPort(p); } catch { /* in use */ }
    }
  }
  return tryPort(0);
}

/** Polls `fn` until it returns a value; gives up after `timeoutMs`, or as soon as `signal` aborts. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250, signal?: AbortSignal): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < end) {
    if (signal?.aborted) throw new Error(`stopped waiting for ${what}`);
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) { lastErr = err; }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ""}`);
}
