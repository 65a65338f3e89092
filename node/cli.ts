#!/usr/bin/env node
/**
 * `peerfl <command>`: one entry point for every long-running piece of peerfl.
 * Each subcommand lives with its component and exports `main(argv) -> exit code`; this file only
 * dispatches, so `peerfl ipfs --help` costs no tfjs or Hardhat start-up.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { PROJECT_ROOT } from "./lib/paths.ts";

// The Node-version guard is plain CommonJS in the source tree (npm's preinstall runs it too), so it
// is loaded by path: the same file whether this runs from node/ or compiled from dist/node/.
createRequire(import.meta.url)(path.join(PROJECT_ROOT, "node/lib/require-node22.cjs"));

type Main = (argv: string[]) => Promise<number>;

const commands: Record<string, { summary: string; load: () => Promise<Main> }> = {
  agent: { summary: "run one peer agent (trainer / verifier / aggregator)", load: async () => (await import("./agent/main.ts")).main },
  ipfs: { summary: "standalone IPFS node (Kubo RPC subset + gateway), add, cat", load: async () => (await import("../ipfs/cli.ts")).main },
  explorer: { summary: "block explorer and round audit web UI", load: async () => (await import("../explorer/cli.ts")).mainExplorer },
  audit: { summary: "re-verify a finalized round from chain + IPFS alone", load: async () => (await import("../explorer/cli.ts")).mainAudit },
  task: { summary: "task creator: init (model spec + initial weights + Ignition params), start", load: async () => (await import("./task-cli.ts")).main },
  demo: { summary: "chain + IPFS + N agents + R rounds, with a summary table", load: async () => (await import("./demo/cli.ts")).main },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: peerfl <command> [flags]   (peerfl <command> --help for its flags)\n\nCommands:\n${rows.join("\n")}\n`;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`peerfl: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await command.load())(rest);
}

run(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`peerfl: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.PEERFL_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
