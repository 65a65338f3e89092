/**
 * Issue 14: a chain node killed and restarted mid-round.
 *
 * 1. Anvil keeps its chain in a state file (--state, written every second and on SIGTERM). The demo
 *    stops it during round 1's verification/aggregation (SIGTERM), leaves it down 3 s, and starts it
 *    again on the same port from that file. The three agent processes are not restarted: they ride out
 *    the outage and the task finalizes both rounds; no block is lost; and no agent commits, votes or
 *    aggregates twice in a round (their JSON logs, and the chain's counts).
 * 2. A crash (SIGKILL) cannot write the state file: Anvil then comes back with its last periodic dump,
 *    losing the blocks of (at most about) the last second. Measured here on a bare Anvil under a stream
 *    of transfers; the chain it comes back with is a prefix of the one it had (same genesis, same hashes).
 * Skipped, saying why, when no anvil binary is installed.
 */
import { expect } from "chai";
import { readFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseEther } from "ethers";
import { runDemo, findAnvil, anvilArgs, AnvilMissingError, type DemoHandle, type ChainRestart } from "../../node/demo/demo.ts";
import { Phase, phaseName } from "../../node/chain/task.ts";
import { hardhatAccount, makeProvider, probeChainId } from "../../node/chain/connect.ts";
import { startProcess, waitFor, freePort, type ManagedProcess } from "../../node/lib/processes.ts";
import { PROJECT_ROOT } from "../../node/lib/paths.ts";

type Ev = { event: string; round?: number; action?: string };
const events = (file: string): Ev[] =>
  readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Ev);

function skipWithoutAnvil(ctx: Mocha.Context): void {
  try { findAnvil(); } catch (err) {
    if (!(err instanceof AnvilMissingError)) throw err;
    console.log(`      (skipped: ${err.message})`);
    ctx.skip();
  }
}

describe("integration: the chain node restarted mid-round (Anvil with its state file)", function () {
  this.timeout(600_000);
  const ROUNDS = 2;
  let demo: DemoHandle | undefined;
  let restart: ChainRestart | undefined;
  let restartedIn: { round: number; phase: string } | undefined;
  let pidsBefore: (number | undefined)[] = [];

  before(async function () {
    skipWithoutAnvil(this);
    demo = await runDemo({
      chain: "anvil", peers: 3, attackers: 0, rounds: ROUNDS, maxSamples: 300, quiet: true, keepRunning: true,
      evaluate: false, json: undefined, port: 28745, trainingWindow: 120,
      // Pinned: about the chain node; "every honest update accepted" was measured with centered clipping (see anvil.test.ts).
      rule: "centered-clipping",
      onProgress: async (p, ctl) => {
        // Round 1 once training closed (verdicts / aggregates under way): stop the node, restart it.
        if (restart || p.round !== 1 || p.phase < Phase.VerifyCommit || p.phase > Phase.AggregateReveal) return;
        restartedIn = { round: p.round, phase: phaseName(p.phase) };
        pidsBefore = ctl.agents.map((a) => a.child.pid);
        restart = await ctl.restartChain({ signal: "SIGTERM", downMs: 3000 });
      },
    });
  });

  after(async () => { await demo?.stop(); });

  // Anvil dumps its state every second and on SIGTERM; a block mined in the instant before the stop
  // can miss the dump (seen once under load). The agents must carry on either way (next tests).
  it("restarted the node mid-round from its saved state, losing at most the last block", () => {
    expect(restartedIn, "the restart happened in round 1").to.not.equal(undefined);
    console.log(`      restarted in round ${restartedIn!.round} ${restartedIn!.phase}: block ${restart!.blockBefore} -> ${restart!.blockAfter}, down ${restart!.downSeconds.toFixed(1)} s`);
    expect(restart!.sameGenesis, "same genesis block").to.equal(true);
    expect(restart!.lostBlocks, "blocks lost").to.be.at.most(1);
    expect(restart!.blockAfter).to.be.at.least(restart!.blockBefore - 1);
  });

  it("finalizes every round with the same agent processes", () => {
    const d = demo!;
    expect(d.result.rounds).to.have.length(ROUNDS);
    for (const r of d.result.rounds) {
      expect(r.status, `round ${r.round}`).to.equal("finalized");
      expect([...r.committed].length, `round ${r.round} commits on chain`).to.equal(3);
      expect([...r.accepted].sort(), `round ${r.round} accepted`).to.deep.equal(["peer0", "peer1", "peer2"]);
    }
    expect(d.agents.map((a) => a.child.pid), "no agent was restarted").to.deep.equal(pidsBefore);
    for (const a of d.agents) expect(a.child.exitCode, `${a.name} still running`).to.equal(null);
  });

  it("no agent commits, votes or aggregates twice in a round (agent logs)", () => {
    const d = demo!;
    for (let i = 0; i < 3; i++) {
      const ev = events(path.join(d.workDir, `peer${i}.log`));
      expect(ev.filter((e) => e.event === "fatal"), `peer${i} fatal`).to.deep.equal([]);
      expect(ev.filter((e) => e.event === "chain-reset"), `peer${i}: the same chain, not a reset`).to.deep.equal([]);
      for (let r = 1; r <= ROUNDS; r++) {
        const n = (name: string) => ev.filter((e) => e.event === name && e.round === r).length;
        expect(n("committed"), `peer${i} round ${r} commits`).to.equal(1);
        for (const name of ["verdict-committed", "verdict", "aggregate-committed", "aggregated"]) {
          expect(n(name), `peer${i} round ${r} ${name}`).to.be.at.most(1);
        }
      }
    }
  });
});

