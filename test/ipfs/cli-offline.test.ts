/**
 * `peerfl ipfs add` / `cat` with no daemon at --api: like Kubo they work on the local repo (--repo,
 * or ~/.peerfl/ipfs when it exists); without one they say which URL was tried and how to start a daemon.
 */
import { expect } from "chai";
import { mkdir, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { main } from "../../ipfs/cli.ts";
import { createEmbeddedStore } from "../../ipfs/embedded-store.ts";
import { pattern, sameBytes, tempDir } from "./helpers.ts";

/** Run the CLI in this process, collecting stdout and stderr. */
async function runCli(argv: string[]): Promise<{ code: number; out: Buffer; err: string }> {
  const out: Buffer[] = [];
  let err = "";
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => { out.push(Buffer.from(chunk)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => { err += Buffer.from(chunk).toString("utf8"); return true; }) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, out: Buffer.concat(out), err };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

/** A loopback port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe("ipfs: `peerfl ipfs add` and `cat` without a daemon", function () {
  this.timeout(60_000);
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let api: string;
  const savedHome = process.env.HOME;

  before(async () => {
    scratch = await tempDir("cli-offline");
    api = `http://127.0.0.1:${await deadPort()}`;
  });
  after(async () => {
    process.env.HOME = savedHome;
    await scratch?.cleanup();
  });

  it("adds into --repo when no daemon answers at --api, and cat reads it back from there", async () => {
    const file = path.join(scratch.dir, "model.bin");
    const bytes = pattern(300_000, 31);
    await writeFile(file, bytes);
    const repo = path.join(scratch.dir, "repo");
    const add = await runCli(["add", file, "--api", api, "--repo", repo]);
    expect(add.code, add.err).to.equal(0);
    const cid = add.out.toString().trim();
    expect(cid).to.match(/^bafy/); // 300 kB: two 256 KiB chunks under a dag-pb root
    expect(add.err).to.contain(`no daemon at ${api}`).and.contain(repo);
    const cat = await runCli(["cat", cid, "--api", api, "--repo", repo, "--timeout", "5000"]);
    expect(cat.code, cat.err).to.equal(0);
    expect(sameBytes(cat.out, bytes)).to.equal(true);
    // The CLI released the repo, and the block is pinned in it.
    const store = await createEmbeddedStore({ repoDir: repo });
    try {
      expect(await store.isPinned(cid)).to.equal(true);
    } finally {
      await store.stop();
    }
  });

  it("falls back to the default repo ~/.peerfl/ipfs when it exists, and --offline skips the daemon", async () => {
    const home = path.join(scratch.dir, "home-with-repo");
    await mkdir(path.join(home, ".peerfl", "ipfs"), { recursive: true });
    process.env.HOME = home;
    const file = path.join(scratch.dir, "small.txt");
    await writeFile(file, "hello offline\n");
    const add = await runCli(["add", file, "--api", api, "--cid-version", "0"]);
    expect(add.code, add.err).to.equal(0);
    expect(add.err).to.contain(path.join(home, ".peerfl", "ipfs"));
    const offline = await runCli(["add", file, "--offline", "--cid-version", "0"]);
    expect(offline.code, offline.err).to.equal(0);
    expect(offline.out.toString()).to.equal(add.out.toString());
    expect(offline.err).to.equal("");
  });

  it("without a daemon or a repo, names the URL it tried and how to start a daemon", async () => {
    process.env.HOME = path.join(scratch.dir, "empty-home");
    const file = path.join(scratch.dir, "x.txt");
    await writeFile(file, "x\n");
    const add = await runCli(["add", file, "--api", api]);
    expect(add.code).to.equal(1);
    expect(add.err).to.contain(`no IPFS daemon answered at ${api}`);
    expect(add.err).to.match(/ECONNREFUSED/);
    expect(add.err).to.contain("./peerfl ipfs daemon --repo DIR").and.contain("--repo DIR");
    expect(add.err).not.to.contain("fetch failed");
  });
});
