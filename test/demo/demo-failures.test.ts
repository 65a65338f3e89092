/**
 * The demo on real parts (hardhat node, Ignition, agent processes, IPFS): when an agent dies it
 * stops everything it started and names the peer and its exit; abort (Ctrl-C) does the same.
 * And `peerfl demo --help` prints its help once.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { runDemo, AgentDiedError, DemoAbortedError } from "../../node/demo/demo.ts";
import { probeChainId } from "../../node/chain/connect.ts";
import { freePort, liveProcessCount } from "../../node/lib/processes.ts";
import { CLI, ROOT } from "./chain-helpers.ts";

const small = { peers: 3, rounds: 2, attackers: 0, maxSamples: 200, evaluate: false, quiet: true, json: undefined, trainingWindow: 60 } as const;

async function chainIsDown(rpcUrl: string): Promise<boolean> {
  return probeChainId(rpcUrl, 1000).then(() => false, () => true);
}

describe("demo: failures stop everything it started", function () {
  this.timeout(600_000);
  const dirs: string[] = [];
  const workDir = () => { const d = mkdtempSync(path.join(os.tmpdir(), "peerfl-demo-fail-")); dirs.push(d); return d; };
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  it("prints `peerfl demo --help` once", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", CLI, "demo", "--help"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).to.equal(0);
    expect(r.stdout.match(/Usage: peerfl demo/g)).to.have.length(1);
    expect(r.stdout).to.contain("--peers <n>");
  });

  it("refuses more peers than the contract's MAX_PEERS", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", CLI, "demo", "--peers", "257"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain("--peers must be in [2, 256]");
  });

  it("reports 'peer1 died (...)' when an agent dies mid-run, and leaves no chain, agent or IPFS node behind", async () => {
    const port = await freePort(0);
    let killedPid = 0;
    let err: unknown;
    try {
      await runDemo({
        ...small, port, workDir: workDir(),
        onProgress: (_p, ctl) => {
          if (killedPid) return;
          killedPid = ctl.agents[1].child.pid!;
          ctl.agents[1].child.kill("SIGKILL"); // a crash: nobody restarts it
        },
      });
    } catch (e) { err = e; }
    expect(killedPid).to.be.greaterThan(0);
    expect(err, String(err)).to.be.instanceOf(AgentDiedError);
    const died = err as AgentDiedError;
    expect(died.peer).to.equal("peer1");
    expect(died.message).to.match(/^peer1 died \(signal SIGKILL\): /);
    expect(died.logFile).to.match(/peer1\.log$/);
    expect(liveProcessCount(), "processes still running").to.equal(0);
    expect(await chainIsDown(`http://127.0.0.1:${port}`), "chain stopped").to.equal(true);
  });

  it("stops everything on abort (what Ctrl-C does) with DemoAbortedError", async () => {
    const port = await freePort(0);
    const abort = new AbortController();
    let err: unknown;
    try {
      await runDemo({ ...small, port, workDir: workDir(), signal: abort.signal, onProgress: () => abort.abort(new Error("SIGINT")) });
    } catch (e) { err = e; }
    expect(err, String(err)).to.be.instanceOf(DemoAbortedError);
    expect((err as Error).message).to.equal("demo stopped: SIGINT");
    expect(liveProcessCount()).to.equal(0);
    expect(await chainIsDown(`http://127.0.0.1:${port}`)).to.equal(true);
  });
});

describe("peerfl demo: Ctrl-C", function () {
  this.timeout(300_000);

  it("stops the chain and every agent on SIGINT and exits 130", async () => {
    const { spawn } = await import("node:child_process");
    const port = await freePort(0);
    const json = path.join(mkdtempSync(path.join(os.tmpdir(), "peerfl-demo-sigint-")), "demo.json");
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "demo", "--peers", "2", "--rounds", "3", "--attackers", "0", "--max-samples", "100", "--no-evaluate", "--json", json, "--port", String(port)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    for (let k = 0; k < 600 && !/^ {2}started/m.test(out); k++) await new Promise((r) => setTimeout(r, 200));
    expect(out, out).to.match(/^ {2}started/m);
    child.kill("SIGINT");
    expect(await exited, out).to.equal(130);
    const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
    expect(ps.split("\n").filter((l) => l.includes(`127.0.0.1:${port}`) || l.includes(`--port ${port}`)), "orphans").to.deep.equal([]);
    expect(await chainIsDown(`http://127.0.0.1:${port}`)).to.equal(true);
  });
});
