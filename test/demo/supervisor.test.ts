/**
 * The demo's process handling with real child processes: process groups are killed whole, an agent
 * that dies is reported with its last words, deliberate stops and kill-and-restart are not deaths.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { startProcess, liveProcessCount, type ManagedProcess } from "../../node/lib/processes.ts";
import { AgentSupervisor, AgentDiedError, deathReason } from "../../node/demo/supervisor.ts";

const node = (name: string, script: string): ManagedProcess =>
  startProcess({ name, cmd: process.execPath, args: ["-e", script], cwd: process.cwd() });
/** Running (a killed process whose new parent has not reaped it yet is a zombie: dead). */
const alive = (pid: number): boolean => {
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const idle = "setInterval(() => {}, 1000)";

describe("demo: process groups and dead agents", function () {
  this.timeout(60_000);

  it("stop() kills the whole process group, grandchildren included", async () => {
    // The child starts a grandchild in the same group and prints its pid.
    const p = node("parent", `const c = require("node:child_process").spawn(process.execPath, ["-e", ${JSON.stringify(idle)}], { stdio: "ignore" }); console.log(c.pid); ${idle}`);
    let grandchild = 0;
    for (let k = 0; k < 100 && !grandchild; k++) { await sleep(100); grandchild = Number(p.tail()[0] ?? 0); }
    expect(grandchild).to.be.greaterThan(0);
    expect(alive(grandchild)).to.equal(true);
    await p.stop(2000);
    await sleep(200);
    expect(alive(grandchild)).to.equal(false);
    expect(p.stoppedOnPurpose).to.equal(true);
  });

  it("finds the reason in an agent's last lines: its fatal JSON log line, else its last line", () => {
    expect(deathReason(['{"level":"info","event":"registered"}', '{"level":"error","event":"fatal","reason":"insufficient funds for registerPeer"}'])).to.equal("insufficient funds for registerPeer");
    expect(deathReason(["starting", "peerfl: chain node unreachable at http://127.0.0.1:1", ""])).to.equal("peerfl: chain node unreachable at http://127.0.0.1:1");
    expect(deathReason([])).to.equal("no output");
  });

  it("reports an agent that exits on its own as 'peerN died (exit code X): reason'", async () => {
    const sup = new AgentSupervisor();
    const p = node("peer3", `console.error(JSON.stringify({ level: "error", event: "fatal", reason: "insufficient funds: 0xabc has 0 ETH" })); process.exit(3)`);
    sup.watch(3, "peer3", p, "/tmp/peer3.log");
    let err: unknown;
    try { await sup.race(sleep(20_000)); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(AgentDiedError);
    expect((err as Error).message).to.equal("peer3 died (exit code 3): insufficient funds: 0xabc has 0 ETH (log: /tmp/peer3.log)");
    expect(() => sup.check()).to.throw(AgentDiedError);
  });

  it("does not count an agent stopped on purpose, or one killed and replaced inside onProgress", async () => {
    const sup = new AgentSupervisor();
    const a = node("peer0", idle);
    const b = node("peer1", idle);
    sup.watch(0, "peer0", a);
    sup.watch(1, "peer1", b);
    await a.stop(1000); // deliberate
    let replacement: ManagedProcess | undefined;
    await sup.holding(async () => {
      // What test/integration/rounds.test.ts does: a hard kill straight on the child, then a restart.
      b.child.kill("SIGKILL");
      await b.exited;
      await b.drained;
      replacement = node("peer1", idle);
      sup.watch(1, "peer1", replacement);
    });
    await sleep(300);
    expect(() => sup.check()).to.not.throw();
    await replacement!.stop(1000);
  });

  it("does count an agent killed inside onProgress and not replaced, once the callback returns", async () => {
    const sup = new AgentSupervisor();
    const a = node("peer2", idle);
    sup.watch(2, "peer2", a);
    await sup.holding(async () => {
      a.child.kill("SIGKILL");
      await a.exited;
      await a.drained;
      await sleep(100);
      expect(() => sup.check()).to.not.throw(); // held back while the callback runs
    });
    let err: unknown;
    try { await sup.race(sleep(5000)); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(AgentDiedError);
    expect((err as Error).message).to.match(/^peer2 died \(signal SIGKILL\)/);
  });

  it("leaves no started process running", async () => {
    await sleep(100);
    expect(liveProcessCount()).to.equal(0);
  });
});
