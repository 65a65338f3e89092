/**
 * `peerfl ipfs daemon | add | cat`: a standalone node with Kubo's RPC subset, and the two client
 * commands that talk to it (or to a real Kubo daemon). Like Kubo, `add` and `cat` fall back to the
 * local repo when no daemon answers at --api. `main(argv)` takes the words after `ipfs`.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createLogger } from "../node/lib/log.ts";
import { port, positiveInt, waitForSignal } from "../node/lib/cli-args.ts";
import { startDaemon } from "./daemon.ts";
import { createEmbeddedStore, RepoLockedError, type EmbeddedStore } from "./embedded-store.ts";
import { KuboStore } from "./kubo-store.ts";
import { DEFAULT_MAX_ADD_BYTES, DEFAULT_MAX_GATEWAY_BYTES } from "./rpc-server.ts";
import { parseCid } from "./unixfs-format.ts";

const DEFAULT_API = "http://127.0.0.1:5001";

/** The daemon's default repo, ~/.peerfl/ipfs (read at call time, so HOME can be changed). */
export function defaultRepo(): string {
  return path.join(os.homedir(), ".peerfl", "ipfs");
}

/** No daemon answered at the API URL, and there is no local repo to fall back to. */
export class NoDaemonError extends Error {
  constructor(readonly apiUrl: string, readonly reason: string, readonly repoTried: string) {
    super(
      `no IPFS daemon answered at ${apiUrl} (${reason}), and there is no local repo at ${repoTried} to use instead. ` +
        "Start a daemon with `./peerfl ipfs daemon --repo DIR` (pass --api URL here if it is not on " +
        `${DEFAULT_API}), or work offline on a repo with --repo DIR`,
    );
    this.name = "NoDaemonError";
  }
}

/** The local repo is held by a process (a daemon, probably) that does not answer at the API URL. */
export class RepoBusyError extends Error {
  constructor(readonly apiUrl: string, readonly repoDir: string, readonly pid: number) {
    super(
      `no IPFS daemon answered at ${apiUrl}, and the local repo ${repoDir} is in use by process ${pid}` +
        " (a daemon on another port?): pass --api with that daemon's RPC URL",
    );
    this.name = "RepoBusyError";
  }
}

