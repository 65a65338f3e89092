import { expect } from "chai";
import {
  NoRouteError, PeerIndexError, bestRelay, chainParams, chainRoute, directParams, infrastructureParams, linkParams, relayParams,
} from "../../node/links/modes.ts";
import { parseScenario, type Scenario } from "../../node/links/scenario.ts";
import type { LinkMode } from "../../node/links/radio.ts";

/** Peers on a line; base station at the origin. */
function line(xs: number[], extra: Record<string, unknown> = {}): Scenario {
  return parseScenario({ coverageRadiusM: 250, sidelinkRangeM: 150, peers: xs.map((x) => ({ x, y: 0 })), ...extra });
}

describe("links/modes: mode choice per pair", () => {
  it("uses direct sidelink when the pair is within sidelink range", () => {
    const s = line([0, 100, 220]);
    const l = linkParams(s, 0, 1);
    expect(l.mode).to.equal("direct");
    expect(l.hops).to.equal(1);
    expect(l.relay).to.equal(undefined);
  });

  it("uses the relay that maximises the bottleneck throughput when out of direct range", () => {
    // 0 and 3 are 200 m apart; relay 1 at 60 m (hops 60/140), relay 2 at the midpoint (hops 100/100).
    const s = line([0, 60, 100, 200]);
    const l = linkParams(s, 0, 3);
    expect(l.mode).to.equal("relay");
    expect(l.relay).to.equal(2);
    expect(l.hops).to.equal(2);
    expect(l.bandwidthBps).to.be.greaterThan(relayParams(s, 0, 3, 1).bandwidthBps);
  });

  it("falls back to infrastructure when no relay has both hops in range", () => {
    const s = line([-200, 200]);
    const l = linkParams(s, 0, 1);
    expect(l.mode).to.equal("infrastructure");
    expect(l.hops).to.equal(2);
  });

  it("never picks direct out of sidelink range in auto mode", () => {
    for (const d of [151, 200, 240]) {
      expect(linkParams(line([0, d]), 0, 1).mode, `${d} m`).to.not.equal("direct");
    }
  });

  it("honours a forced mode where it decodes, and falls back (flagged) where it cannot", () => {
    const forced = (mode: LinkMode, xs: number[]): Scenario => line(xs, { forcedMode: mode });
    expect(linkParams(forced("infrastructure", [0, 50]), 0, 1).mode).to.equal("infrastructure");
    expect(linkParams(forced("relay", [0, 25, 50]), 0, 2)).to.include({ mode: "relay", relay: 1 });
    expect(linkParams(forced("direct", [-200, 200]), 0, 1).mode).to.equal("infrastructure"); // 400 m: PC5 cannot decode
    expect(linkParams(forced("direct", [-200, 200]), 0, 1).fallbackFrom).to.equal("direct");
    expect(linkParams(forced("relay", [0, 50]), 0, 1)).to.include({ mode: "direct", fallbackFrom: "relay" }); // no third peer
  });

  it("direct has the lowest latency at short range; relay beats direct on throughput at long range", () => {
    const s = line([0, 10, 20]);
    const direct = directParams(s, 0, 2);
    expect(direct.latencyMs).to.be.lessThan(infrastructureParams(s, 0, 2).latencyMs);
    expect(direct.latencyMs).to.be.lessThan(bestRelay(s, 0, 2)!.latencyMs);
    const far = line([0, 110, 220]);
    expect(bestRelay(far, 0, 2)!.bandwidthBps).to.be.greaterThan(directParams(far, 0, 2).bandwidthBps);
  });

  it("rejects unknown peers and links to self", () => {
    const s = line([0, 10]);
    expect(() => linkParams(s, 0, 2)).to.throw(PeerIndexError, /2/);
    expect(() => linkParams(s, 1, 1)).to.throw(PeerIndexError, /itself/);
  });

  it("throws NoRouteError when nothing decodes", () => {
    const s = line([0, 3000]);
    expect(() => linkParams(s, 0, 1)).to.throw(NoRouteError, /peer 0 to peer 1/);
  });

  it("moves peers with linear mobility: a pair drifting apart leaves direct mode", () => {
    const s = parseScenario({ coverageRadiusM: 250, sidelinkRangeM: 150, peers: [{ x: 0, y: 0 }, { x: 50, y: 0, velocity: { vx: 10, vy: 0 } }] });
    expect(linkParams(s, 0, 1, 0).mode).to.equal("direct");
    expect(linkParams(s, 0, 1, 20).mode).to.not.equal("direct"); // 250 m apart after 20 s
  });
});

describe("links/modes: route to the chain node", () => {
  it("uses the own Uu link in coverage and a UE-to-network relay out of coverage", () => {
    const s = line([50, 200, 300]); // peer 2 is out of coverage (250 m), 100 m from peer 1
    expect(chainRoute(s, 0)).to.deep.equal({ kind: "uu" });
    expect(chainRoute(s, 2)).to.deep.equal({ kind: "relay", relay: 1 });
    const relayed = chainParams(s, 2, "up");
    expect(relayed.mode).to.equal("relay");
    expect(relayed.latencyMs).to.be.greaterThan(chainParams(s, 1, "up").latencyMs);
  });

  it("throws NoRouteError when out of coverage with nobody to relay", () => {
    expect(() => chainRoute(line([1500, -1500]), 0)).to.throw(NoRouteError, /chain node/);
  });
});
