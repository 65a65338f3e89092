import { expect } from "chai";
import { formClusters, tieBreak } from "../../node/links/clusters.ts";
import { linkParams } from "../../node/links/modes.ts";
import { loadScenario, parseScenario, type Scenario } from "../../node/links/scenario.ts";

const scenario = (peers: { x: number; y: number }[]): Scenario => parseScenario({ peers });

describe("links: D2D clusters", () => {
  it("is deterministic: the same scenario, energies and seed give the same clustering", async () => {
    const s = await loadScenario("examples/scenarios/d2d-20peers.json");
    const a = formClusters(s, { seed: "0x1234" });
    const b = formClusters(structuredClone(s), { seed: "0x1234" });
    expect(a).to.deep.equal(b);
    // most of the example's peers are in clusters; the two far corners are not
    expect(a.unclustered).to.deep.equal([18, 19]);
    expect(a.clusters.reduce((n, c) => n + c.members.length, 0)).to.equal(18);
  });
  it("every member reaches its head within sidelink range; heads are in coverage", async () => {
    const s = await loadScenario("examples/scenarios/d2d-20peers.json");
    const c = formClusters(s, { seed: "ab" });
    for (const cl of c.clusters) {
      expect(Math.hypot(s.peers[cl.head].x, s.peers[cl.head].y)).to.be.at.most(s.coverageRadiusM);
      for (const m of cl.members) {
        if (m.via === "head") { expect(m.peer).to.equal(cl.head); continue; }
        expect(c.clusterOf[m.peer]).to.equal(c.clusters.indexOf(cl));
        const l = linkParams(s, m.peer, cl.head);
        expect(l.inRange).to.equal(true);
        expect(m.bandwidthBps).to.be.greaterThan(0);
      }
    }
  });
  it("breaks a tie in score by the chain's seed, so different seeds can elect different heads", () => {
    // two peers alone, symmetric about the base station: identical scores
    const s = scenario([{ x: 50, y: 0 }, { x: -50, y: 0 }]);
    const heads = new Set<number>();
    for (let i = 0; i < 16; i++) {
      const c = formClusters(s, { seed: `0x${i.toString(16).padStart(2, "0")}` });
      expect(c.scores[0]).to.equal(c.scores[1]);
      expect(c.clusters).to.have.length(1);
      const expected = tieBreak(`0x${i.toString(16).padStart(2, "0")}`, 0) < tieBreak(`0x${i.toString(16).padStart(2, "0")}`, 1) ? 0 : 1;
      expect(c.clusters[0].head).to.equal(expected);
      heads.add(c.clusters[0].head);
    }
    expect([...heads].sort()).to.deep.equal([0, 1]);
  });
  it("prefers energy: a peer low on battery is never head", () => {
    const s = scenario([{ x: 10, y: 0 }, { x: 60, y: 0 }, { x: 110, y: 0 }]);
    const full = formClusters(s, { seed: "01" });
    const head = full.clusters[0].head;
    const energy = [1, 1, 1];
    energy[head] = 0.1;
    const c = formClusters(s, { seed: "01", energy });
    expect(c.clusters[0].head).to.not.equal(head);
    expect(c.scores[head]).to.equal(0);
  });
  it("inactive peers (skipping the round) are left out; a peer two hops away joins through a relay", () => {
    // 0 — 1 — 2 on a line, 140 m apart: 0 and 2 are 280 m apart, out of direct range
    const s = scenario([{ x: -140, y: 0 }, { x: 0, y: 0 }, { x: 140, y: 0 }]);
    const c = formClusters(s, { seed: "02", maxClusterSize: 2 });
    // the head takes one direct neighbour; the other is full-cluster-blocked and stays out
    expect(c.clusters[0].members).to.have.length(2);
    const relayed = formClusters(s, { seed: "02", active: [true, true, true], maxClusterSize: 8 });
    expect(relayed.unclustered).to.deep.equal([]);
    const off = formClusters(s, { seed: "02", active: [true, false, true] });
    expect(off.clusterOf[1]).to.equal(-1);
    expect(off.unclustered).to.not.include(1);
  });
  it("a cheating peer cannot make itself head by a different seed: the seed is the chain's, the score the radio model's", () => {
    const s = scenario([{ x: 50, y: 0 }, { x: -50, y: 0 }, { x: 0, y: 50 }]);
    const honest = formClusters(s, { seed: "0xfeed" });
    // anyone recomputes the same head from public data
    expect(formClusters(s, { seed: "0xfeed" }).clusters[0].head).to.equal(honest.clusters[0].head);
    expect(() => formClusters(s, { seed: "0xfeed", energy: [2, 1, 1] })).to.throw(RangeError, /energy\[0\]/);
  });
});

describe("sim: hierarchical rounds over the clusters (node/sim/hierarchy.ts)", function () {
  this.timeout(300_000);
  // peers 0-2 within sidelink range of each other, peer 3 alone; peer 4 too low on battery to train
  const s = parseScenario({ peers: [{ x: 60, y: 0 }, { x: 90, y: 30 }, { x: 70, y: -30 }, { x: -150, y: 100 }, { x: 80, y: 10 }] });
  const devices = [{ tier: "edge-box" }, { tier: "mid-phone" }, { tier: "iot-board" }, { tier: "flagship-phone" }, { tier: "mid-phone", batteryPercent: 5 }];
  const run = async (mode: "flat" | "clustered", compression: "none" | "q8") => {
    const { simulateHierarchy } = await import("../../node/sim/hierarchy.ts");
    return simulateHierarchy({
      mode, compression, scenario: s, devices, dataset: "mnist", model: "mlp", rounds: 1, partition: { kind: "iid" },
      localEpochs: 1, batchSize: 32, learningRate: 0.003, optimizer: "adam", rule: "centered-clipping", ruleParam: 0, seed: 3,
      maxSamplesPerPeer: 60, testSamples: 200,
    });
  };
  it("clustered: members' updates go over the sidelink, one cluster aggregate and the lone peer's update over Uu", async () => {
    const flat = (await run("flat", "none")).rounds[0];
    const clustered = await run("clustered", "none");
    const r = clustered.rounds[0];
    const size = clustered.float32UpdateBytes;
    expect(flat.skipped).to.deep.equal([{ peer: 4, reason: "battery-low" }]);
    expect(flat.uplinkBytes).to.equal(4 * size);
    expect(flat.sidelinkBytes).to.equal(0);
    expect(r.clusters).to.have.length(1);
    expect([...r.clusters[0].members].sort()).to.deep.equal([0, 1, 2]);
    expect(r.unclustered).to.deep.equal([3]);
    expect(r.uplinkBytes).to.equal(2 * size);
    expect(r.sidelinkBytes).to.equal(2 * size);
    expect(r.energy.map((e) => e.tier).sort()).to.deep.equal(["edge-box", "flagship-phone", "iot-board", "mid-phone"]);
    expect(r.accuracy).to.be.greaterThan(0.3);
  });
  it("q8 sends compressed updates and aggregates, decoded by the protocol's decodeUpdate", async () => {
    const r = (await run("clustered", "q8"));
    expect(r.rounds[0].updateBytes).to.be.below(r.float32UpdateBytes / 3.5);
    expect(r.rounds[0].uplinkBytes).to.be.below((2 * r.float32UpdateBytes) / 3.5);
  });
});
