/**
 * `npm run screenshots`: a 5-round demo with a sign-flip attacker, browsed with the explorer in
 * headless Chromium; saves the round page (after a passing audit), the peers page and the live
 * charts as bench/results/explorer-demo-*.png for review.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { runDemo } from "../node/demo/demo.ts";
import { startExplorerServer } from "../explorer/server.ts";
import { createExplorerService } from "../explorer/setup.ts";

const out = (name: string) => path.join("bench/results", `explorer-demo-${name}.png`);
const demo = await runDemo({ peers: 5, rounds: 5, attackers: 1, maxSamples: 2000, quiet: true, evaluate: false, json: undefined, keepRunning: true, port: 58845 });
const setup = createExplorerService({ rpcUrl: demo.rpcUrl, contractAddress: demo.contractAddress, cidTimeoutMs: 5000 });
const explorer = await startExplorerServer(setup.service, { port: 0, pollMs: 500 });
const userDataDir = mkdtempSync(path.join(os.tmpdir(), "peerfl-shots-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium", headless: true, viewport: { width: 1360, height: 1000 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${explorer.url}/round/2`);
  await page.locator("#audit-button").click();
  await page.locator("#audit-ok, #audit-failed").first().waitFor({ timeout: 60_000 });
  await page.screenshot({ path: out("round"), fullPage: true });
  await page.goto(`${explorer.url}/peers`);
  await page.screenshot({ path: out("peers"), fullPage: true });
  await page.goto(`${explorer.url}/live`);
  await page.waitForFunction(() => Number(document.body.dataset.rounds ?? "0") >= 5, undefined, { timeout: 60_000 });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: out("live"), fullPage: true });
  process.stdout.write(`wrote ${out("round")}, ${out("peers")}, ${out("live")}\n`);
} finally {
  await context.close();
  await explorer.close();
  await setup.close();
  await demo.stop();
  rmSync(userDataDir, { recursive: true, force: true });
}
