/**
 * root-validation with real agents (`hardhat node`, Ignition, agent processes with embedded IPFS, real
 * training) at Dirichlet 0.1, the label skew where the private validation vote let sign-flips through:
 * the demo's creator publishes the public root set and names it in the model spec, every verifier fetches
 * it by CID and scores the updates on it, the sign-flipping attacker is rejected in every round while the
 * honest skewed peers are kept, and the audit recomputes the whole verdict (root-set vote included) and
 * the global CID from chain + IPFS alone.
 */
import { expect } from "chai";
import path from "node:path";
import os from "node:os";
import { mkdtempSync, readFileSync } from "node:fs";
import { runDemo, type DemoHandle } from "../../node/demo/demo.ts";
import { connectTask } from "../../node/chain/connect.ts";
import { readPeers } from "../../node/chain/task.ts";
import { createEmbeddedStore } from "../../ipfs/embedded-store.ts";
import { auditIO, contractAuditChain } from "../../explorer/audit-io.ts";
import { auditRound } from "../../explorer/audit.ts";
import { decodeModelSpec } from "../../node/ml/codec.ts";
import { decodeRootSet } from "../../node/ml/root-set.ts";

describe("integration: root-validation rejects a sign-flipper at Dirichlet 0.1 and keeps honest skewed peers", function () {
  this.timeout(600_000);
  let demo: DemoHandle;

  before(async () => {
    demo = await runDemo({
      peers: 5, attackers: 1, attack: "sign-flip", partition: "dirichlet:0.1", rule: "root-validation", rounds: 2, maxSamples: 500,
      quiet: true, keepRunning: true, evaluate: false, json: undefined, port: 18603, trainingWindow: 120,
      workDir: mkdtempSync(path.join(os.tmpdir(), "peerfl-root-validation-")),
    });
  });

  after(async () => { await demo?.stop(); });

  it("finalizes every round, rejecting the attacker and accepting every honest peer", () => {
    const rounds = demo.result.rounds;
    expect(rounds).to.have.length(2);
    for (const r of rounds) {
      expect(r.status, `round ${r.round}`).to.equal("finalized");
      expect(r.rejected, `round ${r.round} rejected`).to.deep.equal(["peer4"]);
      for (const honest of ["peer0", "peer1", "peer2", "peer3"]) expect(r.accepted, `round ${r.round}`).to.include(honest);
    }
  });

  it("verifiers scored on the root set the creator published (logged root-set leave-one-out scores)", () => {
    const log = readFileSync(path.join(demo.workDir, "peer0.log"), "utf8");
    expect(log).to.match(/"event":"root-validation","round":1/);
    expect(log).to.not.match(/root-set-unavailable/);
  });

  it("the audit recomputes the whole verdict, root-set vote included, and the global CID", async () => {
    const conn = await connectTask({ rpcUrl: demo.rpcUrl, contract: demo.contractAddress, accountIndex: 0 });
    const store = await createEmbeddedStore({ repoDir: mkdtempSync(path.join(os.tmpdir(), "peerfl-audit-")), listenPort: 0 });
    try {
      for (const ma of demo.creatorMultiaddrs) await store.dial(ma).catch(() => undefined);
      for (const p of await readPeers(conn.task)) await store.dial(p.multiaddr, { timeoutMs: 5000 }).catch(() => undefined);
      const fetch = (cid: string) => store.get(cid, { timeoutMs: 20_000 });
      const io = auditIO(contractAuditChain(demo.contractAddress, conn.task.interface, conn.provider), fetch);
      // The spec names a valid, class-balanced root set.
      const cfg = await io.chain.taskConfig();
      const spec = decodeModelSpec(await fetch(cfg.modelSpecCid));
      expect(spec.rootSet, "model spec names a root set").to.be.a("string");
      const root = decodeRootSet(await fetch(spec.rootSet!), { minPerClass: 50 });
      expect(root.count).to.equal(500);
      for (let r = 1; r <= 2; r++) {
        const audit = await auditRound(r, io);
        expect(audit.differences, `round ${r}`).to.deep.equal([]);
        expect(audit.acceptedMaskRecomputed, `round ${r}: the root-set vote recomputed`).to.equal(audit.acceptedMaskOnChain);
        expect(audit.commits.filter((c) => !c.acceptedRecomputed).map((c) => c.trainer.toLowerCase()), `round ${r}`).to.have.length(1);
        expect(audit.globalCidRecomputed).to.equal(audit.globalCidOnChain);
      }
    } finally {
      await store.stop();
    }
  });
});
