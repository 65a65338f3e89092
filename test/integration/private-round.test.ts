/**
 * Private mode end to end on real parts (docs/secure-aggregation.md): a `hardhat node`, the task and
 * its SecureAggregation side contract, 8 agent processes with embedded IPFS nodes and real tfjs
 * training. Two peers run with the fault injection `--exit-at before-reveal`: they commit, and when
 * training closes they stop acting without revealing anything and SIGKILL themselves 10 s later
 * (their IPFS node serves their masked update until then; every peer fetches and pins each masked
 * update on UpdateCommitted). So the dropout-before-reveal is forced, not left to timing: their
 * neighbours' shares of their self-mask seeds must let the round unmask. Checks that the victims
 * never revealed (chain and logs) and died, that the round finalizes with the 8 commits in the sum,
 * and that the audit recomputes the aggregate from masked updates + revealed shares (each share
 * checked against its commitment) and reproduces the on-chain CID bit for bit.
 * The task also has distributed DP (`--dp distributed`, small noise z = 0.01 so the verifiers'
 * loss check still accepts): every trainer clips, adds its Skellam share, and the survivors report
 * their epsilon on the PrivacyLedger, which the explorer's privacy audit recomputes.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { peerAccount, runDemo, type DemoHandle } from "../../node/demo/demo.ts";
import { connectTask } from "../../node/chain/connect.ts";
import { readPeers } from "../../node/chain/task.ts";
import { createEmbeddedStore } from "../../ipfs/embedded-store.ts";
import { auditRound } from "../../explorer/audit.ts";
import { auditIO, contractAuditChain } from "../../explorer/audit-io.ts";
import { contractPrivateAudit, type PrivateAuditResult } from "../../explorer/audit-private.ts";
import { secAggReader } from "../../node/secagg/chain.ts";
import { privacyLedgerReader } from "../../node/chain/privacy-ledger.ts";
import { buildPrivacyReport } from "../../explorer/services/privacy.ts";

const VICTIMS = [5, 6];
const events = (file: string) => readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { event: string; round?: number; cid?: string });

describe("integration: a private round with 8 real agents, 2 vanishing after committing and before revealing", function () {
  this.timeout(900_000);
  let demo: DemoHandle;

  before(async () => {
    demo = await runDemo({
      peers: 8, rounds: 1, attackers: 0, private: true, maxSamples: 600, quiet: true, keepRunning: true,
      evaluate: false, json: undefined, port: 18645, trainingWindow: 150, verificationWindow: 90, aggregationWindow: 60,
      exitBeforeReveal: VICTIMS,
      dp: "distributed", dpClip: 3000, dpSigma: 0.01,
    });
  });

  after(async () => { await demo?.stop(); });

  it("the victims committed, then vanished at the reveal point without revealing (fault injection, not timing)", async () => {
    for (const i of VICTIMS) {
      const log = events(path.join(demo.workDir, `peer${i}.log`));
      expect(log.some((e) => e.event === "committed" && e.round === 1), `peer${i} committed`).to.equal(true);
      expect(log.some((e) => e.event === "fault-exit" && e.round === 1), `peer${i} hit the fault point`).to.equal(true);
      expect(log.some((e) => e.event === "secagg-revealed"), `peer${i} never revealed`).to.equal(false);
      // It kills itself 10 s after the fault point; the round outlasts that, so it is gone by now (or within seconds).
      await Promise.race([demo.agents[i].exited, new Promise((r) => setTimeout(r, 20_000))]);
      expect(demo.agents[i].exitSignal, `peer${i}'s process died by SIGKILL`).to.equal("SIGKILL");
    }
    // And on chain: their bits are missing from the round's reveal mask.
    const conn = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
    const state = await secAggReader(demo.result.secagg!, conn.provider).roundState(1);
    const indexOf = new Map((await readPeers(conn.task)).map((p) => [p.address.toLowerCase(), p.peerIndex]));
    for (const i of VICTIMS) {
      const addr = peerAccount(i).address.toLowerCase();
      expect(((state.revealMask >> BigInt(indexOf.get(addr)!)) & 1n) === 0n, `peer${i}'s reveal bit`).to.equal(true);
    }
  });

  it("finalizes the round with every commit, including the two vanished peers', in the sum", () => {
    const r = demo.result.rounds[0];
    expect(r.status).to.equal("finalized");
    expect(r.committed).to.have.length(8);
    for (const i of VICTIMS) expect(r.accepted).to.include(`peer${i}`);
  });

  it("the survivors revealed their shares", () => {
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

  it("distributed DP: the survivors reported their epsilon on the ledger, equal to the audit's recomputation; the vanished did not", async () => {
    const conn = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
    const ledger = privacyLedgerReader(demo.result.privacy!.ledger, conn.provider);
    const params = (await ledger.params())!;
    expect(params.unit).to.equal("distributed");
    const count = Number((await conn.task.getRound(1)).commitCount);
    const commits = [];
    for (let i = 0; i < count; i++) {
      const c = await conn.task.getCommit(1, i);
      commits.push({ round: 1, trainer: String(c.trainer), numSamples: Number(c.numSamples) });
    }
    const report = buildPrivacyReport(ledger.address, params, commits, await ledger.reports());
    const victims = new Set(VICTIMS.map((i) => peerAccount(i).address.toLowerCase()));
    for (const p of report.peers) {
      expect(p.rows[0].status, p.trainer).to.equal(victims.has(p.trainer.toLowerCase()) ? "missing" : "ok");
    }
    expect(report.peers.filter((p) => p.rows[0].status === "ok")).to.have.length(8 - VICTIMS.length);
  });
});