describe("integration: Anvil killed hard (SIGKILL) keeps its last periodic dump", function () {
  this.timeout(180_000);
  let node: ManagedProcess | undefined;

  before(function () { skipWithoutAnvil(this); });
  after(async () => { await node?.stop(3000); });

  it("comes back with a prefix of its chain, losing at most the last ~1-2 s of blocks", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "peerfl-anvil-kill-"));
    const port = await freePort(28845);
    const url = `http://127.0.0.1:${port}`;
    const stateFile = path.join(dir, "state.json");
    const start = () => startProcess({ name: "anvil", cmd: findAnvil(), args: anvilArgs(port, stateFile), cwd: PROJECT_ROOT, logFile: path.join(dir, "anvil.log") });
    node = start();
    await waitFor("anvil", () => probeChainId(url, 1000), 30_000, 200);
    const provider = makeProvider(url, 31337n);
    const wallet = hardhatAccount(0).connect(provider);
    const to = hardhatAccount(1).address;
    // A steady stream of transfers (one block each under automine) for ~3.5 s, then a crash.
    const mined: { number: number; hash: string; at: number }[] = [];
    let nonce = await provider.getTransactionCount(wallet.address);
    const until = Date.now() + 3500;
    while (Date.now() < until) {
      const tx = await wallet.sendTransaction({ to, value: parseEther("0.001"), nonce: nonce++ });
      const r = (await tx.wait())!;
      mined.push({ number: r.blockNumber, hash: r.blockHash, at: Date.now() });
    }
    const killedAt = Date.now();
    node.kill("SIGKILL");
    await node.exited;
    node = start();
    await waitFor("anvil after SIGKILL", () => probeChainId(url, 1000), 30_000, 200);
    const after = await provider.getBlockNumber();
    const before = mined[mined.length - 1].number;
    const lost = mined.filter((m) => m.number > after);
    const lostSeconds = lost.length ? (killedAt - lost[0].at) / 1000 : 0;
    console.log(`      SIGKILL: ${mined.length} blocks mined in 3.5 s; came back at block ${after} of ${before}: lost ${before - after} blocks (the last ${lostSeconds.toFixed(2)} s)`);
    expect(after).to.be.at.most(before);
    expect(lostSeconds, "lost at most the time since the last 1 s dump (+ slack for a loaded machine)").to.be.at.most(2.5);
    // What survived is the same chain: the surviving blocks keep their hashes.
    for (const m of mined.filter((x) => x.number <= after).slice(-5)) {
      expect((await provider.getBlock(m.number))?.hash, `block ${m.number}`).to.equal(m.hash);
    }
    // And it goes on from there: a new transfer with the chain's own nonce is mined.
    const r = await (await wallet.sendTransaction({ to, value: 1n, nonce: await provider.getTransactionCount(wallet.address, "latest") })).wait();
    expect(r?.blockNumber).to.equal(after + 1);
    provider.destroy();
  });
});

/**
 * The agent notices the new genesis (node/agent/agent.ts checkChainIdentity), forgets its local nonce,
 * and registers with the redeployed task; it records the new identity only once registered, so a
 * refused registration is retried.
 */
describe("integration: Hardhat's node restarted without state, the task redeployed at the same address", function () {
  this.timeout(600_000);
  let demo: DemoHandle | undefined;
  let reset: ChainRestart | undefined;

  before(async function () {
    demo = await runDemo({
      chain: "hardhat", peers: 3, attackers: 0, rounds: 1, maxSamples: 300, quiet: true, keepRunning: true,
      evaluate: false, json: undefined, port: 28945, trainingWindow: 120,
      rule: "centered-clipping", // pinned, as above
      onProgress: async (p, ctl) => {
        // Round 1, as soon as it runs: the node comes back empty (new genesis); the demo redeploys the
        // task (same deployer nonce: same address), admits the peers, waits for them, starts it again.
        if (reset || p.round !== 1 || p.phase > Phase.AggregateReveal) return;
        reset = await ctl.restartChain({ redeploy: true });
      },
    });
  });

  after(async () => { await demo?.stop(); });

  it("the agents see the reset, register with the redeployed task, and its round finalizes", () => {
    const d = demo!;
    expect(reset, "the restart happened").to.not.equal(undefined);
    expect(reset!.sameGenesis, "a new chain").to.equal(false);
    expect(reset!.contractAddress?.toLowerCase()).to.equal(d.contractAddress.toLowerCase());
    for (let i = 0; i < 3; i++) {
      const ev = events(path.join(d.workDir, `peer${i}.log`));
      const k = ev.findIndex((e) => e.event === "chain-reset" && e.action === "re-registering with the new deployment");
      expect(k, `peer${i} logged chain-reset and re-registered`).to.be.at.least(0);
      expect(ev.slice(k).some((e) => e.event === "registered"), `peer${i} registered again`).to.equal(true);
      expect(ev.slice(k).filter((e) => e.event === "committed" && e.round === 1).length, `peer${i} commits once in the new round 1`).to.equal(1);
    }
    expect(d.result.rounds).to.have.length(1);
    expect(d.result.rounds[0].status).to.equal("finalized");
    expect([...d.result.rounds[0].accepted].sort()).to.deep.equal(["peer0", "peer1", "peer2"]);
  });
});
