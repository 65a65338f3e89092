/**
 * The default robust rule (node/protocol/task-config.ts DEFAULT_RULE) as `peerfl demo` and
 * `peerfl task init` apply it: centered clipping for public, clustered and --private rounds (root-validation
 * stays opt-in: docs/robustness.md "Default"), an explicit --rule always wins, and an explicit
 * root-validation in a private round is kept but warned about (only its public pre-filter can run on
 * masked updates).
 */
import { expect } from "chai";
import { DEFAULT_PRIVATE_RULE, DEFAULT_RULE, defaultRuleFor } from "../../node/protocol/index.ts";
import { parseDemoArgs } from "../../node/demo/cli.ts";
import { DEMO_DEFAULTS, describeDemoRule, resolveDemoOptions, type DemoOptions } from "../../node/demo/demo.ts";
import { main as taskMain } from "../../node/task-cli.ts";

function demoOptions(argv: string[]): Partial<DemoOptions> {
  const parsed = parseDemoArgs(argv);
  if (parsed.help) throw new Error("unexpected help");
  return parsed.options;
}

describe("default robust rule: centered clipping; root-validation opt-in", () => {
  it("is one named constant, and the demo's defaults use it", () => {
    expect(DEFAULT_RULE).to.equal("centered-clipping");
    expect(DEFAULT_PRIVATE_RULE).to.equal("centered-clipping");
    expect(DEMO_DEFAULTS.rule).to.equal(DEFAULT_RULE);
    expect(defaultRuleFor({})).to.equal("centered-clipping");
    expect(defaultRuleFor({ private: true })).to.equal("centered-clipping");
  });

  it("a public demo without --rule runs centered clipping and names root-validation as the option", () => {
    const partial = demoOptions(["--peers", "4"]);
    expect(partial.rule, "the CLI leaves the choice to the mode").to.equal(undefined);
    const o = resolveDemoOptions(partial);
    expect(o.rule).to.equal("centered-clipping");
    const note = describeDemoRule(partial, o.rule);
    expect(note.line).to.match(/rule\s+centered-clipping \(default; --rule root-validation keeps more honest non-IID peers/);
    expect(note.warning).to.equal(null);
    // runDemo's programmatic form (no CLI) gets the same default
    expect(resolveDemoOptions({ peers: 3 }).rule).to.equal("centered-clipping");
    expect(resolveDemoOptions({ peers: 3, rule: undefined }).rule).to.equal("centered-clipping");
  });

  it("a clustered demo without --rule runs centered clipping; with --rule root-validation heads and checkers vote on the root set", () => {
    const partial = demoOptions(["--clusters", "--scenario", "examples/scenarios/d2d-5peers.json"]);
    const o = resolveDemoOptions(partial);
    expect(o.rule).to.equal("centered-clipping");
    const rv = demoOptions(["--clusters", "--scenario", "examples/scenarios/d2d-5peers.json", "--rule", "root-validation"]);
    expect(resolveDemoOptions(rv).rule).to.equal("root-validation");
    expect(describeDemoRule(rv, "root-validation").line).to.match(/root-validation \(--rule\)/);
  });

  it("a private demo without --rule keeps centered clipping, and says why", () => {
    const partial = demoOptions(["--private"]);
    const o = resolveDemoOptions(partial);
    expect(o.rule).to.equal("centered-clipping");
    const note = describeDemoRule(partial, o.rule);
    expect(note.line).to.match(/rule\s+centered-clipping \(default for private rounds: verifiers see only masked updates/);
    expect(note.warning).to.equal(null);
  });

  it("an explicit --rule wins; root-validation with --private is kept but warned about", () => {
    const cc = demoOptions(["--rule", "centered-clipping"]);
    expect(resolveDemoOptions(cc).rule).to.equal("centered-clipping");
    expect(describeDemoRule(cc, "centered-clipping").line).to.match(/centered-clipping \(--rule\)/);
    const rvPrivate = demoOptions(["--rule", "root-validation", "--private"]);
    expect(resolveDemoOptions(rvPrivate).rule).to.equal("root-validation");
    const note = describeDemoRule(rvPrivate, "root-validation");
    expect(note.warning).to.match(/only root-validation's public pre-filter applies; there is no root-set vote in private rounds/);
    // the warning is about that pair only
    expect(describeDemoRule(demoOptions(["--rule", "median", "--private"]), "median").warning).to.equal(null);
  });

  it("peerfl task init documents the default and still refuses an unknown rule", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => { out.push(String(s)); return true; }) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => { err.push(String(s)); return true; }) as typeof process.stderr.write;
    let help: number, bad: number;
    try {
      help = await taskMain(["init", "--help"]);
      bad = await taskMain(["init", "--rule", "no-such-rule"]);
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
    expect(help).to.equal(0);
    expect(out.join("").replace(/\s+/g, " ")).to.match(/default centered-clipping; root-validation keeps more honest non-IID peers, but a task with secure aggregation should keep centered-clipping/);
    expect(bad).to.equal(2);
    expect(err.join("")).to.match(/robust rule/);
  });
});
