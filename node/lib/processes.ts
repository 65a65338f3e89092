/** Child processes the demo starts: each in its own process group, always stopped by group. */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import net from "node:net";

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  log: WriteStream | undefined;
  exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

export function startProcess(o: {
  name: string; cmd: string; args: string[]; cwd: string; env?: NodeJS.ProcessEnv; logFile?: string;
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}): ManagedProcess {
  const child = spawn(o.cmd, o.args, {
    cwd: o.cwd, env: { ...process.env, ...o.env }, detached: true, stdio: ["ignore", "pipe", "pipe"],
  });
  const log = o.logFile ? createWriteStream(o.logFile, { flags: "a" }) : undefined;
  for (const stream of ["stdout", "stderr"] as const) {
    let buf = "";
    child[stream]!.on("data", (d: Buffer) => {
      log?.write(d);
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        o.onLine?.(line, stream);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const killGroup = (sig: NodeJS.Signals) => { try { if (child.pid) process.kill(-child.pid, sig); } catch { /* gone */ } };
  return {
    name: o.name, child, log, exited,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) { log?.end(); return; }
      killGroup("SIGTERM");
      const timer = setTimeout(() => killGroup("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      killGroup("SIGKILL"); // grandchildren left in the group
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

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) { lastErr = err; }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ""}`);
}
