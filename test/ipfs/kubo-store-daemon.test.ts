import { expect } from "chai";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { Request, Response } from "express";
import { create } from "kubo-rpc-client";
import { main } from "../../ipfs/cli.ts";
import { startDaemon, type RunningDaemon } from "../../ipfs/daemon.ts";
import { createEmbeddedStore, type EmbeddedStore } from "../../ipfs/embedded-store.ts";
import { ContentTooLargeError, GetTimeoutError, InvalidCidError, KuboRpcError } from "../../ipfs/errors.ts";
import { createKuboStore, type KuboStore } from "../../ipfs/kubo-store.ts";
import { parseGoDuration, rpcAccessGuard } from "../../ipfs/rpc-server.ts";
import { pattern, sameBytes, tempDir, text } from "./helpers.ts";

const run = promisify(execFile);

/** Run the CLI in this process and collect what it writes to stdout (and, if asked, silence stderr). */
async function captureStdout(fn: () => Promise<number>, quietStderr = false): Promise<{ code: number; out: Uint8Array }> {
  const chunks: Buffer[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => { chunks.push(Buffer.from(chunk)); return true; }) as typeof process.stdout.write;
  if (quietStderr) process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const code = await fn();
    return { code, out: Buffer.concat(chunks) };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}
const UNKNOWN_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyka";

