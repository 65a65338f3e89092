import { expect } from "chai";
import { fileURLToPath } from "node:url";
import { chainRoute } from "../../node/links/modes.ts";
import { ScenarioError, defaultScenario, inCoverage, loadScenario, parseScenario, positionAt } from "../../node/links/scenario.ts";

const example = fileURLToPath(new URL("../../examples/scenario-5peers.json", import.meta.url));

describe("links/scenario: format and validation", () => {
  it("loads the documented example file", async () => {
    const s = await loadScenario(example);
    expect(s.peers).to.have.length(5);
    expect(s.profile).to.equal("embb");
    expect(s.forcedMode).to.equal(null);
    expect(inCoverage(s, 3)).to.equal(false);
    expect(chainRoute(s, 3)).to.deep.equal({ kind: "relay", relay: 2 });
    expect(positionAt(s, 4, 10)).to.deep.equal({ x: -108, y: -160 });
  });

  const bad: [string, unknown, RegExp][] = [
    ["root that is not an object", [], /\(root\)/],
    ["empty peers", { peers: [] }, /peers must be a non-empty array/],
    ["a peer without y", { peers: [{ x: 1 }] }, /peers\[0\]\.y must be a finite number \(got undefined\)/],
    ["a non-numeric coordinate", { peers: [{ x: 0, y: 0 }, { x: "far", y: 0 }] }, /peers\[1\]\.x .*"far"/],
    ["a negative coverage radius", { coverageRadiusM: -5, peers: [{ x: 0, y: 0 }] }, /coverageRadiusM must be > 0 \(got -5\)/],
    ["an unknown profile", { profile: "mmtc", peers: [{ x: 0, y: 0 }] }, /profile must be one of embb, urllc/],
    ["an unknown forced mode", { forcedMode: "wifi", peers: [{ x: 0, y: 0 }] }, /forcedMode .*"wifi"/],
    ["an unknown field", { peer: [], peers: [{ x: 0, y: 0 }] }, /peer is not a known field/],
    ["an unknown radio parameter", { radio: { txPower: 3 }, peers: [{ x: 0, y: 0 }] }, /radio\.txPower is not a radio parameter/],
    ["an efficiency above 1", { radio: { sidelinkEfficiency: 1.5 }, peers: [{ x: 0, y: 0 }] }, /radio\.sidelinkEfficiency must be ≤ 1/],
    ["a bad velocity", { peers: [{ x: 0, y: 0, velocity: { vx: 1 } }] }, /peers\[0\]\.velocity\.vy/],
  ];
  for (const [what, input, message] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => parseScenario(input)).to.throw(ScenarioError, message);
    });
  }

  it("accepts forcedMode \"auto\" as no forced mode and merges radio overrides", () => {
    const s = parseScenario({ forcedMode: "auto", radio: { ueTxPowerDbm: 20 }, peers: [{ x: 0, y: 0 }] });
    expect(s.forcedMode).to.equal(null);
    expect(s.radio.ueTxPowerDbm).to.equal(20);
    expect(s.radio.uuCarrierGHz).to.equal(3.5);
  });

  it("defaultScenario is deterministic per seed, scattered around the base station, and every peer reaches the chain", () => {
    const a = defaultScenario(8, 42);
    expect(defaultScenario(8, 42)).to.deep.equal(a);
    expect(defaultScenario(8, 43).peers).to.not.deep.equal(a.peers);
    for (let i = 0; i < 8; i++) {
      expect(Math.hypot(a.peers[i].x, a.peers[i].y)).to.be.at.most(330);
      expect(() => chainRoute(a, i)).to.not.throw();
    }
    expect(() => defaultScenario(0, 1)).to.throw(ScenarioError, /numPeers/);
  });

  it("round-trips through JSON", () => {
    const s = defaultScenario(5, 7, { forcedMode: "relay", profile: "urllc" });
    expect(parseScenario(JSON.parse(JSON.stringify(s)))).to.deep.equal(s);
  });
});
