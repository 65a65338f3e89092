// Runs the whole test suite and closes with one plain summary line that CI can read:
//   tests: N passed, N failed, N skipped
// Groups, in order: Hardhat (Solidity fuzz/invariant tests + contract tests on the in-process EDR
// chain), then plain Mocha for the units, the integration tests (real `hardhat node`, agent
// processes, IPFS) and the explorer's browser test. With arguments, runs just those Mocha files.
import { spawn } from "node:child_process";

const UNIT_DIRS = ["agent", "protocol", "ml", "aggregation", "attacks", "privacy", "links", "ipfs", "sim", "secagg", "compression", "devices"];
const LATE_DIRS = ["integration", "demo", "explorer"];
const mocha = (files) => ["mocha", "--import=tsx", "--timeout", "600000", "--exit", ...files];

const args = process.argv.slice(2);
const groups = args.length
  ? [{ name: "selected", cmd: ["npx", ...mocha(args)] }]
  : [
      { name: "contracts (hardhat test: solidity + mocha)", cmd: ["npx", "hardhat", "test"] },
      { name: "units", cmd: ["npx", ...mocha(UNIT_DIRS.map((d) => `test/${d}/**/*.test.ts`))] },
      // Its own process: importing Hardhat (for the in-process EDR chain) loads the toolbox's chai
      // plugin, whose integer-only closeTo would break the units' float assertions.
      { name: "roles (in-process chain)", cmd: ["npx", ...mocha(["test/roles/**/*.test.ts"])] },
      { name: "integration + browser", cmd: ["npx", ...mocha(LATE_DIRS.map((d) => `test/${d}/**/*.test.ts`))] },
    ];

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
let child;
process.on("SIGINT", () => child?.kill("SIGINT"));
process.on("SIGTERM", () => child?.kill("SIGTERM"));

function run(group) {
  return new Promise((resolve) => {
    process.stdout.write(`\n=== ${group.name}: ${group.cmd.join(" ")}\n`);
    child = spawn(group.cmd[0], group.cmd.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0" },
    });
    let out = "";
    child.stdout.on("data", (d) => { process.stdout.write(d); out += strip(d.toString()); });
    child.stderr.on("data", (d) => { process.stderr.write(d); out += strip(d.toString()); });
    child.on("close", (code) => {
      // Hardhat closes with "N passing (a solidity, b mocha)"; Mocha with "N passing (Xs)".
      const last = (word) => {
        const all = [...out.matchAll(new RegExp(`^\\s*(\\d+) ${word}\\b(.*)$`, "gm"))];
        const total = all.find((m) => /solidity|mocha/.test(m[2]));
        if (total) return Number(total[1]);
        return all.length ? Number(all[all.length - 1][1]) : 0;
      };
      const passed = last("passing");
      let failed = last("failing");
      const skipped = last("pending");
      if (code !== 0 && failed === 0) failed = 1; // a crash counts as a failure
      resolve({ passed, failed, skipped, code });
    });
  });
}

let passed = 0, failed = 0, skipped = 0;
for (const g of groups) {
  const r = await run(g);
  passed += r.passed; failed += r.failed; skipped += r.skipped;
  process.stdout.write(`=== ${g.name}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped\n`);
}
const ok = failed === 0 && passed > 0;
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(ok ? 0 : 1);
