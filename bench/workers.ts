// The worker pool the long benchmarks share: the parent re-runs its own script N times with
// `--jobs N` and a worker flag, each worker prints one `RESULT <json>` line per finished task on
// stdout, and the parent parses them as they come (so a long run can write partial results).
// Workers' stderr passes through, so their progress shows in the parent's log.
import { spawn } from "node:child_process";

const PREFIX = "RESULT ";

/** Encodes one result line (Infinity survives as the string "Infinity", which JSON cannot carry). */
export function resultLine(value: unknown): string {
  return PREFIX + JSON.stringify(value, (_, v) => (v === Infinity ? "Infinity" : v));
}

/** The result carried by a stdout line, or undefined for any other line. */
export function parseResultLine<T>(line: string): T | undefined {
  if (!line.startsWith(PREFIX)) return undefined;
  return JSON.parse(line.slice(PREFIX.length), (_, v) => (v === "Infinity" ? Infinity : v)) as T;
}

/** The command-line arguments with `flags` (and each flag's value) removed, to pass on to workers. */
export function argsWithout(args: readonly string[], flags: readonly string[]): string[] {
  return args.filter((a, i) => !flags.includes(a) && !flags.includes(args[i - 1]));
}

export interface WorkerPoolOptions<T> {
  /** The script to run in each worker (the caller's own file). */
  script: string;
  /** Worker count; worker w gets the arguments `args` plus `workerArgs(w)`. */
  jobs: number;
  args: readonly string[];
  workerArgs: (worker: number) => string[];
  /** Called for every result as it arrives. */
  onResult?: (result: T, worker: number) => void;
  /** Error message prefix for a worker that exits non-zero. */
  label?: string;
}

/** Runs `jobs` worker processes (node --import tsx) and collects their RESULT lines. */
export async function runWorkers<T>(o: WorkerPoolOptions<T>): Promise<T[]> {
  const results: T[] = [];
  await Promise.all(Array.from({ length: o.jobs }, (_, w) => new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", o.script, ...o.args, ...o.workerArgs(w)], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const r = parseResultLine<T>(line);
        if (r === undefined) continue;
        results.push(r);
        o.onResult?.(r, w);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${o.label ?? "worker"} ${w} exited with ${code}`))));
  })));
  return results;
}
