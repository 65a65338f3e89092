/**
 * D2D-clustered rounds on real parts: `hardhat node`, 5 agent processes training MNIST shards,
 * embedded IPFS, the 5G link emulation of examples/scenarios/d2d-5peers.json and the task's
 * ClusterRounds side contract deployed by the demo (`--clusters`). Peer 0 stands at the head's spot,
 * peers 1 and 2 next to it, peer 3 far away, peer 4 is a phone at 12 % battery that sits the rounds
 * out. The head records its cluster in every round, the check seed is drawn after the record window
 * (two checkers per cluster), the rounds finalize, and `peerfl audit --cluster-rounds` reproduces both
 * levels from chain + IPFS and shows the seed and the drawn checkers.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { runDemo, type DemoHandle } from "../../node/demo/demo.ts";
import { mainAudit } from "../../explorer/cli.ts";

describe("integration: clustered rounds in the real agents (--clusters)", function () {
  this.timeout(600_000);
  let demo: DemoHandle;

  before(async () => {
    demo = await runDemo({
      peers: 5, rounds: 1, attackers: 0, maxSamples: 200, quiet: true, keepRunning: true, evaluate: false, json: undefined,
      port: 18745, trainingWindow: 60, scenario: "examples/scenarios/d2d-5peers.json", clusters: true,
    });
  });

  after(async () => { await demo?.stop(); });

  it("the head at the scenario's head spot records its cluster and the round finalizes", () => {
    expect(demo.result.rounds.map((r) => r.status)).to.deep.equal(["finalized"]);
    const rec = demo.result.clusters?.rounds ?? [];
    expect(rec).to.have.length(1);
    expect(rec[0].head).to.equal("peer0");
    expect([...rec[0].members].sort()).to.deep.equal(["peer0", "peer1", "peer2"]);
    expect([...rec[0].included].sort()).to.deep.equal(["peer0", "peer1", "peer2"]);
    expect(rec[0].challengedBy).to.equal(null); // an honest head: nobody challenged it
    const skipped = readFileSync(path.join(demo.workDir, "peer4.log"), "utf8").split("\n").filter((l) => l.includes('"round-skipped"'));
    expect(skipped.length).to.be.greaterThan(0);
  });

  it("peerfl audit --cluster-rounds reproduces both levels", async () => {
    let out = "";
    const code = await mainAudit(["--round", "1", "--rpc", demo.rpcUrl, "--contract", demo.contractAddress, "--cluster-rounds", demo.result.clusters!.address], { out: (x) => { out += x; }, err: (x) => { out += x; } });
    expect(out).to.include("✓ round 1 reproduces");
    expect(out).to.match(/head peer\d members [\d,]+: ok/);
    expect(out).to.match(/check seed\s+0x[0-9a-f]{64} \(block \d+\)/); // drawn on chain after the record window
    expect(out).to.match(/checkers peer\d, peer\d; not challenged/);
    expect(code, out).to.equal(0);
  });
});
