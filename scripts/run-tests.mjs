// Runs the whole test suite (Solidity tests + Mocha tests, through `hardhat test`) and closes
// with one plain summary line "tests: N passed, N failed, N skipped" that CI can read.
// Extra arguments are passed to `hardhat test` (e.g. `./peerfl test mocha test/unit/codec.test.ts`).
import { spawn } from "node:child_process";

const args = ["hardhat", "test", ...process.argv.slice(2)];
const child = spawn("npx", args, {
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0" },
});
let out = "";
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
child.stdout.on("data", (d) => { process.stdout.write(d); out += strip(d.toString()); });
child.stderr.on("data", (d) => { process.stderr.write(d); out += strip(d.toString()); });
const forward = (sig) => () => child.kill(sig);
process.on("SIGINT", forward("SIGINT"));
process.on("SIGTERM", forward("SIGTERM"));

child.on("close", (code, signal) => {
  // Hardhat prints "N passing (a solidity, b mocha)", "N failing (...)", "N pending (...)" last.
  const count = (word) => {
    const all = [...out.matchAll(new RegExp(`^\\s*(\\d+) ${word} \\(`, "gm"))];
    if (all.length) return Number(all[all.length - 1][1]);
    const any = [...out.matchAll(new RegExp(`^\\s*(\\d+) ${word}\\b`, "gm"))];
    return any.reduce((s, m) => s + Number(m[1]), 0);
  };
  const passed = count("passing");
  let failed = count("failing");
  const skipped = count("pending");
  const ok = code === 0 && failed === 0 && passed > 0;
  if (!ok && failed === 0) failed = 1; // a crash or a run with no tests counts as a failure
  console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(ok ? 0 : code || 1);
});
