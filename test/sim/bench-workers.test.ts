// bench/workers.ts: the RESULT-line protocol and the worker pool the long benchmarks share.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { argsWithout, parseResultLine, resultLine, runWorkers } from "../../bench/workers.ts";

describe("bench worker pool", () => {
  it("round-trips results through RESULT lines, Infinity included, and ignores other lines", () => {
    const r = { target: Infinity, acc: 0.5, name: "x" };
    expect(parseResultLine(resultLine(r))).to.deep.equal(r);
    expect(parseResultLine("progress: round 3")).to.equal(undefined);
    expect(() => parseResultLine("RESULT {broken")).to.throw(SyntaxError);
  });

  it("drops flags and their values from the arguments passed on", () => {
    expect(argsWithout(["--flower", "--jobs", "2", "--out", "x", "--worker", "1"], ["--jobs", "--worker"])).to.deep.equal(["--flower", "--out", "x"]);
  });

  it("runs the workers, collects every result as it comes, and fails when a worker fails", async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), "peerfl-workers-"));
    try {
      const script = join(dir, "w.ts");
      writeFileSync(script, [
        `const w = Number(process.argv[process.argv.indexOf("--worker") + 1]);`,
        `if (process.argv.includes("--fail") && w === 1) process.exit(3);`,
        `console.log("noise");`,
        `for (let i = 0; i < 2; i++) console.log("RESULT " + JSON.stringify({ w, i }));`,
      ].join("\n"));
      const seen: unknown[] = [];
      const results = await runWorkers<{ w: number; i: number }>({ script, jobs: 2, args: [], workerArgs: (w) => ["--worker", String(w)], onResult: (r) => seen.push(r) });
      expect(results.map((r) => `${r.w}.${r.i}`).sort()).to.deep.equal(["0.0", "0.1", "1.0", "1.1"]);
      expect(seen).to.have.length(4);
      let failure: Error | undefined;
      await runWorkers({ script, jobs: 2, args: ["--fail"], workerArgs: (w) => ["--worker", String(w)], label: "test worker" }).catch((e: Error) => { failure = e; });
      expect(failure?.message).to.equal("test worker 1 exited with 3");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
