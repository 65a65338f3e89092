/**
 * IPFS data-plane benchmark: three embedded Helia nodes in three separate processes on loopback.
 *   A adds files of each size; B (dialled to A) fetches them: the two-node fetch.
 *   A is then stopped; C (dialled to B only) fetches the same files from B: the three-node fetch.
 * Reports node start time, add and fetch medians, throughput and RSS per node; writes
 * bench/results/ipfs.json.   Usage: npm run bench:ipfs [-- --quick] [-- --runs N]
 * Targets: 1 MB peer-to-peer fetch < 150 ms on loopback; node start < 2 s.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
// Deterministic bytes; each (size, seed) pair is fresh content no node has seen.
import { pattern } from "../test/ipfs/helpers.ts";

type Request =
  | { op: "start"; extraStarts: number }
  | { op: "add"; size: number; seed: number }
  | { op: "dial"; addr: string }
  | { op: "get"; cid: string; sha256: string }
  | { op: "rss" }
  | { op: "stop" };

interface StartReply { importMs: number; startMs: number[]; multiaddr: string; rssMb: number }

const SELF = fileURLToPath(import.meta.url);


const rssMb = (): number => Math.round(process.memoryUsage().rss / 1e5) / 10;

// ---------------------------------------------------------------- worker (one node per process)

async function worker(): Promise<void> {
  const t0 = performance.now();
  const { createEmbeddedStore } = await import("../ipfs/embedded-store.ts");
  const importMs = performance.now() - t0;
  const tmpRoot = await mkdtemp(path.join(os.tmpdir(), "peerfl-bench-ipfs-"));
  type Store = Awaited<ReturnType<typeof createEmbeddedStore>>;
  let store: Store | undefined;
  const reply = (value: unknown) => process.stdout.write(JSON.stringify(value) + "\n");

  for await (const line of createInterface({ input: process.stdin })) {
    const req = JSON.parse(line) as Request;
    try {
      if (req.op === "start") {
        const startMs: number[] = [];
        for (let i = 0; i <= req.extraStarts; i++) {
          const t = performance.now();
          const s = await createEmbeddedStore({ repoDir: path.join(tmpRoot, `repo-${i}`) });
          startMs.push(performance.now() - t);
          if (i < req.extraStarts) await s.stop(); else store = s;
        }
        const reply_: StartReply = { importMs, startMs, multiaddr: (await store!.multiaddrs())[0] ?? "", rssMb: rssMb() };
        reply(reply_);
      } else if (req.op === "add") {
        const bytes = pattern(req.size, req.seed);
        const t = performance.now();
        const cid = await store!.put(bytes);
        reply({ cid, ms: performance.now() - t, sha256: createHash("sha256").update(bytes).digest("hex") });
      } else if (req.op === "dial") {
        const t = performance.now();
        await store!.dial(req.addr);
        reply({ ms: performance.now() - t });
      } else if (req.op === "get") {
        const t = performance.now();
        const bytes = await store!.get(req.cid, { timeoutMs: 60_000 });
        const ms = performance.now() - t;
        const ok = createHash("sha256").update(bytes).digest("hex") === req.sha256;
        reply({ ms, bytes: bytes.length, ok });
      } else if (req.op === "rss") {
        reply({ rssMb: rssMb() });
      } else if (req.op === "stop") {
        await store?.stop();
        await rm(tmpRoot, { recursive: true, force: true });
        reply({ stopped: true });
        process.exit(0);
      }
    } catch (err) {
      reply({ error: err instanceof Error ? err.message : String(err) });
    }
  }
}

// ---------------------------------------------------------------- coordinator

class Node {
  private readonly proc: ChildProcess;
  private readonly pending: Array<(v: Record<string, unknown>) => void> = [];

  constructor(readonly name: string) {
    this.proc = spawn(process.execPath, ["--import", "tsx", SELF, "--worker"], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: this.proc.stdout! });
    lines.on("line", (line) => {
      const resolve = this.pending.shift();
      resolve?.(JSON.parse(line) as Record<string, unknown>);
    });
  }

  async call<T>(req: Request): Promise<T> {
    const answer = new Promise<Record<string, unknown>>((resolve) => this.pending.push(resolve));
    this.proc.stdin!.write(JSON.stringify(req) + "\n");
    const value = await answer;
    if (typeof value.error === "string") throw new Error(`node ${this.name}: ${value.error}`);
    return value as T;
  }

  kill(): void { this.proc.kill("SIGTERM"); }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const r1 = (x: number): number => Math.round(x * 10) / 10;

async function coordinator(argv: string[]): Promise<void> {
  const quick = argv.includes("--quick");
  const runsArg = argv.indexOf("--runs");
  const runs = runsArg >= 0 ? Number(argv[runsArg + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${argv[runsArg + 1]}`);
  const sizesMb = quick ? [0.1, 1] : [0.1, 1, 5];
  const extraStarts = quick ? 1 : 2;
  console.log(`bench:ipfs  ${runs} runs x sizes ${sizesMb.join(", ")} MB, 3 processes (A adds, B fetches from A, C fetches from B after A stops)`);

  const nodes = { a: new Node("A"), b: new Node("B"), c: new Node("C") };
  try {
    const starts: Record<string, StartReply> = {};
    for (const [name, node] of Object.entries(nodes)) starts[name] = await node.call<StartReply>({ op: "start", extraStarts });
    const dialAB = await nodes.b.call<{ ms: number }>({ op: "dial", addr: starts.a!.multiaddr });
    const dialCB = await nodes.c.call<{ ms: number }>({ op: "dial", addr: starts.b!.multiaddr });

    type Sample = { sizeMb: number; cid: string; sha256: string; addMs: number; fetchAB?: number; fetchBC?: number };
    const samples: Sample[] = [];
    let seed = Date.now() % 1_000_000;
    for (const sizeMb of sizesMb) {
      for (let i = 0; i < runs; i++) {
        const added = await nodes.a.call<{ cid: string; ms: number; sha256: string }>({ op: "add", size: Math.round(sizeMb * 1e6), seed: seed++ });
        const got = await nodes.b.call<{ ms: number; ok: boolean }>({ op: "get", cid: added.cid, sha256: added.sha256 });
        if (!got.ok) throw new Error(`B received wrong bytes for ${added.cid}`);
        samples.push({ sizeMb, cid: added.cid, sha256: added.sha256, addMs: added.ms, fetchAB: got.ms });
      }
    }
    const rssAfterAB = {
      a: (await nodes.a.call<{ rssMb: number }>({ op: "rss" })).rssMb,
      b: (await nodes.b.call<{ rssMb: number }>({ op: "rss" })).rssMb,
    };
    await nodes.a.call({ op: "stop" });
    for (const s of samples) {
      const got = await nodes.c.call<{ ms: number; ok: boolean }>({ op: "get", cid: s.cid, sha256: s.sha256 });
      if (!got.ok) throw new Error(`C received wrong bytes for ${s.cid}`);
      s.fetchBC = got.ms;
    }
    const rssEnd = {
      b: (await nodes.b.call<{ rssMb: number }>({ op: "rss" })).rssMb,
      c: (await nodes.c.call<{ rssMb: number }>({ op: "rss" })).rssMb,
    };

    const allStarts = Object.values(starts).flatMap((s) => s.startMs);
    const firstStarts = Object.values(starts).map((s) => s.startMs[0]!);
    const rows = sizesMb.map((sizeMb) => {
      const of = samples.filter((s) => s.sizeMb === sizeMb);
      const ab = median(of.map((s) => s.fetchAB!));
      const bc = median(of.map((s) => s.fetchBC!));
      return {
        sizeMb, runs: of.length,
        addMsMedian: r1(median(of.map((s) => s.addMs))),
        fetchTwoNodesMsMedian: r1(ab),
        fetchThreeNodesMsMedian: r1(bc),
        twoNodesMBps: r1(sizeMb / (ab / 1000)),
        threeNodesMBps: r1(sizeMb / (bc / 1000)),
        fetchTwoNodesMs: of.map((s) => r1(s.fetchAB!)),
        fetchThreeNodesMs: of.map((s) => r1(s.fetchBC!)),
      };
    });
    const oneMb = rows.find((r) => r.sizeMb === 1);
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, loadavg: os.loadavg().map(r1), node: process.version },
      config: { runs, sizesMb, quick, processes: 3, transport: "libp2p TCP 127.0.0.1 + noise + yamux, bitswap 1.2.0" },
      start: {
        moduleImportMsMedian: r1(median(Object.values(starts).map((s) => s.importMs))),
        nodeStartMsMedian: r1(median(allStarts)),
        firstStartInProcessMsMedian: r1(median(firstStarts)),
        samples: allStarts.map(r1),
      },
      dialMs: { bToA: r1(dialAB.ms), cToB: r1(dialCB.ms) },
      sizes: rows,
      rssMb: { idle: Object.fromEntries(Object.entries(starts).map(([k, v]) => [k, v.rssMb])), afterTwoNodeFetches: rssAfterAB, end: rssEnd },
      targets: {
        oneMbFetchUnder150ms: oneMb == null ? null : Math.max(oneMb.fetchTwoNodesMsMedian, oneMb.fetchThreeNodesMsMedian) < 150,
        nodeStartUnder2s: median(allStarts) < 2000,
      },
    };

    console.log("");
    console.log("size MB | add ms | A->B fetch ms | B->C fetch ms (A stopped) | A->B MB/s | B->C MB/s");
    console.log("--------|--------|---------------|---------------------------|-----------|----------");
    for (const r of rows) {
      console.log(`${String(r.sizeMb).padStart(7)} | ${String(r.addMsMedian).padStart(6)} | ${String(r.fetchTwoNodesMsMedian).padStart(13)} | ${String(r.fetchThreeNodesMsMedian).padStart(25)} | ${String(r.twoNodesMBps).padStart(9)} | ${String(r.threeNodesMBps).padStart(8)}`);
    }
    console.log("");
    console.log(`node start: median ${result.start.nodeStartMsMedian} ms over ${allStarts.length} starts (first in a process ${result.start.firstStartInProcessMsMedian} ms; module import ${result.start.moduleImportMsMedian} ms)`);
    console.log(`dial: B->A ${result.dialMs.bToA} ms, C->B ${result.dialMs.cToB} ms`);
    console.log(`RSS MB: idle A ${starts.a!.rssMb} B ${starts.b!.rssMb} C ${starts.c!.rssMb}; after fetches A ${rssAfterAB.a} B ${rssEnd.b} C ${rssEnd.c}`);
    console.log(`targets: 1 MB fetch < 150 ms: ${result.targets.oneMbFetchUnder150ms ? "met" : "MISSED"}; node start < 2 s: ${result.targets.nodeStartUnder2s ? "met" : "MISSED"}  (load average ${result.machine.loadavg.join(" ")})`);
    const outDir = path.join(path.dirname(SELF), "results");
    await mkdir(outDir, { recursive: true });
    await writeFile(path.join(outDir, "ipfs.json"), JSON.stringify(result, null, 2) + "\n");
    console.log(`wrote ${path.relative(process.cwd(), path.join(outDir, "ipfs.json"))}`);
    await nodes.b.call({ op: "stop" });
    await nodes.c.call({ op: "stop" });
  } finally {
    for (const n of Object.values(nodes)) n.kill();
  }
}

if (process.argv.includes("--worker")) {
  await worker();
} else {
  await coordinator(process.argv.slice(2));
}
