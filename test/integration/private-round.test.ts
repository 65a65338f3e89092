/**
 * Private mode end to end on real parts (docs/secure-aggregation.md): a `hardhat node`, the task and
 * its SecureAggregation side contract, 8 agent processes with embedded IPFS nodes and real tfjs
 * training. Two peers are killed hard (SIGKILL) right after committing, as soon as another peer keeps a
 * copy of their masked update; if training is still open they die before revealing anything, and their
 * neighbours' shares of their self-mask seeds let the round unmask anyway. Checks that the round
 * finalizes with the 8 commits in the sum, and that the audit recomputes the aggregate from masked
 * updates + revealed shares (each share checked against its commitment) and reproduces the on-chain
 * CID bit for bit.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runDemo, type DemoHandle } from "../../node/demo/demo.ts";
import { connectTask } from "../../node/chain/connect.ts";
import { Phase, readPeers } from "../../node/chain/task.ts";
import { createEmbeddedStore } from "../../ipfs/embedded-store.ts";
import { auditRound } from "../../explorer/audit.ts";
import { auditIO, contractAuditChain } from "../../explorer/audit-io.ts";
import { contractPrivateAudit, type PrivateAuditResult } from "../../explorer/audit-private.ts";

const VICTIMS = [5, 6];
const events = (file: string) => readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { event: string; round?: number; cid?: string });

describe("integration: a private round with 8 real agents, 2 killed after committing", function () {
  this.timeout(900_000);
  let demo: DemoHandle;
  const killed = new Map<number, number>();

  before(async () => {
    const seenCommit = new Map<number, string>();
    demo = await runDemo({
      peers: 8, rounds: 1, attackers: 0, private: true, maxSamples: 600, quiet: true, keepRunning: true,
      evaluate: false, json: undefined, port: 18645, trainingWindow: 150, verificationWindow: 90, aggregationWindow: 60,
      onProgress: async (p, ctl) => {
        if (p.round !== 1 || p.phase > Phase.VerifyCommit) return;
        for (const i of VICTIMS) {
          if (killed.has(i)) continue;
          if (!seenCommit.has(i)) {
            const c = events(path.join(ctl.workDir, `peer${i}.log`)).find((e) => e.event === "committed" && e.round === 1);
            if (c) seenCommit.set(i, String(c.cid));
            continue;
          }
          // Kill it as soon as one other peer keeps a copy of its masked update (every peer fetches
          // and pins each masked update on UpdateCommitted): the bytes must outlive the committer.
          const cid = seenCommit.get(i)!;
          const kept = [0, 1, 2, 3, 4, 5, 6, 7].some((j) => j !== i && events(path.join(ctl.workDir, `peer${j}.log`)).some((e) => e.event === "masked-update-kept" && e.cid === cid));
          if (!kept) continue;
          ctl.agents[i].kill("SIGKILL");
          await ctl.agents[i].exited;
          killed.set(i, p.phase);
        }
      },
    });
  });

  after(async () => { await demo?.stop(); });

  it("finalizes the round with every commit, including the two dead peers', in the sum", () => {
    expect([...killed.keys()].sort(), "both victims were killed").to.deep.equal(VICTIMS);
    const r = demo.result.rounds[0];
    expect(r.status).to.equal("finalized");
    expect(r.committed).to.have.length(8);
    for (const i of VICTIMS) expect(r.accepted).to.include(`peer${i}`);
  });

  it("the survivors revealed their shares", () => {
    // Whether a victim managed to reveal before its kill depends on timing: when its commit is the
    // last one, training closes at once and it reveals within a second. The path where a committed
    // peer never reveals is covered deterministically by test/roles/secagg-private.test.ts.
    const victimsRevealed = VICTIMS.filter((i) => events(path.join(demo.workDir, `peer${i}.log`)).some((e) => e.event === "secagg-revealed"));
    process.stdout.write(`      (victims that revealed before their kill: ${victimsRevealed.length ? victimsRevealed.map((i) => `peer${i}`).join(", ") : "none"})\n`);
    const revealers = [0, 1, 2, 3, 4, 7].filter((i) => events(path.join(demo.workDir, `peer${i}.log`)).some((e) => e.event === "secagg-revealed" && e.round === 1));
    expect(revealers.length).to.be.at.least(4);
  });

  it("the audit recomputes the sum from masked updates + revealed shares and reproduces the CID bit for bit", async () => {
    const conn = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
    const store = await createEmbeddedStore({ repoDir: mkdtempSync(path.join(os.tmpdir(), "peerfl-audit-")), listenPort: 0 });
    try {
      for (const ma of demo.creatorMultiaddrs) await store.dial(ma).catch(() => undefined);
      for (const p of await readPeers(conn.task)) await store.dial(p.multiaddr, { timeoutMs: 5000 }).catch(() => undefined);
      const io = auditIO(contractAuditChain(demo.contractAddress, conn.task.interface, conn.provider), (cid) => store.get(cid, { timeoutMs: 20_000 }));
      const secagg = contractPrivateAudit(demo.result.secagg!, demo.contractAddress, conn.task.interface, conn.provider);
      const audit = (await auditRound(1, { ...io, secagg })) as PrivateAuditResult;
      expect(audit.differences).to.deep.equal([]);
      expect(audit.ok).to.equal(true);
      expect(audit.globalCidRecomputed).to.equal(audit.globalCidOnChain);
      expect(audit.private.inSum).to.have.length(8);
      expect(audit.private.secrets.every((s) => s.secret === "self" && s.validShares >= s.threshold)).to.equal(true);
    } finally {
      await store.stop();
    }
  });
});
