/** `peerfl agent --cluster-rounds` / `--cluster-head-attack` and `peerfl demo --clusters`: what they accept and refuse. */
import { expect } from "chai";
import { parseAgentArgs, UsageError } from "../../node/agent/config.ts";
import { parseDemoArgs } from "../../node/demo/cli.ts";

const ADDR = "0x" + "ab".repeat(20);

describe("agent and demo flags: clustered rounds", () => {
  it("takes the ClusterRounds address and the experiments-only lying-head attack", () => {
    const c = parseAgentArgs(["--cluster-rounds", ADDR, "--cluster-head-attack", "drop-member"])!;
    expect(c.clusterRounds).to.equal(ADDR);
    expect(c.clusterHeadAttack).to.equal("drop-member");
    expect(parseAgentArgs([])!.clusterRounds).to.equal(undefined);
  });
  it("refuses a bad address, an unknown attack, and an attack without clustered mode", () => {
    expect(() => parseAgentArgs(["--cluster-rounds", "0x12"])).to.throw(UsageError, /--cluster-rounds must be a 0x-prefixed 20-byte address/);
    expect(() => parseAgentArgs(["--cluster-rounds", ADDR, "--cluster-head-attack", "nonsense"])).to.throw(/Allowed choices/);
    expect(() => parseAgentArgs(["--cluster-head-attack", "scale-aggregate"])).to.throw(UsageError, /needs --cluster-rounds/);
  });
  it("demo --clusters needs a scenario and does not combine with --private", () => {
    const parsed = parseDemoArgs(["--clusters", "--scenario", "examples/scenarios/d2d-5peers.json"]);
    expect(parsed.help === false && parsed.options.clusters).to.equal(true);
    expect(() => parseDemoArgs(["--clusters"])).to.throw(RangeError, /--clusters needs --scenario/);
    expect(() => parseDemoArgs(["--clusters", "--scenario", "x.json", "--private"])).to.throw(RangeError, /does not combine with --private/);
    expect(() => parseDemoArgs(["--clusters", "--scenario", "x.json", "--rule", "validation-vote"])).to.throw(RangeError, /does not combine with --rule validation-vote/);
    const root = parseDemoArgs(["--clusters", "--scenario", "x.json", "--rule", "root-validation"]);
    expect(root.help === false && root.options.rule).to.equal("root-validation");
  });
});
