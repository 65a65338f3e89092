/**
 * `peerfl ipfs daemon | add | cat`: a standalone node with Kubo's RPC subset, and the two client
 * commands that talk to it (or to a real Kubo daemon). `main(argv)` takes the words after `ipfs`.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createLogger } from "../node/lib/log.ts";
import { port, positiveInt, waitForSignal } from "../node/lib/cli-args.ts";
import { startDaemon } from "./daemon.ts";
import { KuboStore } from "./kubo-store.ts";
import { parseCid } from "./unixfs-format.ts";

const DEFAULT_API = "http://127.0.0.1:5001";


function cidVersion(value: string): 0 | 1 {
  if (value !== "0" && value !== "1") throw new InvalidArgumentError(`CID version must be 0 or 1, got ${value}`);
  return value === "0" ? 0 : 1;
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
    .option("--log-format <format>", "text or json", "text")
    .action(async (o: { repo: string; apiPort: number; gatewayPort: number; swarmPort: number; logFormat: string }) => {
      const logger = createLogger({ name: "ipfs", format: o.logFormat === "json" ? "json" : "text" });
      const daemon = await startDaemon({
        repoDir: o.repo, apiPort: o.apiPort, gatewayPort: o.gatewayPort, swarmPort: o.swarmPort, logger,
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
    .description("add a file (\"-\" for stdin) through a Kubo RPC endpoint and print its CID")
    .argument("<file>", "path of the file to add, or - for stdin")
    .option("--cid-version <v>", "0 (dag-pb leaves) or 1 (raw leaves)", cidVersion, 1 as 0 | 1)
    .option("--no-pin", "do not pin the added file")
    .option("--api <url>", "Kubo RPC base URL", DEFAULT_API)
    .action(async (file: string, o: { cidVersion: 0 | 1; pin: boolean; api: string }) => {
      const bytes = file === "-" ? await readStdin() : await readFile(file);
      const store = new KuboStore(o.api);
      out(`${await store.put(bytes, { cidVersion: o.cidVersion, pin: o.pin })}\n`);
      setCode(0);
    });

  program.command("cat")
    .description("write the bytes behind a CID to stdout (fetched through a Kubo RPC endpoint)")
    .argument("<cid>", "CID (Qm... or bafy...)")
    .option("--api <url>", "Kubo RPC base URL", DEFAULT_API)
    .option("--timeout <ms>", "give up after this many milliseconds", positiveInt, 60_000)
    .action(async (cid: string, o: { api: string; timeout: number }) => {
      const parsed = parseCid(cid);
      const store = new KuboStore(o.api);
      for await (const chunk of store.client.cat(parsed, { timeout: o.timeout })) {
        if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once("drain", r));
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
