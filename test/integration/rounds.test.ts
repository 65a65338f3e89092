/**
 * End to end on real parts: a `hardhat node`, Ignition deployment, 6 agent processes (one sign-flip
 * attacker, one that joins only after round 1) with embedded IPFS nodes, real tfjs training on MNIST
 * shards, the task's default rule (centered clipping). Checks that rounds finalize, that the audit
 * (node/protocol's verdict and aggregate, fed from chain + IPFS alone) reproduces every round's
 * accepted mask and global CID bit for bit, that the attacker is rejected, and that an agent killed mid-round
 * and restarted resumes from chain state without committing twice, and that the late joiner starts
 * from the latest global model and gets its updates accepted.
 */
import { expect } from "chai";
import { readFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runDemo, type DemoHandle } from "../../node/demo/demo.ts";
import { connectTask } from "../../node/chain/connect.ts";
import { Phase, readPeers } from "../../node/chain/task.ts";
import { createEmbeddedStore } from "../../ipfs/embedded-store.ts";
import { auditRound } from "../../explorer/audit.ts";
import { auditIO, contractAuditChain } from "../../explorer/audit-io.ts";

describe("integration: full rounds with real agents, chain and IPFS", function () {
  this.timeout(600_000);
  let demo: DemoHandle;
  let restartedAt: { round: number; committedBefore: boolean } | undefined;

  before(async () => {
    let killed = false;
    demo = await runDemo({
      peers: 6, lateJoiners: 1, rounds: 3, attackers: 1, attack: "sign-flip", maxSamples: 1000, quiet: true, keepRunning: true,
      evaluate: false, json: undefined, port: 18545, trainingWindow: 120,
      onProgress: async (p, ctl) => {
        // Round 2, once peer1 has committed (training may already have closed): kill it hard, restart it.
        if (killed || p.round !== 2 || p.phase > Phase.AggregateReveal || p.commits < 1) return;
        const log = readFileSync(path.join(ctl.workDir, "peer1.log"), "utf8");
        if (!/"event":"committed","round":2/.test(log)) return;
        killed = true;
        restartedAt = { round: 2, committedBefore: true };
        ctl.agents[1].child.kill("SIGKILL");
        await ctl.agents[1].exited;
        ctl.startAgent(1);
      },
    });
  });

  after(async () => { await demo?.stop(); });

  it("finalizes every round and rejects the attacker in each", () => {
    const rounds = demo.result.rounds;
    expect(rounds).to.have.length(3);
    for (const r of rounds) {
      expect(r.status, `round ${r.round}`).to.equal("finalized");
      expect(r.rejected, `round ${r.round} rejected`).to.include("peer5");
      expect(r.accepted, `round ${r.round} accepted`).to.not.include("peer5");
      for (const honest of ["peer0", "peer1", "peer2", "peer3"]) expect(r.accepted, `round ${r.round}`).to.include(honest);
    }
  });

  it("reproduces every on-chain global CID bit for bit from IPFS + chain alone", async () => {
    const conn = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
    const store = await createEmbeddedStore({ repoDir: mkdtempSync(path.join(os.tmpdir(), "peerfl-audit-")), listenPort: 0 });
    try {
      for (const ma of demo.creatorMultiaddrs) await store.dial(ma).catch(() => undefined);
      for (const p of await readPeers(conn.task)) await store.dial(p.multiaddr, { timeoutMs: 5000 }).catch(() => undefined);
      const io = auditIO(contractAuditChain(demo.contractAddress, conn.task.interface, conn.provider), (cid) => store.get(cid, { timeoutMs: 20_000 }));
      for (let r = 1; r <= 3; r++) {
        const audit = await auditRound(r, io);
        expect(audit.differences, `round ${r}`).to.deep.equal([]);
        expect(audit.ok).to.equal(true);
        expect(audit.globalCidRecomputed).to.equal(audit.globalCidOnChain);
        expect(audit.acceptedMaskRecomputed).to.equal(audit.acceptedMaskOnChain);
      }
    } finally {
      await store.stop();
    }
  });

  it("resumes a killed-and-restarted agent without a second commit", () => {
    expect(restartedAt, "the kill happened").to.not.equal(undefined);
    const log = readFileSync(path.join(demo.workDir, "peer1.log"), "utf8");
    const events = log.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { event: string; round?: number });
    const commitsR2 = events.filter((e) => e.event === "committed" && e.round === 2);
    expect(commitsR2, "exactly one commit in round 2").to.have.length(1);
    expect(events.filter((e) => e.event === "resumed").length, "restart resumed from chain").to.be.at.least(1);
    expect(events.some((e) => e.event === "committed" && e.round === 3), "commits again in round 3").to.equal(true);
    expect(demo.result.rounds[2].committed).to.include("peer1");
  });

  it("lets a peer join mid-task: it trains from the latest global model and is accepted", () => {
    const late = demo.result.rounds.filter((r) => r.committed.includes("peer4"));
    expect(demo.result.rounds[0].committed, "not there in round 1").to.not.include("peer4");
    expect(late.length, "commits in a later round").to.be.at.least(1);
    for (const r of late) expect(r.accepted, `round ${r.round}`).to.include("peer4");
    const log = readFileSync(path.join(demo.workDir, "peer4.log"), "utf8");
    const first = log.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { event: string; round?: number })
      .find((e) => e.event === "committed");
    expect(first?.round, "first commit after round 1").to.be.at.least(2);
  });
});
