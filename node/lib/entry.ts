/**
 * How to start a peerfl CLI in a child process: the compiled JavaScript in dist/ when it is up to
 * date with the sources (built by `./peerfl setup`: no TypeScript transpiling at start-up), else the
 * TypeScript sources through tsx.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "./paths.ts";

const SOURCE_DIRS = ["node", "ipfs", "explorer"];
const STAMP = path.join(PROJECT_ROOT, "dist", ".tsbuildinfo");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** True when dist/ holds a build at least as new as every source file. */
export function compiledIsFresh(): boolean {
  if (!existsSync(STAMP) || !existsSync(path.join(PROJECT_ROOT, "dist/node/cli.js"))) return false;
  const built = statSync(STAMP).mtimeMs;
  return SOURCE_DIRS.every((d) => newestSource(path.join(PROJECT_ROOT, d)) <= built);
}

/**
 * V8 flags for agent processes. A 2 MB young generation (V8's default lets it grow to 16 MB per
 * semi-space) takes ~30 MB off each agent's resident memory at a small GC cost; --expose-gc lets the
 * agent return the dataset file buffers and a finished round's updates to the OS at once.
 * (--optimize-for-size was tried: ~15 MB less per agent, but fetching and decoding updates took
 * 20-50 % longer, and on a loaded machine that is the verify window's main cost; docs/scale.md.)
 */
export const AGENT_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=2", "--expose-gc"];

/**
 * Environment of agent processes. Two glibc malloc arenas instead of up to 8 per core: Node's
 * worker threads (libuv, V8 GC, WASM) otherwise each grow an arena that is never returned, ~10 MB
 * more resident memory per agent (measured with the agents' flags; docs/scale.md).
 */
export const AGENT_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

/** Returns freed memory to the OS now when the process runs with --expose-gc (no-op otherwise). */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

let cached: boolean | undefined;

/** `node` arguments that run `peerfl <command>`. */
export function peerflCliArgs(): string[] {
  // PEERFL_USE_DIST=1: the build in dist/ even if a source changed since (a benchmark that built it
  // at its start, while sources keep changing, measures the compiled agents it started with).
  const forced = process.env.PEERFL_USE_DIST === "1" && existsSync(path.join(PROJECT_ROOT, "dist/node/cli.js"));
  cached ??= (forced || compiledIsFresh()) && process.env.PEERFL_USE_TSX !== "1";
  return cached ? [path.join(PROJECT_ROOT, "dist/node/cli.js")] : ["--import", "tsx", path.join(PROJECT_ROOT, "node/cli.ts")];
}