describe("ipfs: Kubo RPC daemon and the Kubo store over it", function () {
  this.timeout(60_000);
  let daemon: RunningDaemon;
  let store: KuboStore;
  let other: EmbeddedStore;
  let scratch: string;
  const cleanups: Array<() => Promise<void>> = [];

  before(async () => {
    const repo = await tempDir("daemon");
    const otherRepo = await tempDir("daemon-peer");
    const files = await tempDir("files");
    cleanups.push(repo.cleanup, otherRepo.cleanup, files.cleanup);
    scratch = files.dir;
    daemon = await startDaemon({ repoDir: repo.dir, apiPort: 0, gatewayPort: 0, swarmPort: 0 });
    other = await createEmbeddedStore({ repoDir: otherRepo.dir });
    store = await createKuboStore({ apiUrl: daemon.apiUrl });
  });
  after(async () => {
    await other?.stop();
    await daemon?.stop();
    for (const clean of cleanups) await clean();
  });

  it("adds through kubo-rpc-client with the same CIDs as the embedded store and Kubo", async () => {
    expect(await store.put(text("hello\n"))).to.equal("bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am");
    expect(await store.put(text("hello\n"), { cidVersion: 0 })).to.equal("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN");
    const big = pattern(1_100_000, 8);
    const viaRpc = await store.put(big);
    expect(viaRpc).to.equal(await other.put(big, { pin: false }));
    expect(sameBytes(await store.get(viaRpc), big)).to.equal(true);
  });

  it("pins, lists and unpins through the RPC, and has() reflects the daemon's blockstore", async () => {
    const cid = await store.put(text("kubo pin test"));
    expect(await store.listPins()).to.include(cid);
    await store.unpin(cid);
    expect(await store.listPins()).to.not.include(cid);
    await store.pin(cid);
    expect(await store.listPins()).to.include(cid);
    expect(await store.has(cid)).to.equal(true);
    expect(await store.has(UNKNOWN_CID)).to.equal(false);
  });

  it("reports the daemon's identity and dials a peer, then fetches that peer's content through the RPC", async () => {
    expect(await store.peerId()).to.equal(await daemon.store.peerId());
    expect(await store.multiaddrs()).to.deep.equal(await daemon.store.multiaddrs());
    const bytes = pattern(400_000, 99);
    const cid = await other.put(bytes);
    await store.dial((await other.multiaddrs())[0] ?? "");
    expect(sameBytes(await store.get(cid, { timeoutMs: 20_000 }), bytes)).to.equal(true);
  });

  it("refuses a malformed CID, times out on an unknown one, and refuses oversized content", async () => {
    const bad = await store.get("Qm-not-a-cid").then(() => undefined, (e: unknown) => e);
    expect(bad).to.be.instanceOf(InvalidCidError);

    const missing = await store.get(UNKNOWN_CID, { timeoutMs: 700 }).then(() => undefined, (e: unknown) => e);
    expect(missing).to.be.instanceOf(GetTimeoutError);
    expect((missing as Error).message).to.contain(UNKNOWN_CID);

    const cid = await store.put(pattern(800_000, 4));
    const big = await store.get(cid, { maxBytes: 100_000 }).then(() => undefined, (e: unknown) => e);
    expect(big).to.be.instanceOf(ContentTooLargeError);
    expect((big as ContentTooLargeError).declared).to.equal(true);
    expect((big as Error).message).to.contain(cid);
  });

  it("fails createKuboStore early with KuboRpcError when nothing listens at the URL", async () => {
    const err = await createKuboStore({ apiUrl: "http://127.0.0.1:9", requestTimeoutMs: 2000 }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(KuboRpcError);
    expect((err as Error).message).to.contain("127.0.0.1:9");
  });

  it("refuses RPC calls that carry a browser Origin (403) and non-POST calls (405), like Kubo", async () => {
    const withOrigin = await fetch(`${daemon.apiUrl}/api/v0/id`, { method: "POST", headers: { Origin: "http://evil.example" } });
    expect(withOrigin.status).to.equal(403);
    const client = create({ url: `${daemon.apiUrl}/api/v0`, headers: { Origin: "https://webui.example" } });
    const err = await client.id().then(() => undefined, (e: unknown) => e);
    expect((err as Error | undefined)?.message ?? "").to.match(/403|Forbidden/);
    expect((await fetch(`${daemon.apiUrl}/api/v0/id`)).status).to.equal(405);
    expect((await fetch(`${daemon.apiUrl}/api/v0/id`, { method: "POST" })).status).to.equal(200);
  });

  it("refuses RPC requests from non-loopback remote addresses (403)", () => {
    const result: { status?: number; nextCalled: boolean } = { nextCalled: false };
    const res = { status(s: number) { result.status = s; return this; }, type() { return this; }, send() { return this; } };
    rpcAccessGuard({ socket: { remoteAddress: "192.168.1.50" }, headers: {} } as unknown as Request,
      res as unknown as Response, () => { result.nextCalled = true; });
    expect(result).to.deep.equal({ status: 403, nextCalled: false });
    rpcAccessGuard({ socket: { remoteAddress: "127.0.0.1" }, headers: {} } as unknown as Request,
      res as unknown as Response, () => { result.nextCalled = true; });
    expect(result.nextCalled).to.equal(true);
  });

  it("serves plain curl: multipart add returns Kubo's NDJSON, cat returns the bytes, errors are JSON", async () => {
    const file = path.join(scratch, "hello.txt");
    await writeFile(file, "hello world\n");
    const add = await run("curl", ["-sS", "-X", "POST", "-F", `file=@${file}`, `${daemon.apiUrl}/api/v0/add?cid-version=0`]);
    expect(JSON.parse(add.stdout)).to.deep.equal({ Name: "hello.txt", Hash: "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", Size: "20" });
    const cat = await run("curl", ["-sS", "-X", "POST", `${daemon.apiUrl}/api/v0/cat?arg=QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o`]);
    expect(cat.stdout).to.equal("hello world\n");
    const bad = await run("curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", `${daemon.apiUrl}/api/v0/cat?arg=nonsense`]);
    const [body, code] = bad.stdout.split("\n");
    expect(code).to.equal("400");
    expect(JSON.parse(body ?? "{}")).to.include({ Type: "error" }).and.have.property("Message").that.contains("nonsense");
    const gw = await run("curl", ["-sS", `${daemon.gatewayUrl}/ipfs/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o`]);
    expect(gw.stdout).to.equal("hello world\n");
  });

  it("runs `peerfl ipfs add` and `cat` against the daemon and prints --help (exit codes 0)", async () => {
    const file = path.join(scratch, "cli.bin");
    const bytes = pattern(300_000, 55);
    await writeFile(file, bytes);
    const add = await captureStdout(() => main(["add", file, "--api", daemon.apiUrl]));
    expect(add.code).to.equal(0);
    const cid = Buffer.from(add.out).toString().trim();
    expect(cid).to.equal(await other.put(bytes, { pin: false }));
    const cat = await captureStdout(() => main(["cat", cid, "--api", daemon.apiUrl]));
    expect(cat.code).to.equal(0);
    expect(sameBytes(cat.out, bytes)).to.equal(true);
    const help = await captureStdout(() => main(["daemon", "--help"]));
    expect(help.code).to.equal(0);
    expect(Buffer.from(help.out).toString()).to.contain("--api-port").and.contain("--gateway-port").and.contain("--swarm-port").and.contain("--repo");
    const missing = await captureStdout(() => main(["cat", "not-a-cid", "--api", daemon.apiUrl]), true);
    expect(missing.code).to.equal(1);
  });

  it("parses Kubo's Go-style timeout durations and rejects garbage", () => {
    expect(parseGoDuration("1500ms")).to.equal(1500);
    expect(parseGoDuration("1m30s")).to.equal(90_000);
    expect(() => parseGoDuration("soon")).to.throw(/invalid duration "soon"/);
  });
});
