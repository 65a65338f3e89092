/** `peerfl agent --exit-at before-reveal` (fault injection) and `peerfl demo --dp distributed`: what they accept and refuse. */
import { expect } from "chai";
import { parseAgentArgs, UsageError } from "../../node/agent/config.ts";
import { parseDemoArgs } from "../../node/demo/cli.ts";

const ADDR = "0x" + "cd".repeat(20);

describe("agent and demo flags: private-mode fault injection and distributed DP", () => {
  it("--exit-at before-reveal needs --secagg and takes only known fault points", () => {
    expect(parseAgentArgs(["--secagg", ADDR, "--exit-at", "before-reveal"])!.exitAt).to.equal("before-reveal");
    expect(parseAgentArgs(["--secagg", ADDR])!.exitAt).to.equal(undefined);
    expect(() => parseAgentArgs(["--exit-at", "before-reveal"])).to.throw(UsageError, /needs --secagg/);
    expect(() => parseAgentArgs(["--secagg", ADDR, "--exit-at", "after-commit"])).to.throw(/Allowed choices/);
  });

  it("demo --dp distributed needs --private", () => {
    const parsed = parseDemoArgs(["--private", "--dp", "distributed", "--dp-sigma", "0.5"]);
    expect(parsed.help === false && parsed.options.dp).to.equal("distributed");
    expect(() => parseDemoArgs(["--dp", "distributed"])).to.throw(RangeError, /needs --private/);
  });
});
