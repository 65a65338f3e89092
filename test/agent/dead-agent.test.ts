/**
 * An agent that cannot go on exits non-zero with a one-line reason: real agent processes against a
 * real `hardhat node` and a deployed FederatedTask.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { startProcess } from "../../node/lib/processes.ts";
import { admitPeers } from "../../node/demo/admission.ts";
import type { TaskConnection } from "../../node/chain/connect.ts";
import { startTestChain, deployConfiguredTask, CLI, ROOT, type TestChain } from "../demo/chain-helpers.ts";

interface AgentRun { code: number | null; lines: string[]; fatal?: { event: string; reason: string; address?: string; balanceWei?: string } }

async function runAgent(args: string[], env: NodeJS.ProcessEnv, dataDir: string): Promise<AgentRun> {
  const p = startProcess({
    name: "agent", cmd: process.execPath, cwd: ROOT, env: { PEERFL_PRIVATE_KEY: undefined, ...env },
    args: ["--import", "tsx", CLI, "agent", "--data-dir", dataDir, "--log-format", "json", "--chain-retries", "1", "--roles", "verifier", ...args],
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
  const code = await p.exited;
  clearTimeout(timer);
  await p.drained;
  const lines = p.tail();
  const fatalLine = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { event: string; reason: string }).find((e) => e.event === "fatal");
  return { code, lines, fatal: fatalLine };
}

describe("agent: exits non-zero with a reason when it cannot recover (real node, real process)", function () {
  this.timeout(300_000);
  let chain: TestChain;
  let contract: string;
  let initiator: TaskConnection;
  let dir: string;

  before(async () => {
    chain = await startTestChain();
    ({ address: contract, initiator } = await deployConfiguredTask(chain.rpcUrl));
    dir = mkdtempSync(path.join(os.tmpdir(), "peerfl-dead-agent-"));
  });
  after(async () => {
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("exits 1 with 'insufficient funds', its address and balance when its wallet (PEERFL_PRIVATE_KEY) is empty", async () => {
    const wallet = Wallet.createRandom();
    await admitPeers(initiator.task, [wallet.address]); // admitted (allow-list mode) but penniless
    const run = await runAgent(["--rpc", chain.rpcUrl, "--contract", contract], { PEERFL_PRIVATE_KEY: wallet.privateKey }, path.join(dir, "empty"));
    expect(run.code, run.lines.join("\n")).to.equal(1);
    expect(run.fatal, run.lines.join("\n")).to.not.equal(undefined);
    expect(run.fatal!.reason).to.match(/^insufficient funds for registerPeer: .* has 0 ETH/);
    expect(run.fatal!.reason).to.contain(wallet.address);
    expect(run.fatal!.balanceWei).to.equal("0");
    // The key came from the environment: no warning about the command line.
    expect(run.lines.some((l) => l.includes("private-key-on-command-line"))).to.equal(false);
    // One line: the reason is the last thing it printed.
    expect(JSON.parse(run.lines[run.lines.length - 1]).event).to.equal("fatal");
  });

  it("warns that --private-key shows in ps, then fails the same way", async () => {
    const wallet = Wallet.createRandom();
    await admitPeers(initiator.task, [wallet.address]);
    const run = await runAgent(["--rpc", chain.rpcUrl, "--contract", contract, "--private-key", wallet.privateKey], {}, path.join(dir, "flag"));
    expect(run.code).to.equal(1);
    const warning = run.lines.find((l) => l.includes("private-key-on-command-line"));
    expect(warning, run.lines.join("\n")).to.not.equal(undefined);
    expect(JSON.parse(warning!).level).to.equal("warn");
    expect(run.fatal!.reason).to.contain("insufficient funds");
  });

  it("exits 1 saying it is not admitted when the allow-list refuses its registration", async () => {
    const run = await runAgent(["--rpc", chain.rpcUrl, "--contract", contract, "--account", "15"], {}, path.join(dir, "notadmitted"));
    expect(run.code, run.lines.join("\n")).to.equal(1);
    expect(run.fatal!.reason, JSON.stringify(run.fatal)).to.match(/NotAdmitted\(0x|is not admitted/);
  });

  it("exits 1 naming the address when there is no contract there (a configuration error)", async () => {
    const nowhere = "0x" + "de".repeat(20);
    const run = await runAgent(["--rpc", chain.rpcUrl, "--contract", nowhere, "--account", "2"], {}, path.join(dir, "nocontract"));
    expect(run.code).to.equal(1);
    expect(run.fatal!.reason.toLowerCase()).to.contain(`no contract deployed at ${nowhere}`);
  });

  it("exits 2 with the chmod hint when --key-file is readable by others", async () => {
    const { writeFileSync, chmodSync } = await import("node:fs");
    const f = path.join(dir, "open.key");
    writeFileSync(f, Wallet.createRandom().privateKey);
    chmodSync(f, 0o644);
    const run = await runAgent(["--rpc", chain.rpcUrl, "--contract", contract, "--key-file", f], {}, path.join(dir, "open"));
    expect(run.code).to.equal(2);
    expect(run.lines.join("\n")).to.contain("chmod 600");
  });
});
