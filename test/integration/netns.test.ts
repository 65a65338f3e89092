/**
 * Peers on separate hosts (issue 16): `demo --hosts netns` puts each of 3 agents in its own Linux
 * network namespace with its own address on a bridge the run creates. Checks that 2 rounds finalize;
 * that the chain node and the creator's IPFS node are reached on the bridge address (not 127.0.0.1)
 * and every peer registered its namespace address; that each agent process really runs in its own
 * namespace; that the namespaces have no route beyond the run's /24 (traffic stays inside); that the
 * 5G rates are shaped with tbf on both ends of every veth pair; and that stop() — and SIGINT to the
 * CLI — leave no namespace, veth or bridge behind. Skipped, saying why, where namespaces cannot be
 * made (not root, no iproute2).
 */
import { expect } from "chai";
import { execFileSync, spawn } from "node:child_process";
import { readlinkSync } from "node:fs";
import path from "node:path";
import { runDemo, type DemoHandle } from "../../node/demo/demo.ts";
import { connectTask, PROJECT_ROOT } from "../../node/chain/connect.ts";
import { readPeers } from "../../node/chain/task.ts";
import { checkNetnsSupport, IP, leftovers, TC } from "../../node/netns/topology.ts";
import { ipv4CidrMatcher } from "../../node/netns/cidr.ts";

const ROUNDS = 2;

describe("integration: demo --hosts netns (each agent in its own network namespace)", function () {
  this.timeout(600_000);
  let demo: DemoHandle | undefined;

  before(async function () {
    const why = checkNetnsSupport();
    if (why) {
      console.log(`      (skipped: network namespaces cannot be made here: ${why})`);
      this.skip();
    }
    demo = await runDemo({
      hosts: "netns", peers: 3, attackers: 0, rounds: ROUNDS, maxSamples: 300, quiet: true, keepRunning: true,
      evaluate: false, json: undefined, port: 28945,
    });
  });

  after(async () => {
    await demo?.stop();
  });

  it("finalizes every round", () => {
    expect(demo!.result.rounds.map((r) => r.status)).to.deep.equal(Array(ROUNDS).fill("finalized"));
  });

  it("reaches the chain on the bridge and registers each peer's own namespace address", async () => {
    const n = demo!.netns!;
    const inRun = ipv4CidrMatcher(n.subnet);
    expect(new URL(demo!.rpcUrl).hostname).to.equal(n.hostIp);
    for (const ma of demo!.creatorMultiaddrs) expect(ma).to.match(new RegExp(`^/ip4/${n.hostIp.replace(/\./g, "\\.")}/tcp/`));
    const conn = await connectTask({ rpcUrl: demo!.rpcUrl, contract: demo!.contractAddress, accountIndex: 0 });
    const peers = await readPeers(conn.task);
    conn.provider.destroy();
    expect(peers).to.have.length(3);
    const ips = peers.map((p) => /^\/ip4\/([\d.]+)\//.exec(p.multiaddr)?.[1] ?? "");
    for (const ip of ips) expect(inRun(ip), ip).to.equal(true);
    expect(new Set(ips).size).to.equal(3);
    expect([...ips].sort()).to.deep.equal(n.peers.map((p) => p.ip).sort());
  });

  it("runs each agent in its own namespace, with no route out of the run's /24 and tbf on both veth ends", () => {
    const n = demo!.netns!;
    const mine = readlinkSync("/proc/self/ns/net");
    const theirs = demo!.agents.map((a) => readlinkSync(`/proc/${a.child.pid}/ns/net`));
    for (const t of theirs) expect(t).to.not.equal(mine);
    expect(new Set(theirs).size).to.equal(3);
    for (const p of n.peers) {
      const routes = execFileSync(IP, ["-n", p.ns, "-4", "route", "show"]).toString();
      expect(routes).to.not.match(/default/);
      expect(routes).to.contain(n.subnet);
      expect(execFileSync(IP, ["netns", "exec", p.ns, TC, "qdisc", "show", "dev", "eth0"]).toString()).to.match(/qdisc tbf/);
      expect(execFileSync(TC, ["qdisc", "show", "dev", p.hostVeth]).toString()).to.match(/qdisc tbf/);
    }
  });

  it("stop() removes every namespace, veth and the bridge it created", async () => {
    const runId = demo!.netns!.runId;
    expect(leftovers(runId).length).to.be.greaterThan(0);
    await demo!.stop();
    demo = undefined;
    expect(leftovers(runId)).to.deep.equal([]);
  });

  it("SIGINT to `peerfl demo --hosts netns` tears everything down too", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "node/cli.ts"), "demo", "--hosts", "netns", "--peers", "2", "--rounds", "5",
      "--attackers", "0", "--max-samples", "200", "--no-evaluate", "--port", "28965", "--json", path.join(PROJECT_ROOT, ".peerfl", "netns-sigint.json")], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const runId = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no netns line within 120 s:\n${out}`)), 120_000);
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /bridge pflbr([0-9a-f]{6})/.exec(out);
        // Interrupt once the agents run (the namespaces are busy then).
        if (m && /agents\s/.test(out)) { clearTimeout(t); resolve(m[1]); }
      });
      child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
      child.once("exit", () => { clearTimeout(t); reject(new Error(`demo exited early:\n${out}`)); });
    });
    expect(leftovers(runId).length).to.be.greaterThan(0);
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).to.not.equal(0);
    expect(leftovers(runId)).to.deep.equal([]);
  });
});
