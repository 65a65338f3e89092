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

let cached: boolean | undefined;

/** `node` arguments that run `peerfl <command>`. */
export function peerflCliArgs(): string[] {
  cached ??= compiledIsFresh() && process.env.PEERFL_USE_TSX !== "1";
  return cached ? [path.join(PROJECT_ROOT, "dist/node/cli.js")] : ["--import", "tsx", path.join(PROJECT_ROOT, "node/cli.ts")];
}
