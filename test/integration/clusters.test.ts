/**
 * D2D-clustered rounds on real parts: `hardhat node`, 5 agent processes training MNIST shards,
 * embedded IPFS, the 5G link emulation of examples/scenarios/d2d-5peers.json and the task's
 * ClusterRounds side contract deployed by the demo (`--clusters`). Peer 0 stands at the head's spot,
 * peers 1 and 2 next to it, peer 3 far away, peer 4 is a phone at 12 % battery that sits the rounds
 * out. The head records its cluster in every round, the check seed is drawn after the record window
 * (k = 1 member of the cluster and, p = 100 %, the outsider peer 3 check it), the rounds finalize, and `peerfl audit --cluster-rounds` reproduces both
 * levels from chain + IPFS and shows the seed and the drawn checkers. Then a real Chromium (Debian's
 * /usr/bin/chromium through playwright-core, as test/explorer/browser.e2e.test.ts) opens the explorer's
 * Clusters page and the round's audit and reads the cluster columns (skipped without Chromium, except under CI).
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { runDemo, type DemoHandle } from "../../node/demo/demo.ts";
import { mainAudit } from "../../explorer/cli.ts";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { chromium } from "playwright-core";
import { startExplorerServer } from "../../explorer/server.ts";
import { createExplorerService } from "../../explorer/setup.ts";

const CHROMIUM = "/usr/bin/chromium";
const inCi = () => !["", "0", "false", undefined].includes(process.env.CI?.toLowerCase());

describe("integration: clustered rounds in the real agents (--clusters)", function () {
  this.timeout(600_000);
  let demo: DemoHandle;
  /** the checkers `peerfl audit` printed for the cluster (the browser must show the same) */
  let cliCheckers = "";
  /** the head `peerfl audit` printed (on-chain peer index, which need not be the demo's peer number) */
  let cliHead = "";

  before(async () => {
    demo = await runDemo({
      peers: 5, rounds: 1, attackers: 0, maxSamples: 200, quiet: true, keepRunning: true, evaluate: false, json: undefined,
      port: 18745, trainingWindow: 60, scenario: "examples/scenarios/d2d-5peers.json", clusters: true,
      // Pinned: this test checks the records, the drawn checks and the audit; "the head includes all 3 members" was
      // measured with centered clipping (pinned, in case the default changes).
      rule: "centered-clipping",
      clusterChecks: { insideCheckers: 1, outsideCheckBps: 10000 },
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
    // k = 1 member (sidelink) and, p = 100 %, one outsider — each only when the round's drawn verifier
    // committee has one there (peer 4 sat the round out but may still verify); never the head
    const checkers = /checkers ((?:peer\d)(?:, peer\d)?|none); not challenged/.exec(out);
    expect(checkers, out).to.not.equal(null);
    cliCheckers = checkers![1];
    cliHead = /head (peer\d) members/.exec(out)![1];
    expect(cliCheckers.split(", ")).to.not.include(cliHead);
    expect(code, out).to.equal(0);
  });

  it("the explorer in a browser shows the cluster records and the audit's checker and challenge columns", async function () {
    if (!existsSync(CHROMIUM)) {
      if (inCi()) throw new Error(`${CHROMIUM} is missing (apt-get install chromium); CI is set, so this fails instead of skipping`);
      this.skip();
    }
    const setup = createExplorerService({ rpcUrl: demo.rpcUrl, contractAddress: demo.contractAddress, cidTimeoutMs: 5000, clusterRounds: demo.result.clusters!.address });
    const explorer = await startExplorerServer(setup.service, { port: 0, pollMs: 1000 });
    const userDataDir = mkdtempSync(path.join(os.tmpdir(), "peerfl-chromium-clusters-"));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1360, height: 1000 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      // the round's audit first: it also connects the explorer's IPFS node to the peers (the scenario is on IPFS)
      await page.goto(explorer.url + "/round/1");
      await page.locator("#audit-button").click();
      await page.locator("#audit-ok").waitFor({ timeout: 120_000 });
      const table = await page.locator("#audit-clusters").innerText();
      expect(table.toLowerCase()).to.contain("checkers (drawn)").and.contain("challenge"); // (headers are upper-cased by CSS)
      expect(table).to.contain(cliCheckers === "none" ? "—" : cliCheckers); // the same drawn checkers as the CLI audit
      expect(table.toLowerCase()).to.contain("reproduces");
      expect(await page.locator("#audit-check-seed").innerText()).to.match(/0x[0-9a-f]{64} \(block \d+\)/);
      await page.goto(explorer.url + "/clusters");
      const body = await page.locator("body").innerText();
      expect(await page.locator("h1").innerText(), body).to.contain("Clusters");
      expect(body.toLowerCase(), body).to.contain(cliHead).and.contain("recorded");
      expect(body).to.match(/check seed[^\n]*0x[0-9a-f]{64}/i);
    } finally {
      await context.close().catch(() => undefined);
      await explorer.close();
      await setup.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });
});