/** null when something answers HTTP at the RPC URL, else why not (e.g. "connect ECONNREFUSED 127.0.0.1:5001"). */
export async function probeDaemon(apiUrl: string, timeoutMs = 3000): Promise<string | null> {
  const base = apiUrl.replace(/\/+$/, "").replace(/\/api\/v0$/, "");
  try {
    const res = await fetch(`${base}/api/v0/version`, { method: "POST", signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return null;
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause;
    return cause?.message ?? (error instanceof Error ? error.message : String(error));
  }
}

type Target = { kind: "daemon"; store: KuboStore } | { kind: "repo"; store: EmbeddedStore };

/**
 * The daemon at `api` if one answers (unless `offline`), else the embedded store on `repo` (or the
 * default repo when it exists). Says on stderr when it falls back.
 */
async function openTarget(o: { api: string; repo?: string; offline?: boolean }, err: (s: string) => void): Promise<Target> {
  if (!o.offline) {
    const reason = await probeDaemon(o.api);
    if (reason === null) return { kind: "daemon", store: new KuboStore(o.api) };
    const repo = o.repo ?? (existsSync(defaultRepo()) ? defaultRepo() : undefined);
    if (repo === undefined) throw new NoDaemonError(o.api, reason, defaultRepo());
    err(`peerfl ipfs: no daemon at ${o.api} (${reason}); using the local repo ${path.resolve(repo)}\n`);
    return { kind: "repo", store: await openRepo(repo, o.api) };
  }
  return { kind: "repo", store: await openRepo(o.repo ?? defaultRepo(), o.api) };
}

async function openRepo(repoDir: string, apiUrl: string): Promise<EmbeddedStore> {
  try {
    return await createEmbeddedStore({ repoDir, listenPort: 0 });
  } catch (error) {
    if (error instanceof RepoLockedError) throw new RepoBusyError(apiUrl, error.repoDir, error.pid);
    throw error;
  }
}


function cidVersion(value: string): 0 | 1 {
  if (value !== "0" && value !== "1") throw new InvalidArgumentError(`CID version must be 0 or 1, got ${value}`);
  return value === "0" ? 0 : 1;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}


function buildProgram(out: (s: string) => void, err: (s: string) => void, setCode: (c: number) => void): Command {
  const program = new Command("peerfl ipfs")
    .description("Standalone IPFS node (Helia, loopback-only) with a Kubo RPC subset and gateway; add and cat clients")
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err });

  program.command("daemon")
    .description("run a node: Kubo RPC on --api-port, read-only gateway on --gateway-port, libp2p on --swarm-port (all 127.0.0.1)")
    .option("--repo <dir>", "repository directory (blocks, pins, peer key)", path.join(os.homedir(), ".peerfl", "ipfs"))
    .option("--api-port <port>", "Kubo RPC port", port, 5001)
    .option("--gateway-port <port>", "gateway port", port, 8080)
    .option("--swarm-port <port>", "libp2p TCP port", port, 4001)
    .option("--allowed-host <host>", "also answer to this Host header, NAME:PORT or NAME on any port (repeatable; default: 127.0.0.1, localhost, [::1] on each server's port)", collect)
    .option("--max-add-bytes <bytes>", "largest file accepted by RPC add (413 beyond)", positiveInt, DEFAULT_MAX_ADD_BYTES)
    .option("--max-gateway-bytes <bytes>", "largest file the gateway serves (413 beyond)", positiveInt, DEFAULT_MAX_GATEWAY_BYTES)
    .option("--log-format <format>", "text or json", "text")
    .action(async (o: {
      repo: string; apiPort: number; gatewayPort: number; swarmPort: number; logFormat: string;
      allowedHost?: string[]; maxAddBytes: number; maxGatewayBytes: number;
    }) => {
      const logger = createLogger({ name: "ipfs", format: o.logFormat === "json" ? "json" : "text" });
      const daemon = await startDaemon({
        repoDir: o.repo, apiPort: o.apiPort, gatewayPort: o.gatewayPort, swarmPort: o.swarmPort, logger,
        allowedHosts: o.allowedHost ?? [], maxAddBytes: o.maxAddBytes, maxGatewayBytes: o.maxGatewayBytes,
      });
      for (const ma of await daemon.store.multiaddrs()) out(`Swarm listening on ${ma}\n`);
      out(`RPC API server listening on ${daemon.apiUrl}\n`);
      out(`Gateway server listening on ${daemon.gatewayUrl ?? "(disabled)"}\n`);
      out("Daemon is ready\n");
      const sig = await waitForSignal();
      out(`Received ${sig}, shutting down...\n`);
      await daemon.stop();
      setCode(0);
    });

  program.command("add")
    .description("add a file (\"-\" for stdin) through a Kubo RPC endpoint, or into the local repo when no daemon answers, and print its CID")
    .argument("<file>", "path of the file to add, or - for stdin")
    .option("--cid-version <v>", "0 (dag-pb leaves) or 1 (raw leaves)", cidVersion, 1 as 0 | 1)
    .option("--no-pin", "do not pin the added file")
    .option("--api <url>", "Kubo RPC base URL", DEFAULT_API)
    .option("--repo <dir>", "repo to add into when no daemon answers at --api (default: ~/.peerfl/ipfs, if it exists)")
    .option("--offline", "add into the repo directly, without asking a daemon")
    .action(async (file: string, o: { cidVersion: 0 | 1; pin: boolean; api: string; repo?: string; offline?: boolean }) => {
      const bytes = file === "-" ? await readStdin() : await readFile(file);
      const target = await openTarget(o, err);
      try {
        out(`${await target.store.put(bytes, { cidVersion: o.cidVersion, pin: o.pin })}\n`);
      } finally {
        await target.store.stop();
      }
      setCode(0);
    });

  program.command("cat")
    .description("write the bytes behind a CID to stdout (through a Kubo RPC endpoint, or from the local repo when no daemon answers)")
    .argument("<cid>", "CID (Qm... or bafy...)")
    .option("--api <url>", "Kubo RPC base URL", DEFAULT_API)
    .option("--repo <dir>", "repo to read from when no daemon answers at --api (default: ~/.peerfl/ipfs, if it exists)")
    .option("--offline", "read from the repo directly, without asking a daemon")
    .option("--timeout <ms>", "give up after this many milliseconds", positiveInt, 60_000)
    .action(async (cid: string, o: { api: string; repo?: string; offline?: boolean; timeout: number }) => {
      const parsed = parseCid(cid);
      const target = await openTarget(o, err);
      try {
        const chunks = target.kind === "daemon"
          ? target.store.client.cat(parsed, { timeout: o.timeout })
          : (await target.store.open(cid, { timeoutMs: o.timeout, maxBytes: Number.MAX_SAFE_INTEGER })).content;
        for await (const chunk of chunks) {
          if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once("drain", r));
        }
      } finally {
        await target.store.stop();
      }
      setCode(0);
    });
  return program;
}

/** Entry point for `peerfl ipfs ...`; argv holds the words after `ipfs`. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram(
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
    (c) => { code = c; },
  );
  if (argv.length === 0) {
    process.stdout.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // --help (0) and usage errors (1)
    process.stderr.write(`peerfl ipfs: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
